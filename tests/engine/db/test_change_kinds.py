"""A change set tells created, updated and deleted documents apart, for
local writes and for what peers send alike, so views insert, refresh or drop
only those rows."""

from __future__ import annotations

from collections.abc import Callable

from tests.engine.eventstore.peers import join, start_thread, sync
from threads_desktop.engine.core.types import ChangeSet
from threads_desktop.engine.node import Node

OpenNode = Callable[[str], Node]


def _heard(node: Node) -> list[ChangeSet]:
    heard: list[ChangeSet] = []
    node.subscribe(heard.append)
    return heard


def test_a_local_create_update_and_delete_each_say_what_they_did(open_node: OpenNode) -> None:
    a = open_node("a")
    thread = start_thread(a)
    heard = _heard(a)
    message = a.chat(thread).post("hello")
    a.chat(thread).edit(message, "hello again")
    a.chat(thread).delete(message)
    key = (thread, "message", message)
    created, updated, deleted = heard
    assert key in created.documents_created and key not in created.documents_updated()
    assert key in updated.documents_updated() and not updated.documents_created and not updated.documents_deleted
    assert key in deleted.documents_deleted and key not in deleted.documents_updated()
    assert all(key in changes.documents for changes in heard)  # `documents` still holds every one touched


def test_what_a_peer_sends_is_told_apart_the_same_way(open_node: OpenNode) -> None:
    a, b = open_node("a"), open_node("b")
    thread = start_thread(a)
    join(a, b, thread)
    first = a.chat(thread).post("first")
    sync(a, b, thread)
    heard = _heard(b)
    second = a.chat(thread).post("second")
    a.chat(thread).edit(first, "first, edited")
    sync(a, b, thread)
    [changes] = heard
    assert (thread, "message", second) in changes.documents_created
    assert (thread, "message", first) in changes.documents_updated()
    a.chat(thread).delete(second)
    sync(a, b, thread)
    assert (thread, "message", second) in heard[-1].documents_deleted


def test_a_document_created_and_deleted_in_one_change_is_only_deleted(open_node: OpenNode) -> None:
    a, b = open_node("a"), open_node("b")
    thread = start_thread(a)
    join(a, b, thread)
    heard = _heard(b)
    message = a.chat(thread).post("gone at once")
    a.chat(thread).delete(message)
    sync(a, b, thread)  # both events arrive in one page
    [changes] = heard
    key = (thread, "message", message)
    assert key in changes.documents_deleted and key not in changes.documents_created
