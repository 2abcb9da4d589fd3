"""A profile's data directory: its lock, its master key and its database path.

One process owns a profile at a time (an exclusive lock on `lock`). The
directory is private (0700) and the master key file is 0600.
"""

from __future__ import annotations

import fcntl
import os
import stat
import time
from pathlib import Path
from typing import IO

from threads_desktop.engine.core.errors import ProfileError, ProfileLockedError
from threads_desktop.engine.crypto.aead import RandomBytes

DATABASE_NAME = "profile.sqlite3"
MASTER_KEY_NAME = "master.key"
LOCK_NAME = "lock"
_LOCK_POLL_SECONDS = 0.05


class Profile:
    def __init__(self, directory: Path, lock_file: IO[str], master_key: bytes) -> None:
        self.directory = directory
        self._lock_file = lock_file
        self.master_key = master_key

    @classmethod
    def open(cls, directory: Path, random_bytes: RandomBytes, *, lock_wait: float = 0.0) -> Profile:
        """Open and lock the profile. Another process holding it is waited
        for up to `lock_wait` seconds (a short CLI command finishes soon),
        then ProfileLockedError."""
        directory = directory.expanduser().resolve()
        try:
            directory.mkdir(mode=0o700, parents=True, exist_ok=True)
            os.chmod(directory, 0o700)
            lock_file = _acquire_lock(directory / LOCK_NAME, lock_wait)
        except OSError as exc:
            raise ProfileError(f"cannot use the data folder {directory}: {exc}") from exc
        try:
            key_path = directory / MASTER_KEY_NAME
            if not key_path.exists() and (directory / DATABASE_NAME).exists():
                raise ProfileError(
                    f"{key_path} is missing: the keys stored in this profile cannot be opened without it")
            master_key = _load_or_create_master_key(key_path, random_bytes)
        except OSError as exc:
            lock_file.close()
            raise ProfileError(f"cannot read or create the master key in {directory}: {exc}") from exc
        except BaseException:
            lock_file.close()
            raise
        return cls(directory, lock_file, master_key)

    @property
    def database_path(self) -> Path:
        return self.directory / DATABASE_NAME

    def close(self) -> None:
        # Closing the file drops the flock; the PID inside is only informative.
        self._lock_file.close()


def _acquire_lock(path: Path, wait: float) -> IO[str]:
    lock_file = open(path, "a+", encoding="utf-8")  # noqa: SIM115 - held while the profile is open
    if not _flock_within(lock_file, max(0.0, wait)):
        lock_file.seek(0)
        owner = lock_file.read().strip()  # empty while the holder is still writing it
        lock_file.close()
        holder = f"process {owner}" if owner.isdigit() else "another process"
        raise ProfileLockedError(f"the profile in {path.parent} is in use by {holder}") from None
    lock_file.seek(0)
    lock_file.truncate()
    lock_file.write(str(os.getpid()))
    lock_file.flush()
    return lock_file


def _flock_within(lock_file: IO[str], wait: float) -> bool:
    """Take the exclusive lock, polling for up to `wait` seconds (flock has
    no timeout); the count bounds the loop should the clock misbehave."""
    deadline = time.monotonic() + wait
    for _ in range(int(wait / _LOCK_POLL_SECONDS) + 2):
        try:
            fcntl.flock(lock_file, fcntl.LOCK_EX | fcntl.LOCK_NB)
            return True
        except BlockingIOError:
            if time.monotonic() >= deadline:
                return False
            time.sleep(_LOCK_POLL_SECONDS)
    return False


def _load_or_create_master_key(path: Path, random_bytes: RandomBytes) -> bytes:
    if not path.exists():
        # Written aside, synced, then linked into place: a crash never leaves
        # an empty or partial key file behind.
        staging = path.with_name(f".{path.name}.{os.getpid()}.new")
        fd = os.open(staging, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        try:
            os.write(fd, random_bytes(32))
            os.fsync(fd)
        finally:
            os.close(fd)
        try:
            os.link(staging, path)
        except FileExistsError:
            pass
        finally:
            staging.unlink()
        directory = os.open(path.parent, os.O_RDONLY)
        try:
            os.fsync(directory)
        finally:
            os.close(directory)
    if stat.S_IMODE(path.stat().st_mode) & 0o077:
        os.chmod(path, 0o600)
    key = path.read_bytes()
    if len(key) != 32:
        raise ProfileError(f"{path} is damaged (expected 32 bytes, found {len(key)})")
    return key
