"""The backup file: it opens with its passphrase only, any damaged byte
gives the one clear error, and its key comes from Argon2id with the
parameters the format promises (64 MiB, 3 iterations, 1 lane)."""

from __future__ import annotations

import pytest
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.argon2 import Argon2id

from threads_desktop.engine.core.errors import BackupError
from threads_desktop.engine.persons.backup import HEADER_LENGTH, MAGIC, open_backup, seal

BUNDLE = b"\xa1bundle bytes" * 50
PASSPHRASE = "correct horse battery staple"


@pytest.fixture(scope="module")
def sealed() -> bytes:
    return seal(BUNDLE, PASSPHRASE)


def test_a_backup_opens_with_its_passphrase(sealed: bytes) -> None:
    assert open_backup(sealed, PASSPHRASE) == BUNDLE


def test_a_wrong_passphrase_says_wrong_passphrase_or_damaged(sealed: bytes) -> None:
    with pytest.raises(BackupError, match=r"^wrong passphrase or damaged file$"):
        open_backup(sealed, PASSPHRASE + "!")


def test_the_same_passphrase_typed_composed_or_decomposed_opens_it() -> None:
    data = seal(BUNDLE, "caf\u00e9")
    assert open_backup(data, "cafe\u0301") == BUNDLE


# Every region of the file: magic's end, version, KDF, memory, iterations,
# lanes, salt, nonce, the ciphertext's first and last bytes, the tag.
_REGIONS = {"magic": len(MAGIC) - 1, "version": 14, "kdf": 15, "memory": 18, "iterations": 22, "lanes": 24,
            "salt": 25, "nonce": 41, "ciphertext start": HEADER_LENGTH, "ciphertext end": -17, "tag": -1}


@pytest.mark.parametrize("region", list(_REGIONS))
def test_a_tampered_byte_anywhere_gives_the_clear_error(sealed: bytes, region: str) -> None:
    data = bytearray(sealed)
    data[_REGIONS[region]] ^= 0x01
    with pytest.raises(BackupError):
        open_backup(bytes(data), PASSPHRASE)


@pytest.mark.parametrize("keep", [0, 10, HEADER_LENGTH, HEADER_LENGTH + 15, -1])
def test_a_truncated_file_gives_the_clear_error(sealed: bytes, keep: int) -> None:
    with pytest.raises(BackupError):
        open_backup(sealed[:keep], PASSPHRASE)


def test_a_file_that_is_no_backup_says_so() -> None:
    with pytest.raises(BackupError, match="not a Threads Desktop backup"):
        open_backup(b"PK\x03\x04" + bytes(100), PASSPHRASE)


def test_the_key_is_argon2id_with_64_mib_3_iterations_1_lane(sealed: bytes) -> None:
    """Re-derived here with cryptography directly, from the header's salt:
    the key opens the body, with the header as associated data."""
    assert sealed[:14] == b"THREADS-BACKUP"
    assert sealed[14] == 1 and sealed[15] == 1  # version 1, Argon2id
    assert int.from_bytes(sealed[16:20], "big") == 65536  # KiB
    assert int.from_bytes(sealed[20:24], "big") == 3
    assert sealed[24] == 1
    salt, nonce = sealed[25:41], sealed[41:53]
    key = Argon2id(salt=salt, length=32, iterations=3, lanes=1, memory_cost=65536).derive(PASSPHRASE.encode())
    assert AESGCM(key).decrypt(nonce, sealed[53:], sealed[:53]) == BUNDLE


def test_a_header_asking_for_other_kdf_parameters_is_refused_before_deriving(sealed: bytes) -> None:
    """A forged header must not make the reader spend memory: 4 TiB would
    make Argon2id itself fail (MemoryError), so a BackupError here means
    nothing was derived."""
    data = bytearray(sealed)
    data[16:20] = (0xFFFFFFFF).to_bytes(4, "big")
    with pytest.raises(BackupError, match="damaged"):
        open_backup(bytes(data), PASSPHRASE)
