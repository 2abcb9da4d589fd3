"""Adding a device by link over the network (issue 19), real engines on
127.0.0.1: the new device gets every thread of the person and its content
from peers, even from a friend it never met while the device that added it
is off; a link spent or expired gives nothing."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager

import pytest
import trio

from tests.engine.eventstore.peers import join, peer, sync, texts
from tests.engine.net.running import serving, wait_until
from threads_desktop.engine.core.ids import ThreadId
from threads_desktop.engine.core.types import ThreadKind
from threads_desktop.engine.net.service import NetworkService
from threads_desktop.engine.node import Node
from threads_desktop.engine.persons.device_links import LIFETIME_MS, DeviceLink
from threads_desktop.engine.persons.flows import DeviceLinkRefused, become_device, issue_device_link

OpenNode = Callable[..., Node]
SYNC_SECONDS = 30.0


@asynccontextmanager
async def online(node: Node) -> AsyncIterator[NetworkService]:
    async with serving(node) as service:
        yield service


def _a_person_and_a_friend(open_node: OpenNode, clock: Callable[[], float] = time.time,
                           ) -> tuple[Node, Node, ThreadId, ThreadId]:
    """Alice's laptop shares a chat with a friend (the friend's, Alice invited)
    and holds an album of her own."""
    friend, laptop = open_node("friend"), open_node("laptop", now_seconds=clock)
    laptop.set_display_name("Alice")
    chat = friend.create_thread(ThreadKind.CHAT, "Trip").thread_id
    join(friend, laptop, chat)
    friend.chat(chat).post("from the friend")
    laptop.chat(chat).post("from the laptop")
    sync(laptop, friend, chat)  # as their sessions would
    album = laptop.create_thread(ThreadKind.CHAT, "Notes").thread_id
    laptop.chat(album).post("a note to myself")
    return friend, laptop, chat, album


def test_a_device_added_by_link_gets_every_thread_and_its_content_even_from_a_friend_it_never_met(
        open_node: OpenNode) -> None:
    friend, laptop, chat, album = _a_person_and_a_friend(open_node)
    desktop = open_node("desktop")

    async def main() -> float:
        async with online(friend) as friend_net, online(desktop) as desktop_net:
            async with online(laptop):
                # Where the friend listens, as the laptop's sessions with it note it.
                laptop.peers.remember(chat, friend.identity.peer_id, friend_net.listen_addresses())
                link = issue_device_link(laptop, laptop.device_links, laptop.listen_addresses)
                started = time.perf_counter()
                await become_device(desktop, DeviceLink.parse(link.to_uri()), "Desktop", desktop_net.ask_device)
            # The laptop is off now: everything comes from the friend, whom the desktop never met.
            desktop_net.peers_changed()
            await wait_until(desktop, lambda: texts(desktop, chat) == ["from the friend", "from the laptop"],
                             timeout=SYNC_SECONDS)
            seconds = time.perf_counter() - started
            desktop.chat(chat).post("from the desktop")
            await wait_until(friend, lambda: "from the desktop" in texts(friend, chat), timeout=SYNC_SECONDS)
        return seconds

    seconds = trio.run(main)
    print(f"device link to the friend's messages on the new device: {seconds:.2f} s")
    assert desktop.persons.person_id == laptop.persons.person_id == peer(laptop)
    assert {t.thread_id for t in desktop.list_threads()} == {chat, album}
    assert desktop.display_name() == "Alice"
    assert [d.device_id for d in laptop.persons.devices() if not d.removed] == [peer(laptop), peer(desktop)]
    # The friend sees one person, whose message came from a device it had never met.
    assert {m.peer_id for m in friend.membership.members(chat)} == {peer(friend), peer(laptop)}


def test_the_album_only_the_person_holds_comes_from_the_other_device(open_node: OpenNode) -> None:
    _friend, laptop, _chat, album = _a_person_and_a_friend(open_node)
    desktop = open_node("desktop")

    async def main() -> None:
        async with online(laptop), online(desktop) as desktop_net:
            link = issue_device_link(laptop, laptop.device_links, laptop.listen_addresses)
            await become_device(desktop, link, "Desktop", desktop_net.ask_device)
            desktop_net.peers_changed()
            await wait_until(desktop, lambda: texts(desktop, album) == ["a note to myself"], timeout=SYNC_SECONDS)
            assert desktop.get_thread(album).name == "Notes"

    trio.run(main)


@pytest.mark.parametrize("how", ["spent", "expired", "unknown"])
def test_a_spent_expired_or_unknown_link_gives_nothing(how: str, open_node: OpenNode) -> None:
    clock = [time.time()]
    _friend, laptop, chat, album = _a_person_and_a_friend(open_node, lambda: clock[0])
    desktop, other = open_node("desktop"), open_node("other")

    async def main() -> None:
        async with online(laptop), online(desktop) as desktop_net, online(other) as other_net:
            links = laptop.device_links
            link = issue_device_link(laptop, links, laptop.listen_addresses)
            if how == "spent":
                await become_device(other, link, "Other", other_net.ask_device)
            elif how == "expired":
                clock[0] += LIFETIME_MS / 1000
            else:
                links.revoke_open()
            with pytest.raises(DeviceLinkRefused) as refused:
                await become_device(desktop, link, "Desktop", desktop_net.ask_device)
            assert refused.value.reason == how

    trio.run(main)
    assert desktop.list_threads() == [] and desktop.persons.person_id == peer(desktop)
    assert [d.device_id for d in laptop.persons.devices() if not d.removed] == \
        [peer(laptop)] + ([peer(other)] if how == "spent" else [])
    assert desktop.database.connection.execute("SELECT count(*) FROM thread_keys").fetchone()[0] == 0
    del chat, album
