"""A backup restored on a fresh profile (issue 19), real engines on
127.0.0.1: it becomes a new device of the person, with every thread and
its content from peers; a wrong passphrase or a tampered file is a clear
error and the profile is left as it was."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
import trio

from tests.engine.eventstore.peers import join, peer, sync, texts
from tests.engine.net.running import serving, wait_until
from threads_desktop.engine.core.errors import BackupError
from threads_desktop.engine.core.types import ThreadKind
from threads_desktop.engine.node import Node
from threads_desktop.engine.persons.backup import HEADER_LENGTH
from threads_desktop.engine.persons.flows import export_backup, read_backup, restore_backup

OpenNode = Callable[..., Node]
SYNC_SECONDS = 30.0
PASSPHRASE = "a long passphrase nobody guesses"


def _profile_rows(node: Node) -> dict[str, int]:
    sql = node.database.connection
    return {table: sql.execute(f"SELECT count(*) FROM {table}").fetchone()[0]
            for table in ("threads", "thread_keys", "logs", "records", "device_book", "thread_peers",
                          "local_settings")}


def test_a_backup_restored_on_a_fresh_profile_brings_back_every_thread_and_its_content(
        open_node: OpenNode, tmp_path: Path) -> None:
    friend, laptop, restored = open_node("friend"), open_node("laptop"), open_node("restored")
    laptop.set_display_name("Alice")
    chat = friend.create_thread(ThreadKind.CHAT, "Trip").thread_id
    join(friend, laptop, chat)
    friend.chat(chat).post("from the friend")
    laptop.chat(chat).post("from the laptop")
    sync(laptop, friend, chat)
    notes = laptop.create_thread(ThreadKind.CHAT, "Notes").thread_id
    laptop.chat(notes).post("a note to myself")
    path = tmp_path / "alice.threads-backup"

    async def main() -> None:
        async with serving(friend) as friend_net, serving(laptop) as laptop_net:
            laptop.peers.remember(chat, friend.identity.peer_id, friend_net.listen_addresses())
            size = await export_backup(laptop, path, PASSPHRASE, laptop.listen_addresses)
            assert size == path.stat().st_size and path.stat().st_mode & 0o077 == 0
            async with serving(restored) as restored_net:
                await restore_backup(restored, path, PASSPHRASE, "Restored laptop", 1_765_000_000_000)
                restored_net.peers_changed()
                await wait_until(restored, lambda: texts(restored, chat) == ["from the friend", "from the laptop"]
                                 and texts(restored, notes) == ["a note to myself"], timeout=SYNC_SECONDS)
                restored.chat(chat).post("from the restored device")
                await wait_until(friend, lambda: "from the restored device" in texts(friend, chat),
                                 timeout=SYNC_SECONDS)
        del laptop_net

    trio.run(main)
    # A new device of the same person, with its own identity.
    assert restored.persons.person_id == peer(laptop) and peer(restored) != peer(laptop)
    assert restored.display_name() == "Alice"
    assert {t.thread_id for t in restored.list_threads()} == {chat, notes}
    assert {m.peer_id for m in friend.membership.members(chat)} == {peer(friend), peer(laptop)}


@pytest.fixture
def backup_file(open_node: OpenNode, tmp_path: Path) -> Path:
    laptop = open_node("laptop")
    laptop.chat(laptop.create_thread(ThreadKind.CHAT, "Notes").thread_id).post("a note")
    path = tmp_path / "alice.threads-backup"
    trio.run(export_backup, laptop, path, PASSPHRASE)
    return path


def test_the_passphrase_is_checked_without_writing_anything(backup_file: Path, open_node: OpenNode) -> None:
    fresh = open_node("fresh")
    before = _profile_rows(fresh)
    bundle = trio.run(read_backup, backup_file, PASSPHRASE)
    assert [t.name for t in bundle.threads] == ["Notes"]
    assert _profile_rows(fresh) == before


@pytest.mark.parametrize("damage", ["wrong passphrase", "header", "salt", "nonce", "ciphertext", "tag", "truncated"])
def test_a_wrong_passphrase_or_a_tampered_backup_changes_nothing(damage: str, backup_file: Path,
                                                                open_node: OpenNode) -> None:
    data = bytearray(backup_file.read_bytes())
    at = {"header": 16, "salt": 30, "nonce": 45, "ciphertext": HEADER_LENGTH + 3, "tag": len(data) - 2}
    if damage in at:
        data[at[damage]] ^= 0x40
    elif damage == "truncated":
        del data[-20:]
    backup_file.write_bytes(bytes(data))
    fresh = open_node("fresh")
    person, before = fresh.persons.person_id, _profile_rows(fresh)
    with pytest.raises(BackupError, match="wrong passphrase or damaged file"):
        trio.run(restore_backup, fresh, backup_file, "not it" if damage == "wrong passphrase" else PASSPHRASE,
                 "Desktop", 1_765_000_000_000)
    assert _profile_rows(fresh) == before and fresh.persons.person_id == person
