"""A device removal goes out at once, as any write does (real engines on
127.0.0.1): the friend learns it, and heals, with no pull pass to wait
for (the peers here pull once an hour) and with the removed device off."""

from __future__ import annotations

from pathlib import Path

import trio

from tests.engine.eventstore.peers import join, peer, start_thread, texts
from tests.engine.net.running import running_peers, wait_until
from tests.engine.persons.test_two_devices import OpenNode, add_second_device
from threads_desktop.engine.core.members import Role
from threads_desktop.engine.core.types import ChangeSet, ThreadKind
from threads_desktop.engine.node import Node


def test_a_device_removal_reaches_the_friend_at_once_while_the_removed_device_is_off(tmp_path: Path) -> None:
    async def main() -> None:
        async with running_peers(tmp_path, "friend", "laptop") as peers:
            friend, laptop = peers["friend"].node, peers["laptop"].node
            chat = friend.create_thread(ThreadKind.CHAT, "Trip").thread_id
            friend.chat(chat).post("welcome")
            laptop.join(friend.invite(chat, Role.WRITE))
            await wait_until(laptop, lambda: texts(laptop, chat) == ["welcome"])
            desktop = Node.open(tmp_path / "desktop")  # a device of Alice's, never online here
            try:
                cert = laptop.persons.issue_cert(desktop.identity.peer_id, "Alice's desktop")
                desktop.persons.adopt(laptop.persons.person_seed(), cert, laptop.persons.book.items())
                epoch = laptop.store.thread_keys(chat)[0].epoch

                laptop.persons.remove_device(peer(desktop))
                await wait_until(friend, lambda: peer(desktop) in
                                 friend._services.gate.evaluation(chat).removals.removed_devices(), timeout=10)
                await wait_until(laptop, lambda: laptop.store.thread_keys(chat)[0].epoch > epoch, timeout=10)
            finally:
                desktop.close()

    trio.run(main)


def test_a_device_removal_names_every_thread_it_wrote_to_as_updated(open_node: OpenNode) -> None:
    """The network pushes and gossips the threads a change set names as
    updated: the removal's must name each thread its Undevice went into."""
    friend, laptop, desktop = open_node("friend"), open_node("laptop"), open_node("desktop")
    chat = start_thread(friend, ThreadKind.CHAT, "Trip")
    join(friend, laptop, chat)
    add_second_device(laptop, desktop)
    heard: list[ChangeSet] = []
    laptop.subscribe(heard.append)

    laptop.persons.remove_device(peer(desktop))

    assert any(chat in changes.threads_updated for changes in heard)
