"""Issue 19 review finding 4, with real engines on 127.0.0.1: a device
removal reaches a thread the removing device never held. Alice's desktop
joined a chat with a friend after the laptop had added it; the laptop
removes the desktop; the friend learns it through the thread it shares with
the laptop, carries the removal into the chat it shares only with the
desktop, stops syncing with the desktop and rotates that chat's keys: the
desktop reads nothing new there."""

from __future__ import annotations

from pathlib import Path

import trio

from tests.engine.eventstore.peers import peer, texts
from tests.engine.net.running import running_peers, wait_until
from threads_desktop.engine.core.ids import ThreadId
from threads_desktop.engine.core.members import Role
from threads_desktop.engine.core.types import ThreadKind
from threads_desktop.engine.node import Node
from threads_desktop.engine.persons.flows import become_device, issue_device_link

SECONDS = 30.0


def removed_in(node: Node, thread: ThreadId, device: Node) -> bool:
    return peer(device) in node._services.gate.evaluation(thread).removals.removed_devices()


def newest_epoch(node: Node, thread: ThreadId) -> int:
    return node.store.thread_keys(thread)[0].epoch


def test_a_removal_reaches_a_thread_only_the_removed_device_and_a_friend_share(tmp_path: Path) -> None:
    async def main() -> None:
        async with running_peers(tmp_path, "friend", "laptop", "desktop") as peers:
            friend, laptop, desktop = (peers[n].node for n in ("friend", "laptop", "desktop"))
            trip = friend.create_thread(ThreadKind.CHAT, "Trip").thread_id
            friend.chat(trip).post("welcome")
            laptop.join(friend.invite(trip, Role.WRITE))
            await wait_until(laptop, lambda: texts(laptop, trip) == ["welcome"], timeout=SECONDS)
            link = issue_device_link(laptop, laptop.device_links, laptop.listen_addresses)
            await become_device(desktop, link, "Alice's desktop", peers["desktop"].service.ask_device)
            peers["desktop"].service.peers_changed()
            await wait_until(desktop, lambda: texts(desktop, trip) == ["welcome"], timeout=SECONDS)

            # A chat the desktop joins after it was added: the laptop never holds it.
            secret = friend.create_thread(ThreadKind.CHAT, "Just us").thread_id
            friend.chat(secret).post("between us")
            desktop.join(friend.invite(secret, Role.WRITE))
            await wait_until(desktop, lambda: texts(desktop, secret) == ["between us"]
                             and Role.WRITE in desktop.membership.roles(secret), timeout=SECONDS)
            desktop.chat(secret).post("from the desktop")
            await wait_until(friend, lambda: "from the desktop" in texts(friend, secret), timeout=SECONDS)
            assert not laptop.directory.holds(secret)
            epoch = newest_epoch(friend, secret)

            laptop.persons.remove_device(peer(desktop))
            # The friend carries the removal into the chat the laptop never held: it counts there,
            # the friend (its admin) rotates, and refuses the desktop at once.
            await wait_until(friend, lambda: removed_in(friend, secret, desktop)
                             and newest_epoch(friend, secret) > epoch, timeout=SECONDS)
            follow = desktop.store.thread_keys(secret)[0].follow
            assert not friend.membership.may_sync(secret, peer(desktop), follow)
            assert desktop.identity.peer_id not in peers["friend"].service._threads.acl_peers(secret)
            friend.chat(secret).post("after the removal")
            await wait_until(desktop, lambda: desktop.persons.removed_notice() is not None, timeout=SECONDS)
            await peers["desktop"].service.sync_once(secret)  # asks the friend: refused, told its removal only
            assert "after the removal" not in texts(desktop, secret)
            assert newest_epoch(desktop, secret) == epoch

    trio.run(main)
