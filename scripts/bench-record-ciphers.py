"""What TLS 1.3 through Python's `ssl` would cost per GB against the Noise
cipher we use, measured in the same run (issue 18 item 3, transfer18g).

py-libp2p 0.8.1 has a TLS security transport (/tls/1.0.0, libp2p/security/tls),
which peers could negotiate before Noise without breaking older peers. Its
records go through `ssl.MemoryBIO` (security/tls/io.py), so every record is
copied into OpenSSL and out again by Python calls. This times exactly that
path (a TLS 1.3 pair over memory BIOs, the receiver fed 64 KiB reads as a
socket gives them) against ChaCha20-Poly1305 on 65,519-byte Noise messages
and AES-128-GCM alone. No network: both ends live in this process.

    .venv/bin/python scripts/bench-record-ciphers.py [--megabytes 256]
"""

from __future__ import annotations

import argparse
import datetime
import os
import ssl
import tempfile
import time
from collections.abc import Callable
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
    cipher = str(sender.cipher()[0])  # type: ignore[index]
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


def _aead_seconds_per_gb(seal: Callable[[bytes, bytes], bytes], open_: Callable[[bytes, bytes], bytes],
                         total: int) -> tuple[float, float]:
    message = os.urandom(NOISE_PLAINTEXT)
    nonce = bytes(12)
    count = total // NOISE_PLAINTEXT
    started = time.process_time()
    for _ in range(count):
        sealed = seal(nonce, message)
    sealing = time.process_time() - started
    started = time.process_time()
    for _ in range(count):
        open_(nonce, sealed)
    opening = time.process_time() - started
    gigabytes = count * NOISE_PLAINTEXT / 1e9
    return sealing / gigabytes, opening / gigabytes


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--megabytes", type=int, default=256)
    total = parser.parse_args().megabytes * 1024 * 1024
    chacha = ChaCha20Poly1305(os.urandom(32))
    aes = AESGCM(os.urandom(16))
    noise = _aead_seconds_per_gb(lambda n, m: chacha.encrypt(n, m, None),
                                 lambda n, m: chacha.decrypt(n, m, None), total)
    gcm = _aead_seconds_per_gb(lambda n, m: aes.encrypt(n, m, None), lambda n, m: aes.decrypt(n, m, None), total)
    tls_seal, tls_open, cipher = _tls_seconds_per_gb(total)
    print(f"{'CPU s/GB':52} {'seal':>6} {'open':>6}   ratio to Noise's cipher (seal, open)")
    print(f"{'Noise: ChaCha20-Poly1305, 64 KiB messages':52} {noise[0]:6.3f} {noise[1]:6.3f}   1.00x, 1.00x")
    print(f"{'AES-128-GCM alone, 64 KiB messages':52} {gcm[0]:6.3f} {gcm[1]:6.3f}   "
          f"{gcm[0] / noise[0]:.2f}x, {gcm[1] / noise[1]:.2f}x")
    print(f"{'TLS 1.3 via ssl.MemoryBIO (' + cipher + ')':52} {tls_seal:6.3f} {tls_open:6.3f}   "
          f"{tls_seal / noise[0]:.2f}x, {tls_open / noise[1]:.2f}x")


if __name__ == "__main__":
    main()
