"""Leaving a thread: our Leave written, the thread hidden until a member
holds it, then every row of it gone in one go, other threads intact; the
others list us as left, and a new link brings it back."""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Callable, Sequence
from pathlib import Path

import pytest
import trio

from tests.engine.eventstore.peers import join, join_with, peer, start_thread, sync, texts
from tests.engine.modules.images import image_bytes
from tests.engine.net.running import running_peers, serving, wait_until
from threads_desktop.engine.acl.links import InviteLink
from threads_desktop.engine.acl.verdicts import deciding_events
from threads_desktop.engine.core.errors import AccessDeniedError, NotFoundError
from threads_desktop.engine.core.ids import PeerId, ThreadId
from threads_desktop.engine.core.members import Role
from threads_desktop.engine.core.types import ChangeSet, ThreadKind
from threads_desktop.engine.leave import LEAVING_DAYS, thread_tables
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
                      "direct_invites", "pending_admissions", "join_requests", "leaving", "thread_peers",
                      "thread_settings", "wanted_blobs", "bundle_peers",
                      "documents", "fields", "document_index", "document_index_counts", "document_authors",
                      "snapshot_dirty", "snapshot_documents", "snapshot_fields", "snapshot_authors"}


def _fetched_by(member: Node, leaver: Node, thread_id: ThreadId) -> None:
    """`member` fetches the leaver's log, and the leaver's network sees it
    (as its server does when a member pulls, or its client from the heads)."""
    sync(leaver, member, thread_id)
    own_log = leaver.store.own_log(thread_id)
    seq = next(h.seq for h in leaver.store.logs(thread_id) if h.log_id == own_log)
    assert leaver.peer_has_our_log(thread_id, member.identity.peer_id, seq)


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

    assert b.leave_thread(shared) is False  # hidden until a member has our Leave
    written = _own_seq(b, shared)
    assert b.leave_thread(shared) is False and _own_seq(b, shared) == written  # again: nothing more
    assert [t.thread_id for t in b.list_threads()] == [chat, own]
    assert heard and all(c.threads_removed == {shared} for c in heard)  # its views close at once
    _fetched_by(a, b, shared)

    assert [t.thread_id for t in b.list_threads()] == [chat, own]
    assert _rows_naming(b.database.connection, shared) == []
    assert _orphan_blocks(b.database.connection) == 0
    assert b.blobs(chat).read_blocks([kept[0].cid], 1 << 30)
    assert heard[-1] == ChangeSet(threads_removed=frozenset({shared}))
    with pytest.raises(NotFoundError):
        b.get_thread(shared)
    with pytest.raises(NotFoundError):
        b.leave_thread(shared)
    assert texts(b, chat) == ["still here"]
    for doc in b.photos(own).page():
        assert b.photos(own).preview(doc.id) and b.photos(own).original(doc.id)
    # The admin lists us as a member no more: we took every role from ourselves.
    assert a.membership.roles(shared, peer(b)) == frozenset()


def test_what_a_late_network_reply_writes_for_a_left_thread_is_refused(open_node: OpenNode,
                                                                        tmp_path: Path) -> None:
    a, b = open_node("a"), open_node("b")
    shared = _album(a, tmp_path / "shared", "Shared", 10)
    join(a, b, shared, role=Role.READ)
    network_side = NodeThreads(b)  # the node as the network writes to it
    b.leave_thread(shared)
    _fetched_by(a, b, shared)
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
            # Our Leave reaches a, and then the album goes from here.
            await wait_until(b, lambda: not b.directory.holds(album))
            assert a.membership.roles(album, peer(b)) == frozenset()
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
    # Same thread ID: nothing of the old stay is in the way, not even before
    # a member fetched our Leave.
    assert join_with(a, b, link) == thread_id
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
            assert b.leave_thread(album) is False
            await wait_until(b, lambda: not b.directory.holds(album))  # once a holds our Leave
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


# --- leaving tells the others (issue 16) ----------------------------------------------------------


def _own_seq(node: Node, thread_id: ThreadId) -> int:
    own_log = node.store.own_log(thread_id)
    return next((h.seq for h in node.store.logs(thread_id) if h.log_id == own_log), 0)


def test_a_leaving_thread_stays_hidden_while_no_member_is_reachable_and_goes_once_one_has_our_leave(
        tmp_path: Path) -> None:
    a, b, c = (Node.open(tmp_path / name) for name in "abc")
    try:
        thread_id = start_thread(a, name="Lisbon 2024")
        a.chat(thread_id).post("hello")
        join(a, b, thread_id)
        join(a, c, thread_id)
        sync(a, b, thread_id)
        a_peer = a.identity.peer_id
        old_epochs = {key.epoch for key in b.store.thread_keys(thread_id)}
        assert b.leave_thread(thread_id) is False
        leave_seq = _own_seq(b, thread_id)
    finally:
        for node in (a, b, c):
            node.close()

    async def main() -> None:
        async with running_peers(tmp_path, "b", pull_interval=0.5) as alone:
            b = alone["b"].node  # opened again: still leaving
            assert b.list_threads() == [] and b.directory.holds(thread_id)
            with pytest.raises(NotFoundError):
                b.get_thread(thread_id)
            assert not b.can_write(thread_id)
            b.peers.remember(thread_id, a_peer, ["/ip4/127.0.0.1/tcp/9"])  # a is not there
            alone["b"].service.schedule(a_peer)
            await wait_until(b, lambda: any(s.failures >= 2 for s in alone["b"].service.peer_status()))
            assert b.directory.holds(thread_id) and _own_seq(b, thread_id) == leave_seq
        async with running_peers(tmp_path, "a", "b", pull_interval=0.5) as peers:
            a, b = peers["a"].node, peers["b"].node
            b.peers.remember(thread_id, a.identity.peer_id, peers["a"].service.addresses())
            peers["b"].service.schedule(a.identity.peer_id)
            await wait_until(b, lambda: not b.directory.holds(thread_id), timeout=30)
            assert _rows_naming(b.database.connection, thread_id) == []
            # a lists b as left, by b's own signed Leave, and rotated the keys.
            assert a.membership.roles(thread_id, peer(b)) == frozenset()
            evaluation = a._services.gate.evaluation(thread_id)
            assert deciding_events(evaluation, peer(b)) == [(_log_of(evaluation, peer(b)), leave_seq)]
            assert a.store.thread_keys(thread_id)[0].epoch not in old_epochs
            assert evaluation.clean(a.store.thread_keys(thread_id)[0].epoch)

    trio.run(main)


def _log_of(evaluation: object, member: str) -> PeerId:
    bindings = evaluation.bindings  # type: ignore[attr-defined]
    [log] = [PeerId(log) for log, binding in bindings.items() if binding.member == member]
    return log


def test_a_leaving_thread_nobody_fetches_is_deleted_after_30_days(tmp_path: Path) -> None:
    a, b = Node.open(tmp_path / "a"), Node.open(tmp_path / "b")
    thread_id = start_thread(a)
    join(a, b, thread_id)
    a.close()
    assert b.leave_thread(thread_id) is False
    b.close()
    b = Node.open(tmp_path / "b", now_seconds=lambda: time.time() + 29 * 86400)
    assert b.directory.holds(thread_id)
    b.close()
    b = Node.open(tmp_path / "b", now_seconds=lambda: time.time() + LEAVING_DAYS * 86400 + 60)
    try:
        assert not b.directory.holds(thread_id)
        assert _rows_naming(b.database.connection, thread_id) == []
    finally:
        b.close()


def test_removing_a_thread_we_were_removed_from_deletes_it_at_once_and_writes_nothing(open_node: OpenNode) -> None:
    a, b = open_node("a"), open_node("b")
    thread_id = start_thread(a)
    join(a, b, thread_id)
    a.membership.revoke(thread_id, peer(b), Role.FOLLOW)
    sync(a, b, thread_id)  # as the sync server tells a removed member
    heard: list[ChangeSet] = []
    b.subscribe(heard.append)
    assert b.leave_thread(thread_id) is True
    assert _rows_naming(b.database.connection, thread_id) == []
    # Only the removal: no event of ours was written (it would publish the thread updated).
    assert heard == [ChangeSet(threads_removed=frozenset({thread_id}))]


def test_the_only_member_leaving_deletes_at_once(open_node: OpenNode) -> None:
    a = open_node("a")
    thread_id = start_thread(a)
    a.chat(thread_id).post("just me")
    assert a.leave_thread(thread_id) is True
    assert _rows_naming(a.database.connection, thread_id) == []


def test_the_last_admin_cannot_leave_while_others_remain_and_nothing_changes(open_node: OpenNode) -> None:
    a, b = open_node("a"), open_node("b")
    thread_id = start_thread(a)
    join(a, b, thread_id)
    before = _own_seq(a, thread_id)
    with pytest.raises(AccessDeniedError, match="make someone else an admin first"):
        a.leave_thread(thread_id)
    assert _own_seq(a, thread_id) == before
    assert [t.thread_id for t in a.list_threads()] == [thread_id]
    a.membership.grant(thread_id, peer(b), Role.WRITE, "acl")  # b an admin too: now a may go
    assert a.leave_thread(thread_id) is False


def test_leaving_a_join_still_waiting_cancels_it(open_node: OpenNode) -> None:
    a, b = open_node("a"), open_node("b")
    thread_id = start_thread(a)
    b.join(InviteLink.parse(a.invite(thread_id, Role.READ).to_uri()))
    assert b.membership.join_state(thread_id) is not None
    assert b.leave_thread(thread_id) is True
    assert b.membership.join_state(thread_id) is None


def test_a_member_that_comes_to_us_and_pulls_our_leave_lets_the_thread_go(open_node: OpenNode) -> None:
    """We do not know where a is; it comes to us and pulls our log up to the
    Leave. Its next request tells our server it has it (or, if what a
    pushes meanwhile makes us sync back, a's heads do)."""
    async def main() -> None:
        a, b = open_node("a"), open_node("b")
        thread_id = start_thread(a)
        join(a, b, thread_id)
        assert b.leave_thread(thread_id) is False
        async with serving(b) as service_b, serving(a) as service_a:
            assert a.identity.peer_id not in b.peers.peers(thread_id)  # b cannot reach out
            a.peers.remember(thread_id, b.identity.peer_id, service_b.addresses())
            with trio.fail_after(20):
                await service_a.sync_once(thread_id)
            assert not b.directory.holds(thread_id)
            assert a.membership.roles(thread_id, peer(b)) == frozenset()

    trio.run(main)
