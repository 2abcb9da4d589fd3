"""Membership notices and removals, read from real ACL histories written by
real profiles and moved between them the way sync does."""

from __future__ import annotations

import random
from collections.abc import Callable

from hypothesis import given, settings
from hypothesis import strategies as st

from tests.engine.acl.test_policy import PEERS, THREAD, Draft, causal_order, histories, to_events
from tests.engine.eventstore.peers import WallClock, admit, join, peer, start_thread, sync, with_second_admin
from threads_desktop.engine.acl.control_ops import ACL_ENTITY, Grant, Revoke, SetDefault
from threads_desktop.engine.acl.links import InviteLink
from threads_desktop.engine.acl.notices import MembershipNotice, Removal, membership_notices, removal
from threads_desktop.engine.acl.policy import Evaluation
from threads_desktop.engine.core.members import AdmissionStatus, Role
from threads_desktop.engine.core.types import ThreadKind
from threads_desktop.engine.node import Node

OpenNode = Callable[..., Node]


def told(notices: tuple[MembershipNotice, ...]) -> list[tuple[str, str | None, str, Role | None, str | None]]:
    return [(n.kind, n.actor, n.subject, n.role, n.by_invite_of) for n in notices]


def told_with_entity(notices: tuple[MembershipNotice, ...]) -> list[tuple[str, str | None, str, Role | None,
                                                                          str | None]]:
    return [(n.kind, n.actor, n.subject, n.role, n.entity) for n in notices]


def test_joins_additions_role_changes_and_removals_are_told_in_order_with_the_writers_time(
        open_node: OpenNode) -> None:
    clock = WallClock()
    a, b, c = open_node("a", clock), open_node("b", clock), open_node("c")
    a.set_display_name("Alice")
    b.set_display_name("Bob")
    thread = start_thread(a, ThreadKind.ALBUM, "Lisbon 2024")
    clock.advance(60)
    join(a, b, thread)
    joined_at = clock.now
    clock.advance(60)
    a.membership.grant(thread, peer(c), Role.READ)  # someone new: added
    added_at = clock.now
    clock.advance(60)
    a.membership.revoke(thread, peer(b), Role.WRITE)  # Bob keeps view
    demoted_at = clock.now
    clock.advance(60)
    a.membership.revoke(thread, peer(b), Role.FOLLOW)
    removed_at = clock.now

    shown = a.membership_notices(thread)
    assert told(shown.notices) == [
        ("joined", peer(a), peer(b), Role.WRITE, peer(a)),  # admitted by a, with a's invite
        ("added", peer(a), peer(c), Role.READ, None),
        ("role-changed", peer(a), peer(b), Role.READ, None),
        ("removed", peer(a), peer(b), None, None),
    ]
    assert [n.at_ms for n in shown.notices] == [int(t * 1000) for t in (joined_at, added_at, demoted_at, removed_at)]
    assert shown.names == {peer(a): "Alice", peer(b): "Bob"}  # c gave no name: the UI shows a short ID
    assert shown.me == peer(a)
    # Every member tells the same story, whatever it learnt first.
    sync(a, b, thread)
    assert told(b.membership_notices(thread).notices) == told(shown.notices)


def test_a_member_whose_write_is_taken_learns_who_did_it_and_keeps_view(open_node: OpenNode) -> None:
    clock = WallClock()
    a, b = open_node("a", clock), open_node("b", clock)
    thread = start_thread(a, ThreadKind.ALBUM)
    join(a, b, thread)
    assert b.removal(thread) is None
    clock.advance(3600)
    a.membership.revoke(thread, peer(b), Role.WRITE)
    sync(a, b, thread)
    removal = b.removal(thread)
    assert removal == Removal(peer(a), int(clock.now * 1000), Role.READ)
    assert a.removal(thread) is None  # the admin lost nothing
    assert not b.get_thread(thread).removed  # still a member: listed as ever


def test_a_removed_member_learns_it_from_the_signed_revocation(open_node: OpenNode) -> None:
    a, b = open_node("a"), open_node("b")
    thread = start_thread(a)
    join(a, b, thread, role=Role.READ)
    a.membership.revoke(thread, peer(b), Role.FOLLOW)
    sync(a, b, thread)
    removal = b.removal(thread)
    assert removal is not None and removal.by == peer(a) and removal.role_left is None
    assert told(b.membership_notices(thread).notices)[-1] == ("removed", peer(a), peer(b), None, None)
    assert b.get_thread(thread).removed and not b.get_thread(thread).can_write  # the thread list says so
    assert not a.get_thread(thread).removed


def test_a_member_given_back_what_was_taken_is_not_removed(open_node: OpenNode) -> None:
    a, b = open_node("a"), open_node("b")
    thread = start_thread(a)
    join(a, b, thread)
    a.membership.revoke(thread, peer(b), Role.WRITE)
    a.membership.grant(thread, peer(b), Role.WRITE)
    sync(a, b, thread)
    assert b.removal(thread) is None
    assert [n.kind for n in b.membership_notices(thread).notices] == ["joined", "role-changed", "role-changed"]


def test_a_member_removed_and_let_in_again_as_a_reader_is_not_told_it_was_removed(open_node: OpenNode) -> None:
    a, b = open_node("a"), open_node("b")
    thread = start_thread(a)
    join(a, b, thread)
    a.membership.revoke(thread, peer(b), Role.FOLLOW)
    a.membership.grant(thread, peer(b), Role.READ)
    assert [n.kind for n in a.membership_notices(thread).notices] == ["joined", "removed", "added"]
    # What b concludes once it holds these events (it holds no key to the rotated epoch yet,
    # so it is judged on a's evaluation: the same events give the same answer everywhere).
    evaluation = a._services.gate.evaluation(thread)  # a test reaching in
    assert removal(evaluation, peer(b)) is None


def test_a_reader_who_never_could_write_is_not_told_it_was_removed(open_node: OpenNode) -> None:
    a, b = open_node("a"), open_node("b")
    thread = start_thread(a)
    join(a, b, thread, role=Role.READ)
    sync(a, b, thread)
    assert b.removal(thread) is None


def test_a_member_who_leaves_is_told_as_left_and_not_as_removed(open_node: OpenNode) -> None:
    a, b = open_node("a"), open_node("b")
    thread = start_thread(a)
    join(a, b, thread)
    b.membership.leave(thread)
    sync(b, a, thread)
    assert told(a.membership_notices(thread).notices)[-1] == ("left", None, peer(b), None, None)
    assert b.removal(thread) is None and not b.get_thread(thread).removed


def test_a_joiner_admitted_by_another_admin_is_told_with_the_inviter(open_node: OpenNode) -> None:
    a, b, _c, thread = with_second_admin(open_node)
    d = open_node("d")
    link = a.membership.invite(thread, Role.READ)
    d.membership.join(InviteLink.parse(link.to_uri()))
    sync(a, b, thread)  # b knows the invite: b admits d
    assert admit(b, d, thread).status is AdmissionStatus.ADMITTED
    assert told(b.membership_notices(thread).notices)[-1] == ("joined", peer(b), peer(d), Role.READ, peer(a))


def test_admin_rights_the_default_role_and_one_documents_roles_are_told_by_whom(open_node: OpenNode) -> None:
    clock = WallClock()
    a, b = open_node("a", clock), open_node("b", clock)
    thread = start_thread(a, ThreadKind.CHAT, "Family")
    join(a, b, thread)
    message = a.chat(thread).post("the door code")
    document = f"message/{message}"
    joined = len(a.membership_notices(thread).notices)
    clock.advance(60)
    a.membership.grant(thread, peer(b), Role.WRITE, ACL_ENTITY)
    made_admin_at = clock.now
    clock.advance(60)
    a.membership.revoke(thread, peer(b), Role.WRITE, ACL_ENTITY)
    a.membership.set_default(thread, Role.READ)
    a.membership.set_default(thread, Role.READ)  # the same again: nothing changed, nothing told
    a.membership.grant(thread, peer(b), Role.DELETE, document)
    a.membership.revoke(thread, peer(b), Role.WRITE, document)
    a.membership.set_default(thread, Role.READ, document)  # what others may do with it
    a.membership.set_default(thread, Role.NO_ACCESS)

    shown = a.membership_notices(thread).notices[joined:]
    assert told_with_entity(shown) == [
        ("admin-given", peer(a), peer(b), Role.WRITE, None),
        ("admin-taken", peer(a), peer(b), Role.WRITE, None),
        ("default-changed", peer(a), "", Role.READ, None),
        ("document-role", peer(a), peer(b), Role.DELETE, document),
        ("document-role", peer(a), peer(b), Role.READ, document),
        ("document-role", peer(a), "", Role.READ, document),
        ("default-changed", peer(a), "", Role.NO_ACCESS, None),
    ]
    assert shown[0].at_ms == int(made_admin_at * 1000)
    # Every member tells the same; none of it is a removal (b still writes to the thread).
    sync(a, b, thread)
    assert told_with_entity(b.membership_notices(thread).notices[joined:]) == told_with_entity(shown)
    assert b.removal(thread) is None


def test_an_admin_removed_or_demoted_is_told_as_such_and_loses_admin_rights_in_words_too(
        open_node: OpenNode) -> None:
    a, b, c, thread = with_second_admin(open_node)
    a.membership.revoke(thread, peer(b), Role.WRITE)  # b can no longer add: no longer an admin either
    a.membership.grant(thread, peer(c), Role.WRITE, ACL_ENTITY)
    a.membership.revoke(thread, peer(c), Role.FOLLOW)  # removed: "removed" says it all
    assert told(a.membership_notices(thread).notices)[-5:] == [
        ("admin-given", peer(a), peer(b), Role.WRITE, None),  # with_second_admin
        ("role-changed", peer(a), peer(b), Role.READ, None),
        ("admin-taken", peer(a), peer(b), Role.READ, None),
        ("admin-given", peer(a), peer(c), Role.WRITE, None),
        ("removed", peer(a), peer(c), None, None),
    ]


_ENTITIES = [None, ACL_ENTITY, "photo/p1"]  # the thread, the ACL's own entity, one document
_ROLES = [Role.FOLLOW, Role.READ, Role.WRITE, Role.DELETE]
rights_ops = st.lists(st.one_of(
    st.builds(Grant, st.sampled_from(PEERS), st.sampled_from(_ROLES), st.sampled_from(_ENTITIES)),
    st.builds(Revoke, st.sampled_from(PEERS), st.sampled_from(_ROLES), st.sampled_from(_ENTITIES)),
    st.builds(SetDefault, st.sampled_from(list(Role)), st.sampled_from(_ENTITIES)),
), min_size=1, max_size=3)


@settings(max_examples=40, deadline=None)
@given(histories(lambda _: rights_ops), st.integers(0, 1000))
def test_every_peer_tells_the_same_notices_whatever_order_it_judged_the_events_in(
        drafts: list[Draft], seed: int) -> None:
    events = to_events(drafts)
    reference = Evaluation(THREAD, events)
    told_there = membership_notices(reference)
    removals = [removal(reference, member) for member in PEERS]
    assert [n.stamp for n in told_there] == sorted(n.stamp for n in told_there)
    for attempt in range(2):
        shuffled = Evaluation(THREAD, causal_order(events, random.Random(seed * 5 + attempt)))
        assert membership_notices(shuffled) == told_there
        assert [removal(shuffled, member) for member in PEERS] == removals
