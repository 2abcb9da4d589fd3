"""AES-256-GCM for encrypted nodes: `nonce(12) || ciphertext || tag(16)`.

Each use has its own associated data (a purpose label), so a ciphertext made
for one place (say a header) never opens in another (a record), even under
the same key.
"""

from __future__ import annotations

from collections.abc import Callable

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from threads_desktop.engine.core.errors import DecryptionError, InvalidInputError

NONCE_LENGTH = 12
TAG_LENGTH = 16
OVERHEAD = NONCE_LENGTH + TAG_LENGTH

AAD_RECORD = b"threads/1/record"
AAD_HEADER = b"threads/1/header"
AAD_CONTROL_HEADER = b"threads/1/control-header"  # control events: sealed with the follow key
AAD_BODY = b"threads/1/body"
AAD_VAULT = b"threads/1/vault/"

RandomBytes = Callable[[int], bytes]


def seal(key: bytes | AESGCM, plaintext: bytes, aad: bytes, random_bytes: RandomBytes) -> bytes:
    cipher = key if isinstance(key, AESGCM) else AESGCM(key)
    nonce = random_bytes(NONCE_LENGTH)
    return nonce + cipher.encrypt(nonce, plaintext, aad)


def open_sealed(key: bytes | AESGCM, sealed: bytes, aad: bytes) -> bytes:
    if len(sealed) < OVERHEAD:
        raise InvalidInputError("ciphertext shorter than nonce and tag")
    cipher = key if isinstance(key, AESGCM) else AESGCM(key)
    try:
        return cipher.decrypt(sealed[:NONCE_LENGTH], sealed[NONCE_LENGTH:], aad)
    except InvalidTag:
        raise DecryptionError("ciphertext does not open with this key") from None
