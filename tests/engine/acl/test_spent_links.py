"""A link gives nothing once spent: the admin answers REFUSED with the
reason, writes nothing, and the holder gets no keys (its profile holds the
pending join alone, with the link's own name hint); admins see the attempt."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from tests.engine.eventstore.peers import WallClock, admit, join, peer, start_thread, sync, texts
from threads_desktop.engine.acl.admission import AdmissionRequest
from threads_desktop.engine.acl.control_ops import Admit
from threads_desktop.engine.acl.links import InviteLink
from threads_desktop.engine.core.errors import NotFoundError, ThreadsError
from threads_desktop.engine.core.ids import ThreadId
from threads_desktop.engine.core.keys import SigningKey
from threads_desktop.engine.core.members import AdmissionStatus, Role
from threads_desktop.engine.node import Node

OpenNode = Callable[..., Node]


def _used_up(a: Node, thread: ThreadId, link: InviteLink, open_node: OpenNode, clock: WallClock) -> None:
    first = open_node("first")
    first.membership.join(link)
    assert admit(a, first, thread).status is AdmissionStatus.ADMITTED


def _expired(a: Node, thread: ThreadId, link: InviteLink, open_node: OpenNode, clock: WallClock) -> None:
    clock.advance(2 * 86400)  # the link lasted a day, by the admin's clock


def _revoked(a: Node, thread: ThreadId, link: InviteLink, open_node: OpenNode, clock: WallClock) -> None:
    a.membership.revoke_invite(thread, _invite_key(link))


def _revoked_by_a_removal(a: Node, thread: ThreadId, link: InviteLink, open_node: OpenNode,
                          clock: WallClock) -> None:
    removed = open_node("removed")
    join(a, removed, thread, role=Role.READ)
    a.membership.revoke(thread, peer(removed), Role.FOLLOW)  # rotates the keys, revokes the links still out


def _all_reset(a: Node, thread: ThreadId, link: InviteLink, open_node: OpenNode, clock: WallClock) -> None:
    assert a.membership.reset_links(thread) == 2  # this link and another one
    assert a.membership.reset_links(thread) == 0  # nothing open any more: no event


def _invite_key(link: InviteLink) -> bytes:
    return SigningKey.from_seed(link.invite_seed).peer_id.public_key


def _rows_of(node: Node, thread: ThreadId) -> dict[str, int]:
    sql = node.database.connection
    return {table: sql.execute(f"SELECT count(*) FROM {table} WHERE {column} = ?", (thread.raw,)).fetchone()[0]
            for table, column in (("threads", "id"), ("thread_keys", "thread_id"), ("logs", "thread_id"),
                                  ("events", "thread_id"), ("pending_admissions", "thread_id"))}


@pytest.mark.parametrize(("spend", "reason"), [(_used_up, "used-up"), (_expired, "expired"), (_revoked, "revoked"),
                                               (_revoked_by_a_removal, "revoked"), (_all_reset, "revoked")])
def test_a_spent_link_is_refused_with_its_reason_and_gives_nothing(
        open_node: OpenNode, spend: Callable[..., None], reason: str) -> None:
    clock = WallClock()
    a, holder = open_node("a", now_seconds=clock), open_node("holder")
    thread = start_thread(a, name="Family")
    a.chat(thread).post("before")
    link = InviteLink.parse(a.invite(thread, Role.READ, expires_in=86400).to_uri())
    a.invite(thread, Role.WRITE)
    spend(a, thread, link, open_node, clock)
    written = a.get_thread(thread).event_count

    holder.membership.join(link)
    answer = admit(a, holder, thread, name="Mallory")
    assert (answer.status, answer.reason, answer.box) == (AdmissionStatus.REFUSED, reason, None)
    assert a.get_thread(thread).event_count == written                   # nothing written
    # The holder: its pending join, with the name the link gave, and nothing else of the thread.
    assert _rows_of(holder, thread) == {"threads": 0, "thread_keys": 0, "logs": 0, "events": 0,
                                        "pending_admissions": 1}
    state = holder.membership.join_state(thread)
    assert state is not None and (state.status, state.reason, state.name) == ("refused", reason, "Family")
    assert holder.list_threads() == []
    [request] = a.membership.join_requests(thread)                       # the admin sees who tried, and why
    assert (request.peer, request.name, request.status, request.reason) == (peer(holder), "Mallory", "refused",
                                                                            reason)
    assert request.invite_key == _invite_key(link)


def test_a_link_is_admitted_once_and_asking_again_gives_the_same_answer(open_node: OpenNode) -> None:
    a, b = open_node("a"), open_node("b")
    thread = start_thread(a)
    a.chat(thread).post("hello")
    b.membership.join(InviteLink.parse(a.invite(thread, Role.READ).to_uri()))
    assert admit(a, b, thread).status is AdmissionStatus.ADMITTED
    written = a.get_thread(thread).event_count
    again = admit(a, b, thread)                                          # the answer was lost: b asks again
    assert again.status is AdmissionStatus.ADMITTED and again.role is Role.READ
    assert a.get_thread(thread).event_count == written
    assert [(i.uses, i.used) for i in a.membership.invites(thread)] == [(1, 1)]
    sync(a, b, thread)
    assert texts(b, thread) == ["hello"] and b.membership.join_state(thread) is None   # bind written
    sync(b, a, thread)
    assert Role.READ in a.membership.roles(thread, peer(b))
    assert any(m.peer_id == peer(b) and m.joined for m in a.membership.members(thread))


def test_a_link_approved_by_hand_waits_for_a_person_then_admits(open_node: OpenNode) -> None:
    a, b, c = open_node("a"), open_node("b"), open_node("c")
    thread = start_thread(a)
    a.chat(thread).post("hello")
    link = InviteLink.parse(a.invite(thread, Role.WRITE, uses=2, approve_by_hand=True).to_uri())
    assert [i.approve for i in a.membership.invites(thread)] == [True]
    written = a.get_thread(thread).event_count
    for joiner, name in ((b, "Bob"), (c, "Carol")):
        joiner.membership.join(link)
        assert admit(a, joiner, thread, name=name).status is AdmissionStatus.WAITING_APPROVAL
        assert joiner.membership.join_state(thread).status == "waiting-approval"  # type: ignore[union-attr]
    assert a.get_thread(thread).event_count == written and b.list_threads() == []
    waiting = {r.name: r for r in a.membership.join_requests(thread)}
    assert {name: r.status for name, r in waiting.items()} == {"Bob": "waiting", "Carol": "waiting"}

    assert a.membership.approve_join(thread, waiting["Bob"].request_id).status is AdmissionStatus.ADMITTED
    a.membership.decline_join(thread, waiting["Carol"].request_id)
    assert admit(a, b, thread).status is AdmissionStatus.ADMITTED          # b asks again: in
    assert admit(a, c, thread).reason == "declined"                        # c asks again: still no
    assert [(r.name, r.reason) for r in a.membership.join_requests(thread)] == [("Carol", "declined")]
    sync(a, b, thread)
    assert texts(b, thread) == ["hello"]
    with pytest.raises(NotFoundError):
        a.membership.approve_join(thread, waiting["Carol"].request_id)     # declined is not waiting


def test_a_request_that_does_not_prove_the_invite_or_reaches_no_admin_learns_nothing(open_node: OpenNode) -> None:
    a, b, follower, joiner = open_node("a"), open_node("b"), open_node("follower"), open_node("joiner")
    thread = start_thread(a)
    join(a, follower, thread, role=Role.FOLLOW)
    link = InviteLink.parse(a.invite(thread, Role.READ).to_uri())
    joiner.membership.join(link)
    request = joiner.membership.admission_request(thread, "Joiner")
    forged = AdmissionRequest(request.thread_id, request.invite_key, request.log_id, request.identity,
                              request.exchange, request.bind_sig, bytes(64))
    written = a.get_thread(thread).event_count
    assert a.membership.answer_admission(forged, peer(joiner)).status is AdmissionStatus.UNKNOWN
    assert follower.membership.answer_admission(request, peer(joiner)).status is AdmissionStatus.UNKNOWN
    assert b.membership.answer_admission(request, peer(joiner)).status is AdmissionStatus.UNKNOWN  # not its thread
    assert a.get_thread(thread).event_count == written and a.membership.join_requests(thread) == []


def test_a_refused_join_is_replaced_by_a_new_link_or_forgotten(open_node: OpenNode) -> None:
    a, b = open_node("a"), open_node("b")
    thread = start_thread(a)
    old = InviteLink.parse(a.invite(thread, Role.READ).to_uri())
    a.membership.revoke_invite(thread, _invite_key(old))
    b.membership.join(old)
    with pytest.raises(ThreadsError, match="already"):
        b.membership.join(old)                                  # waiting: one pending join a thread
    assert admit(a, b, thread).reason == "revoked"
    b.membership.forget_join(thread)
    assert b.membership.pending_joins() == []
    b.membership.join(old)
    assert admit(a, b, thread).reason == "revoked"
    b.membership.join(InviteLink.parse(a.invite(thread, Role.READ).to_uri()))   # replaces the refused one
    assert admit(a, b, thread).status is AdmissionStatus.ADMITTED
    with pytest.raises(NotFoundError):
        b.membership.forget_join(thread)                        # admitted: nothing left to cancel
    sync(a, b, thread)
    assert b.membership.pending_joins() == [] and Role.READ in b.membership.roles(thread)


def test_an_admit_names_the_joiner_and_carries_keys_for_its_role_alone(open_node: OpenNode) -> None:
    a, follower = open_node("a"), open_node("follower")
    thread = start_thread(a)
    join(a, follower, thread, role=Role.FOLLOW)
    [event] = [e for e in a._services.gate.evaluation(thread).events if any(isinstance(o, Admit) for o in e.ops)]
    admit_op, keys_op = event.ops
    assert isinstance(admit_op, Admit) and str(admit_op.identity) == peer(follower)
    assert [(member, with_read) for member, _box, with_read in keys_op.boxes] == [(peer(follower), False)]  # type: ignore[union-attr]
    assert not any(key.can_read for key in follower.store.thread_keys(thread))


def test_the_requests_an_admin_keeps_are_bounded_oldest_dropped(open_node: OpenNode) -> None:
    from threads_desktop.engine.acl.answering import MAX_JOIN_REQUESTS
    from threads_desktop.engine.acl.control_ops import binding_message, join_message
    from threads_desktop.engine.core.keys import Identity

    clock = WallClock()
    a = open_node("a", now_seconds=clock)
    thread = start_thread(a)
    link = a.invite(thread, Role.READ)
    a.membership.revoke_invite(thread, _invite_key(link))
    invite = SigningKey.from_seed(link.invite_seed)
    first = None
    for n in range(MAX_JOIN_REQUESTS + 6):       # strangers holding the spent link, one after another
        stranger, log = Identity.generate(), SigningKey.generate().peer_id
        exchange = stranger.exchange_public_key()
        request = AdmissionRequest(
            thread, _invite_key(link), log, stranger.peer_id, exchange,
            stranger.signing.sign(binding_message(thread, log, stranger.peer_id, exchange)),
            invite.sign(join_message(thread, _invite_key(link), log, stranger.peer_id)), f"Stranger {n}")
        assert a.membership.answer_admission(request, str(stranger.peer_id)).reason == "revoked"
        first = first or str(stranger.peer_id)
        clock.advance(1)
    kept = a.membership.join_requests(thread)
    assert len(kept) == MAX_JOIN_REQUESTS and kept[0].name == "Stranger 6" and first not in {r.peer for r in kept}


def test_the_thread_is_announced_once_admitted_not_before(open_node: OpenNode) -> None:
    """What the network listens to: a joiner's thread is added when an admin
    admits it (then it syncs at once), not when the link is taken."""
    from threads_desktop.engine.core.types import ChangeSet

    a, b = open_node("a"), open_node("b")
    thread = start_thread(a)
    heard: list[ChangeSet] = []
    b.subscribe(heard.append)
    b.join(InviteLink.parse(a.invite(thread, Role.READ).to_uri()))
    assert [c.threads_added for c in heard] == [frozenset()] and heard[0].membership == {thread}
    assert admit(a, b, thread).status is AdmissionStatus.ADMITTED
    assert heard[-1].threads_added == {thread} and [t.thread_id for t in b.list_threads()] == [thread]


def _ask_again(joiner: Node, thread: ThreadId, link: InviteLink) -> AdmissionRequest:
    """The joiner's request with the link it once joined with, from a fresh log."""
    from threads_desktop.engine.acl.control_ops import join_message, make_bind

    invite = SigningKey.from_seed(link.invite_seed)
    log = SigningKey.from_seed(bytes(range(32))).peer_id
    me = joiner.identity.peer_id
    bind = make_bind(joiner.identity, thread, log)
    return AdmissionRequest(thread, invite.peer_id.public_key, log, me, bind.exchange, bind.signature,
                            invite.sign(join_message(thread, invite.peer_id.public_key, log, me)))


@pytest.mark.parametrize("taken", [Role.FOLLOW, Role.READ])
def test_the_link_a_member_joined_with_gives_nothing_once_it_was_removed_or_demoted(
        open_node: OpenNode, taken: Role) -> None:
    """Review finding 1: 'asked again, the same answer' handed a removed or
    demoted member the keys of the epoch made to shut it out."""
    a, bob = open_node("a"), open_node("bob")
    thread = start_thread(a)
    link = InviteLink.parse(a.membership.invite(thread, Role.WRITE).to_uri())
    bob.membership.join(link)
    assert admit(a, bob, thread).status is AdmissionStatus.ADMITTED
    sync(a, bob, thread)
    bob.membership.complete_join(thread)
    sync(bob, a, thread)
    a.membership.revoke(thread, peer(bob), taken)
    events_before = a.database.connection.execute("SELECT count(*) FROM acl_events").fetchone()
    answer = a.membership.answer_admission(_ask_again(bob, thread, link), peer(bob))
    assert answer.status is AdmissionStatus.REFUSED and answer.box is None
    assert answer.reason == ("removed" if taken is Role.FOLLOW else "used-up")
    assert a.database.connection.execute("SELECT count(*) FROM acl_events").fetchone() == events_before


def test_a_decline_outlasts_requests_under_fresh_identities(open_node: OpenNode) -> None:
    """Review finding 7: 64 requests under made-up identities pushed the
    'declined' row out, and the declined joiner was back to waiting."""
    from threads_desktop.engine.acl.answering import MAX_JOIN_REQUESTS
    from threads_desktop.engine.acl.control_ops import binding_message, join_message
    from threads_desktop.engine.core.keys import Identity

    clock = WallClock()
    a, carol = open_node("a", now_seconds=clock), open_node("carol")
    thread = start_thread(a)
    link = InviteLink.parse(a.invite(thread, Role.WRITE, uses=100, approve_by_hand=True).to_uri())
    carol.membership.join(link)
    assert admit(a, carol, thread, name="Carol").status is AdmissionStatus.WAITING_APPROVAL
    [waiting] = a.membership.join_requests(thread)
    a.membership.decline_join(thread, waiting.request_id)
    invite = SigningKey.from_seed(link.invite_seed)
    for n in range(MAX_JOIN_REQUESTS + 4):
        clock.advance(1)
        stranger, log = Identity.generate(), SigningKey.generate().peer_id
        exchange = stranger.exchange_public_key()
        a.membership.answer_admission(AdmissionRequest(
            thread, _invite_key(link), log, stranger.peer_id, exchange,
            stranger.signing.sign(binding_message(thread, log, stranger.peer_id, exchange)),
            invite.sign(join_message(thread, _invite_key(link), log, stranger.peer_id)), f"Made up {n}"),
            str(stranger.peer_id))
    assert admit(a, carol, thread).reason == "declined"  # still no
    assert len(a.membership.join_requests(thread)) == MAX_JOIN_REQUESTS + 1
