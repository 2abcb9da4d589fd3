"""The backup file (issue 19): a PersonBundle (bundle.py) under a passphrase.

    header   "THREADS-BACKUP" (14 bytes) | version 1 (1 byte) | KDF 1 = Argon2id (1 byte)
             | memory in KiB (4 bytes, big-endian) | iterations (4) | lanes (1) | salt (16) | nonce (12)
    body     AES-256-GCM(key, nonce, bundle, associated data = the header): ciphertext || tag (16)

The key is Argon2id(passphrase, salt) with 64 MiB, 3 iterations, 1 lane
(RFC 9106's second recommended option; ~0.4 s on this kind of machine), from
`cryptography`. The header is the associated data, so no byte of it can be
changed without the tag failing; a reader also refuses any KDF parameters
but these before deriving anything (a forged header must not make it spend
gigabytes). A wrong passphrase and a damaged file are the same error,
BackupError "wrong passphrase or damaged file": nothing tells them apart.

Deriving takes ~0.4 s of one core: callers run `seal`/`open_backup` off the
engine's trio thread (trio.to_thread).
"""

from __future__ import annotations

import os
import struct
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.argon2 import Argon2id

from threads_desktop.engine.core.errors import BackupError
from threads_desktop.engine.persons.bundle import MAX_BUNDLE_BYTES

MAGIC = b"THREADS-BACKUP"
VERSION = 1
KDF_ARGON2ID = 1
SALT_LENGTH = 16
NONCE_LENGTH = 12
TAG_LENGTH = 16
KEY_LENGTH = 32
_PARAMETERS = struct.Struct(">BBIIB")  # version, KDF, memory KiB, iterations, lanes
HEADER_LENGTH = len(MAGIC) + _PARAMETERS.size + SALT_LENGTH + NONCE_LENGTH  # 53
MAX_FILE_BYTES = HEADER_LENGTH + MAX_BUNDLE_BYTES + TAG_LENGTH
MIN_PASSPHRASE = 1
MAX_PASSPHRASE = 1024  # characters
DAMAGED = "wrong passphrase or damaged file"


@dataclass(frozen=True)
class KdfParameters:
    memory_kib: int = 64 * 1024
    iterations: int = 3
    lanes: int = 1


KDF = KdfParameters()


def derive_key(passphrase: str, salt: bytes, parameters: KdfParameters = KDF) -> bytes:
    return Argon2id(salt=salt, length=KEY_LENGTH, iterations=parameters.iterations, lanes=parameters.lanes,
                    memory_cost=parameters.memory_kib).derive(_passphrase_bytes(passphrase))


def seal(bundle: bytes, passphrase: str, random_bytes: Callable[[int], bytes] = os.urandom) -> bytes:
    """The backup file's bytes of an encoded bundle."""
    if len(bundle) > MAX_BUNDLE_BYTES:
        raise BackupError(f"a backup holds at most {MAX_BUNDLE_BYTES >> 20} MiB")
    salt, nonce = random_bytes(SALT_LENGTH), random_bytes(NONCE_LENGTH)
    header = MAGIC + _PARAMETERS.pack(VERSION, KDF_ARGON2ID, KDF.memory_kib, KDF.iterations, KDF.lanes) \
        + salt + nonce
    return header + AESGCM(derive_key(passphrase, salt)).encrypt(nonce, bundle, header)


def open_backup(data: bytes, passphrase: str) -> bytes:
    """The encoded bundle in a backup file's bytes; BackupError otherwise."""
    if not isinstance(data, bytes) or len(data) > MAX_FILE_BYTES:
        raise BackupError(DAMAGED)
    if not data.startswith(MAGIC):
        raise BackupError("this is not a Threads Desktop backup file")
    if len(data) < HEADER_LENGTH + TAG_LENGTH:
        raise BackupError(DAMAGED)
    version, kdf, memory, iterations, lanes = _PARAMETERS.unpack_from(data, len(MAGIC))
    if version > VERSION:
        raise BackupError("this backup was made by a newer version of Threads Desktop")
    if (version, kdf, memory, iterations, lanes) != (VERSION, KDF_ARGON2ID, KDF.memory_kib, KDF.iterations,
                                                     KDF.lanes):
        raise BackupError(DAMAGED)
    salt_at = len(MAGIC) + _PARAMETERS.size
    salt = data[salt_at:salt_at + SALT_LENGTH]
    nonce = data[salt_at + SALT_LENGTH:HEADER_LENGTH]
    try:
        key = derive_key(passphrase, salt)
        return AESGCM(key).decrypt(nonce, data[HEADER_LENGTH:], data[:HEADER_LENGTH])
    except InvalidTag:
        raise BackupError(DAMAGED) from None


def _passphrase_bytes(passphrase: str) -> bytes:
    if not isinstance(passphrase, str) or not MIN_PASSPHRASE <= len(passphrase) <= MAX_PASSPHRASE:
        raise BackupError(f"a passphrase is 1 to {MAX_PASSPHRASE} characters")
    try:
        # One spelling per passphrase: an "é" typed as one character or two gives the same key.
        return unicodedata.normalize("NFC", passphrase).encode("utf-8")
    except UnicodeEncodeError:
        raise BackupError("the passphrase has characters that cannot be written down") from None
