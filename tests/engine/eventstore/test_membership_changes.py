"""A change set says when a thread's membership may look different (a
control event settled, an event was refused, a key came), so views of the
members read it again only then, not at every message."""

from __future__ import annotations

import os
from collections.abc import Callable

from tests.engine.eventstore.peers import force_commit, join, peer, start_thread, sync
from threads_desktop.engine.core.keys import ThreadKey
from threads_desktop.engine.core.members import Role
from threads_desktop.engine.core.types import ChangeSet
from threads_desktop.engine.db.documents import db_event
from threads_desktop.engine.node import Node

OpenNode = Callable[[str], Node]


def _heard(node: Node) -> list[ChangeSet]:
    heard: list[ChangeSet] = []
    node.subscribe(heard.append)
    return heard


def test_messages_leave_the_membership_alone_and_a_role_change_names_it(open_node: OpenNode) -> None:
    a, b = open_node("a"), open_node("b")
    thread = start_thread(a)
    join(a, b, thread)
    heard_a, heard_b = _heard(a), _heard(b)
    a.chat(thread).post("hello")
    sync(a, b, thread)
    assert [changes.membership for changes in heard_a + heard_b] == [frozenset(), frozenset()]
    a.membership.grant(thread, peer(b), Role.READ, "acl")
    sync(a, b, thread)
    assert heard_a[-1].membership == heard_b[-1].membership == frozenset({thread})


def test_a_refused_change_and_a_key_that_arrives_name_the_membership(open_node: OpenNode) -> None:
    a, b = open_node("a"), open_node("b")
    thread = start_thread(a)
    join(a, b, thread, write=False)
    heard = _heard(a)
    force_commit(b, thread, [db_event({"op": "create", "c": "kv", "id": "k", "set": {"value": "no right"}})])
    sync(b, a, thread)
    assert len(a.events.refused(thread)) == 1 and heard[-1].membership == frozenset({thread})
    a.add_thread_key(thread, ThreadKey(a.store.thread_keys(thread)[0].follow, os.urandom(32), epoch=9))
    assert heard[-1].membership == frozenset({thread})
