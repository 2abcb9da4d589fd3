"""Snapshots whose cost follows what changed, not what the thread holds
(issue 18, item 1): they keep working as the album grows past what one
SQLite value could hold, and rebuilding from one gives the views a full
replay gives, whatever order the events arrived in."""

from __future__ import annotations

import os
import random
import sqlite3
from collections.abc import Callable
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.engine.eventstore.peers import join, start_thread, sync, view_dump
from tests.engine.eventstore.test_convergence import History, _deliver, history  # noqa: F401 - the fixture
from threads_desktop.engine.codec.cbor import Link
from threads_desktop.engine.codec.cid import cid_of_cbor
from threads_desktop.engine.core.errors import StorageError
from threads_desktop.engine.core.ids import ThreadId
from threads_desktop.engine.core.types import ThreadKind
from threads_desktop.engine.db.documents import db_event
from threads_desktop.engine.eventstore.store import SNAPSHOT_EVERY
from threads_desktop.engine.node import Node

OpenNode = Callable[[str], Node]
THUMBNAIL_BYTES = 6_000  # the bench's thumbnails (a real 256 px JPEG is 15-20 KB)


def _add_photos(node: Node, album: ThreadId, first: int, count: int) -> None:
    """`count` photos, one event each, committed 100 at a time (as the bench does)."""
    ref = {"manifest": Link(cid_of_cbor(b"placeholder")), "key": bytes(32), "size": 1, "mime": "image/jpeg"}
    for start in range(first, first + count, 100):
        node.commit(album, [db_event({"op": "create", "c": "photo", "id": f"{i:064x}", "set": {
            "name": f"IMG_{i}.jpg", "thumbnail": os.urandom(THUMBNAIL_BYTES), "preview": ref, "original": ref,
            "width": 4000, "height": 3000, "taken_at": 1_700_000_000_000 + i * 60_000}})
            for i in range(start, min(first + count, start + 100))])


def _bytes_written_by_snapshot(node: Node, album: ThreadId) -> int:
    """What one snapshot writes to the profile: the WAL is emptied first, so
    its size afterwards is the pages the snapshot's transaction wrote."""
    connection = node.database.connection
    connection.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    wal = Path(node.database.connection.execute("PRAGMA database_list").fetchone()[2] + "-wal")
    assert wal.stat().st_size == 0
    node.events.snapshot(album)
    return wal.stat().st_size


def test_a_snapshot_writes_what_changed_since_the_last_one_not_the_whole_album(open_node: OpenNode) -> None:
    written = {}
    for size in (1_000, 10_000):
        node = open_node(f"album{size}")
        album = node.create_thread(ThreadKind.ALBUM, "big").thread_id
        _add_photos(node, album, 0, size)
        node.events.snapshot(album)
        _add_photos(node, album, size, 900)  # 900 photos since: no snapshot point crossed
        assert node.events.applied_count(album) % SNAPSHOT_EVERY >= 900
        written[size] = _bytes_written_by_snapshot(node, album)
        assert node.collections(album)["photo"].count() == size + 900
    # Flat in the album's size; and less than the new photos' thumbnails (not copied).
    assert written[10_000] <= 1.25 * written[1_000], written
    assert written[10_000] < 900 * THUMBNAIL_BYTES / 2, written


def test_an_album_larger_than_one_sqlite_value_still_takes_photos(open_node: OpenNode) -> None:
    node = open_node("a")
    album = node.create_thread(ThreadKind.ALBUM, "big").thread_id
    # One value may hold 256 KiB here (a GB by default): the album's
    # thumbnails alone pass that 25 times over before its first snapshot.
    node.database.connection.setlimit(sqlite3.SQLITE_LIMIT_LENGTH, 256 * 1024)
    _add_photos(node, album, 0, SNAPSHOT_EVERY + 100)
    assert node.collections(album)["photo"].count() == SNAPSHOT_EVERY + 100
    snapshot = node.events.latest_snapshot(album)
    assert snapshot is not None and snapshot[0] == SNAPSHOT_EVERY
    expected = view_dump(node, album)
    node.events.compact(album)
    node.events.rebuild(album, from_snapshot=True)
    assert view_dump(node, album) == expected


def test_a_snapshot_is_checked_against_the_events_it_names(open_node: OpenNode) -> None:
    node = open_node("a")
    album = node.create_thread(ThreadKind.ALBUM, "album").thread_id
    _add_photos(node, album, 0, 3)
    node.events.snapshot(album)
    # A saved field that names a value its event did not write: the rebuild
    # stops and changes nothing.
    node.database.connection.execute("UPDATE snapshot_fields SET value_hash = zeroblob(32) WHERE field = 'name'")
    expected = view_dump(node, album)
    with pytest.raises(StorageError, match="does not match"):
        node.events.rebuild(album, from_snapshot=True)
    assert view_dump(node, album) == expected


@settings(max_examples=20, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(seed=st.integers(0, 2**32 - 1), cut=st.floats(0, 1))
def test_rebuilding_from_a_snapshot_taken_anywhere_gives_the_views_of_a_full_replay(
        history: History, tmp_path_factory: pytest.TempPathFactory, seed: int, cut: float) -> None:  # noqa: F811
    order = list(history.envelopes)
    random.Random(seed).shuffle(order)
    split = int(len(order) * cut)
    reader = Node.open(tmp_path_factory.mktemp("reader"))
    try:
        thread = history.thread
        join(history.writers[0], reader, thread, write=False)
        _deliver(reader, thread, order[:split])
        reader.events.snapshot(thread)  # at whatever frontier this order reached
        _deliver(reader, thread, order[split:])
        assert view_dump(reader, thread) == history.expected
        reader.events.rebuild(thread, from_snapshot=True)  # the early snapshot and the events after it
        assert view_dump(reader, thread) == history.expected

        reader.events.snapshot(thread)  # saves only what changed since the early one
        incremental = reader.events.latest_snapshot(thread)
        reader.events.compact(thread)
        reader.events.rebuild(thread, from_snapshot=True)
        assert view_dump(reader, thread) == history.expected
        reader.events.rebuild(thread, from_snapshot=False)  # forgets the snapshot, replays every event
        assert view_dump(reader, thread) == history.expected
        reader.events.snapshot(thread)  # saves everything afresh
        assert reader.events.latest_snapshot(thread) == incremental  # same frontier, same digest
    finally:
        reader.close()


def test_peers_at_the_same_frontier_have_the_same_digest_whatever_their_snapshots_before(
        open_node: OpenNode) -> None:
    a, b = open_node("a"), open_node("b")
    thread = start_thread(a)
    join(a, b, thread)
    chat = a.chat(thread)
    first = chat.post("one")
    a.events.snapshot(thread)  # a saves twice, b once: the digests still agree
    chat.edit(first, "one, edited")
    chat.post("two")
    sync(a, b, thread)
    a.events.snapshot(thread)
    b.events.snapshot(thread)
    assert a.events.latest_snapshot(thread) == b.events.latest_snapshot(thread)
    chat.post("three")
    a.events.snapshot(thread)
    assert a.events.latest_snapshot(thread) != b.events.latest_snapshot(thread)
