"""Reads that start-up and the members dialog make cost the same in a large
album as in a small one: they go through indexes, not every event (at
100,000 photos, reading every event took 235 ms at start-up and 180 ms each
time the members dialog opened). Counted in SQLite VM steps, at 200 and
2,000 photos in the same run."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tests.engine.eventstore.peers import force_commit
from threads_desktop.engine.codec.cbor import Link
from threads_desktop.engine.codec.cid import cid_of_cbor
from threads_desktop.engine.core.ids import ThreadId
from threads_desktop.engine.core.types import ThreadKind
from threads_desktop.engine.db.documents import db_event
from threads_desktop.engine.eventstore.schema import latest_stamp
from threads_desktop.engine.node import Node

SMALL, LARGE = 200, 2_000


def _album(folder: Path, count: int) -> tuple[Node, ThreadId]:
    node = Node.open(folder)
    album = node.create_thread(ThreadKind.ALBUM, "trip").thread_id
    ref = {"manifest": Link(cid_of_cbor(b"placeholder")), "key": bytes(32), "size": 1, "mime": "image/jpeg"}
    for first in range(0, count, 100):
        node.commit(album, [db_event({"op": "create", "c": "photo", "id": f"{i:064x}", "set": {
            "name": f"IMG_{i}.jpg", "thumbnail": b"jpeg", "preview": ref, "original": ref,
            "width": 4, "height": 3, "taken_at": i}})
            for i in range(first, min(count, first + 100))])
    # One event every member refuses (a photo without its blobs), in the middle of the album.
    force_commit(node, album, [db_event({"op": "create", "c": "photo", "id": "f" * 64, "set": {"name": "broken"}})])
    return node, album


@pytest.fixture(scope="module")
def albums(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[int, tuple[Node, ThreadId]]]:
    folder = tmp_path_factory.mktemp("album-sizes")
    made = {count: _album(folder / str(count), count) for count in (SMALL, LARGE)}
    yield made
    for node, _album_id in made.values():
        node.close()


def _steps(node: Node, album: ThreadId, read: Callable[[Node, ThreadId], object]) -> int:
    """SQLite virtual machine steps `read` takes (in hundreds)."""
    steps = 0

    def count() -> int:
        nonlocal steps
        steps += 1
        return 0

    sql = node.database.connection
    sql.set_progress_handler(count, 100)
    try:
        read(node, album)
    finally:
        sql.set_progress_handler(None, 0)
    return steps


def _cost_at_both_sizes(albums: dict[int, tuple[Node, ThreadId]],
                        read: Callable[[Node, ThreadId], object]) -> tuple[int, int]:
    return _steps(*albums[SMALL], read), _steps(*albums[LARGE], read)


def test_the_members_dialogs_refused_events_are_found_without_reading_every_event(
        albums: dict[int, tuple[Node, ThreadId]]) -> None:
    small, large = _cost_at_both_sizes(albums, lambda node, album: node.events.refused(album))
    assert all(len(node.events.refused(album)) == 1 for node, album in albums.values())
    assert large <= small + 2, (small, large)  # 10x the photos, not 10x the work


def test_the_clock_starts_past_the_latest_stamp_without_reading_every_event(
        albums: dict[int, tuple[Node, ThreadId]]) -> None:
    small, large = _cost_at_both_sizes(albums, lambda node, _album: latest_stamp(node.database.connection))
    assert large <= small + 2, (small, large)
    node, _album_id = albums[LARGE]
    (expected,) = node.database.connection.execute("SELECT max(stamp) FROM events NOT INDEXED").fetchone()
    assert latest_stamp(node.database.connection) == expected
