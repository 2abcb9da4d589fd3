"""Settings > Devices: the computers that are this person (this one first,
marked "This computer"), "Add a device…" and "Remove…" with a confirmation.
This computer's own row cannot be removed here: removing a device is done
from another one, which then rotates the keys it held."""

from __future__ import annotations

import asyncio

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QAbstractItemView,
    QHBoxLayout,
    QLabel,
    QListView,
    QMessageBox,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from threads_desktop.engine.core.errors import ThreadsError
from threads_desktop.engine.core.types import ChangeSet
from threads_desktop.ui.dialogs.add_device_dialog import AddDeviceDialog
from threads_desktop.ui.engine_client import EngineClient
from threads_desktop.ui.models.coalescing_load import CoalescingLoad
from threads_desktop.ui.models.my_device_model import MyDeviceModel, MyDeviceRole
from threads_desktop.ui.operations import devices as device_ops
from threads_desktop.ui.refusals import explain
from threads_desktop.ui.widgets.my_device_delegate import MyDeviceDelegate

_ERROR_STYLE = "color: #b3261e"


class DevicesPage(QWidget):
    loaded = Signal()
    removed = Signal(str)  # the removed device's name
    failed = Signal(str)

    def __init__(self, client: EngineClient, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._client = client
        self._closed = False
        self._remove_task: asyncio.Task[None] | None = None
        self.add_dialog: AddDeviceDialog | None = None
        self.confirm_box: QMessageBox | None = None
        self.model = MyDeviceModel()
        intro = QLabel(self.tr("Your devices are the computers where you use Threads as yourself. Each one sees "
                               "every album and chat you are in, and others see one of you, not one per device."))
        intro.setWordWrap(True)
        self.list = QListView()
        self.list.setModel(self.model)
        self.list.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.list.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.list.setUniformItemSizes(True)
        self.list.setItemDelegate(MyDeviceDelegate(self.list))
        self.list.setMouseTracking(True)
        self.list.selectionModel().currentChanged.connect(lambda *_: self._update_buttons())
        self.add_button = QPushButton(self.tr("Add a device…"))
        self.add_button.clicked.connect(self.ask_add)
        self.remove_button = QPushButton(self.tr("Remove…"))
        self.remove_button.clicked.connect(self.ask_remove)
        self.status = QLabel()
        self.status.setWordWrap(True)
        self.status.setTextFormat(Qt.TextFormat.PlainText)  # device names come from the devices
        buttons = QHBoxLayout()
        buttons.addWidget(self.add_button)
        buttons.addWidget(self.remove_button)
        buttons.addStretch()
        layout = QVBoxLayout(self)
        layout.addWidget(intro)
        layout.addWidget(self.list, 1)
        layout.addLayout(buttons)
        layout.addWidget(self.status)
        self._load = CoalescingLoad(lambda: self._client.run(device_ops.my_devices), self._show,
                                    alive=lambda: not self._closed, loaded=self.loaded.emit, failed=self._load_failed)
        client.changed.connect(self._on_changes)
        self._update_buttons()
        self._load.refresh()

    def _on_changes(self, changes: ChangeSet) -> None:
        # A device added or removed (here or elsewhere), or one that came online or went.
        if changes.devices or changes.membership or changes.network is not None:
            self._load.refresh()

    def refresh(self) -> None:
        self._load.refresh()

    def _show(self, devices: list[device_ops.MyDevice]) -> None:
        current = self.list.currentIndex().data(MyDeviceRole.DEVICE_ID)
        self.model.set_devices(devices)
        row = self.model.row_of(str(current)) if current else -1
        if row >= 0:
            self.list.setCurrentIndex(self.model.index(row))
        self._update_buttons()

    def _load_failed(self, exc: ThreadsError) -> None:
        self._say_error(explain(exc))

    def select_device(self, device_id: str) -> None:
        row = self.model.row_of(device_id)
        if row >= 0:
            self.list.setCurrentIndex(self.model.index(row))

    def _update_buttons(self) -> None:
        index = self.list.currentIndex()
        busy = self._remove_task is not None and not self._remove_task.done()
        removable = index.isValid() and bool(index.data(MyDeviceRole.REMOVABLE))
        self.remove_button.setEnabled(removable and not busy)
        if index.isValid() and index.data(MyDeviceRole.THIS_DEVICE):
            self.remove_button.setToolTip(self.tr("To remove this computer, use another of your devices"))
        elif index.isValid() and index.data(MyDeviceRole.REMOVED):
            self.remove_button.setToolTip(self.tr("Already removed"))
        else:
            self.remove_button.setToolTip(self.tr("Remove the chosen device, if it was lost, sold or given away"))

    def ask_add(self) -> AddDeviceDialog:
        self.add_dialog = AddDeviceDialog(self._client, self)
        self.add_dialog.device_added.connect(lambda device_id, _name: self._after_add(device_id))
        self.add_dialog.open()
        return self.add_dialog

    def _after_add(self, device_id: str) -> None:
        self._load.refresh()
        self.loaded.connect(lambda: self.select_device(device_id), Qt.ConnectionType.SingleShotConnection)

    def ask_remove(self) -> QMessageBox | None:
        index = self.list.currentIndex()
        if not index.isValid() or not index.data(MyDeviceRole.REMOVABLE):
            return None
        device_id, name = str(index.data(MyDeviceRole.DEVICE_ID)), str(index.data(MyDeviceRole.NAME))
        box = QMessageBox(QMessageBox.Icon.Question, self.tr("Remove a device"),
                          self.tr("Remove “%1” from your devices?").replace("%1", name),
                          QMessageBox.StandardButton.Cancel, self)
        box.setTextFormat(Qt.TextFormat.PlainText)
        box.setInformativeText(self.tr(
            "It will stop receiving new photos and messages, and your albums and chats change their keys. What it "
            "already has stays on it."))
        remove = box.addButton(self.tr("Remove"), QMessageBox.ButtonRole.DestructiveRole)
        box.setDefaultButton(QMessageBox.StandardButton.Cancel)
        remove.clicked.connect(lambda: self._start_remove(device_id, name))
        self.confirm_box = box
        box.open()  # never exec(): no nested loop inside qasync
        return box

    def _start_remove(self, device_id: str, name: str) -> None:
        if self._remove_task is not None and not self._remove_task.done():
            return
        self.status.setStyleSheet("")
        self.status.setText(self.tr("Removing “%1”…").replace("%1", name))
        self._remove_task = asyncio.ensure_future(self._remove(device_id, name))
        self._update_buttons()

    async def _remove(self, device_id: str, name: str) -> None:
        try:
            await self._client.run(device_ops.remove_device, device_id)
        except ThreadsError as exc:
            self._say_error(self.tr("Could not remove “%1”: %2").replace("%1", name).replace("%2", explain(exc)))
            return
        finally:
            self._remove_task = None
            self._update_buttons()
        self.status.setText(self.tr("“%1” was removed. It no longer receives anything new.").replace("%1", name))
        self._load.refresh()
        self.removed.emit(name)

    def _say_error(self, message: str) -> None:
        self.status.setStyleSheet(_ERROR_STYLE)
        self.status.setText(message)
        self.failed.emit(message)

    def stop(self) -> None:
        """The settings dialog closed: stop following change sets."""
        self._closed = True
        if self._remove_task is not None and not self._remove_task.done():
            self._remove_task.cancel()
        try:
            self._client.changed.disconnect(self._on_changes)
        except (RuntimeError, TypeError):
            pass
