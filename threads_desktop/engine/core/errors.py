"""The one exception hierarchy of the engine.

Every failure caused by bad input (from a peer, the disk or the user) raises a
subclass of ThreadsError, so callers can catch one type and show its message.
"""

from __future__ import annotations


class ThreadsError(Exception):
    """Base class of every error the engine raises on purpose."""


class InvalidInputError(ThreadsError):
    """Bytes or text that do not follow the format (network, disk or user)."""


class CodecError(InvalidInputError):
    """Malformed, non-canonical, oversized or too deeply nested DAG-CBOR."""


class InvalidIdError(InvalidInputError):
    """A thread ID, peer ID or CID that does not parse strictly."""


class SchemaError(InvalidInputError):
    """A well-formed node whose fields are missing, extra or of the wrong type."""


class IntegrityError(InvalidInputError):
    """A block whose content does not match the CID that names it."""


class DecryptionError(InvalidInputError):
    """Ciphertext that no key we hold opens (tampered, or not ours to read)."""


class SignatureError(InvalidInputError):
    """A record whose signature does not verify for its thread and position."""


class ProtocolError(InvalidInputError):
    """A peer broke the sync protocol: an oversized, malformed or unexpected
    message. The stream ends with an error; the process goes on."""


class TooLargeError(InvalidInputError):
    """Something we would send or write is larger than its format allows
    (a person's bundle, a device answer): refused before anything is spent."""


class PeerError(ThreadsError):
    """A peer could not be reached, or refused or failed a request."""


class InvalidLinkError(InvalidInputError):
    """An invite link that is mistyped, truncated, altered or not ours."""


class BackupError(InvalidInputError):
    """A backup file that does not open: a wrong passphrase or a damaged file
    (the two cannot be told apart, by design), or one that is not a backup."""


class LogError(ThreadsError):
    """A record that does not continue its log."""


class GapError(LogError):
    """The record is ahead of what we hold: earlier records are missing."""


class ForkError(LogError):
    """The record conflicts with a record we already hold at that position."""


class NotFoundError(ThreadsError):
    """A thread, log or block that this profile does not hold."""


class MissingKeyError(ThreadsError):
    """The operation needs a key this profile does not hold (e.g. a follower)."""


class AccessDeniedError(ThreadsError):
    """The thread's ACL does not let this member do that (at that point of
    the thread's history)."""


class ConflictError(ThreadsError):
    """What was asked clashes with what the profile holds (adopting a person
    into a profile that has albums or chats already)."""


class ProfileError(ThreadsError):
    """The data directory cannot be used."""


class ProfileLockedError(ProfileError):
    """Another process owns this profile."""


class StorageError(ThreadsError):
    """The profile database failed (disk full, I/O error); nothing was written."""


class DiskFullError(StorageError):
    """The disk holding the profile is full; the write that hit it left nothing."""


class FileWriteError(ThreadsError):
    """A file the user asked for (a QR code, say) could not be written."""


class EngineStoppedError(ThreadsError):
    """A call reached the engine after it was shut down."""


def plain_error(exc: BaseException) -> ThreadsError | None:
    """The ThreadsError that `exc` stands for, looking inside the exception
    groups a trio nursery wraps its tasks' errors in; None when it holds
    anything else (a bug, whose traceback is wanted)."""
    if isinstance(exc, BaseExceptionGroup):
        found = [plain_error(inner) for inner in exc.exceptions]
        return found[0] if found and all(error is not None for error in found) else None
    return exc if isinstance(exc, ThreadsError) else None


def error_text(exc: BaseException) -> str:
    """An exception's own words for a log or a PeerError, or its type's name
    when it has none (many network errors are raised bare)."""
    return str(exc) or type(exc).__name__
