"""Photo chunks as files beside the profile database.

A 1 MiB chunk written into SQLite is written twice (the WAL, then the
checkpoint into the database) and read back through the page cache of
both; as a file it is written once and read with one call. The database
still lists every block (`blocks`, with empty data for a block kept here,
and `thread_blocks`), so inventories, `held` and leaving stay queries.

Layout: `<profile>/blocks/<thread id hex>/<cid hex>`, one directory per
thread, so leaving a thread removes one directory (a block two threads hold
is kept once in each). A file is written under a temporary name and renamed
into place, so a reader never sees half a block.

Durability: blocks we seal ourselves (an import) are fsynced before their
rows commit, since no one else holds them yet. Blocks fetched from a peer
are not (like the database's synchronous=NORMAL): after a power cut one may
be missing or torn; every read checks the CID, a torn file is removed, and a
missing file counts as not held, so the next sync fetches it again.
"""

from __future__ import annotations

import contextlib
import errno
import os
import shutil
from pathlib import Path

from threads_desktop.engine.core.errors import DiskFullError, StorageError
from threads_desktop.engine.core.ids import ThreadId

BLOCKS_DIRECTORY = "blocks"
_TRASH_PREFIX = ".left-"
_DISK_FULL = (errno.ENOSPC, errno.EDQUOT)  # said to the person as "the disk is full"


class BlockFiles:
    """The block files of one profile, under `root` (created on first write)."""

    def __init__(self, root: Path) -> None:
        self._root = root

    def _directory(self, thread: bytes) -> Path:
        return self._root / thread.hex()

    def path(self, thread: bytes, cid: bytes) -> Path:
        return self._directory(thread) / cid.hex()

    def write(self, thread: bytes, cid: bytes, data: bytes | memoryview, *, durable: bool = False) -> None:
        """Put the block in place atomically (temporary name, then rename);
        `durable` flushes its bytes to the disk first (`flush_folder` then
        makes the names durable)."""
        final = self.path(thread, cid)
        temporary = final.with_name(final.name + ".part")
        try:
            if not final.parent.is_dir():  # both levels private, like the profile folder
                self._root.mkdir(mode=0o700, exist_ok=True)
                final.parent.mkdir(mode=0o700, exist_ok=True)
            fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_CLOEXEC, 0o600)
            try:
                view = memoryview(data)
                while view:  # os.write may write less than asked
                    view = view[os.write(fd, view):]
                if durable:
                    os.fsync(fd)
            finally:
                os.close(fd)
            os.replace(temporary, final)
        except OSError as exc:
            with contextlib.suppress(OSError):  # a part written before the disk filled takes space
                temporary.unlink(missing_ok=True)
            if exc.errno in _DISK_FULL:
                raise DiskFullError("the disk is full") from exc
            raise StorageError(f"cannot write a photo block to {final.parent}: {exc.strerror}") from exc

    def flush_folder(self, thread: bytes) -> None:
        """Make the renames of durable writes durable too (once per blob, not per chunk)."""
        try:
            folder = os.open(self._directory(thread), os.O_RDONLY | os.O_CLOEXEC)
            try:
                os.fsync(folder)
            finally:
                os.close(folder)
        except OSError as exc:
            if exc.errno in _DISK_FULL:
                raise DiskFullError("the disk is full") from exc
            raise StorageError(f"cannot write photo blocks to {self._root}: {exc.strerror}") from exc

    def read(self, thread: bytes, cid: bytes) -> bytes | None:
        """The file's bytes, or None when it is not here."""
        try:
            with open(self.path(thread, cid), "rb", buffering=0) as f:
                return f.read()
        except FileNotFoundError:
            return None
        except OSError as exc:
            raise StorageError(f"cannot read a photo block: {exc.strerror}") from exc

    def exists(self, thread: bytes, cid: bytes) -> bool:
        return self.path(thread, cid).is_file()

    def discard(self, thread: bytes, cid: bytes) -> None:
        """Remove a block found torn, so it counts as missing."""
        self.path(thread, cid).unlink(missing_ok=True)

    def forget_thread(self, thread_id: ThreadId) -> None:
        """Remove the thread's blocks: the directory is renamed away first
        (instant), so a rejoin starts empty even if removal is cut short;
        what a cut left behind goes at the next `sweep`."""
        directory = self._directory(thread_id.raw)
        if not directory.exists():
            return
        trash = self._root / (_TRASH_PREFIX + directory.name)
        try:
            shutil.rmtree(trash, ignore_errors=True)
            os.replace(directory, trash)
        except OSError as exc:
            raise StorageError(f"cannot remove the photo blocks of a thread: {exc.strerror}") from exc
        shutil.rmtree(trash, ignore_errors=True)

    def sweep(self) -> None:
        """Remove what an interrupted `forget_thread` left behind."""
        if not self._root.is_dir():
            return
        for entry in self._root.iterdir():
            if entry.name.startswith(_TRASH_PREFIX):
                shutil.rmtree(entry, ignore_errors=True)
