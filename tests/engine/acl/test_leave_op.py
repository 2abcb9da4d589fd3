"""The leave op: a member takes every role from itself; admins rotate the
keys when they see it, so what comes after stays with those who stayed. The
last admin stays while anyone else does."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from tests.engine.eventstore.peers import join, newest_record_opens_with, peer, start_thread, sync, texts
from threads_desktop.engine.acl.control_ops import Leave, acl_payload, parse_acl_payload
from threads_desktop.engine.core.errors import AccessDeniedError, SchemaError
from threads_desktop.engine.core.members import Role
from threads_desktop.engine.node import Node

OpenNode = Callable[..., Node]


def test_a_member_who_leaves_holds_no_role_anywhere_and_cannot_read_what_follows(open_node: OpenNode) -> None:
    a, b, c = open_node("a"), open_node("b"), open_node("c")
    thread = start_thread(a)
    join(a, b, thread, role=Role.READ)
    join(a, c, thread)
    sync(a, b, thread)
    held = b.store.thread_keys(thread)
    b.membership.leave(thread)
    assert b.membership.roles(thread) == frozenset()
    sync(b, a, thread)                              # a sees it, and heals: a new epoch without b
    sync(a, c, thread)
    for node in (a, c):
        assert node.membership.roles(thread, peer(b)) == frozenset()
    assert a.store.thread_keys(thread)[0].epoch not in {key.epoch for key in held}
    c.chat(thread).post("after b left")
    sync(c, a, thread)
    sync(a, b, thread)
    sync(c, b, thread)
    assert "after b left" in texts(a, thread) and "after b left" not in texts(b, thread)
    assert not newest_record_opens_with(c, thread, held)


def test_the_last_admin_may_not_leave_while_others_remain(open_node: OpenNode) -> None:
    a, b = open_node("a"), open_node("b")
    thread = start_thread(a)
    join(a, b, thread)
    written = a.get_thread(thread).event_count
    with pytest.raises(AccessDeniedError, match="make someone else an admin first"):
        a.membership.leave(thread)
    assert a.get_thread(thread).event_count == written
    a.membership.grant(thread, peer(b), Role.WRITE, "acl")
    a.membership.leave(thread)                      # b is an admin now: a may go
    sync(a, b, thread)
    assert b.membership.roles(thread, peer(a)) == frozenset() and Role.WRITE in b.membership.roles(thread)


def test_the_founder_alone_may_leave(open_node: OpenNode) -> None:
    a = open_node("a")
    thread = start_thread(a)
    a.membership.leave(thread)
    assert a.membership.roles(thread) == frozenset()


def test_a_leave_op_is_read_strictly() -> None:
    assert parse_acl_payload(acl_payload(Leave())) == [Leave()]
    with pytest.raises(SchemaError, match="fields"):
        parse_acl_payload({"type": "acl", "ops": [{"op": "leave", "peer": "someone"}]})
