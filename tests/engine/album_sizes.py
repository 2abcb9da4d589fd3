"""Albums of two sizes in one run, and what a read costs in each: SQLite
virtual machine steps, so a path that reads the whole album shows as 10x
the work at 10x the photos, in a test that runs in seconds."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from tests.engine.eventstore.peers import force_commit
from threads_desktop.engine.codec.cbor import Link
from threads_desktop.engine.codec.cid import cid_of_cbor
from threads_desktop.engine.core.ids import ThreadId
from threads_desktop.engine.core.types import ThreadKind
from threads_desktop.engine.db.documents import db_event
from threads_desktop.engine.node import Node

SMALL, LARGE = 200, 2_000
Albums = dict[int, tuple[Node, ThreadId]]


def make_album(folder: Path, count: int) -> tuple[Node, ThreadId]:
    """`count` photos (tiny thumbnails, placeholder blobs) and, among them,
    one event every member refuses (a photo without its blobs)."""
    node = Node.open(folder)
    album = node.create_thread(ThreadKind.ALBUM, "trip").thread_id
    ref = {"manifest": Link(cid_of_cbor(b"placeholder")), "key": bytes(32), "size": 1, "mime": "image/jpeg"}
    for first in range(0, count, 100):
        node.commit(album, [db_event({"op": "create", "c": "photo", "id": f"{i:064x}", "set": {
            "name": f"IMG_{i}.jpg", "thumbnail": b"jpeg", "preview": ref, "original": ref,
            "width": 4, "height": 3, "taken_at": i}})
            for i in range(first, min(count, first + 100))])
        if first == count // 2:
            force_commit(node, album, [db_event({"op": "create", "c": "photo", "id": "f" * 64,
                                                 "set": {"name": "broken"}})])
    return node, album


def steps(node: Node, album: ThreadId, read: Callable[[Node, ThreadId], object]) -> int:
    """SQLite virtual machine steps `read` takes (in hundreds)."""
    count = 0

    def tick() -> int:
        nonlocal count
        count += 1
        return 0

    sql = node.database.connection
    sql.set_progress_handler(tick, 100)
    try:
        read(node, album)
    finally:
        sql.set_progress_handler(None, 0)
    return count


def cost_at_both_sizes(albums: Albums, read: Callable[[Node, ThreadId], object]) -> tuple[int, int]:
    return steps(*albums[SMALL], read), steps(*albums[LARGE], read)
