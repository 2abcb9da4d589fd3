"""Issue 19's first "Show", at the engine: one person with two devices and
a friend. The friend invites the person once; both devices see the album
and add to it as that person; removing one device rotates the keys, and
that device reads nothing new, its new writes are refused, and its own app
says it was removed. (Records move in process, as sync moves them; the
network flows are engine/persons/bundle.py's and devicing.py's.)"""

from __future__ import annotations

from collections.abc import Callable

from tests.engine.eventstore.peers import join, peer, start_thread, sync, texts
from threads_desktop.engine.core.ids import ThreadId
from threads_desktop.engine.core.members import Role
from threads_desktop.engine.core.types import ThreadKind
from threads_desktop.engine.node import Node

OpenNode = Callable[..., Node]


def add_second_device(first: Node, second: Node, name: str = "Alice's desktop") -> None:
    """What the device link flow does once the link checks out: the first
    device certifies the second, which becomes a device of the person and
    takes over each of its threads."""
    cert = first.persons.issue_cert(second.identity.peer_id, name)
    second.persons.adopt(first.persons.book.person_key().seed(), cert, first.persons.book.items())
    for summary in first.list_threads():
        second.persons.add_thread(summary.thread_id, summary.kind, summary.name,
                                  first.store.thread_keys(summary.thread_id))


def everyone_syncs(nodes: list[Node], thread: ThreadId, rounds: int = 2) -> None:
    for _ in range(rounds):
        for source in nodes:
            for target in nodes:
                if source is not target:
                    sync(source, target, thread)


def test_a_friend_invites_a_person_once_and_both_of_its_devices_add_as_that_person(open_node: OpenNode) -> None:
    friend, laptop, desktop = open_node("friend"), open_node("laptop"), open_node("desktop")
    album = start_thread(friend, ThreadKind.CHAT, "Trip")
    join(friend, laptop, album)
    add_second_device(laptop, desktop)
    everyone_syncs([friend, laptop, desktop], album)

    alice = peer(laptop)
    assert desktop.persons.person_id == alice and desktop.persons.this_device == peer(desktop)
    assert [d.device_id for d in laptop.persons.devices()] == [peer(laptop), peer(desktop)]
    assert Role.WRITE in desktop.membership.roles(album)
    desktop.chat(album).post("from the desktop")
    laptop.chat(album).post("from the laptop")
    everyone_syncs([friend, laptop, desktop], album)
    assert texts(friend, album) == ["from the desktop", "from the laptop"]
    # One member for the two devices: the friend sees the person, not its devices.
    members = {m.peer_id for m in friend.membership.members(album)}
    assert members == {peer(friend), alice}
    authors = friend.author_members(album)
    assert set(authors.values()) == {peer(friend), alice}
    # The friend, an admin, sealed the keys to the new device too (one box per device).
    newest = friend.store.thread_keys(album)[0].epoch
    held = friend._services.gate.evaluation(album).key_holdings()
    assert held[peer(desktop)] == held[peer(laptop)] == (newest, True)


def test_a_removed_device_reads_nothing_new_and_its_writes_are_refused(open_node: OpenNode) -> None:
    friend, laptop, desktop = open_node("friend"), open_node("laptop"), open_node("desktop")
    album = start_thread(friend, ThreadKind.CHAT, "Trip")
    join(friend, laptop, album)
    laptop.set_display_name("Alice")
    add_second_device(laptop, desktop)
    everyone_syncs([friend, laptop, desktop], album)
    old_epoch = friend.store.thread_keys(album)[0].epoch
    assert desktop.persons.removed_notice() is None

    laptop.persons.remove_device(peer(desktop))
    sync(laptop, friend, album)  # the friend, an admin, heals: new keys, not sealed to the desktop
    assert friend.store.thread_keys(album)[0].epoch > old_epoch
    sync(friend, laptop, album)
    assert laptop.store.thread_keys(album)[0].epoch == friend.store.thread_keys(album)[0].epoch
    laptop.chat(album).post("after the removal")
    desktop.chat(album).post("from the removed desktop")
    everyone_syncs([friend, laptop, desktop], album)

    assert texts(friend, album) == ["after the removal"]
    assert texts(laptop, album) == ["after the removal"]
    assert "after the removal" not in texts(desktop, album)
    assert desktop.store.thread_keys(album)[0].epoch == old_epoch
    notice = desktop.persons.removed_notice()
    assert notice is not None and notice.startswith("Removed from Alice's devices on ")
    assert [(d.device_id, d.removed) for d in laptop.persons.devices()] == [(peer(laptop), False),
                                                                           (peer(desktop), True)]
