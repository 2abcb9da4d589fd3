"""`Node.item_actions` answers ahead of time what the ACL would accept: for
each role a member may hold, on its own message and another's, the answer
is exactly whether the edit or delete then goes through."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from tests.engine.eventstore.peers import admit, join, peer, start_thread, sync
from threads_desktop.engine.core.errors import AccessDeniedError, SchemaError
from threads_desktop.engine.core.members import Role
from threads_desktop.engine.core.types import ItemActions
from threads_desktop.engine.node import Node

OpenNode = Callable[[str], Node]


def _succeeds(action: Callable[[], None]) -> bool:
    try:
        action()
    except (AccessDeniedError, SchemaError):
        return False
    return True


@pytest.mark.parametrize("role", [Role.READ, Role.WRITE, Role.DELETE])
def test_what_a_member_is_offered_on_own_and_others_messages_is_what_the_acl_accepts(
        open_node: OpenNode, role: Role) -> None:
    a, b = open_node("a"), open_node("b")
    thread = start_thread(a)
    join(a, b, thread, role=Role.WRITE)
    own = b.chat(thread).post("mine")
    others = a.chat(thread).post("theirs")
    sync(b, a, thread)
    sync(a, b, thread)
    if role is Role.DELETE:
        a.membership.grant(thread, peer(b), Role.DELETE)
    elif role is Role.READ:
        a.membership.revoke(thread, peer(b), Role.WRITE)
    sync(a, b, thread)

    offered = b.item_actions(thread, "message", [own, others, "gone"])

    expected_own = ItemActions(edit=role >= Role.WRITE, delete=role >= Role.WRITE)
    expected_others = ItemActions(edit=False, delete=role is Role.DELETE)
    assert offered == {own: expected_own, others: expected_others}  # an unknown ID is left out
    for message_id, expected in ((own, expected_own), (others, expected_others)):
        assert _succeeds(lambda m=message_id: b.chat(thread).edit(m, "changed")) == expected.edit
    for message_id, expected in ((others, expected_others), (own, expected_own)):
        assert _succeeds(lambda m=message_id: b.chat(thread).delete(m)) == expected.delete


def test_a_follower_and_a_member_still_joining_are_offered_nothing(open_node: OpenNode) -> None:
    a, b = open_node("a"), open_node("b")
    thread = start_thread(a)
    message = a.chat(thread).post("hello")
    from threads_desktop.engine.acl.links import InviteLink

    b.membership.join(InviteLink.parse(a.membership.invite(thread, Role.WRITE).to_uri()))
    admit(a, b, thread)                                        # admitted: keys, but nothing synced
    assert b.item_actions(thread, "message", [message]) == {}  # nothing arrived yet
    assert a.item_actions(thread, "message", [message]) == {message: ItemActions(edit=True, delete=True)}
