"""Secrets at rest: every private key in the profile database is wrapped with
AES-256-GCM under the profile's master key, with the row it belongs to as
associated data, so a copied database file alone reveals no key and a wrapped
key moved to another row does not open."""

from __future__ import annotations

from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from threads_desktop.engine.core.errors import DecryptionError, InvalidInputError
from threads_desktop.engine.crypto.aead import AAD_VAULT, RandomBytes, open_sealed, seal


class KeyVault:
    def __init__(self, master_key: bytes, random_bytes: RandomBytes) -> None:
        if len(master_key) != 32:
            raise InvalidInputError("the master key is 32 bytes")
        self._cipher = AESGCM(master_key)
        self._random_bytes = random_bytes

    def wrap(self, secret: bytes, label: str) -> bytes:
        return seal(self._cipher, secret, AAD_VAULT + label.encode(), self._random_bytes)

    def unwrap(self, wrapped: bytes, label: str) -> bytes:
        try:
            return open_sealed(self._cipher, wrapped, AAD_VAULT + label.encode())
        except DecryptionError:
            raise DecryptionError(
                f"stored key '{label}' does not open with this profile's master key"
            ) from None
