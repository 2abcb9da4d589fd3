"""What TLS 1.3 through Python's `ssl` would cost per GB against Noise's
ciphers (libp2p's ChaCha20-Poly1305; AES-GCM, ours since transfer18h),
measured in the same run (issue 18 item 3, transfer18g).

py-libp2p 0.8.1 has a TLS security transport (/tls/1.0.0, libp2p/security/tls),
which peers could negotiate before Noise without breaking older peers. Its
records go through `ssl.MemoryBIO` (security/tls/io.py), so every record is
copied into OpenSSL and out again by Python calls. This times exactly that
path (a TLS 1.3 pair over memory BIOs, the receiver fed 64 KiB reads as a
socket gives them) against the bare cipher calls: ChaCha20-Poly1305 on
65,519-byte Noise messages (the cipher only: Noise's framing around it is
not timed), and AES-GCM with TLS's key size and with the smaller one. No
network: both ends live in this process, which holds the sealed bytes of
the whole run in memory.

    .venv/bin/python scripts/bench-record-ciphers.py [--megabytes 256]
"""

from __future__ import annotations

import argparse
import datetime
import os
import ssl
import tempfile
import time
from pathlib import Path
from typing import cast

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.ciphers.aead import AESGCM, ChaCha20Poly1305
from cryptography.x509.oid import NameOID

WRITE_BYTES = 256 * 1024  # what our sender hands the transport at once, about
SOCKET_READ = 64 * 1024  # what one socket read gives the receiver, about
NOISE_PLAINTEXT = 65_519  # Noise's largest message less its tag


def _contexts(folder: Path) -> tuple[ssl.SSLContext, ssl.SSLContext]:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "peer")])
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(1).not_valid_before(datetime.datetime(2020, 1, 1))
            .not_valid_after(datetime.datetime(2040, 1, 1)).sign(key, hashes.SHA256()))
    (folder / "cert.pem").write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    (folder / "key.pem").write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                                       serialization.NoEncryption()))
    server = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    server.load_cert_chain(folder / "cert.pem", folder / "key.pem")
    client = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    client.check_hostname, client.verify_mode = False, ssl.CERT_NONE  # libp2p checks its own extension instead
    for context in (server, client):
        context.minimum_version = ssl.TLSVersion.TLSv1_3
    return server, client


def _tls_seconds_per_gb(total: int) -> tuple[float, float, str]:
    """CPU seconds per GB to seal (sender) and open (receiver) through memory BIOs."""
    with tempfile.TemporaryDirectory() as folder:
        server_context, client_context = _contexts(Path(folder))
    server_in, server_out, client_in, client_out = (ssl.MemoryBIO() for _ in range(4))
    receiver = server_context.wrap_bio(server_in, server_out, server_side=True)
    sender = client_context.wrap_bio(client_in, client_out, server_side=False)
    for _ in range(8):  # the handshake, in memory
        for end in (sender, receiver):
            try:
                end.do_handshake()
            except ssl.SSLWantReadError:
                pass
        server_in.write(client_out.read())
        client_in.write(server_out.read())
    suite = sender.cipher()
    assert suite is not None and receiver.cipher() is not None, "the TLS handshake did not finish"
    cipher = suite[0]
    block = os.urandom(WRITE_BYTES)
    started = time.process_time()
    wire = []
    for _ in range(total // WRITE_BYTES):
        sender.write(block)
        wire.append(client_out.read())
    sealing = time.process_time() - started
    buffer = bytearray(WRITE_BYTES)
    got = 0
    started = time.process_time()
    for sealed in wire:
        for offset in range(0, len(sealed), SOCKET_READ):
            server_in.write(sealed[offset:offset + SOCKET_READ])
            while True:
                try:
                    got += cast(int, receiver.read(WRITE_BYTES, buffer))  # a count, given a buffer
                except ssl.SSLWantReadError:
                    break
    opening = time.process_time() - started
    assert got == total // WRITE_BYTES * WRITE_BYTES
    gigabytes = got / 1e9
    return sealing / gigabytes, opening / gigabytes, cipher


def _aead_seconds_per_gb(aead: AESGCM | ChaCha20Poly1305, total: int) -> tuple[float, float]:
    message = os.urandom(NOISE_PLAINTEXT)
    nonce = bytes(12)
    count = max(1, total // NOISE_PLAINTEXT)
    sealed = b""
    started = time.process_time()
    for _ in range(count):
        sealed = aead.encrypt(nonce, message, None)
    sealing = time.process_time() - started
    started = time.process_time()
    for _ in range(count):
        aead.decrypt(nonce, sealed, None)
    opening = time.process_time() - started
    gigabytes = count * NOISE_PLAINTEXT / 1e9
    return sealing / gigabytes, opening / gigabytes


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--megabytes", type=int, default=256, help="bytes through each (at least 1 MiB)")
    total = max(1, parser.parse_args().megabytes) * 1024 * 1024
    chacha = _aead_seconds_per_gb(ChaCha20Poly1305(os.urandom(32)), total)
    rows = [("ChaCha20-Poly1305 alone (libp2p's /noise)", chacha)]
    for key_bytes in (32, 16):
        rows.append((f"AES-{key_bytes * 8}-GCM alone", _aead_seconds_per_gb(AESGCM(os.urandom(key_bytes)), total)))
    tls_seal, tls_open, cipher = _tls_seconds_per_gb(total)
    rows.append((f"TLS 1.3 via ssl.MemoryBIO ({cipher})", (tls_seal, tls_open)))
    noise_seal, noise_open = rows[0][1]
    print(f"{'CPU s/GB, 64 KiB pieces':52} {'seal':>6} {'open':>6}   ratio to ChaCha20-Poly1305 (seal, open)")
    for label, (seal, open_) in rows:
        print(f"{label:52} {seal:6.3f} {open_:6.3f}   {seal / noise_seal:.2f}x, {open_ / noise_open:.2f}x")


if __name__ == "__main__":
    main()
