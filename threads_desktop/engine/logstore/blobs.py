"""Photo originals and previews: chunks of at most 1 MiB, each sealed with
the blob's own key, and a sealed manifest listing them. Only CIDs and
ciphertext are stored; the key travels in the event body that uses the blob,
so a follower can keep and serve blob blocks without reading them."""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass
from typing import Any

from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from threads_desktop.engine.codec import cbor
from threads_desktop.engine.codec.cbor import Link
from threads_desktop.engine.codec.cid import cid_of_cbor, cid_of_raw
from threads_desktop.engine.core.errors import IntegrityError, NotFoundError, SchemaError
from threads_desktop.engine.crypto import aead
from threads_desktop.engine.crypto.aead import RandomBytes

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


class BlobStore:
    def __init__(self, connection: sqlite3.Connection, random_bytes: RandomBytes) -> None:
        self._sql = connection
        self._random_bytes = random_bytes

    def put(self, data: bytes, mime: str) -> BlobRef:
        """Seal and store `data`; call inside a write transaction."""
        if len(data) > MAX_BLOB_SIZE:
            raise SchemaError(f"a blob is at most {MAX_BLOB_SIZE >> 20} MiB")
        key = self._random_bytes(32)
        cipher = AESGCM(key)
        chunks = []
        for index, start in enumerate(range(0, max(len(data), 1), CHUNK_SIZE)):
            sealed = aead.seal(cipher, data[start:start + CHUNK_SIZE], _chunk_aad(index), self._random_bytes)
            cid = cid_of_raw(sealed)
            self._sql.execute("INSERT OR IGNORE INTO blocks (cid, data) VALUES (?, ?)", (cid, sealed))
            chunks.append(Link(cid))
        manifest = cbor.encode(aead.seal(cipher, cbor.encode({"size": len(data), "chunks": chunks}),
                                         _AAD_MANIFEST, self._random_bytes))
        manifest_cid = cid_of_cbor(manifest)
        self._sql.execute("INSERT OR IGNORE INTO blocks (cid, data) VALUES (?, ?)", (manifest_cid, manifest))
        return BlobRef(manifest_cid, key, len(data), mime)

    def get(self, ref: BlobRef) -> bytes:
        """The blob's bytes, every chunk checked against its CID and tag."""
        cipher = AESGCM(ref.key)
        sealed_manifest = cbor.decode(self._block(ref.manifest, cid_of_cbor), max_size=1 << 20)
        if not isinstance(sealed_manifest, bytes):
            raise IntegrityError("a blob manifest is a sealed byte string")
        manifest = cbor.decode(aead.open_sealed(cipher, sealed_manifest, _AAD_MANIFEST), max_size=1 << 20)
        if not isinstance(manifest, dict) or manifest.get("size") != ref.size \
                or not isinstance(manifest.get("chunks"), list):
            raise IntegrityError("the blob manifest does not match its reference")
        parts = []
        for index, link in enumerate(manifest["chunks"]):
            if not isinstance(link, Link):
                raise IntegrityError("a blob manifest lists CIDs")
            parts.append(aead.open_sealed(cipher, self._block(bytes(link.cid_bytes), cid_of_raw), _chunk_aad(index)))
        data = b"".join(parts)
        if len(data) != ref.size:
            raise IntegrityError("the blob's chunks do not add up to its size")
        return data

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
