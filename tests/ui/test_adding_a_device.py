"""Adding a device in the window, real engines on 127.0.0.1: Settings >
Devices > Add a device… shows a one-use link and its QR code; the new
computer's first-launch page takes the link, says what it will do, waits
for the other device, and becomes one of the person's devices with every
album; the first device's dialog then says which device was added. A link
used once gives nothing the second time; one whose dialog closed unused
stops working. The join dialog takes a device link as well."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path
from typing import Any

import qasync

from threads_desktop.engine.core.types import ThreadKind
from threads_desktop.engine.node import Node
from threads_desktop.engine.runtime import EngineRuntime
from threads_desktop.ui.dialogs.join_dialog import JoinDialog, read_qr_link
from threads_desktop.ui.engine_client import EngineClient
from threads_desktop.ui.models.my_device_model import MyDeviceRole
from threads_desktop.ui.operations import devices as device_ops
from threads_desktop.ui.widgets.add_computer_page import AddComputerPage
from threads_desktop.ui.widgets.devices_page import DevicesPage

NETWORK_S = 30_000


def _engine(qtbot: Any, client: EngineClient, fn: Any, *args: Any) -> Any:
    task = asyncio.ensure_future(client.run(fn, *args))
    qtbot.waitUntil(task.done, timeout=NETWORK_S)
    return task.result()


def _online(qtbot: Any, client: EngineClient) -> None:
    qtbot.waitUntil(lambda: bool(_engine(qtbot, client, lambda node: node.listen_addresses)), timeout=NETWORK_S)


def test_a_new_computer_becomes_a_device_of_the_person_with_the_link_the_window_shows(  # type: ignore[no-untyped-def]
        qtbot, qt_loop: qasync.QEventLoop, two_app_engines: tuple[EngineRuntime, EngineRuntime],
        tmp_path: Path) -> None:
    laptop, desktop = (EngineClient(engine, qt_loop) for engine in two_app_engines)
    _engine(qtbot, laptop, Node.set_display_name, "Ana")
    album = _engine(qtbot, laptop, Node.create_thread, ThreadKind.ALBUM, "Lisbon")
    _online(qtbot, laptop)
    _online(qtbot, desktop)

    devices = DevicesPage(laptop)
    qtbot.addWidget(devices)
    with qtbot.waitSignal(devices.loaded, timeout=NETWORK_S):
        devices.show()
    dialog = devices.ask_add()
    if not dialog.link.text():
        with qtbot.waitSignal(dialog.link_ready, timeout=NETWORK_S):
            pass
    link = dialog.link.text()
    assert link.startswith("threads://device/") and dialog.expiry.text() == "Works once, for the next 15 minutes."
    assert dialog.status.text() == "Waiting for the other computer…"
    picture = tmp_path / "qr.png"
    assert dialog.qr.pixmap().toImage().save(str(picture)) and read_qr_link(picture) == link  # a camera can read it

    page = AddComputerPage(desktop)
    qtbot.addWidget(page)
    page.show()
    with qtbot.waitSignal(page.checked, timeout=NETWORK_S):
        page.link.setPlainText(f"Here is the link:\n{link}\n")
    assert page.preview.text().startswith(
        "This will make this computer another of your devices (the link came from “Ana”).")
    assert page.add_button.isEnabled()
    added: list[tuple[str, str]] = []
    dialog.device_added.connect(lambda device_id, name: added.append((device_id, name)))
    started = time.perf_counter()
    with qtbot.waitSignal(page.added, timeout=NETWORK_S) as person:
        page.add_button.click()
    print(f"Add this computer, click to added: {time.perf_counter() - started:.2f} s")
    assert person.args == ["Ana"] and page.cancel_button.isHidden() and page.progress.isHidden()
    qtbot.waitUntil(lambda: bool(added), timeout=NETWORK_S)  # the laptop hears of it by its change sets
    added_id, added_name = added[0]
    assert added_id == str(_engine(qtbot, desktop, lambda node: node.identity.peer_id))
    assert dialog.status.text() == f"“{added_name}” was added. Your albums and chats are on their way to it."
    assert dialog.offer.isHidden() and dialog.intro.isHidden()  # the spent link, its code and how to use it are gone
    assert {t.thread_id for t in _engine(qtbot, desktop, Node.list_threads)} == {album.thread_id}
    qtbot.waitUntil(lambda: devices.model.row_of(added_id) >= 0, timeout=NETWORK_S)
    assert devices.model.index(devices.model.row_of(added_id)).data(MyDeviceRole.REMOVABLE)

    # The link is spent: a third computer gets nothing with it.
    again = AddComputerPage(desktop)
    qtbot.addWidget(again)
    with qtbot.waitSignal(again.checked, timeout=NETWORK_S):
        again.link.setPlainText(link)
    assert again.preview.text() == "This computer is already one of these devices."
    dialog.reject()


def test_a_link_whose_dialog_closed_unused_stops_working(  # type: ignore[no-untyped-def]
        qtbot, qt_loop: qasync.QEventLoop, two_app_engines: tuple[EngineRuntime, EngineRuntime]) -> None:
    laptop, desktop = (EngineClient(engine, qt_loop) for engine in two_app_engines)
    _online(qtbot, laptop)
    _online(qtbot, desktop)
    devices = DevicesPage(laptop)
    qtbot.addWidget(devices)
    dialog = devices.ask_add()
    with qtbot.waitSignal(dialog.link_ready, timeout=NETWORK_S):
        pass
    link = dialog.link.text()
    dialog.reject()
    assert dialog.revoking is not None
    qtbot.waitUntil(dialog.revoking.done, timeout=NETWORK_S)

    page = AddComputerPage(desktop)
    qtbot.addWidget(page)
    with qtbot.waitSignal(page.checked, timeout=NETWORK_S):
        page.link.setPlainText(link)
    with qtbot.waitSignal(page.failed, timeout=NETWORK_S) as failed:
        page.add_button.click()
    assert failed.args == ["Your other device does not know this link. Make a new one there."]
    assert _engine(qtbot, desktop, Node.list_threads) == []
    assert page.add_button.isEnabled() and not page.back_button.isHidden()


def test_the_join_dialog_takes_a_device_link_too(  # type: ignore[no-untyped-def]
        qtbot, qt_loop: qasync.QEventLoop, two_app_engines: tuple[EngineRuntime, EngineRuntime]) -> None:
    laptop, desktop = (EngineClient(engine, qt_loop) for engine in two_app_engines)
    _engine(qtbot, laptop, Node.set_display_name, "Ana")
    _engine(qtbot, laptop, Node.create_thread, ThreadKind.CHAT, "Family")
    _online(qtbot, laptop)
    _online(qtbot, desktop)
    offer = _engine(qtbot, laptop, device_ops.new_device_link)
    assert offer is not None
    link = offer.link

    dialog = JoinDialog(desktop)
    qtbot.addWidget(dialog)
    dialog.open()
    with qtbot.waitSignal(dialog.checked, timeout=NETWORK_S):
        dialog.link_edit.setPlainText(link)
    assert dialog.details.text().startswith(
        "This will make this computer another of your devices (the link came from “Ana”).")
    assert dialog.join_button.text() == "Add this computer" and dialog.join_button.isEnabled()
    with qtbot.waitSignal(dialog.became_device, timeout=NETWORK_S):
        dialog.join_button.click()
    # The chat is here at once; its name comes with its records, synced from the laptop.
    qtbot.waitUntil(lambda: [t.name for t in _engine(qtbot, desktop, Node.list_threads)] == ["Family"],
                    timeout=NETWORK_S)
