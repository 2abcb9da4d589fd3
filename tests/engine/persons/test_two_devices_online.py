"""Issue 19's first "Show" with real engines on 127.0.0.1 (real libp2p
connections): a friend invites Alice's laptop once; her desktop, made a
device of hers the way the device link flow will (issue_cert, adopt,
add_thread), syncs the album with both and adds to it as Alice; removed
from the laptop, it reads nothing new, its writes are refused and its own
app learns that it was removed. (That a removed device's writes are
refused is shown in test_two_devices.py, where one reaches the friend.)"""

from __future__ import annotations

from pathlib import Path

import pytest
import trio

from tests.engine.eventstore.peers import peer, texts
from tests.engine.net.running import running_peers, wait_until
from threads_desktop.engine.core.errors import AccessDeniedError
from threads_desktop.engine.core.ids import ThreadId
from threads_desktop.engine.core.members import Role
from threads_desktop.engine.core.types import ThreadKind
from threads_desktop.engine.node import Node


def _members(node: Node, thread_id: ThreadId) -> set[str]:
    return {m.peer_id for m in node.membership.members(thread_id)}


def test_two_devices_of_a_person_and_a_friend_online(tmp_path: Path) -> None:
    async def main() -> None:
        async with running_peers(tmp_path, "friend", "laptop", "desktop") as peers:
            friend, laptop, desktop = (peers[name].node for name in ("friend", "laptop", "desktop"))
            laptop.set_display_name("Alice")
            album = friend.create_thread(ThreadKind.CHAT, "Trip").thread_id
            friend.chat(album).post("welcome")
            laptop.join(friend.invite(album, Role.WRITE))  # invited once: the person
            await wait_until(laptop, lambda: texts(laptop, album) == ["welcome"])

            cert = laptop.persons.issue_cert(desktop.identity.peer_id, "Alice's desktop")
            desktop.persons.adopt(laptop.persons.book.person_key().seed(), cert, laptop.persons.book.items())
            desktop.persons.add_thread(album, ThreadKind.CHAT, "Trip", laptop.store.thread_keys(album))
            # The bundle's peers (the device link flow installs them): the laptop, where it listens.
            desktop.peers.remember(album, laptop.identity.peer_id, peers["laptop"].service.addresses())
            peers["desktop"].service.schedule(laptop.identity.peer_id, {album})
            await wait_until(desktop, lambda: texts(desktop, album) == ["welcome"])
            desktop.chat(album).post("from the desktop")
            await wait_until(friend, lambda: "from the desktop" in texts(friend, album))
            assert _members(friend, album) == {peer(friend), peer(laptop)}  # Alice, once

            desktop_keys = desktop.store.thread_keys(album)
            laptop.persons.remove_device(peer(desktop))
            epoch = desktop_keys[0].epoch
            await wait_until(laptop, lambda: laptop.store.thread_keys(album)[0].epoch > epoch)  # the friend healed
            laptop.chat(album).post("after the removal")
            await wait_until(friend, lambda: "after the removal" in texts(friend, album))
            await wait_until(desktop, lambda: desktop.persons.removed_notice() is not None)
            with pytest.raises(AccessDeniedError):  # its own app knows: no key it holds is safe to write with
                desktop.chat(album).post("from the removed desktop")
            friend.chat(album).post("last")
            await wait_until(laptop, lambda: "last" in texts(laptop, album))
            assert "after the removal" not in texts(desktop, album) and "last" not in texts(desktop, album)
            assert desktop.store.thread_keys(album)[0].epoch == epoch
            assert str(desktop.persons.removed_notice()).startswith("Removed from Alice's devices on ")

    trio.run(main)
