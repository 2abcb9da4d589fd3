"""A backup restored at first launch while the person's other devices are
online: the restored computer dials them at once and its album arrives with
its name, without waiting for a restart or the next pass. Real engines on
127.0.0.1: a laptop, a desktop added as its device, and a fresh computer."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import qasync

from threads_desktop.engine.core.types import ThreadKind
from threads_desktop.engine.node import Node
from threads_desktop.engine.runtime import EngineRuntime
from threads_desktop.ui.engine_client import EngineClient
from threads_desktop.ui.operations import backup as backup_ops
from threads_desktop.ui.operations import devices as device_ops
from threads_desktop.ui.widgets.restore_page import RestorePage

NETWORK_MS = 30_000
PASSPHRASE = "purple elephant dances quietly under mars"


@pytest.fixture
def fresh_engine(tmp_path: Path) -> Iterator[EngineRuntime]:
    """A third profile with the app's network on 127.0.0.1 (as two_app_engines' are)."""
    from threads_desktop.app import background_services
    from threads_desktop.cli.commands import forwarding_handler

    engine = EngineRuntime(lambda: Node.open(tmp_path / "fresh"),
                           background_services(["/ip4/127.0.0.1/tcp/0"], lan_discovery=False,
                                               commands=forwarding_handler))
    engine.start()
    yield engine
    engine.stop()


def _engine(qtbot: Any, client: EngineClient, fn: Any, *args: Any) -> Any:
    task = asyncio.ensure_future(client.run(fn, *args))
    qtbot.waitUntil(task.done, timeout=NETWORK_MS)
    return task.result()


def _online(qtbot: Any, client: EngineClient) -> None:
    qtbot.waitUntil(lambda: bool(_engine(qtbot, client, lambda node: node.listen_addresses)), timeout=NETWORK_MS)


def test_a_restored_computer_gets_its_albums_from_the_persons_devices_at_once(  # type: ignore[no-untyped-def]
        qtbot, qt_loop: qasync.QEventLoop, two_app_engines: tuple[EngineRuntime, EngineRuntime],
        fresh_engine: EngineRuntime, tmp_path: Path) -> None:
    laptop, desktop = (EngineClient(engine, qt_loop) for engine in two_app_engines)
    fresh = EngineClient(fresh_engine, qt_loop)
    _engine(qtbot, laptop, Node.set_display_name, "Ana")
    _engine(qtbot, laptop, Node.create_thread, ThreadKind.ALBUM, "Lisbon")
    for client in (laptop, desktop, fresh):
        _online(qtbot, client)
    offer = _engine(qtbot, laptop, device_ops.new_device_link)
    _engine(qtbot, desktop, device_ops.add_this_computer, offer.link)  # the desktop: a peer of the album now
    qtbot.waitUntil(lambda: [t.name for t in _engine(qtbot, desktop, Node.list_threads)] == ["Lisbon"],
                    timeout=NETWORK_MS)
    backup = tmp_path / "ana.threadsbackup"
    _engine(qtbot, laptop, backup_ops.export_backup, backup, PASSPHRASE)

    page = RestorePage(fresh)
    qtbot.addWidget(page)
    page.file.setText(str(backup))
    page.passphrase.setText(PASSPHRASE)
    with qtbot.waitSignal(page.restored, timeout=NETWORK_MS):
        page.passphrase.returnPressed.emit()  # Enter restores
    # Its name is in the album's records: here only once a device of Ana's served them.
    qtbot.waitUntil(lambda: [t.name for t in _engine(qtbot, fresh, Node.list_threads)] == ["Lisbon"],
                    timeout=10_000)
