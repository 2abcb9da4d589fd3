"""Settings > Devices with a real engine: this computer first, marked and
not removable here; another device of the person is removed after a
confirmation that says what it means, and is then listed as removed."""

from __future__ import annotations

from pathlib import Path

import qasync
from PySide6.QtWidgets import QMessageBox

from tests.ui.waiting import wait_for
from threads_desktop.engine.core.keys import Identity
from threads_desktop.engine.core.types import ThreadKind
from threads_desktop.engine.node import Node
from threads_desktop.engine.runtime import EngineRuntime
from threads_desktop.ui.dialogs.settings_dialog import SettingsDialog
from threads_desktop.ui.engine_client import EngineClient
from threads_desktop.ui.models.my_device_model import MyDeviceRole
from threads_desktop.ui.settings import AppSettings
from threads_desktop.ui.widgets.devices_page import DevicesPage


def _call(qtbot, runtime: EngineRuntime, fn, *args):  # type: ignore[no-untyped-def]
    return wait_for(qtbot, runtime.call(fn, *args), timeout=10_000)


def _certify(node: Node, name: str) -> str:
    """Another computer of this person: its certificate, as the device link's flow makes it."""
    device = Identity.generate().peer_id
    node.persons.issue_cert(device, name)
    return str(device)


def _page(qtbot, qt_loop: qasync.QEventLoop, runtime: EngineRuntime) -> DevicesPage:  # type: ignore[no-untyped-def]
    page = DevicesPage(EngineClient(runtime, qt_loop))
    qtbot.addWidget(page)
    with qtbot.waitSignal(page.loaded, timeout=10_000):
        page.show()
    return page


def test_the_settings_dialog_opens_on_the_devices_tab_with_this_computer_listed(  # type: ignore[no-untyped-def]
        qtbot, qt_loop: qasync.QEventLoop, runtime: EngineRuntime, tmp_path: Path) -> None:
    dialog = SettingsDialog(EngineClient(runtime, qt_loop), AppSettings.from_file(tmp_path / "settings.ini"),
                            page="devices")
    qtbot.addWidget(dialog)
    with qtbot.waitSignal(dialog.devices_page.loaded, timeout=10_000):
        dialog.open()
    assert dialog.tabs.currentWidget() is dialog.devices_page
    assert [dialog.tabs.tabText(i) for i in range(dialog.tabs.count())] == ["General", "Devices", "Backup"]
    model = dialog.devices_page.model
    assert model.rowCount() == 1
    assert model.index(0).data(MyDeviceRole.STATUS_TEXT) == "This computer"
    dialog.reject()


def test_this_computer_cannot_be_removed_here(  # type: ignore[no-untyped-def]
        qtbot, qt_loop: qasync.QEventLoop, runtime: EngineRuntime) -> None:
    page = _page(qtbot, qt_loop, runtime)
    this = _call(qtbot, runtime, lambda node: node.persons.this_device)
    page.select_device(this)
    assert not page.remove_button.isEnabled()
    assert page.remove_button.toolTip() == "To remove this computer, use another of your devices"
    assert page.ask_remove() is None


def test_another_device_is_removed_after_a_confirmation_and_then_shown_removed(  # type: ignore[no-untyped-def]
        qtbot, qt_loop: qasync.QEventLoop, runtime: EngineRuntime) -> None:
    _call(qtbot, runtime, Node.create_thread, ThreadKind.ALBUM, "Lisbon")
    other = _call(qtbot, runtime, _certify, "Bob's desktop")
    page = _page(qtbot, qt_loop, runtime)
    assert page.model.rowCount() == 2
    page.select_device(other)
    assert page.remove_button.isEnabled()
    box = page.ask_remove()
    assert box is not None and box.isVisible() and box.text() == "Remove “Bob's desktop” from your devices?"
    assert "It will stop receiving new photos and messages" in box.informativeText()
    box.button(QMessageBox.StandardButton.Cancel).click()
    assert not page.model.index(page.model.row_of(other)).data(MyDeviceRole.REMOVED)
    box = page.ask_remove()
    assert box is not None
    remove = next(b for b in box.buttons() if b.text() == "Remove")
    with qtbot.waitSignal(page.removed, timeout=10_000) as removed:
        remove.click()
    assert removed.args == ["Bob's desktop"]
    assert page.status.text() == "“Bob's desktop” was removed. It no longer receives anything new."
    qtbot.waitUntil(lambda: bool(page.model.index(page.model.row_of(other)).data(MyDeviceRole.REMOVED)),
                    timeout=10_000)
    row = page.model.index(page.model.row_of(other))
    assert row.data(MyDeviceRole.STATUS_TEXT) == "Removed" and row.row() == 1  # removed ones last
    page.select_device(other)
    assert not page.remove_button.isEnabled() and page.remove_button.toolTip() == "Already removed"
    devices = _call(qtbot, runtime, lambda node: node.persons.devices())
    assert [d.removed for d in devices if d.device_id == other] == [True]


def test_adding_a_device_offline_says_so_and_offers_to_try_again(  # type: ignore[no-untyped-def]
        qtbot, qt_loop: qasync.QEventLoop, runtime: EngineRuntime) -> None:
    page = _page(qtbot, qt_loop, runtime)  # this engine runs no network
    dialog = page.ask_add()
    qtbot.waitUntil(lambda: dialog.again_button.isVisible(), timeout=10_000)
    assert dialog.status.text().startswith("This computer is not online yet")
    assert dialog.offer.isHidden() and dialog.again_button.text() == "Try again" and not dialog.link.text()
    dialog.reject()
