"""Members hear of a person's devices (issue 19): "Alice added a device:
Alice's desktop" when a device they never met starts to write for her, and
"Alice removed a device: Alice's desktop" when her removal counts; every
member tells the same story. Real profiles, real SQLite files."""

from __future__ import annotations

from collections.abc import Callable

from tests.engine.eventstore.peers import join, peer, start_thread
from tests.engine.persons.test_two_devices import add_second_device, everyone_syncs
from threads_desktop.engine.core.types import ThreadKind
from threads_desktop.engine.node import Node

OpenNode = Callable[..., Node]


def _devices_told(node: Node, thread: object) -> list[tuple[str, str, str | None]]:
    return [(n.kind, n.subject, n.entity) for n in node.membership_notices(thread).notices  # type: ignore[arg-type]
            if n.kind.startswith("device-")]


def test_a_device_added_and_then_removed_is_told_to_every_member_once(open_node: OpenNode) -> None:
    friend, laptop, desktop = open_node("friend"), open_node("laptop"), open_node("desktop")
    album = start_thread(friend, ThreadKind.CHAT, "Trip")
    join(friend, laptop, album)
    add_second_device(laptop, desktop, "Alice's desktop")
    everyone_syncs([friend, laptop, desktop], album)
    alice = peer(laptop)
    assert _devices_told(friend, album) == [("device-added", alice, "Alice's desktop")]
    laptop.persons.remove_device(peer(desktop))
    everyone_syncs([friend, laptop], album)
    told = [("device-added", alice, "Alice's desktop"), ("device-removed", alice, "Alice's desktop")]
    assert _devices_told(friend, album) == told
    assert _devices_told(laptop, album) == told


def test_a_persons_first_device_joining_is_a_join_not_a_device_added(open_node: OpenNode) -> None:
    friend, laptop = open_node("friend"), open_node("laptop")
    album = start_thread(friend, ThreadKind.CHAT, "Trip")
    join(friend, laptop, album)
    assert _devices_told(friend, album) == []
    assert [n.kind for n in friend.membership_notices(album).notices] == ["joined"]


def test_a_device_that_bound_before_it_heard_of_its_persons_first_log_tells_the_same_story(
        open_node: OpenNode) -> None:
    """A restored or added device binds its own log at once, before the
    person's older logs reach it: it must still tell "added a device" as the
    others do (stamps decide, not the order each applied the events in)."""
    friend, laptop, desktop = open_node("friend"), open_node("laptop"), open_node("desktop")
    album = start_thread(friend, ThreadKind.CHAT, "Trip")
    join(friend, laptop, album)
    add_second_device(laptop, desktop, "Alice's desktop")  # binds before it has the laptop's log
    everyone_syncs([friend, laptop, desktop], album)
    told = [("device-added", peer(laptop), "Alice's desktop")]
    assert _devices_told(desktop, album) == _devices_told(friend, album) == _devices_told(laptop, album) == told
