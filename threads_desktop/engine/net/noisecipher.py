"""Sealing and opening Noise transport messages in place.

The `noise` library seals each message into a new bytes object (and libp2p's
Noise then copies it again into a frame, noise/state.py:41-76,
backends/default/ciphers.py:9-13); for a photo transfer that is a fresh
64 KiB object per message and a join of all of them. cryptography's AEADs
seal into and open into a buffer we hand it, so a large write is sealed
into one reused buffer beside its length prefixes, and a large read opens
each message where the frame's bytes go. The nonce is the library's own
counter (`CipherState.n`) in the cipher's own format, used and advanced
exactly as its encrypt_with_ad and decrypt_with_ad do; the bytes are the
same. Both of Noise's ciphers are handled: ChaChaPoly (libp2p's `/noise`)
and AESGCM (ours, preferred: noiseio.NOISE_AESGCM_ID)."""

from __future__ import annotations

from typing import Any

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM, ChaCha20Poly1305
from noise.backends.default.ciphers import AESGCMCipher, ChaCha20Cipher
from noise.constants import MAX_NONCE
from noise.exceptions import NoiseInvalidMessage, NoiseMaxNonceError

TAG_BYTES = 16  # the tag after each sealed message (Poly1305's and GCM's alike)
Aead = ChaCha20Poly1305 | AESGCM


def aead_of(state: Any) -> Aead | None:
    """The keyed cipher of a Noise CipherState (ChaChaPoly or AESGCM, as
    the `noise` library's default backend makes them), or None when this
    state is something else."""
    cipher: Any = getattr(state, "cipher", None)
    if type(cipher) not in (ChaCha20Cipher, AESGCMCipher) or not state.has_key():
        return None
    aead = cipher.cipher
    return aead if isinstance(aead, ChaCha20Poly1305 | AESGCM) else None


def _nonce(state: Any) -> bytes:
    if state.n == MAX_NONCE:
        raise NoiseMaxNonceError("Nonce has depleted!")
    return state.cipher.format_nonce(state.n)  # type: ignore[no-any-return]  # the library's, per cipher


def seal_into(state: Any, aead: Aead, plaintext: bytes | memoryview, out: memoryview) -> None:
    """Seal one message into `out` (exactly its length plus TAG_BYTES)."""
    aead.encrypt_into(_nonce(state), plaintext, None, out)
    state.n += 1


def open_into(state: Any, aead: Aead, sealed: bytes | memoryview, out: memoryview) -> None:
    """Open one message into `out` (exactly its plaintext's length); the
    counter moves only when it opened, as decrypt_with_ad's does."""
    try:
        aead.decrypt_into(_nonce(state), sealed, None, out)
    except InvalidTag as error:
        raise NoiseInvalidMessage("Failed authentication of message") from error
    state.n += 1
