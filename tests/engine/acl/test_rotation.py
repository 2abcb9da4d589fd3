"""Key rotation: what a removed member can no longer open, and who keeps
replicating."""

from __future__ import annotations

from collections.abc import Callable

from tests.engine.eventstore.peers import join, peer, start_thread, sync
from threads_desktop.engine.core.errors import DecryptionError
from threads_desktop.engine.core.ids import ThreadId
from threads_desktop.engine.core.members import Role
from threads_desktop.engine.logstore.envelopes import Envelope, decode_envelope, open_event
from threads_desktop.engine.logstore.store import IngestOutcome
from threads_desktop.engine.node import Node

OpenNode = Callable[[str], Node]



def own_records_after(node: Node, thread: ThreadId, seq: int) -> list[Envelope]:
    log = node.store.own_log(thread)
    assert log is not None
    return [r.envelope for r in node.store.records_after(thread, log, seq)]


def test_a_member_whose_read_is_revoked_cannot_open_anything_written_after(open_node: OpenNode) -> None:
    a, b, removed = open_node("a"), open_node("b"), open_node("removed")
    thread = start_thread(a)
    join(a, b, thread)
    join(a, removed, thread, role=Role.READ)
    a.chat(thread).post("everyone saw this")
    sync(a, removed, thread)
    old_keys = removed.store.thread_keys(thread)   # every key it ever held
    seq_before = max(log.seq for log in a.store.logs(thread) if log.writable)
    a.membership.revoke(thread, peer(removed), Role.READ)
    assert a.store.thread_keys(thread)[0].epoch > old_keys[0].epoch
    sync(a, b, thread)
    b.chat(thread).post("after the rotation, from b")  # b took the new keys from the rotation
    sync(b, a, thread)
    a.chat(thread).post("after the rotation, from a")
    after = own_records_after(a, thread, seq_before + 1) + own_records_after(b, thread, 1)
    refused = 0
    for envelope in after:
        decode_envelope(envelope, old_keys)  # still a follower: the records open...
        try:
            opened = open_event(envelope.header, envelope.body, old_keys)
        except DecryptionError:
            refused += 1  # ...the content does not
            continue
        assert opened.control  # membership and key boxes sealed to others: all it may open
    assert refused == 2
    sync(a, b, thread)
    for node in (a, b):
        sync(node, removed, thread)
    assert [m.data["text"] for m in removed.chat(thread).messages.find()] == ["everyone saw this"]
    assert sorted(m.data["text"] for m in a.chat(thread).messages.find()) == sorted(
        m.data["text"] for m in b.chat(thread).messages.find())
    assert removed.membership.roles(thread) == {Role.FOLLOW}


def test_followers_keep_replicating_across_a_follow_key_rotation(open_node: OpenNode) -> None:
    a, follower, removed = open_node("a"), open_node("follower"), open_node("removed")
    thread = start_thread(a)
    join(a, follower, thread, role=Role.FOLLOW)
    join(a, removed, thread, role=Role.READ)
    a.membership.revoke(thread, peer(removed), Role.FOLLOW)  # out entirely: new follow key too
    rotation_seq = max(log.seq for log in a.store.logs(thread) if log.writable)
    a.chat(thread).post("only members from here on")
    newer = own_records_after(a, thread, rotation_seq)
    sync(a, follower, thread)
    assert [follower.store.ingest(thread, e) for e in newer] == [IngestOutcome.DUPLICATE]
    assert len(follower.store.thread_keys(thread)) == 2 and not follower.store.thread_keys(thread)[0].can_read
    sync(a, removed, thread)  # the rotation itself opens; what follows does not
    outcomes = removed.receive(thread, newer)
    assert all(isinstance(o, DecryptionError) for o in outcomes)
    assert removed.membership.roles(thread) == frozenset()


def test_a_follower_granted_read_gets_the_keys_and_reads_the_history(open_node: OpenNode) -> None:
    a, follower = open_node("a"), open_node("follower")
    thread = start_thread(a, name="Promoted")
    a.chat(thread).post("from before")
    join(a, follower, thread, role=Role.FOLLOW)
    assert follower.get_thread(thread).name is None
    a.membership.grant(thread, peer(follower), Role.READ)
    sync(a, follower, thread)
    assert follower.get_thread(thread).name == "Promoted"
    assert [m.data["text"] for m in follower.chat(thread).messages.find()] == ["from before"]
    assert follower.membership.roles(thread) == {Role.FOLLOW, Role.READ}

def test_a_follower_promoted_after_a_read_rotation_reads_both_epochs(open_node: OpenNode) -> None:
    a, f, x = open_node("a"), open_node("f"), open_node("x")
    thread = start_thread(a)
    join(a, f, thread, role=Role.FOLLOW)
    join(a, x, thread, role=Role.READ)
    a.chat(thread).post("epoch 0")
    a.membership.revoke(thread, peer(x), Role.READ)
    a.chat(thread).post("epoch 1")
    sync(a, f, thread)
    assert [m.data["text"] for m in f.chat(thread).messages.find()] == []
    a.membership.grant(thread, peer(f), Role.READ)
    sync(a, f, thread)
    assert sorted(m.data["text"] for m in f.chat(thread).messages.find()) == ["epoch 0", "epoch 1"]
