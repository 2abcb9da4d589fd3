"""Photo originals and previews: chunks of at most 1 MiB, each sealed with
the blob's own key, and a sealed manifest listing them. Only CIDs and
ciphertext are stored; the key travels in the event body that uses the blob,
so a follower can keep and serve blob blocks without reading them."""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from threads_desktop.engine.codec import cbor
from threads_desktop.engine.codec.cbor import Link
from threads_desktop.engine.codec.cid import CODEC_RAW, cid_of_cbor, cid_of_raw
from threads_desktop.engine.core.errors import IntegrityError, NotFoundError, SchemaError
from threads_desktop.engine.core.ids import ThreadId
from threads_desktop.engine.crypto import aead
from threads_desktop.engine.crypto.aead import RandomBytes

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
                 thread_id: ThreadId | None = None) -> None:
        self._sql = connection
        self._random_bytes = random_bytes
        self._thread_id = thread_id

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
            self._add_block(BlockEntry(cid, manifest_cid, len(block), priority), block)
        return BlobRef(manifest_cid, key, len(data), mime)

    def _add_block(self, entry: BlockEntry, data: bytes) -> None:
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
        """Which of `cids` this thread's inventory already holds."""
        thread = self._thread()
        return {cid for cid in cids if self._sql.execute(
            "SELECT 1 FROM thread_blocks WHERE thread_id = ? AND cid = ?", (thread, cid)).fetchone()}

    def read_blocks(self, cids: Sequence[bytes], budget: int) -> list[tuple[bytes, bytes]]:
        """Blocks of this thread among `cids`, in order, until `budget` bytes
        (at least one). Blocks of other threads are never served."""
        out: list[tuple[bytes, bytes]] = []
        used = 0
        thread = self._thread()
        for cid in cids:
            row = self._sql.execute(
                "SELECT b.data FROM thread_blocks t JOIN blocks b ON b.cid = t.cid WHERE t.thread_id = ? AND t.cid = ?",
                (thread, cid)).fetchone()
            if row is None:
                continue
            if out and used + len(row[0]) > budget:
                break
            out.append((cid, bytes(row[0])))
            used += len(row[0])
        return out

    def add_fetched(self, entry: BlockEntry, data: bytes) -> None:
        """Store a block a peer sent, after checking it matches its CID; call
        inside a write transaction. NotFoundError once the thread is no
        longer held (a transfer finishing after we left it)."""
        if not self._sql.execute("SELECT 1 FROM threads WHERE id = ?", (self._thread(),)).fetchone():
            raise NotFoundError(f"thread {self._thread_id} is not in this profile")
        expected = cid_of_raw(data) if entry.cid[1] == CODEC_RAW else cid_of_cbor(data)
        if expected != entry.cid:
            raise IntegrityError("a block from a peer does not match its CID")
        if len(data) > CHUNK_SIZE + 1024:
            raise IntegrityError("a block from a peer is larger than any blob block")
        self._add_block(BlockEntry(entry.cid, entry.blob, len(data), entry.priority), data)

    def get(self, ref: BlobRef) -> bytes:
        """The blob's bytes, every chunk checked against its CID and tag."""
        cipher = AESGCM(ref.key)
        parts = [aead.open_sealed(cipher, self._block(cid, cid_of_raw), _chunk_aad(index))
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
        return all(self._sql.execute("SELECT 1 FROM blocks WHERE cid = ?", (cid,)).fetchone() for cid in chunks)

    def _chunks(self, ref: BlobRef, cipher: AESGCM) -> list[bytes]:
        sealed_manifest = cbor.decode(self._block(ref.manifest, cid_of_cbor), max_size=1 << 20)
        if not isinstance(sealed_manifest, bytes):
            raise IntegrityError("a blob manifest is a sealed byte string")
        manifest = cbor.decode(aead.open_sealed(cipher, sealed_manifest, _AAD_MANIFEST), max_size=1 << 20)
        if not isinstance(manifest, dict) or manifest.get("size") != ref.size \
                or not isinstance(manifest.get("chunks"), list):
            raise IntegrityError("the blob manifest does not match its reference")
        if not all(isinstance(link, Link) for link in manifest["chunks"]):
            raise IntegrityError("a blob manifest lists CIDs")
        return [bytes(link.cid_bytes) for link in manifest["chunks"]]

    def has(self, ref: BlobRef) -> bool:
        return self._sql.execute("SELECT 1 FROM blocks WHERE cid = ?", (ref.manifest,)).fetchone() is not None

    def _block(self, cid: bytes, cid_of: Any) -> bytes:
        row = self._sql.execute("SELECT data FROM blocks WHERE cid = ?", (cid,)).fetchone()
        if row is None:
            raise NotFoundError("a block of this blob is not here (yet)")
        data = bytes(row[0])
        if cid_of(data) != cid:
            raise IntegrityError("a stored block does not match its CID")
        return data
