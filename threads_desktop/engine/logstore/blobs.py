"""Photo originals and previews: chunks of at most 1 MiB, each sealed with
the blob's own key, and a sealed manifest listing them. Only CIDs and
ciphertext are stored; the key travels in the event body that uses the blob,
so a follower can keep and serve blob blocks without reading them.

A thread's chunks live in files (logstore/blockfiles.py) when the store is
given them; the `blocks` row then holds empty data (no real block is empty:
a sealed chunk carries at least its tag). Manifests, and every block of a
store without files, stay in the database."""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from threads_desktop.engine.codec import cbor
from threads_desktop.engine.codec.cbor import Link
from threads_desktop.engine.codec.cid import CODEC_DAG_CBOR, CODEC_RAW, cid_matches, cid_of_cbor, cid_of_raw
from threads_desktop.engine.core.errors import IntegrityError, NotFoundError, SchemaError
from threads_desktop.engine.core.ids import ThreadId
from threads_desktop.engine.crypto import aead
from threads_desktop.engine.crypto.aead import RandomBytes
from threads_desktop.engine.logstore.blockfiles import BlockFiles

PREVIEW, ORIGINAL = 0, 1  # block priorities: previews travel first
CHUNK_SIZE = 1 << 20
MAX_BLOB_SIZE = 512 << 20
_AAD_MANIFEST = b"threads/1/blob-manifest"


def _chunk_aad(index: int) -> bytes:
    return b"threads/1/blob-chunk/" + index.to_bytes(4, "big")


@dataclass(frozen=True, slots=True)
class BlobRef:
    manifest: bytes  # CID of the sealed manifest
    key: bytes
    size: int
    mime: str

    def to_value(self) -> dict[str, Any]:
        return {"manifest": Link(self.manifest), "key": self.key, "size": self.size, "mime": self.mime}

    @classmethod
    def from_value(cls, value: Any) -> BlobRef:
        if not isinstance(value, dict) or set(value) != {"manifest", "key", "size", "mime"}:
            raise SchemaError("a blob reference has manifest, key, size and mime")
        manifest, key, size, mime = value["manifest"], value["key"], value["size"], value["mime"]
        if not isinstance(manifest, Link) or not isinstance(key, bytes) or len(key) != 32 \
                or type(size) is not int or not 0 <= size <= MAX_BLOB_SIZE or not isinstance(mime, str):
            raise SchemaError("malformed blob reference")
        return cls(bytes(manifest.cid_bytes), key, size, mime)


@dataclass(frozen=True, slots=True)
class BlockEntry:
    """A block in a thread's inventory, as listed to peers."""

    cid: bytes
    blob: bytes  # manifest CID of the blob it belongs to
    size: int
    priority: int


class BlobStore:
    """Blobs of one thread (`thread_id`), or of none (reading only)."""

    def __init__(self, connection: sqlite3.Connection, random_bytes: RandomBytes,
                 thread_id: ThreadId | None = None, files: BlockFiles | None = None) -> None:
        self._sql = connection
        self._random_bytes = random_bytes
        self._thread_id = thread_id
        self._files = files if thread_id is not None else None

    def put(self, data: bytes, mime: str, priority: int = ORIGINAL) -> BlobRef:
        """Seal and store `data`; call inside a write transaction."""
        if len(data) > MAX_BLOB_SIZE:
            raise SchemaError(f"a blob is at most {MAX_BLOB_SIZE >> 20} MiB")
        key = self._random_bytes(32)
        cipher = AESGCM(key)
        chunks = []
        for index, start in enumerate(range(0, max(len(data), 1), CHUNK_SIZE)):
            sealed = aead.seal(cipher, data[start:start + CHUNK_SIZE], _chunk_aad(index), self._random_bytes)
            chunks.append((cid_of_raw(sealed), sealed))
        manifest = cbor.encode(aead.seal(cipher, cbor.encode({"size": len(data),
                                                              "chunks": [Link(c) for c, _ in chunks]}),
                                         _AAD_MANIFEST, self._random_bytes))
        manifest_cid = cid_of_cbor(manifest)
        for cid, block in [(manifest_cid, manifest), *chunks]:
            self._add_block(BlockEntry(cid, manifest_cid, len(block), priority), block, durable=True)
        if self._files is not None and self._thread_id is not None:
            self._files.flush_folder(self._thread_id.raw)  # nobody else holds these yet: on disk before the rows
        return BlobRef(manifest_cid, key, len(data), mime)

    def _in_file(self, cid: bytes) -> bool:
        """Kept in a file rather than the database: a thread's chunks."""
        return self._files is not None and self._thread_id is not None and cid[1] == CODEC_RAW

    def _add_block(self, entry: BlockEntry, data: bytes, *, durable: bool = False) -> None:
        if self._in_file(entry.cid) and self._files is not None and self._thread_id is not None:
            self._files.write(self._thread_id.raw, entry.cid, data, durable=durable)
            data = b""  # kept in the file
        self._list_block(entry, data)

    def _list_block(self, entry: BlockEntry, data: bytes) -> None:
        self._sql.execute("INSERT OR IGNORE INTO blocks (cid, data) VALUES (?, ?)", (entry.cid, data))
        if self._thread_id is not None:
            self._sql.execute(
                "INSERT OR IGNORE INTO thread_blocks (thread_id, cid, blob, size, priority) VALUES (?, ?, ?, ?, ?)",
                (self._thread_id.raw, entry.cid, entry.blob, entry.size, entry.priority))

    # --- a thread's inventory, for sync ----------------------------------------------------

    def _thread(self) -> bytes:
        if self._thread_id is None:
            raise NotFoundError("this blob store is not a thread's")
        return self._thread_id.raw

    def inventory(self, after: int, limit: int) -> list[tuple[int, BlockEntry]]:
        """The thread's blocks after a cursor (a row number), oldest first."""
        return [(row, BlockEntry(cid, blob, size, priority)) for row, cid, blob, size, priority in self._sql.execute(
            "SELECT id, cid, blob, size, priority FROM thread_blocks WHERE thread_id = ? AND id > ?"
            " ORDER BY id LIMIT ?", (self._thread(), after, limit))]

    def held(self, cids: Sequence[bytes]) -> set[bytes]:
        """Which of `cids` this thread's inventory already holds (a block
        whose file went missing is not held: it is fetched again)."""
        thread = self._thread()
        out = set()
        for cid in cids:
            row = self._sql.execute(
                "SELECT length(b.data) FROM thread_blocks t JOIN blocks b ON b.cid = t.cid"
                " WHERE t.thread_id = ? AND t.cid = ?", (thread, cid)).fetchone()
            if row is not None and (row[0] > 0 or self._file_here(cid)):
                out.add(cid)
        return out

    def _file_here(self, cid: bytes) -> bool:
        return self._files is not None and self._thread_id is not None \
            and self._files.exists(self._thread_id.raw, cid)

    def _data(self, cid: bytes) -> bytes | None:
        """A block's bytes, from the database or its file; None if not here."""
        row = self._sql.execute("SELECT data FROM blocks WHERE cid = ?", (cid,)).fetchone()
        if row is None:
            return None
        if row[0]:
            return bytes(row[0])
        if self._files is None or self._thread_id is None:
            return None
        return self._files.read(self._thread_id.raw, cid)

    def _checked(self, cid: bytes, data: bytes) -> bool:
        """Whether `data` matches its CID; a torn file is removed, so the
        block counts as missing and is fetched again."""
        if cid_matches(cid, data):
            return True
        if self._files is not None and self._thread_id is not None:
            self._files.discard(self._thread_id.raw, cid)
        return False

    def read_blocks(self, cids: Sequence[bytes], budget: int) -> list[tuple[bytes, bytes]]:
        """Blocks of this thread among `cids`, in order, until `budget` bytes
        (at least one). Blocks of other threads are never served."""
        out: list[tuple[bytes, bytes]] = []
        used = 0
        thread = self._thread()
        for cid in cids:
            listed = self._sql.execute("SELECT size FROM thread_blocks WHERE thread_id = ? AND cid = ?",
                                       (thread, cid)).fetchone()
            if listed is None:
                continue
            data = self._data(cid)
            if data is None:
                continue
            if len(data) != listed[0]:  # a file cut short (a power cut): not served, fetched again
                if self._in_file(cid) and self._files is not None and self._thread_id is not None:
                    self._files.discard(self._thread_id.raw, cid)
                continue
            if out and used + len(data) > budget:
                break
            out.append((cid, data))
            used += len(data)
        return out

    def add_fetched(self, entry: BlockEntry, data: bytes) -> None:
        """Store a block a peer sent, after checking it matches its CID; call
        inside a write transaction. NotFoundError once the thread is no
        longer held (a transfer finishing after we left it). A block whose
        file is already in place (`stage_fetched`) is only listed: a file
        gets its final name only after its bytes matched the CID."""
        if not self._sql.execute("SELECT 1 FROM threads WHERE id = ?", (self._thread(),)).fetchone():
            if self._files is not None and self._thread_id is not None:
                self._files.forget_thread(self._thread_id)  # what staging wrote meanwhile
            raise NotFoundError(f"thread {self._thread_id} is not in this profile")
        if len(data) > CHUNK_SIZE + 1024:
            raise IntegrityError("a block from a peer is larger than any blob block")
        sized = BlockEntry(entry.cid, entry.blob, len(data), entry.priority)
        if self._in_file(entry.cid) and self._file_here(entry.cid):
            self._list_block(sized, b"")
            return
        _check_fetched(entry.cid, data)
        self._add_block(sized, data)

    def stage_fetched(self, blocks: Sequence[tuple[BlockEntry, bytes]]) -> None:
        """Check blocks a peer sent against their CIDs and write those kept
        in files, without touching the database: safe on a worker thread
        (hashing and writing release the GIL, so the engine thread goes on
        reading the network meanwhile). `add_fetched` lists them after.
        IntegrityError for a bad block (those before it may be written:
        they match their CIDs, and are listed by the next transfer)."""
        for entry, data in blocks:
            if len(data) > CHUNK_SIZE + 1024:
                raise IntegrityError("a block from a peer is larger than any blob block")
            _check_fetched(entry.cid, data)
            if self._in_file(entry.cid) and self._files is not None and self._thread_id is not None:
                self._files.write(self._thread_id.raw, entry.cid, data)

    def get(self, ref: BlobRef) -> bytes:
        """The blob's bytes, every chunk checked against its CID and tag."""
        cipher = AESGCM(ref.key)
        parts = [aead.open_sealed(cipher, self._block(cid), _chunk_aad(index))
                 for index, cid in enumerate(self._chunks(ref, cipher))]
        data = b"".join(parts)
        if len(data) != ref.size:
            raise IntegrityError("the blob's chunks do not add up to its size")
        return data

    def complete(self, ref: BlobRef) -> bool:
        """Whether every block of the blob is here (without reading them)."""
        try:
            chunks = self._chunks(ref, AESGCM(ref.key))
        except NotFoundError:
            return False
        return all(self._present(cid) for cid in chunks)

    def _present(self, cid: bytes) -> bool:
        row = self._sql.execute("SELECT length(data) FROM blocks WHERE cid = ?", (cid,)).fetchone()
        return row is not None and (row[0] > 0 or self._file_here(cid))

    def _chunks(self, ref: BlobRef, cipher: AESGCM) -> list[bytes]:
        # Each CID in its role (a hash check alone would take any of CID_PREFIXES in either).
        if ref.manifest[1] != CODEC_DAG_CBOR:
            raise IntegrityError("a blob manifest is a dag-cbor block")
        sealed_manifest = cbor.decode(self._block(ref.manifest), max_size=1 << 20)
        if not isinstance(sealed_manifest, bytes):
            raise IntegrityError("a blob manifest is a sealed byte string")
        manifest = cbor.decode(aead.open_sealed(cipher, sealed_manifest, _AAD_MANIFEST), max_size=1 << 20)
        if not isinstance(manifest, dict) or manifest.get("size") != ref.size \
                or not isinstance(manifest.get("chunks"), list):
            raise IntegrityError("the blob manifest does not match its reference")
        if not all(isinstance(link, Link) and link.cid_bytes[1] == CODEC_RAW for link in manifest["chunks"]):
            raise IntegrityError("a blob manifest lists raw blocks")
        return [bytes(link.cid_bytes) for link in manifest["chunks"]]

    def has(self, ref: BlobRef) -> bool:
        return self._sql.execute("SELECT 1 FROM blocks WHERE cid = ?", (ref.manifest,)).fetchone() is not None

    def _block(self, cid: bytes) -> bytes:
        data = self._data(cid)
        if data is None:
            raise NotFoundError("a block of this blob is not here (yet)")
        if not self._checked(cid, data):
            raise IntegrityError("a stored block does not match its CID")
        return data


def _check_fetched(cid: bytes, data: bytes) -> None:
    if not cid_matches(cid, data):
        raise IntegrityError("a block from a peer does not match its CID")
