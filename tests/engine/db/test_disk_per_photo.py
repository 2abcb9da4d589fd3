"""What a photo costs on disk: its thumbnail's copies (record, event, field;
no longer the document's data) sit in rows that keep them in their pages, not
in overflow pages of their own (a WITHOUT ROWID row keeps ~4 KB of a 16 KiB
page inline)."""

from __future__ import annotations

import os
from pathlib import Path

from threads_desktop.engine.codec.cbor import Link
from threads_desktop.engine.codec.cid import cid_of_cbor
from threads_desktop.engine.core.ids import ThreadId
from threads_desktop.engine.core.types import ThreadKind
from threads_desktop.engine.db.documents import db_event
from threads_desktop.engine.node import Node

THUMBNAIL = 6_000  # a 256 px JPEG, as the benches use


def _add_photos(node: Node, album: ThreadId, start: int, count: int) -> None:
    thumbnail = os.urandom(THUMBNAIL)
    ref = {"manifest": Link(cid_of_cbor(b"placeholder")), "key": bytes(32), "size": 1, "mime": "image/jpeg"}
    for first in range(start, start + count, 100):
        node.commit(album, [db_event({"op": "create", "c": "photo", "id": f"{i:064x}", "set": {
            "name": f"IMG_{i}.jpg", "thumbnail": thumbnail, "preview": ref, "original": ref,
            "width": 4000, "height": 3000, "taken_at": 1_700_000_000_000 + i * 60_000}})
            for i in range(first, min(start + count, first + 100))])


def _bytes_used(node: Node) -> int:
    (used,) = node.database.connection.execute("SELECT sum(pgsize) FROM dbstat").fetchone()
    return int(used)


def test_a_photo_with_a_6_kb_thumbnail_takes_under_30_kb_of_profile(tmp_path: Path) -> None:
    node = Node.open(tmp_path / "album")
    try:
        album = node.create_thread(ThreadKind.ALBUM, "big").thread_id
        _add_photos(node, album, 0, 300)
        before = _bytes_used(node)
        _add_photos(node, album, 300, 600)
        per_photo = (_bytes_used(node) - before) / 600
    finally:
        node.close()
    # Three copies of the thumbnail (record, event, field) and the views'
    # rows: about 27 KB; 37 KB while the document's data held a fourth, 80 KB
    # when each copy took an overflow page of 16 KiB.
    assert per_photo < 30_000, per_photo
