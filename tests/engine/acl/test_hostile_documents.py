"""Shared documents (a thread's name, kv entries) cannot be claimed and deleted."""

from __future__ import annotations

from collections.abc import Callable

from tests.engine.eventstore.peers import join, start_thread, sync
from threads_desktop.engine.core.members import Role
from threads_desktop.engine.db.documents import db_event
from threads_desktop.engine.logstore.store import NewEvent
from threads_desktop.engine.node import Node
from threads_desktop.engine.threads import META_ID

OpenNode = Callable[[str], Node]


def test_a_writer_without_delete_cannot_delete_the_thread_meta_by_claiming_it(open_node: OpenNode) -> None:
    a, w = open_node("a"), open_node("w")
    thread = start_thread(a, name="Family")
    join(a, w, thread)                                     # write, no delete
    assert Role.DELETE not in a.membership.roles(thread, str(w.identity.peer_id))
    clock = w._services.clock
    with w.database.write():                               # "I had not seen it": deps claim nothing of a's log
        w.store.append_many(thread, [NewEvent(db_event(
            {"op": "create", "c": "thread", "id": META_ID, "set": {"kind": "chat", "name": "mine"}},
            {"op": "delete", "c": "thread", "id": META_ID}), clock.tick(), ())])
    sync(w, a, thread)
    meta = a.database.connection.execute(
        "SELECT deleted FROM documents WHERE thread_id = ? AND collection = 'thread' AND id = ?",
        (thread.raw, META_ID)).fetchone()
    assert meta == (0,), "a writer without the delete role deleted the thread's meta document"
