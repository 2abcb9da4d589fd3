"""A backup older than a key rotation (issue 19): the device restored from
it holds only the keys of the backup's time, while the thread went on under
new ones. Real engines on 127.0.0.1, the backed-up device gone: a friend's
node hands the restored device the follow keys made since (outside the log,
sealed to it), so it can take the friend's records, and the admin's key
delivery among them gives it the read keys."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import trio

from tests.engine.eventstore.peers import join, peer, sync, texts
from tests.engine.net.running import serving, wait_until
from threads_desktop.engine.core.ids import ThreadId
from threads_desktop.engine.core.members import Role
from threads_desktop.engine.core.types import ThreadKind
from threads_desktop.engine.net.service import NetworkService
from threads_desktop.engine.node import Node
from threads_desktop.engine.persons.flows import export_backup, restore_backup

OpenNode = Callable[..., Node]
SECONDS = 30.0
PASSPHRASE = "a long passphrase nobody guesses"


async def _restore_meeting(restored: Node, restored_net: NetworkService, path: Path, friend: Node,
                           friend_net: NetworkService, chat: ThreadId) -> None:
    """Restore Alice's backup on a fresh profile that knows where the friend
    listens (the laptop, offline when it exported, noted no address)."""
    await restore_backup(restored, path, PASSPHRASE, "Alice's new laptop", 1_765_000_000_000)
    restored.peers.remember(chat, friend.identity.peer_id, friend_net.listen_addresses())
    restored_net.peers_changed()


def test_a_device_restored_from_a_backup_older_than_two_rotations_reads_and_writes_again(
        open_node: OpenNode, tmp_path: Path) -> None:
    friend, laptop, bob, carol = (open_node(n) for n in ("friend", "laptop", "bob", "carol"))
    restored = open_node("restored")
    laptop.set_display_name("Alice")
    chat = friend.create_thread(ThreadKind.CHAT, "Trip").thread_id
    for member in (laptop, bob, carol):
        join(friend, member, chat)
    friend.chat(chat).post("before the backup")
    sync(friend, laptop, chat)
    path = tmp_path / "alice.threads-backup"
    trio.run(export_backup, laptop, path, PASSPHRASE)
    old_epoch = laptop.store.thread_keys(chat)[0].epoch

    # After the backup: two members removed, so two new follow and read keys.
    friend.membership.revoke(chat, peer(bob), Role.FOLLOW)
    friend.chat(chat).post("after one rotation")
    friend.membership.revoke(chat, peer(carol), Role.FOLLOW)
    friend.chat(chat).post("after two rotations")
    sync(friend, laptop, chat)
    laptop.chat(chat).post("the laptop's last words")
    sync(laptop, friend, chat)
    assert len({k.epoch for k in friend.store.thread_keys(chat)} - {old_epoch}) >= 2
    laptop.close()  # lost

    async def main() -> None:
        async with serving(friend) as friend_net, serving(restored) as restored_net:
            await _restore_meeting(restored, restored_net, path, friend, friend_net, chat)
            await wait_until(restored, lambda: texts(restored, chat) == sorted([
                "before the backup", "after one rotation", "after two rotations", "the laptop's last words"]),
                timeout=SECONDS)
            assert restored.store.thread_keys(chat)[0].epoch == friend.store.thread_keys(chat)[0].epoch
            restored.chat(chat).post("back again")
            await wait_until(friend, lambda: "back again" in texts(friend, chat), timeout=SECONDS)

    trio.run(main)


def test_when_the_lost_device_was_the_only_admin_a_member_lends_the_keys_and_the_restored_one_heals(
        open_node: OpenNode, tmp_path: Path) -> None:
    """No admin is left to deliver the keys the lost device made after the
    backup: the friend, a writer, lends them (read keys too, as Alice reads),
    so the restored device reads what was written under them; it writes with
    keys of its own making, since its node, an admin's, rotates."""
    laptop, friend, bob = open_node("laptop"), open_node("friend"), open_node("bob")
    restored = open_node("restored")
    chat = laptop.create_thread(ThreadKind.CHAT, "Trip").thread_id
    join(laptop, friend, chat)
    join(laptop, bob, chat)
    laptop.chat(chat).post("before the backup")
    path = tmp_path / "alice.threads-backup"
    trio.run(export_backup, laptop, path, PASSPHRASE)
    laptop.membership.revoke(chat, peer(bob), Role.FOLLOW)
    laptop.chat(chat).post("after the rotation")
    sync(laptop, friend, chat)
    laptop.close()  # lost

    async def main() -> None:
        async with serving(friend) as friend_net, serving(restored) as restored_net:
            await _restore_meeting(restored, restored_net, path, friend, friend_net, chat)
            await wait_until(friend, lambda: len(friend.store.thread_keys(chat)) >= 3, timeout=SECONDS)
            restored.chat(chat).post("back again")
            await wait_until(friend, lambda: "back again" in texts(friend, chat), timeout=SECONDS)
            friend.chat(chat).post("welcome back")
            friend.peers.remember(chat, restored.identity.peer_id, restored_net.listen_addresses())
            await friend_net.sync_once(chat)
            await wait_until(restored, lambda: "welcome back" in texts(restored, chat), timeout=SECONDS)
            assert texts(restored, chat) == sorted(["before the backup", "after the rotation", "back again",
                                                    "welcome back"])

    trio.run(main)
