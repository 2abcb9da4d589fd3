"""A backup names where the device that made it listens, whoever asks for
it (the window's Backup page passes no addresses): a restore while the old
device still runs finds it directly, not only through other peers."""

from __future__ import annotations

from pathlib import Path

import trio

from tests.engine.net.running import serving
from tests.engine.persons.test_two_devices import OpenNode
from threads_desktop.engine.core.types import ThreadKind
from threads_desktop.engine.persons.backup import open_backup
from threads_desktop.engine.persons.bundle import PersonBundle
from threads_desktop.engine.persons.flows import export_backup


def test_a_backup_exported_without_addresses_names_where_its_device_listens(
        open_node: OpenNode, tmp_path: Path) -> None:
    laptop = open_node("laptop")
    notes = laptop.create_thread(ThreadKind.CHAT, "Notes").thread_id
    path = tmp_path / "alice.threads-backup"

    async def main() -> list[str]:
        async with serving(laptop) as network:
            await export_backup(laptop, path, "correct horse battery staple")  # as ui/operations/backup.py does
            return network.listen_addresses()

    listening = trio.run(main)

    bundle = PersonBundle.from_bytes(open_backup(path.read_bytes(), "correct horse battery staple"))
    [own] = [p for p in bundle.peers if p.peer == laptop.identity.peer_id]
    assert notes in own.threads
    assert set(own.addresses) & set(listening)
