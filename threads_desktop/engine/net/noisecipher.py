"""Sealing and opening Noise transport messages in place.

The `noise` library seals each message into a new bytes object (and libp2p's
Noise then copies it again into a frame, noise/state.py:41-76,
backends/default/ciphers.py:9-13); for a photo transfer that is a fresh
64 KiB object per message and a join of all of them. cryptography's
ChaCha20Poly1305 seals into and opens into a buffer we hand it, so a large
write is sealed into one reused buffer beside its length prefixes, and a
large read opens each message where the frame's bytes go. The nonce is the
library's own counter (`CipherState.n`), used and advanced exactly as its
encrypt_with_ad and decrypt_with_ad do; the bytes are the same."""

from __future__ import annotations

from typing import Any

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import ChaCha20Poly1305
from noise.backends.default.ciphers import ChaCha20Cipher
from noise.constants import MAX_NONCE
from noise.exceptions import NoiseInvalidMessage, NoiseMaxNonceError

TAG_BYTES = 16  # Poly1305's tag after each sealed message


def aead_of(state: Any) -> ChaCha20Poly1305 | None:
    """The keyed ChaChaPoly cipher of a Noise CipherState (libp2p's Noise
    uses no other), or None when this state is something else."""
    cipher: Any = getattr(state, "cipher", None)
    if type(cipher) is ChaCha20Cipher and state.has_key() and isinstance(cipher.cipher, ChaCha20Poly1305):
        return cipher.cipher
    return None


def _nonce(state: Any) -> bytes:
    if state.n == MAX_NONCE:
        raise NoiseMaxNonceError("Nonce has depleted!")
    return b"\x00\x00\x00\x00" + int(state.n).to_bytes(8, "little")  # as ChaCha20Cipher.format_nonce


def seal_into(state: Any, aead: ChaCha20Poly1305, plaintext: bytes | memoryview, out: memoryview) -> None:
    """Seal one message into `out` (exactly its length plus TAG_BYTES)."""
    aead.encrypt_into(_nonce(state), plaintext, None, out)
    state.n += 1


def open_into(state: Any, aead: ChaCha20Poly1305, sealed: bytes | memoryview, out: memoryview) -> None:
    """Open one message into `out` (exactly its plaintext's length); the
    counter moves only when it opened, as decrypt_with_ad's does."""
    try:
        aead.decrypt_into(_nonce(state), sealed, None, out)
    except InvalidTag as error:
        raise NoiseInvalidMessage("Failed authentication of message") from error
    state.n += 1
