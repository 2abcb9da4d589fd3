"""The Settings dialog's buttons fit the tab shown: OK and Cancel where
choices wait for OK (General), a single Close on Devices and Backup, which
act at once (issue 19)."""

from __future__ import annotations

import asyncio
from pathlib import Path

import qasync
from PySide6.QtWidgets import QDialog, QDialogButtonBox

from threads_desktop.engine.node import Node
from threads_desktop.engine.runtime import EngineRuntime
from threads_desktop.ui.dialogs.settings_dialog import SettingsDialog
from threads_desktop.ui.engine_client import EngineClient
from threads_desktop.ui.settings import AppSettings

Button = QDialogButtonBox.StandardButton


def _shown(dialog: SettingsDialog) -> set[Button]:
    return {dialog.buttons.standardButton(b) for b in dialog.buttons.buttons() if not b.isHidden()}


def test_devices_and_backup_offer_close_and_general_ok_and_cancel(  # type: ignore[no-untyped-def]
        qtbot, qt_loop: qasync.QEventLoop, runtime: EngineRuntime, tmp_path: Path) -> None:
    settings = AppSettings.from_file(tmp_path / "settings.ini")
    dialog = SettingsDialog(EngineClient(runtime, qt_loop), settings, page="devices")
    qtbot.addWidget(dialog)
    with qtbot.waitSignal(dialog.loaded, timeout=10_000):
        dialog.open()
    assert _shown(dialog) == {Button.Close}
    dialog.tabs.setCurrentWidget(dialog.backup_page)
    assert _shown(dialog) == {Button.Close}
    dialog.tabs.setCurrentIndex(0)
    assert _shown(dialog) == {Button.Ok, Button.Cancel}

    dialog.display_name.setText("Not kept")  # Close is no OK: what waits on General is not saved
    dialog.tabs.setCurrentWidget(dialog.devices_page)
    with qtbot.waitSignal(dialog.finished, timeout=10_000) as finished:
        dialog.buttons.button(Button.Close).click()
    assert finished.args == [QDialog.DialogCode.Rejected.value]
    name = asyncio.ensure_future(runtime.call(Node.display_name))
    qtbot.waitUntil(name.done, timeout=10_000)
    assert name.result() == ""
