"""Sealed boxes: bytes only the holder of an X25519 key can open.

This is how thread keys reach a member whose identity we know (their
exchange public key) without a shared secret: libsodium's crypto_box_seal,
through PyNaCl, so the format is the one other libsodium peers speak. A box is
`ephemeral public key (32) || XSalsa20-Poly1305 ciphertext (plaintext + 16)`;
the sender stays anonymous and cannot open the box again.
"""

from __future__ import annotations

import nacl.exceptions
import nacl.public
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey

from threads_desktop.engine.core.errors import DecryptionError, InvalidInputError

PUBLIC_KEY_LENGTH = 32
OVERHEAD = 48  # crypto_box_SEALBYTES: ephemeral public key + MAC
# Boxes carry keys, not content; the bound keeps a peer from making us
# allocate and decrypt arbitrary amounts.
MAX_BOX_SIZE = 4096
MAX_PLAINTEXT_SIZE = MAX_BOX_SIZE - OVERHEAD


def seal_to(recipient_public: bytes, plaintext: bytes) -> bytes:
    """A box of `plaintext` that only the recipient's private key opens."""
    if not isinstance(recipient_public, bytes) or len(recipient_public) != PUBLIC_KEY_LENGTH:
        raise InvalidInputError("an X25519 public key is 32 bytes")
    # Refuse here what open_sealed_box would refuse, so we never send a box
    # the recipient drops.
    if len(plaintext) > MAX_PLAINTEXT_SIZE:
        raise InvalidInputError(f"a sealed box holds at most {MAX_PLAINTEXT_SIZE} bytes")
    try:
        return bytes(nacl.public.SealedBox(nacl.public.PublicKey(recipient_public)).encrypt(plaintext))
    except nacl.exceptions.CryptoError:
        # libsodium refuses low-order points (an all-zero key, say): no
        # shared secret could come out of them.
        raise InvalidInputError("not a usable X25519 public key") from None


def open_sealed_box(exchange_private: X25519PrivateKey, box: bytes) -> bytes:
    """The plaintext of `box`; DecryptionError unless it was sealed to us intact."""
    if len(box) > MAX_BOX_SIZE:
        raise InvalidInputError(f"a sealed box is at most {MAX_BOX_SIZE} bytes")
    if len(box) < OVERHEAD:
        # Same error as a tampered box: a truncated box is one that does not open.
        raise DecryptionError("sealed box shorter than its overhead")
    raw = exchange_private.private_bytes(
        serialization.Encoding.Raw, serialization.PrivateFormat.Raw, serialization.NoEncryption()
    )
    try:
        return bytes(nacl.public.SealedBox(nacl.public.PrivateKey(raw)).decrypt(bytes(box)))
    except nacl.exceptions.CryptoError:
        raise DecryptionError("sealed box does not open with this key") from None
