"""The Devices window against real engines on 127.0.0.1: a peer we share
an album with is listed by name, how it is connected and what it shares,
and shown offline (since when) once it stops; the window and the status
bar's network corner say when this device relies on relays."""

from __future__ import annotations

import asyncio
import re
from typing import Any

import qasync
import trio
from PySide6.QtCore import Qt

from threads_desktop.engine.core.members import Role
from threads_desktop.engine.core.types import NetworkStatus, ThreadKind
from threads_desktop.engine.node import Node
from threads_desktop.engine.runtime import EngineRuntime
from threads_desktop.ui.dialogs.devices_dialog import DevicesDialog
from threads_desktop.ui.engine_client import EngineClient
from threads_desktop.ui.models.device_model import DeviceRole
from threads_desktop.ui.views.main_window import MainWindow
from threads_desktop.ui.widgets.network_status import NetworkStatusWidget

WAIT_MS = 20_000


def _call(qtbot, engine: EngineRuntime, fn, *args) -> Any:  # type: ignore[no-untyped-def]
    future = asyncio.ensure_future(engine.call(fn, *args))
    qtbot.waitUntil(future.done, timeout=WAIT_MS)
    return future.result()


async def _listening(node: Node) -> list[str]:
    with trio.fail_after(WAIT_MS / 1000):
        while not node.listen_addresses:
            await trio.sleep(0.02)
    return list(node.listen_addresses)


def _share_an_album(qtbot, a: EngineRuntime, b: EngineRuntime) -> None:  # type: ignore[no-untyped-def]
    _call(qtbot, a, Node.set_display_name, "Alice")
    album = _call(qtbot, a, Node.create_thread, ThreadKind.ALBUM, "Holidays").thread_id
    _call(qtbot, a, _listening)
    link = _call(qtbot, a, lambda node: node.invite(album, Role.WRITE))
    _call(qtbot, b, lambda node: node.join(link))


def test_a_peer_is_listed_by_name_with_its_connection_and_albums_then_offline_since(  # type: ignore[no-untyped-def]
        qtbot, qt_loop: qasync.QEventLoop, two_app_engines: tuple[EngineRuntime, EngineRuntime]) -> None:
    a, b = two_app_engines
    dialog = DevicesDialog(EngineClient(b, qt_loop))
    qtbot.addWidget(dialog)
    with qtbot.waitSignal(dialog.loaded, timeout=WAIT_MS):
        dialog.show()
    assert dialog.model.rowCount() == 0 and dialog.empty.isVisible()

    _share_an_album(qtbot, a, b)
    model = dialog.model
    qtbot.waitUntil(lambda: model.rowCount() == 1 and model.index(0).data(DeviceRole.PROGRESS_TEXT) == "Up to date",
                    timeout=WAIT_MS)
    row = model.index(0)
    assert row.data(Qt.ItemDataRole.DisplayRole) == "Alice"  # her name, never her peer ID
    assert row.data(DeviceRole.CONNECTION_TEXT) == "Same network"  # 127.0.0.1 is this machine
    assert row.data(DeviceRole.SHARED_TEXT) == "Holidays"
    assert row.data(DeviceRole.THREADS) == [("Holidays", "up to date")]
    assert not dialog.empty.isVisible()
    assert dialog.view.visualRect(row).height() > 0  # painted by the delegate, not an empty row

    a.stop()  # Alice quits
    qtbot.waitUntil(lambda: model.index(0).data(DeviceRole.CONNECTION) == "offline", timeout=WAIT_MS)
    row = model.index(0)
    assert re.fullmatch(r"Offline since \d\d:\d\d", row.data(DeviceRole.CONNECTION_TEXT))
    assert row.data(Qt.ItemDataRole.DisplayRole) == "Alice" and row.data(DeviceRole.PROGRESS_TEXT) == ""


def test_the_view_menu_and_the_status_bar_open_the_devices_window(  # type: ignore[no-untyped-def]
        qtbot, window: MainWindow) -> None:
    window.devices_action.trigger()
    dialog = window.devices_dialog
    assert dialog is not None and dialog.isVisible()
    assert "&Devices…" in [a.text() for menu in window.menuBar().actions() if menu.text() == "&View"
                           for a in menu.menu().actions()]
    dialog.close()
    qtbot.mouseClick(window.network_status.label, Qt.MouseButton.LeftButton)
    assert window.devices_dialog is dialog and dialog.isVisible()  # one window, shown again


def test_the_status_bar_says_when_this_device_relies_on_relays(qtbot) -> None:  # type: ignore[no-untyped-def]
    corner = NetworkStatusWidget()
    qtbot.addWidget(corner)
    corner.show()
    corner.show_status(NetworkStatus(online=True, peers=1))
    assert not corner.reachability.isVisible()  # unknown (or reachable): nothing is said
    corner.show_status(NetworkStatus(online=True, peers=1, reachability="unreachable"))
    assert corner.reachability.isVisible() and corner.reachability.text() == "Reached through relays"
    corner.show_status(NetworkStatus(online=True, peers=1, reachability="reachable"))
    assert not corner.reachability.isVisible()
