"""The ACL enforced by every peer at each event's causal past."""

from __future__ import annotations

import random
from collections.abc import Callable

import pytest

from tests.engine.eventstore.peers import (
    envelopes_of,
    force_commit,
    join,
    peer,
    start_thread,
    sync,
    texts,
    view_dump,
    with_second_admin,
)
from threads_desktop.engine.acl.control_ops import Grant, Revoke, SetDefault, acl_payload
from threads_desktop.engine.core.errors import AccessDeniedError
from threads_desktop.engine.core.ids import ThreadId
from threads_desktop.engine.core.members import Role
from threads_desktop.engine.db.documents import db_event
from threads_desktop.engine.logstore.envelopes import Envelope
from threads_desktop.engine.node import Node

OpenNode = Callable[[str], Node]




def records_by_log(node: Node, thread: ThreadId) -> list[list[Envelope]]:
    return [[r.envelope for r in node.store.records_after(thread, log.log_id, 0, limit=100_000)]
            for log in node.store.logs(thread)]


def interleave(runs: list[list[Envelope]], rng: random.Random) -> list[Envelope]:
    """A random delivery order that keeps each log's own order."""
    runs = [list(run) for run in runs if run]
    out = []
    while runs:
        run = rng.choice(runs)
        out.append(run.pop(0))
        if not run:
            runs.remove(run)
    return out


def test_the_founder_holds_every_role_and_the_acl_reads_like_the_papers_listing(open_node: OpenNode) -> None:
    a = open_node("a")
    thread = start_thread(a)
    [me] = a.membership.members(thread)
    assert me.peer_id == peer(a) and me.admin and me.is_me
    assert set(me.roles) == {Role.FOLLOW, Role.READ, Role.WRITE, Role.DELETE}
    assert a.membership.acl_document(thread) == {
        "_id": str(thread), "default": "no-access", "peers": {peer(a): ["follow", "read", "write", "delete"]}}


def test_a_demoted_writer_is_refused_after_the_demotion_whatever_the_arrival_order(open_node: OpenNode) -> None:
    a, b = open_node("a"), open_node("b")
    observers = [open_node(f"observer{i}") for i in range(3)]
    thread = start_thread(a)
    join(a, b, thread)
    for observer in observers:
        join(a, observer, thread, role=Role.READ)
    b.chat(thread).post("before")                       # in the revocation's past: stays
    sync(b, a, thread)
    a.membership.revoke(thread, peer(b), Role.WRITE)   # b keeps read
    b.chat(thread).post("concurrent")                   # b has not seen it: remove wins
    sync(a, b, thread)
    assert texts(b, thread) == ["before"]               # b replayed: its concurrent post is out
    with pytest.raises(AccessDeniedError):
        b.chat(thread).post("after")                    # the real client refuses at once...
    force_commit(b, thread, [db_event({"op": "create", "c": "message", "id": "x" * 24,
                                       "set": {"text": "after"}})])  # ...a modified one logs it
    sync(b, a, thread)
    expected = view_dump(a, thread)
    assert texts(a, thread) == ["before"]

    runs = records_by_log(a, thread)
    for seed, observer in enumerate(observers):  # one by one, in different orders (each log in its own)
        for envelope in interleave(runs, random.Random(seed)):
            observer.receive(thread, [envelope])
        assert view_dump(observer, thread) == expected
        assert texts(observer, thread) == ["before"]
    for node in (a, b, *observers):
        refused = [reason for _, _, reason in node.events.refused(thread)]
        assert any("revoked concurrently" in r for r in refused)
        assert any("may not write" in r for r in refused)


def test_a_refusal_says_the_right_was_revoked_only_to_a_member_whose_role_was_taken(open_node: OpenNode) -> None:
    a, demoted, reader = open_node("a"), open_node("demoted"), open_node("reader")
    thread = start_thread(a)
    join(a, demoted, thread)
    join(a, reader, thread, role=Role.READ)
    a.membership.revoke(thread, peer(demoted), Role.WRITE)
    sync(a, demoted, thread)
    with pytest.raises(AccessDeniedError) as taken:
        demoted.chat(thread).post("still here?")
    assert str(taken.value) == f"{peer(demoted)} may not write in this thread: that right was revoked"
    with pytest.raises(AccessDeniedError) as never:
        reader.chat(thread).post("let me in")
    assert str(never.value) == f"{peer(reader)} may not write in this thread"
    a.membership.grant(thread, peer(demoted), Role.WRITE)  # given back: the revocation is over
    sync(a, demoted, thread)
    demoted.chat(thread).post("back")
    assert texts(demoted, thread) == ["back"]


def test_an_edit_by_someone_without_acl_rights_changes_nothing_on_any_peer(open_node: OpenNode) -> None:
    a, b, reader = open_node("a"), open_node("b"), open_node("reader")
    thread = start_thread(a)
    join(a, b, thread)
    join(a, reader, thread, role=Role.READ)
    sync(a, b, thread)
    before = {node: (view_dump(node, thread), node.membership.members(thread)) for node in (a, b)}
    # A reader (not an admin) tries every kind of ACL change, and content.
    for op in (Grant(peer(reader), Role.WRITE), Revoke(peer(a), Role.FOLLOW), SetDefault(Role.WRITE),
               Grant(peer(reader), Role.WRITE, "acl")):
        with pytest.raises(AccessDeniedError):
            reader.commit(thread, [acl_payload(op)], control=True)
        force_commit(reader, thread, [acl_payload(op)], control=True)
    force_commit(reader, thread, [db_event({"op": "create", "c": "kv", "id": "k", "set": {"value": "x"}})])
    for node in (a, b):
        sync(reader, node, thread)
        assert (view_dump(node, thread), node.membership.members(thread)) == before[node]
        assert len(node.events.refused(thread)) == 5
    # A writer is no admin either.
    force_commit(b, thread, [acl_payload(Grant(peer(reader), Role.WRITE))], control=True)
    sync(b, a, thread)
    assert Role.WRITE not in a.membership.roles(thread, peer(reader))


def test_a_document_acl_narrows_the_thread_acl(open_node: OpenNode) -> None:
    a, b = open_node("a"), open_node("b")
    thread = start_thread(a)
    join(a, b, thread)
    b.directory.rename(thread, "renamed by b")          # any writer may rename...
    sync(b, a, thread)
    a.membership.set_default(thread, Role.NO_ACCESS, "thread/meta")  # ...until the document is narrowed
    a.membership.grant(thread, peer(a), Role.WRITE, "thread/meta")
    sync(a, b, thread)
    with pytest.raises(AccessDeniedError, match="thread/meta"):
        b.directory.rename(thread, "again")
    b.chat(thread).post("other documents are not narrowed")
    a.directory.rename(thread, "by the founder")
    sync(a, b, thread)
    assert b.get_thread(thread).name == "by the founder"


def test_two_admins_who_remove_each_other_concurrently_both_end_removed(open_node: OpenNode) -> None:
    a, b, c, thread = with_second_admin(open_node)
    a.membership.revoke(thread, peer(b), Role.WRITE, "acl")
    b.membership.revoke(thread, peer(a), Role.WRITE, "acl")
    for source, target in ((a, c), (b, c), (c, a), (c, b)):
        sync(source, target, thread)
    for node in (a, b, c):
        assert {m.peer_id for m in node.membership.members(thread) if m.admin} == set()


def test_all_peers_agree_on_members_after_random_delivery(open_node: OpenNode) -> None:
    a, b, c = open_node("a"), open_node("b"), open_node("c")
    thread = start_thread(a)
    join(a, b, thread)
    join(a, c, thread, role=Role.READ)
    a.membership.grant(thread, peer(c), Role.WRITE)
    b.chat(thread).post("hi")
    sync(a, c, thread)
    c.chat(thread).post("now I write")
    for node in (a, b, c):
        for other in (a, b, c):
            if other is not node:
                sync(other, node, thread)
    members = [[(m.peer_id, m.roles, m.admin) for m in node.membership.members(thread)] for node in (a, b, c)]
    assert members[0] == members[1] == members[2]
    assert texts(a, thread) == texts(b, thread) == texts(c, thread) == ["hi", "now I write"]
    assert envelopes_of(a, thread)


def test_acl_events_that_neither_revoke_nor_join_are_judged_alone(open_node: OpenNode,
                                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    """The history is judged whole only when a verdict given before may change."""
    from threads_desktop.engine.acl import policy
    from threads_desktop.engine.core.keys import SigningKey

    a = open_node("a")
    thread = start_thread(a)
    judged_whole: list[int] = []
    original = policy.Evaluation.__init__

    def counting(self: policy.Evaluation, thread_id: ThreadId, events: list[policy.AclEvent]) -> None:
        judged_whole.append(len(events))
        original(self, thread_id, events)

    monkeypatch.setattr(policy.Evaluation, "__init__", counting)
    others = [str(SigningKey.generate().peer_id) for _ in range(30)]
    for other in others:
        a.membership.grant(thread, other, Role.READ)
    assert len(judged_whole) <= 1  # at most once, to start with
    a.membership.revoke(thread, others[0], Role.WRITE)
    assert len(judged_whole) <= 2 and Role.READ in a.membership.roles(thread, others[1])
