from __future__ import annotations

import os

import pytest

from threads_desktop.engine.core.errors import DecryptionError, InvalidInputError
from threads_desktop.engine.crypto import aead
from threads_desktop.engine.crypto.vault import KeyVault


def test_sealed_bytes_open_only_with_the_same_key_and_purpose() -> None:
    key = os.urandom(32)
    sealed = aead.seal(key, b"secret", aead.AAD_HEADER, os.urandom)
    assert len(sealed) == len(b"secret") + aead.OVERHEAD
    assert aead.open_sealed(key, sealed, aead.AAD_HEADER) == b"secret"
    with pytest.raises(DecryptionError):
        aead.open_sealed(key, sealed, aead.AAD_BODY)  # a header never opens as a body
    with pytest.raises(DecryptionError):
        aead.open_sealed(os.urandom(32), sealed, aead.AAD_HEADER)
    with pytest.raises(DecryptionError):
        aead.open_sealed(key, sealed[:-1] + bytes([sealed[-1] ^ 1]), aead.AAD_HEADER)
    with pytest.raises(InvalidInputError):
        aead.open_sealed(key, sealed[:20], aead.AAD_HEADER)


def test_each_seal_uses_a_fresh_nonce() -> None:
    key = os.urandom(32)
    assert aead.seal(key, b"x", aead.AAD_BODY, os.urandom) != aead.seal(key, b"x", aead.AAD_BODY, os.urandom)


def test_a_wrapped_key_opens_only_under_its_own_label_and_master_key() -> None:
    vault = KeyVault(os.urandom(32), os.urandom)
    wrapped = vault.wrap(b"k" * 32, "log-key/a")
    assert vault.unwrap(wrapped, "log-key/a") == b"k" * 32
    with pytest.raises(DecryptionError, match="log-key/b"):
        vault.unwrap(wrapped, "log-key/b")
    with pytest.raises(DecryptionError):
        KeyVault(os.urandom(32), os.urandom).unwrap(wrapped, "log-key/a")
