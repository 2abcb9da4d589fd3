"""The bar across the window of a computer that another of the person's
devices removed: "Removed from Alice's devices on 6 Dec", that what it
kept stays read-only, and "Remove from this computer", which deletes every
album and chat it kept. It loads itself and follows change sets, so the
window only places it."""

from __future__ import annotations

import asyncio

from PySide6.QtCore import Signal
from PySide6.QtWidgets import QFrame, QMessageBox, QWidget

from threads_desktop.engine.core.errors import ThreadsError
from threads_desktop.engine.core.types import ChangeSet
from threads_desktop.ui.engine_client import EngineClient
from threads_desktop.ui.models.coalescing_load import CoalescingLoad
from threads_desktop.ui.operations import devices as device_ops
from threads_desktop.ui.refusals import explain
from threads_desktop.ui.widgets.removal_banner import banner_parts


class RemovedDeviceBanner(QFrame):
    loaded = Signal()
    cleared = Signal(int)  # how many albums and chats were deleted from this computer
    failed = Signal(str)

    def __init__(self, client: EngineClient, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._client = client
        self._closed = False
        self._task: asyncio.Task[None] | None = None
        self.confirm_box: QMessageBox | None = None
        self.headline, self.detail, self.remove_button = banner_parts(self, self.tr("Remove from this computer…"))
        self.detail.setText(self.tr("This computer no longer receives new photos and messages. What it kept "
                                    "stays here, read-only, until you remove it."))
        self.remove_button.clicked.connect(self.ask_remove)
        self._load = CoalescingLoad(lambda: self._client.run(device_ops.removed_notice), self._show,
                                    alive=lambda: not self._closed, loaded=self.loaded.emit)
        client.changed.connect(self._on_changes)
        self.destroyed.connect(self._stop)
        self._load.refresh()

    def _on_changes(self, changes: ChangeSet) -> None:
        # Only then: removed_notice reads every thread until it knows, and a
        # removal this device learns publishes `devices`.
        if changes.devices:
            self._load.refresh()

    def _show(self, notice: str | None) -> None:
        self.headline.setText(notice or "")
        self.setVisible(notice is not None)

    def ask_remove(self) -> QMessageBox:
        box = QMessageBox(QMessageBox.Icon.Warning, self.tr("Remove from this computer"),
                          self.tr("Delete every album and chat this computer kept?"),
                          QMessageBox.StandardButton.Cancel, self)
        box.setInformativeText(self.tr("They stay on your other devices and with the people you share them "
                                       "with. This cannot be undone."))
        remove = box.addButton(self.tr("Delete"), QMessageBox.ButtonRole.DestructiveRole)
        box.setDefaultButton(QMessageBox.StandardButton.Cancel)
        remove.clicked.connect(self._start_remove)
        self.confirm_box = box
        box.open()  # never exec(): no nested loop inside qasync
        return box

    def _start_remove(self) -> None:
        if self._task is not None and not self._task.done():
            return
        self.remove_button.setEnabled(False)
        self._task = asyncio.ensure_future(self._remove())

    async def _remove(self) -> None:
        try:
            count = await self._client.run(device_ops.forget_removed_device)
        except ThreadsError as exc:
            self.failed.emit(explain(exc))
            return
        finally:
            self.remove_button.setEnabled(True)
        self.detail.setText(self.tr("Everything it kept was deleted from this computer."))
        self.remove_button.hide()
        self.cleared.emit(count)

    def _stop(self) -> None:
        self._closed = True
