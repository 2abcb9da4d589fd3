"""Photos: an album's pictures, captions, comments and reactions.

A photo's ID is the SHA-256 of its original as stored, so the same picture is
never in an album twice (if two members add it at once, both adds name the
same document and the views still agree). Version 0.1 stored more of a
file's metadata, so its IDs differ for most camera photos: an import looks
up that ID too. The thumbnail travels inline in the
event; the preview and the original are encrypted blobs whose keys travel in
the event too."""

from __future__ import annotations

import logging
import os
import stat
from collections import deque
from collections.abc import Callable, Generator, Iterable, Sequence
from concurrent.futures import Executor, Future
from contextlib import closing
from dataclasses import dataclass, field
from pathlib import Path
from typing import TypeVar

import trio

from threads_desktop.engine.core.errors import (
    DiskFullError,
    InvalidInputError,
    NotFoundError,
    StorageError,
    ThreadsError,
)
from threads_desktop.engine.core.ids import PeerId, ThreadId
from threads_desktop.engine.core.text import name_from_peer
from threads_desktop.engine.db.collections import Collection, Document, ThreadCollections, WriteBatch
from threads_desktop.engine.db.documents import drop_apart, reindex
from threads_desktop.engine.db.models import FieldSpec, Model
from threads_desktop.engine.logstore.blobs import ORIGINAL, PREVIEW, BlobRef, BlobStore
from threads_desktop.engine.logstore.database import Database, Migration
from threads_desktop.engine.modules.imaging import MAX_CAMERA, MAX_FILE_BYTES, PreparedPhoto, prepare_photo
from threads_desktop.engine.modules.reactions import Reactions
from threads_desktop.engine.modules.texts import clean_text, text_from_peer

MAX_NAME = 255
MAX_CAPTION = 2_000
MAX_COMMENT = 4_000
PHOTOS_PER_EVENT = 8  # thumbnails are inline: keep each event body well under its limit
_PREPARED_AHEAD = 4  # photos being prepared at once: an import of thousands holds a few originals in memory

PHOTO_MODEL = Model("photo", {
    "name": FieldSpec("text", max_length=MAX_NAME),
    "thumbnail": FieldSpec("bytes", required=True, max_length=128 * 1024, apart=True),
    "preview": FieldSpec("blob", required=True, max_length=4),
    "original": FieldSpec("blob", required=True, max_length=4),
    "width": FieldSpec("int", required=True),
    "height": FieldSpec("int", required=True),
    "taken_at": FieldSpec("int", index=True),
    "camera": FieldSpec("text", max_length=MAX_CAMERA),
    "gps": FieldSpec("map", max_length=2),
    "caption": FieldSpec("text", max_length=MAX_CAPTION),
}, ids="any")  # the ID is the original's hash: members adding the same photo make one document
COMMENT_MODEL = Model("comment", {
    "target": FieldSpec("text", required=True, index=True, max_length=160),
    "text": FieldSpec("text", required=True, max_length=MAX_COMMENT),
})
MODELS = (PHOTO_MODEL, COMMENT_MODEL)
# Schema 5: a photo's preview and original became blob fields, indexed by
# their manifests (a blob that arrives finds its photo).
# Schema 9: a photo's thumbnail is no longer copied into its document's data.
MIGRATIONS = (Migration(5, "photos findable by their blobs", lambda sql: reindex(sql, PHOTO_MODEL)),
              Migration(9, "thumbnails kept in their field only", lambda sql: drop_apart(sql, PHOTO_MODEL)))

Progress = Callable[[int, int], None]
log = logging.getLogger(__name__)
T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class ImportResult:
    added: list[str]
    duplicates: list[str]          # file names of pictures the album already has
    failed: list[tuple[str, str]]  # file name, reason
    already_there: list[str] = field(default_factory=list)  # the IDs of those pictures
    stopped: str | None = None     # why the import ended before the last file (the disk is full, say)


@dataclass(frozen=True, slots=True)
class PhotoCard:
    """What a grid cell shows of a photo."""

    id: str
    name: str
    thumbnail: bytes
    taken_at: int | None
    caption: str | None
    width: int
    height: int


@dataclass(frozen=True, slots=True)
class ExportResult:
    written: list[Path]
    missing: list[str]  # IDs of photos whose original is not on this device (yet)


class Photos:
    def __init__(self, collections: ThreadCollections, author: PeerId, blobs: BlobStore, database: Database,
                 pool: Executor) -> None:
        self.thread_id: ThreadId = collections.thread_id
        self._collections = collections
        self.photos = collections["photo"]
        self.comments = collections["comment"]
        self.reactions = Reactions(collections, author)
        self._blobs = blobs
        self._db = database
        self._pool = pool

    # --- adding -------------------------------------------------------------------

    def add_files(self, paths: Sequence[Path], *, keep_gps: bool = False, progress: Progress | None = None,
                  cancelled: Callable[[], bool] = lambda: False) -> ImportResult:
        """Import image files, prepared on every core, stored in batches,
        blocking the caller meanwhile: for a few files (a chat's photos, a
        test). A long import is `import_files`, which lets the engine thread
        serve the network while the files are prepared.
        A file that is not a readable image is reported and imports nothing."""
        run = _ImportRun(self.photos, self._collections, self._db, self._blobs)
        prepare: Callable[[Path], PreparedPhoto | ThreadsError] = lambda p: _read_and_prepare(p, keep_gps)  # noqa: E731
        with closing(_bounded_map(self._pool, prepare, paths, ahead=_PREPARED_AHEAD)) as prepared:
            for done, (path, outcome) in enumerate(zip(paths, prepared, strict=True), 1):
                if run.take(path, outcome):
                    break
                if progress is not None:
                    progress(done, len(paths))
                if cancelled():
                    break
        return run.finish()

    async def import_files(self, paths: Sequence[Path], *, keep_gps: bool = False, progress: Progress | None = None,
                           cancelled: Callable[[], bool] = lambda: False) -> ImportResult:
        """Import image files without holding the engine thread: they are
        read, decoded and resized on the work pool while the trio loop runs
        other tasks (sync, commands), and stored PHOTOS_PER_EVENT at a time,
        each batch in one transaction. `progress(done, total)` is called on
        the engine thread after each file; `cancelled()`, polled there too,
        stops the import before the next file: what was stored stays.
        Cancelling the calling task stops it the same way, storing the
        files already taken before it ends."""
        run = _ImportRun(self.photos, self._collections, self._db, self._blobs)
        pending: deque[Future[PreparedPhoto | ThreadsError]] = deque()
        queued = iter(paths)
        try:
            for done, path in enumerate(paths, 1):
                while len(pending) < _PREPARED_AHEAD and (following := next(queued, None)) is not None:
                    pending.append(self._pool.submit(_read_and_prepare, following, keep_gps))
                outcome = await _result_of(pending.popleft())
                if run.take(path, outcome):
                    break
                if progress is not None:
                    progress(done, len(paths))
                if cancelled():
                    break
        except trio.Cancelled:  # the caller went away (the app quits): keep what was taken, as Stop does
            run.finish()
            raise
        finally:  # stopped, cancelled or failed: what has not started never will
            for future in pending:
                future.cancel()
        return run.finish()

    # --- reading ------------------------------------------------------------------

    def page(self, *, limit: int | None = None, offset: int = 0, newest_first: bool = False) -> list[Document]:
        """Photos by the time they were taken (those without one last), a
        page at a time for large albums."""
        return self.photos.find(order_by="taken_at", descending=newest_first, limit=limit, offset=offset)

    def ordered_ids(self, *, newest_first: bool = True, limit: int | None = None, offset: int = 0) -> list[str]:
        """Every photo's ID by the time it was taken, from the index alone
        (with `limit`: those at positions `offset` to `offset + limit`)."""
        return self.photos.ordered_ids("taken_at", descending=newest_first, limit=limit, offset=offset)

    def cards(self, ids: Sequence[str]) -> list[PhotoCard]:
        """Grid cells for the photos among `ids` still in the album."""
        return [PhotoCard(doc.id, photo_name(doc), doc.data["thumbnail"], doc.data.get("taken_at"),
                          photo_caption(doc), doc.data["width"], doc.data["height"])
                for doc in self.photos.by_ids(ids)]

    def preview(self, photo_id: str) -> bytes:
        return self._blobs.get(BlobRef.from_value(self.photos.get(photo_id).data["preview"]))

    def has_original(self, photo_id: str) -> bool:
        """Whether the original is here (it may be fetched on demand)."""
        return self._blobs.complete(BlobRef.from_value(self.photos.get(photo_id).data["original"]))

    def original(self, photo_id: str) -> bytes:
        return self._blobs.get(BlobRef.from_value(self.photos.get(photo_id).data["original"]))

    # --- changing -----------------------------------------------------------------

    def set_caption(self, photo_id: str, caption: str) -> None:
        photo = self.photos.get(photo_id)
        text = clean_text(caption, MAX_CAPTION)
        self.photos.save(photo, {**photo.data, "caption": text or None})

    def delete(self, photo_id: str) -> None:
        self.photos.get(photo_id)
        self.photos.delete(photo_id)

    def delete_many(self, photo_ids: Sequence[str]) -> None:
        """Remove photos as one change (one event), or none if one is gone."""
        writes = WriteBatch()
        for photo_id in dict.fromkeys(photo_ids):
            self.photos.get(photo_id)
            self.photos.delete(photo_id, batch=writes)
        self._collections.send(writes)  # nothing to send sends nothing

    def export(self, photo_ids: Sequence[str], folder: Path) -> ExportResult:
        """Write the originals into `folder` under their own names (a number
        added where a name is taken); never overwrites a file."""
        if not folder.is_dir():
            raise NotFoundError(f"no folder {folder}")
        written: list[Path] = []
        missing: list[str] = []
        for photo_id in photo_ids:
            photo = self.photos.get(photo_id)
            ref = BlobRef.from_value(photo.data["original"])
            if not self._blobs.complete(ref):
                missing.append(photo_id)
                continue
            target = _free_name(folder, _safe_name(photo_name(photo) or f"{photo_id[:12]}.jpg"))
            try:
                with target.open("xb") as out:
                    out.write(self._blobs.get(ref))
            except OSError as exc:
                raise InvalidInputError(f"cannot write {target}: {exc.strerror}") from exc
            written.append(target)
        return ExportResult(written, missing)

    def comment(self, photo_id: str, text: str) -> str:
        self.photos.get(photo_id)
        text = clean_text(text, MAX_COMMENT)
        if not text:
            raise InvalidInputError("a comment cannot be empty")
        return self.comments.create({"target": f"photo/{photo_id}", "text": text})

    def comments_on(self, photo_id: str) -> list[Document]:
        return self.comments.find({"target": f"photo/{photo_id}"})

    def delete_comment(self, comment_id: str) -> None:
        self.comments.get(comment_id)
        self.comments.delete(comment_id)

    def react(self, photo_id: str, emoji: str, on: bool = True) -> None:
        self.reactions.set(self.photos.get(photo_id), emoji, on)


class _ImportRun:
    """One import's bookkeeping: each prepared file is taken in order, the
    batch is stored when it holds one event's worth, and finish() stores
    the rest and says what happened."""

    def __init__(self, photos: Collection, collections: ThreadCollections, database: Database,
                 blobs: BlobStore) -> None:
        self._photos = photos
        self._collections = collections
        self._db = database
        self._blobs = blobs
        self.added: list[str] = []
        self.duplicates: list[str] = []
        self.already_there: list[str] = []
        self.failed: list[tuple[str, str]] = []
        self._batch: list[tuple[PreparedPhoto, str]] = []
        self.stopped: str | None = None

    def take(self, path: Path, outcome: PreparedPhoto | ThreadsError) -> bool:
        """Count one file; True when the import must stop (the disk is full)."""
        name = file_label(path)
        if isinstance(outcome, ThreadsError):
            self.failed.append((name, str(outcome)))
        elif not self._skipped_as_duplicate(outcome, name):
            self._batch.append((outcome, name))
        if len(self._batch) == PHOTOS_PER_EVENT:
            self._store()
        return self.stopped is not None

    def finish(self) -> ImportResult:
        if self._batch and self.stopped is None:
            self._store()
        return ImportResult(self.added, self.duplicates, self.failed, self.already_there, self.stopped)

    def _skipped_as_duplicate(self, photo: PreparedPhoto, name: str) -> bool:
        existing = self._already_there(photo)
        if existing is None:
            return False
        self.duplicates.append(name)
        self.already_there.append(existing)
        return True

    def _already_there(self, photo: PreparedPhoto) -> str | None:
        """The ID of this picture if the album (or the batch being stored)
        has it: under its own ID, or under the one version 0.1 gave it
        (added before the upgrade, or by a member who has not upgraded)."""
        if photo.content_hash in {p.content_hash for p, _ in self._batch}:
            return photo.content_hash
        for photo_id in dict.fromkeys((photo.content_hash, photo.legacy_id)):
            if photo_id is not None and self._photos.find_one_by_id(photo_id) is not None:
                return photo_id
        return None

    def _store(self) -> None:
        """Store one event's worth of photos, all or none; when the profile
        cannot take them (the disk is full), say why in `stopped`, so the
        import stops there and reports what it saved."""
        # An async import waited between taking a photo and now: a peer (or
        # another import) may have added one of them meanwhile.
        batch, self._batch = self._batch, []
        batch = [(photo, name) for photo, name in batch if not self._skipped_as_duplicate(photo, name)]
        writes = WriteBatch()
        try:
            with self._db.write():
                for photo, name in batch:
                    preview = self._blobs.put(photo.preview, "image/jpeg", PREVIEW)
                    original = self._blobs.put(photo.original, photo.mime, ORIGINAL)
                    self._photos.create({
                        "name": name, "thumbnail": photo.thumbnail, "preview": preview.to_value(),
                        "original": original.to_value(), "width": photo.width, "height": photo.height,
                        "taken_at": photo.taken_at, "camera": photo.camera, "gps": photo.gps,
                    }, doc_id=photo.content_hash, batch=writes)
                self._collections.send(writes)
        except DiskFullError as exc:
            self.stopped = str(exc)
            return
        except StorageError:
            log.exception("an import stopped: the profile's database failed")  # the details, for the log only
            self.stopped = "the photos could not be saved (the profile's storage failed)"
            return
        except ThreadsError as exc:
            # The engine ran other work between files: the album may have been
            # left, or this member's right to add taken away, meanwhile. The
            # batches stored before are kept and reported like any other stop;
            # refused before anything was stored, the refusal is the answer.
            if not self.added:
                raise
            log.info("an import stopped: %s", type(exc).__name__)
            self.stopped = "the album can no longer be added to (it was left, or your role changed)"
            return
        self.added += [photo.content_hash for photo, _ in batch]


async def _result_of(future: Future[T]) -> T:
    """The future's result, awaited without holding the trio thread: its
    done-callback (on a pool thread) wakes this task."""
    token = trio.lowlevel.current_trio_token()
    done = trio.Event()

    def wake(_: Future[T]) -> None:
        try:
            token.run_sync_soon(done.set)
        except trio.RunFinishedError:  # the engine stopped: nobody waits any more
            pass

    future.add_done_callback(wake)
    await done.wait()
    return future.result()


def _bounded_map(pool: Executor, work: Callable[[Path], T], items: Sequence[Path],
                 ahead: int) -> Generator[T, None, None]:
    """Like pool.map, in order, but at most `ahead` items in flight: an import
    of thousands of photos holds a few originals in memory, not all of them."""
    pending: deque[Future[T]] = deque()
    try:
        for item in items:
            pending.append(pool.submit(work, item))
            if len(pending) >= ahead:
                yield pending.popleft().result()
        while pending:
            yield pending.popleft().result()
    finally:  # cancelled or failed: what has not started never will
        for future in pending:
            future.cancel()


def _read_and_prepare(path: Path, keep_gps: bool) -> PreparedPhoto | ThreadsError:
    try:
        return prepare_photo(_read(path), keep_gps=keep_gps)
    except ThreadsError as exc:
        return exc


def _read(path: Path) -> bytes:
    """The file's bytes, if it is a regular file of at most MAX_FILE_BYTES.
    The check is made on the opened descriptor (opened non-blocking), so a
    FIFO or a device put in the file's place cannot make us wait or read
    without end."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_NOCTTY | os.O_CLOEXEC)
    except OSError as exc:
        raise InvalidInputError(f"cannot be read ({(exc.strerror or 'error').lower()})") from exc
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            raise InvalidInputError(f"not a regular file ({_kind_of(info.st_mode)})")
        if info.st_size > MAX_FILE_BYTES:  # a video, say: not read at all
            raise InvalidInputError(f"larger than {MAX_FILE_BYTES >> 20} MiB")
        data = bytearray()
        while len(data) <= MAX_FILE_BYTES:  # bounded even if the file grows while read
            chunk = os.read(fd, min(1 << 20, MAX_FILE_BYTES + 1 - len(data)))
            if not chunk:
                return bytes(data)
            data += chunk
        raise InvalidInputError(f"larger than {MAX_FILE_BYTES >> 20} MiB")
    except OSError as exc:
        raise InvalidInputError(f"cannot be read ({(exc.strerror or 'error').lower()})") from exc
    finally:
        os.close(fd)


def _kind_of(mode: int) -> str:
    if stat.S_ISFIFO(mode):
        return "a pipe"
    if stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
        return "a device"
    if stat.S_ISSOCK(mode):
        return "a socket"
    if stat.S_ISDIR(mode):
        return "a folder"
    return "a special file"


def file_label(path: Path) -> str:
    """A file's name as text we can store and show: bytes that are not
    UTF-8 become U+FFFD, control and invisible characters are dropped."""
    readable = os.fsencode(path.name).decode("utf-8", "replace")
    return name_from_peer(readable, MAX_NAME) or "unnamed photo"


def photo_name(photo: Document) -> str:
    """A photo's name as shown: whoever added it chose it, so it is cleaned
    on every read (a modified client can write anything)."""
    return name_from_peer(photo.data.get("name"), MAX_NAME) or ""


def photo_caption(photo: Document) -> str | None:
    """A photo's caption as shown, cleaned on every read like its name."""
    return text_from_peer(photo.data.get("caption"), MAX_CAPTION)


def photo_camera(photo: Document) -> str | None:
    """The camera's make and model as shown: the importer cleans them, but a
    modified client can write anything."""
    return name_from_peer(photo.data.get("camera"), MAX_CAMERA)


def comment_text(comment: Document) -> str:
    """A comment's text as shown, cleaned on every read."""
    return text_from_peer(comment.data.get("text"), MAX_COMMENT) or ""


def all_paths(paths: Iterable[Path]) -> list[Path]:
    """Files named, and the files inside folders named (not hidden ones)."""
    found: list[Path] = []
    for path in paths:
        if path.is_dir():
            found += sorted(p for p in path.rglob("*") if p.is_file() and not p.name.startswith("."))
        else:
            found.append(path)
    if not found:
        raise NotFoundError("no files to add")
    return found


def _safe_name(name: str) -> str:
    """A peer chose this name: keep it to one plain file name."""
    name = name.replace("/", "_").replace("\\", "_").replace("\0", "").strip().lstrip(".")
    return name[:200] or "photo.jpg"


def _free_name(folder: Path, name: str) -> Path:
    target = folder / name
    stem, suffix = target.stem, target.suffix
    number = 2
    while target.exists():
        target = folder / f"{stem} ({number}){suffix}"
        number += 1
    return target
