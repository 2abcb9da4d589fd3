"""Which ACL events decided that a peer may not sync, and the cap of what
it may still be served: enough for its own store to judge them, nothing
written after (acl/verdicts.py). Profiles in process; served as the sync
server serves a capped peer (only records within the cap)."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.engine.eventstore.peers import WallClock, admit, join, peer, start_thread, sync, texts
from threads_desktop.engine.acl.links import InviteLink
from threads_desktop.engine.acl.verdicts import SyncCaps, deciding_events, sync_cap
from threads_desktop.engine.codec import cbor
from threads_desktop.engine.core.ids import PeerId, ThreadId
from threads_desktop.engine.core.keys import Identity
from threads_desktop.engine.core.members import AdmissionStatus, Role
from threads_desktop.engine.node import Node

OpenNode = Callable[..., Node]


def _evaluation(node: Node, thread: ThreadId):  # type: ignore[no-untyped-def]
    return node._services.gate.evaluation(thread)


def _seq(node: Node, thread: ThreadId, log: PeerId | None) -> int:
    return next((h.seq for h in node.store.logs(thread) if h.log_id == log), 0)


def serve_cap(source: Node, target: Node, thread: ThreadId) -> int:
    """What the sync server hands `target` when it is refused sync: only
    records within its cap. Returns how many."""
    cap = sync_cap(_evaluation(source, thread), peer(target))
    envelopes = [r.envelope for log, last in cap.items()
                 for r in source.store.records_after(thread, log, 0, limit=last)]
    target.receive(thread, envelopes)
    return len(envelopes)


def test_a_removal_is_decided_by_the_revocation_and_capped_at_its_causal_past(open_node: OpenNode) -> None:
    a, b, c = open_node("a"), open_node("b"), open_node("c")
    thread = start_thread(a)
    a.chat(thread).post("before")
    join(a, b, thread)
    join(a, c, thread)
    for n in (b, c):
        sync(a, n, thread)
    c.chat(thread).post("c, before")
    sync(c, a, thread)
    a_log, c_log = a.store.own_log(thread), c.store.own_log(thread)
    a.membership.revoke(thread, peer(b), Role.FOLLOW)
    revoked_at, c_seen = _seq(a, thread, a_log), _seq(a, thread, c_log)
    a.chat(thread).post("after, from a")
    c.chat(thread).post("after, from c")  # concurrent with the removal: c had not seen it
    sync(c, a, thread)

    assert deciding_events(_evaluation(a, thread), peer(b)) == [(a_log, revoked_at)]
    cap = sync_cap(_evaluation(a, thread), peer(b))
    assert cap[a_log] == revoked_at < _seq(a, thread, a_log)  # type: ignore[index]
    assert cap[c_log] == c_seen < _seq(a, thread, c_log)  # type: ignore[index]
    # The cap is causally closed: every event in it has its deps in it.
    for log, seq, deps in a.database.connection.execute(
            "SELECT log_id, seq, deps FROM events WHERE thread_id = ?", (thread.raw,)):
        if seq <= cap.get(PeerId(log), 0):
            assert all(dep_seq <= cap.get(PeerId(dep), 0) for dep, dep_seq in cbor.decode(deps, max_size=1 << 20))
    # Members holding follow, and strangers, are owed nothing.
    assert deciding_events(_evaluation(a, thread), peer(c)) == []
    assert sync_cap(_evaluation(a, thread), str(Identity.generate().peer_id)) == {}

    serve_cap(a, b, thread)
    assert Role.FOLLOW not in b.membership.roles(thread)
    assert deciding_events(_evaluation(b, thread), peer(b)) == [(a_log, revoked_at)]
    assert sorted(texts(b, thread)) == ["before", "c, before"]


def test_a_later_revocation_does_not_widen_a_removed_members_cap(open_node: OpenNode) -> None:
    """Review finding 2: revoking a removed member again (the CLI allows it)
    made the later revocation a deciding event, and what was written between
    the two was served to it."""
    a, b = open_node("a"), open_node("b")
    thread = start_thread(a)
    join(a, b, thread)
    sync(a, b, thread)
    a.membership.revoke(thread, peer(b), Role.FOLLOW)
    a_log = a.store.own_log(thread)
    removed_at = _seq(a, thread, a_log)
    for n in range(3):
        a.chat(thread).post(f"after the removal {n}")
    a.membership.revoke(thread, peer(b), Role.FOLLOW)
    assert deciding_events(_evaluation(a, thread), peer(b)) == [(a_log, removed_at)]
    assert sync_cap(_evaluation(a, thread), peer(b))[a_log] == removed_at  # type: ignore[index]
    serve_cap(a, b, thread)
    assert not any(text.startswith("after the removal") for text in texts(b, thread))


def test_a_member_let_in_again_and_removed_again_is_told_the_second_removal(open_node: OpenNode) -> None:
    a, b = open_node("a"), open_node("b")
    thread = start_thread(a)
    join(a, b, thread)
    a.membership.revoke(thread, peer(b), Role.FOLLOW)
    a.membership.grant(thread, peer(b), Role.WRITE)
    a.chat(thread).post("while back")
    a.membership.revoke(thread, peer(b), Role.FOLLOW)
    a_log = a.store.own_log(thread)
    assert deciding_events(_evaluation(a, thread), peer(b)) == [(a_log, _seq(a, thread, a_log))]


def test_a_member_whose_read_was_revoked_is_owed_nothing_it_still_follows(open_node: OpenNode) -> None:
    a, b = open_node("a"), open_node("b")
    thread = start_thread(a)
    join(a, b, thread)
    a.membership.revoke(thread, peer(b), Role.READ)
    assert deciding_events(_evaluation(a, thread), peer(b)) == []
    assert sync_cap(_evaluation(a, thread), peer(b)) == {}
    assert a.membership.may_sync(thread, peer(b), b.store.thread_keys(thread)[0].follow)


def test_a_member_that_left_is_decided_by_its_own_leave(open_node: OpenNode) -> None:
    a, b = open_node("a"), open_node("b")
    thread = start_thread(a)
    join(a, b, thread)
    b.membership.leave(thread)
    sync(b, a, thread)
    b_log = b.store.own_log(thread)
    assert deciding_events(_evaluation(a, thread), peer(b)) == [(b_log, _seq(b, thread, b_log))]


def test_the_loser_of_a_race_for_an_invites_last_use_is_told_every_admit_of_it(open_node: OpenNode) -> None:
    """Two admins let two joiners in with the last use of one link, each
    before seeing the other's admit: the one stamped later loses everywhere,
    and is served both admits, so its own store says it lost."""
    clock = WallClock()
    a, b, j1, j2 = (open_node(n, now_seconds=clock) for n in ("a", "b", "j1", "j2"))
    thread = start_thread(a)
    join(a, b, thread)
    a.membership.grant(thread, peer(b), Role.WRITE, "acl")
    sync(a, b, thread)
    link = InviteLink.parse(a.membership.invite(thread, Role.WRITE, uses=1).to_uri())
    sync(a, b, thread)
    j1.membership.join(link)
    j2.membership.join(link)
    assert admit(a, j1, thread).status is AdmissionStatus.ADMITTED
    clock.advance(0.01)
    assert admit(b, j2, thread).status is AdmissionStatus.ADMITTED  # b has not seen a's admit
    sync(a, j1, thread)
    sync(b, j2, thread)
    sync(a, b, thread)
    sync(b, a, thread)
    assert Role.FOLLOW in a.membership.roles(thread, peer(j1))
    assert Role.FOLLOW not in a.membership.roles(thread, peer(j2))
    assert Role.FOLLOW in j2.membership.roles(thread)  # it has only heard of its own admit

    decided = deciding_events(_evaluation(a, thread), peer(j2))
    assert {log for log, _seq in decided} >= {a.store.own_log(thread), b.store.own_log(thread)}
    serve_cap(a, j2, thread)
    assert Role.FOLLOW not in j2.membership.roles(thread)


STEP = st.one_of(st.tuples(st.just("post"), st.sampled_from("abc")),
                 st.tuples(st.just("sync"), st.sampled_from("abc"), st.sampled_from("abc")))


@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(before=st.lists(STEP, max_size=8), after=st.lists(STEP, max_size=8))
def test_whatever_was_written_and_seen_a_removed_member_served_its_cap_learns_it_and_nothing_after(
        tmp_path_factory: pytest.TempPathFactory, before: list[tuple[str, ...]], after: list[tuple[str, ...]]) -> None:
    """Any history of posts and partial syncs among a, b and c, then a
    removes b, then more (b away): b's cap applies whole in b's store, says
    removed, and holds nothing written after the removal."""
    folder = tmp_path_factory.mktemp("history")
    nodes = {name: Node.open(folder / name) for name in "abc"}
    try:
        a, b, c = nodes["a"], nodes["b"], nodes["c"]
        thread = start_thread(a)
        join(a, b, thread)
        join(a, c, thread)
        sync(a, b, thread)

        def play(steps: list[tuple[str, ...]], allowed: str) -> None:
            for n, step in enumerate(steps):
                if step[0] == "post" and step[1] in allowed:
                    nodes[step[1]].chat(thread).post(f"{'after' if allowed == 'ac' else 'before'} {n}")
                elif step[0] == "sync" and step[1] in allowed and step[2] in allowed and step[1] != step[2]:
                    sync(nodes[step[1]], nodes[step[2]], thread)

        play(before, "abc")
        a.membership.revoke(thread, peer(b), Role.FOLLOW)
        play(after, "ac")
        serve_cap(a, b, thread)
        assert Role.FOLLOW not in b.membership.roles(thread)
        assert not [t for t in texts(b, thread) if t.startswith("after")]
        (waiting,) = b.database.connection.execute(
            "SELECT count(*) FROM events WHERE thread_id = ? AND state = 0", (thread.raw,)).fetchone()
        assert waiting == 0  # the cap is causally closed: all of it applied
    finally:
        for node in nodes.values():
            node.close()


def test_a_refused_peers_cap_is_computed_once_until_the_acl_changes(open_node: OpenNode) -> None:
    """Review finding 6: the cap was computed again on every request of a
    refused peer (every hello and fetch). It is kept until an ACL event
    comes; a message changes nothing."""
    a, b, c = open_node("a"), open_node("b"), open_node("c")
    thread = start_thread(a)
    join(a, b, thread)
    join(a, c, thread)
    a.membership.revoke(thread, peer(b), Role.FOLLOW)
    computed: list[str] = []

    def counted(evaluation, who: str):  # type: ignore[no-untyped-def]
        computed.append(who)
        return sync_cap(evaluation, who)

    caps = SyncCaps(counted)
    first = caps.cap(thread, _evaluation(a, thread), peer(b))
    a.chat(thread).post("not an ACL event")
    assert caps.cap(thread, _evaluation(a, thread), peer(b)) == first != {}
    assert computed == [peer(b)]
    a.membership.revoke(thread, peer(c), Role.FOLLOW)  # a new ACL event
    assert caps.cap(thread, _evaluation(a, thread), peer(b)) == first
    assert computed == [peer(b), peer(b)]


def test_the_nodes_cap_follows_the_acl(open_node: OpenNode) -> None:
    a, b = open_node("a"), open_node("b")
    thread = start_thread(a)
    join(a, b, thread)
    b_id = PeerId.parse(peer(b))
    assert a.told(thread, b_id) == {}
    a.membership.revoke(thread, peer(b), Role.FOLLOW)
    assert a.told(thread, b_id) != {}
    a.membership.grant(thread, peer(b), Role.WRITE)  # let in again: nothing to tell it
    assert a.told(thread, b_id) == {}
