"""Removing a device writes an Undevice into each thread; the network pushes
and gossips a thread only when a change set names it as updated, so the
removal must say so (else it reached peers only when something else was
written: with the laptop idle for 1.5 s first, the friend never healed)."""

from __future__ import annotations

from collections.abc import Callable

from tests.engine.eventstore.peers import join, peer
from tests.engine.persons.test_two_devices import add_second_device
from threads_desktop.engine.core.types import ChangeSet, ThreadKind
from threads_desktop.engine.node import Node

OpenNode = Callable[..., Node]


def test_a_removal_names_each_thread_it_wrote_into_as_updated(open_node: OpenNode) -> None:
    friend, laptop, desktop = open_node("friend"), open_node("laptop"), open_node("desktop")
    chat = friend.create_thread(ThreadKind.CHAT, "Trip").thread_id
    join(friend, laptop, chat)
    add_second_device(laptop, desktop)
    published: list[ChangeSet] = []
    laptop.subscribe(published.append)
    laptop.persons.remove_device(peer(desktop))
    assert any(chat in changes.threads_updated for changes in published)
