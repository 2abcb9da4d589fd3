"""A person's other devices carry a device removal into every thread they
hold where the removed device is bound (issue 19 review finding 4), in
process: Alice's tablet founded a chat her desktop took over; her laptop,
which never held it, removes the desktop; the tablet, hearing of it in a
thread it shares with the laptop, writes the removal into that chat once
and rotates its keys."""

from __future__ import annotations

from tests.engine.eventstore.peers import join, peer, start_thread, sync, texts
from tests.engine.persons.test_two_devices import OpenNode, add_second_device, everyone_syncs
from threads_desktop.engine.acl.control_ops import Undevice
from threads_desktop.engine.core.ids import ThreadId
from threads_desktop.engine.core.types import ThreadKind
from threads_desktop.engine.node import Node


def undevices(node: Node, thread: ThreadId) -> int:
    return sum(isinstance(op, Undevice) for event in node._services.gate.evaluation(thread).events for op in event.ops)


def test_another_device_of_the_person_carries_the_removal_into_a_thread_the_remover_never_held(
        open_node: OpenNode) -> None:
    friend, laptop, desktop, tablet = (open_node(n) for n in ("friend", "laptop", "desktop", "tablet"))
    trip = start_thread(friend, ThreadKind.CHAT, "Trip")
    join(friend, laptop, trip)
    add_second_device(laptop, desktop)
    add_second_device(laptop, tablet)
    everyone_syncs([friend, laptop, desktop, tablet], trip)
    notes = start_thread(tablet, ThreadKind.CHAT, "Notes")  # after the laptop added both: it never holds it
    desktop.persons.add_thread(notes, ThreadKind.CHAT, "Notes", tablet.store.thread_keys(notes))
    everyone_syncs([tablet, desktop], notes)
    tablet.chat(notes).post("before")
    sync(tablet, desktop, notes)
    assert texts(desktop, notes) == ["before"]
    epoch = tablet.store.thread_keys(notes)[0].epoch

    laptop.persons.remove_device(peer(desktop))
    sync(laptop, tablet, trip)  # the tablet hears of it in the trip's chat ...

    # ... and writes it into the notes, where it counts, and rotates there.
    assert peer(desktop) in tablet._services.gate.evaluation(notes).removals.removed_devices()
    assert undevices(tablet, notes) == 1
    assert tablet.store.thread_keys(notes)[0].epoch > epoch
    tablet.chat(notes).post("after")
    sync(tablet, desktop, notes)
    assert texts(desktop, notes) == ["before"]
    # Once: hearing it again (another thread, the same one) writes nothing more.
    everyone_syncs([friend, laptop, tablet], trip)
    sync(desktop, tablet, notes)
    assert undevices(tablet, notes) == 1
