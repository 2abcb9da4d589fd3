"""Leaving a thread: every row of it gone in one go, other threads intact,
the others still list us, and a new link brings it back."""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Sequence
from pathlib import Path

import pytest
import trio

from tests.engine.eventstore.peers import join, join_with, peer, start_thread, sync, texts
from tests.engine.modules.images import image_bytes
from tests.engine.net.running import running_peers, serving, wait_until
from threads_desktop.engine.core.errors import NotFoundError
from threads_desktop.engine.core.ids import ThreadId
from threads_desktop.engine.core.members import Role
from threads_desktop.engine.core.types import ChangeSet, ThreadKind
from threads_desktop.engine.leave import thread_tables
from threads_desktop.engine.logstore.blobs import BlockEntry
from threads_desktop.engine.net.service import NetworkService
from threads_desktop.engine.networking import NodeThreads
from threads_desktop.engine.node import Node

OpenNode = Callable[[str], Node]


def _rows_naming(connection: sqlite3.Connection, thread_id: ThreadId) -> list[str]:
    """Every table and column where some row holds the thread's ID (as bytes
    or text), anywhere in the value."""
    found = []
    tables = [name for (name,) in connection.execute("SELECT name FROM sqlite_schema WHERE type = 'table'")]
    for table in tables:
        for column in [c[1] for c in connection.execute(f"PRAGMA table_info({table})")]:
            for needle in (thread_id.raw, str(thread_id)):
                (count,) = connection.execute(
                    f"SELECT count(*) FROM {table} WHERE typeof({column}) IN ('blob', 'text')"
                    f" AND instr({column}, ?) > 0", (needle,)).fetchone()
                if count:
                    found.append(f"{table}.{column}")
    return found


def _orphan_blocks(connection: sqlite3.Connection) -> int:
    (count,) = connection.execute(
        "SELECT count(*) FROM blocks b WHERE NOT EXISTS (SELECT 1 FROM thread_blocks t WHERE t.cid = b.cid)"
    ).fetchone()
    return int(count)


def _album(node: Node, folder: Path, name: str, seed: int) -> ThreadId:
    thread_id = node.create_thread(ThreadKind.ALBUM, name).thread_id
    folder.mkdir()
    paths = []
    for i in range(2):
        path = folder / f"p{i}.jpg"
        path.write_bytes(image_bytes("JPEG", size=(320, 240), seed=seed + 40 * i))
        paths.append(path)
    assert len(node.photos(thread_id).add_files(paths).added) == 2
    return thread_id


def test_every_table_with_a_thread_column_is_covered(open_node: OpenNode) -> None:
    node = open_node("a")
    tables = set(thread_tables(node.database.connection))
    # Read from the database, so a new table is covered without a change:
    # this list only proves today's tables are all found.
    assert tables == {"thread_keys", "logs", "thread_blocks", "events", "applied", "snapshots", "acl_events",
                      "direct_invites", "pending_admissions", "join_requests", "thread_peers", "thread_settings",
                      "wanted_blobs", "documents", "fields", "document_index", "document_index_counts",
                      "document_authors", "snapshot_dirty", "snapshot_documents", "snapshot_fields", "snapshot_authors"}


def test_leaving_removes_every_row_of_the_thread_and_nothing_of_the_others(open_node: OpenNode,
                                                                          tmp_path: Path) -> None:
    a, b = open_node("a"), open_node("b")
    shared = _album(a, tmp_path / "shared", "Shared", 10)
    join(a, b, shared, role=Role.READ)
    entries = _copy_blocks(a, b, shared, shared)  # as sync fetches them
    b.peers.remember(shared, a.identity.peer_id, ["/ip4/127.0.0.1/tcp/9"])
    b.peers.set_fetch_originals(shared, False)
    b.peers.want_blob(shared, entries[0].blob)
    b.membership.receive_invite(a.membership.invite_peer(shared, peer(b), b.identity_card().exchange_public_key,
                                                         Role.WRITE))
    chat = start_thread(b)
    b.chat(chat).post("still here")
    own = _album(b, tmp_path / "own", "Own", 200)
    # A block another thread names too (a follower may hold the same bytes
    # for two threads) stays.
    kept = _copy_blocks(a, b, shared, chat, entries[:1])
    assert _rows_naming(b.database.connection, shared)  # the check finds what is there
    heard: list[ChangeSet] = []
    b.subscribe(heard.append, thread_id=shared)

    b.leave_thread(shared)

    assert [t.thread_id for t in b.list_threads()] == [chat, own]
    assert _rows_naming(b.database.connection, shared) == []
    assert _orphan_blocks(b.database.connection) == 0
    assert b.blobs(chat).read_blocks([kept[0].cid], 1 << 30)
    assert heard == [ChangeSet(threads_removed=frozenset({shared}))]
    with pytest.raises(NotFoundError):
        b.get_thread(shared)
    with pytest.raises(NotFoundError):
        b.leave_thread(shared)
    assert texts(b, chat) == ["still here"]
    for doc in b.photos(own).page():
        assert b.photos(own).preview(doc.id) and b.photos(own).original(doc.id)
    # Leaving is local: the admin still lists us until it removes us.
    assert peer(b) in {m.peer_id for m in a.membership.members(shared)}


def test_what_a_late_network_reply_writes_for_a_left_thread_is_refused(open_node: OpenNode,
                                                                        tmp_path: Path) -> None:
    a, b = open_node("a"), open_node("b")
    shared = _album(a, tmp_path / "shared", "Shared", 10)
    join(a, b, shared, role=Role.READ)
    network_side = NodeThreads(b)  # the node as the network writes to it
    b.leave_thread(shared)
    # What a transfer already waking when we left could still store.
    entries = [entry for _row, entry in a.blobs(shared).inventory(0, 10_000)]
    blocks = a.blobs(shared).read_blocks([e.cid for e in entries], 1 << 30)
    with pytest.raises(NotFoundError):
        network_side.store_fetched(shared, [(e, data) for e, (_cid, data) in zip(entries, blocks, strict=True)])
    network_side.peers.remember(shared, a.identity.peer_id, ["/ip4/127.0.0.1/tcp/9"])
    network_side.peers.want_blob(shared, entries[0].blob)
    network_side.peers.set_fetch_originals(shared, True)
    invite = a.membership.invite_peer(shared, peer(b), b.identity_card().exchange_public_key, Role.READ)
    b.membership.receive_invite(invite)
    assert _rows_naming(b.database.connection, shared) == ["direct_invites.thread_id"]  # an invite back is kept
    assert _orphan_blocks(b.database.connection) == 0


def test_leaving_one_thread_keeps_the_caches_of_the_others_warm(open_node: OpenNode) -> None:
    node = open_node("a")
    left, kept = start_thread(node), start_thread(node)
    for thread_id in (left, kept):
        node.chat(thread_id).post("warm")  # keys, own log and its position cached
    node.leave_thread(left)
    statements: list[str] = []
    node.database.connection.set_trace_callback(statements.append)
    try:
        node.store.thread_keys(kept)
        node.store.own_log(kept)
        node.chat(kept).post("no reload")
    finally:
        node.database.connection.set_trace_callback(None)
    # A warm append reads nothing of the key book or the logs table.
    assert [s for s in statements if s.lstrip().upper().startswith("SELECT")
            and ("thread_keys" in s or " logs " in s or "FROM logs" in s)] == []
    assert statements  # the post did write
    assert sorted(texts(node, kept)) == ["no reload", "warm"]


class _LeavingAsBlocksArrive(NodeThreads):
    """The node as its network sees it, left by its user just as the first
    block reply of `thread_id` is about to be stored: a transfer finishing
    after the leave."""

    def __init__(self, node: Node, thread_id: ThreadId) -> None:
        super().__init__(node)
        self._leaving, self._thread_id = node, thread_id

    def store_fetched(self, thread_id: ThreadId, blocks: Sequence[tuple[BlockEntry, bytes]]) -> None:
        if thread_id == self._thread_id and self._leaving.directory.holds(thread_id):
            self._leaving.leave_thread(thread_id)
        super().store_fetched(thread_id, blocks)


def test_a_block_transfer_finishing_after_the_leave_keeps_nothing_and_sync_goes_on(open_node: OpenNode,
                                                                                   tmp_path: Path) -> None:
    async def main() -> None:
        a, b = open_node("a"), open_node("b")
        album = _album(a, tmp_path / "pics", "Trip", 10)
        chat = a.create_thread(ThreadKind.CHAT, "Us").thread_id
        async with serving(a), trio.open_nursery() as nursery:
            # Wired as engine/networking.py wires it, around the leaving view.
            service_b = NetworkService(_LeavingAsBlocksArrive(b, album), listen=["/ip4/127.0.0.1/tcp/0"],
                                       pull_interval=3600.0)
            b.attach_network(service_b)
            await nursery.start(service_b.run)
            join_with(a, b, a.invite(album, Role.READ))
            await wait_until(b, lambda: not b.directory.holds(album))
            join_with(a, b, a.invite(chat, Role.WRITE))
            a.chat(chat).post("after")
            await wait_until(b, lambda: texts(b, chat) == ["after"])
            assert _rows_naming(b.database.connection, album) == []
            assert _orphan_blocks(b.database.connection) == 0
            assert [s.failures for s in service_b.peer_status()] == [0]
            nursery.cancel_scope.cancel()

    trio.run(main)


def _copy_blocks(source: Node, target: Node, thread_id: ThreadId, into: ThreadId,
                 entries: list[BlockEntry] | None = None) -> list[BlockEntry]:
    entries = entries or [entry for _row, entry in source.blobs(thread_id).inventory(0, 10_000)]
    blocks = source.blobs(thread_id).read_blocks([e.cid for e in entries], 1 << 30)
    with target.database.write():
        for entry, (_cid, data) in zip(entries, blocks, strict=True):
            target.blobs(into).add_fetched(entry, data)
    return entries


def test_a_member_that_left_can_be_invited_back_and_reads_it_all_again(open_node: OpenNode) -> None:
    a, b = open_node("a"), open_node("b")
    thread_id = start_thread(a)
    join(a, b, thread_id)
    a.chat(thread_id).post("from a")
    sync(a, b, thread_id)
    b.chat(thread_id).post("from b")
    sync(b, a, thread_id)
    a.membership.grant(thread_id, peer(b), Role.WRITE, None)
    sync(a, b, thread_id)

    b.leave_thread(thread_id)
    assert b.list_threads() == []
    a.chat(thread_id).post("while b was gone")
    link = a.invite(thread_id, Role.WRITE)
    assert join_with(a, b, link) == thread_id  # same thread ID: nothing of the old stay is in the way
    sync(a, b, thread_id)
    sync(b, a, thread_id)
    assert texts(b, thread_id) == ["from a", "from b", "while b was gone"]
    b.chat(thread_id).post("back")  # a new log of ours, not the old one
    sync(b, a, thread_id)
    assert "back" in texts(a, thread_id)


def test_a_thread_left_while_online_does_not_come_back_and_a_new_link_brings_it(tmp_path: Path) -> None:
    async def main() -> None:
        async with running_peers(tmp_path, "a", "b") as peers:
            a, b = peers["a"].node, peers["b"].node
            album = a.create_thread(ThreadKind.ALBUM, "Trip").thread_id
            folder = tmp_path / "pics"
            folder.mkdir()
            (folder / "p.jpg").write_bytes(image_bytes("JPEG", size=(320, 240), seed=5))
            a.photos(album).add_files([folder / "p.jpg"])
            chat = a.create_thread(ThreadKind.CHAT, "Us").thread_id
            join_with(a, b, a.invite(album, Role.READ))
            join_with(a, b, a.invite(chat, Role.WRITE))
            await wait_until(b, lambda: _has_originals(b, album) and texts(b, chat) == [])
            b.leave_thread(album)
            # a goes on writing to the album; b hears chat news only.
            (folder / "q.jpg").write_bytes(image_bytes("JPEG", size=(320, 240), seed=90))
            a.photos(album).add_files([folder / "q.jpg"])
            a.chat(chat).post("after")
            await wait_until(b, lambda: texts(b, chat) == ["after"])
            assert _rows_naming(b.database.connection, album) == []
            assert [t.thread_id for t in b.list_threads()] == [chat]

            join_with(a, b, a.invite(album, Role.READ))
            await wait_until(b, lambda: len(b.photos(album).page()) == 2 and _has_originals(b, album))

    trio.run(main)


def _has_originals(node: Node, thread_id: ThreadId) -> bool:
    try:
        photos = node.photos(thread_id)
        return bool(photos.page()) and all(photos.has_original(doc.id) for doc in photos.page())
    except NotFoundError:
        return False
