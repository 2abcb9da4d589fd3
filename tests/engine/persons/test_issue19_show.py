"""Issue 19's "Show" end to end with the real flows, real engines on
127.0.0.1: a friend invites Alice's laptop once (by link, over the
network); her desktop joins her devices by a device link; both see the
chat and add to it as Alice; a backup restored on a third, fresh profile
brings back every thread and its content, and writes as Alice; removing the
desktop rotates the keys: the desktop reads nothing new, the restored
device does; and the same backup restored after that rotation reads and
writes too."""

from __future__ import annotations

from pathlib import Path

import trio

from tests.engine.eventstore.peers import peer, texts
from tests.engine.net.running import running_peers, wait_until
from threads_desktop.engine.core.members import Role
from threads_desktop.engine.core.types import ThreadKind
from threads_desktop.engine.persons.flows import become_device, export_backup, issue_device_link, restore_backup

SECONDS = 30.0


def test_a_person_with_two_devices_a_friend_a_removal_and_a_backup(tmp_path: Path) -> None:
    async def main() -> None:
        async with running_peers(tmp_path, "friend", "laptop", "desktop", "restored", "later") as peers:
            friend, laptop, desktop, restored = (peers[n].node for n in ("friend", "laptop", "desktop", "restored"))
            laptop.set_display_name("Alice")
            chat = friend.create_thread(ThreadKind.CHAT, "Trip").thread_id
            friend.chat(chat).post("welcome")
            laptop.join(friend.invite(chat, Role.WRITE))  # invited once: the person
            await wait_until(laptop, lambda: texts(laptop, chat) == ["welcome"], timeout=SECONDS)

            link = issue_device_link(laptop, laptop.device_links, laptop.listen_addresses)
            await become_device(desktop, link, "Alice's desktop", peers["desktop"].service.ask_device)
            peers["desktop"].service.peers_changed()
            await wait_until(desktop, lambda: texts(desktop, chat) == ["welcome"]
                             and Role.WRITE in desktop.membership.roles(chat), timeout=SECONDS)
            desktop.chat(chat).post("from the desktop")
            laptop.chat(chat).post("from the laptop")
            await wait_until(friend, lambda: {"from the desktop", "from the laptop"} <= set(texts(friend, chat)),
                             timeout=SECONDS)
            assert {m.peer_id for m in friend.membership.members(chat)} == {peer(friend), peer(laptop)}

            backup = tmp_path / "alice.threads-backup"
            await export_backup(laptop, backup, "correct horse battery staple", laptop.listen_addresses)
            await restore_backup(restored, backup, "correct horse battery staple", "Alice's new laptop",
                                 1_765_000_000_000)
            peers["restored"].service.peers_changed()
            await wait_until(restored, lambda: set(texts(restored, chat)) == {
                "welcome", "from the desktop", "from the laptop"} and Role.WRITE in restored.membership.roles(chat),
                timeout=SECONDS)
            assert restored.persons.person_id == peer(laptop)
            restored.chat(chat).post("back again")
            await wait_until(friend, lambda: "back again" in texts(friend, chat), timeout=SECONDS)

            epoch = desktop.store.thread_keys(chat)[0].epoch
            laptop.persons.remove_device(peer(desktop))
            await wait_until(laptop, lambda: laptop.store.thread_keys(chat)[0].epoch > epoch, timeout=SECONDS)
            friend.chat(chat).post("after the removal")
            await wait_until(laptop, lambda: "after the removal" in texts(laptop, chat), timeout=SECONDS)
            await wait_until(restored, lambda: "after the removal" in texts(restored, chat), timeout=SECONDS)
            await wait_until(desktop, lambda: desktop.persons.removed_notice() is not None, timeout=SECONDS)
            assert "after the removal" not in texts(desktop, chat)
            assert desktop.store.thread_keys(chat)[0].epoch == epoch

            # The same backup, older than the removal's rotation, restored once more:
            # members lend the new keys and the friend's node delivers them (PROTOCOL §34).
            later = peers["later"].node
            await restore_backup(later, backup, "correct horse battery staple", "Alice's tablet", 1_765_000_000_000)
            peers["later"].service.peers_changed()
            await wait_until(later, lambda: "after the removal" in texts(later, chat)
                             and later.store.thread_keys(chat)[0].epoch == laptop.store.thread_keys(chat)[0].epoch,
                             timeout=SECONDS)
            later.chat(chat).post("from the tablet")
            await wait_until(friend, lambda: "from the tablet" in texts(friend, chat), timeout=SECONDS)

    trio.run(main)
