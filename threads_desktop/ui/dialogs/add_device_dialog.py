"""Add a device: a one-use link and its QR code for the other computer,
how long it still works, and, as soon as that computer has become one of
this person's devices, "Bob's desktop was added". Waiting needs no call of
its own: every change set reloads the device list (one load at a time) and
a device that was not there before is the one added."""

from __future__ import annotations

import asyncio
import time

from PySide6.QtCore import Qt, QTimer, Signal
from PySide6.QtGui import QGuiApplication, QPixmap
from PySide6.QtWidgets import (
    QDialog,
    QDialogButtonBox,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from threads_desktop.engine.core.errors import ThreadsError
from threads_desktop.engine.core.types import ChangeSet
from threads_desktop.ui.engine_client import EngineClient
from threads_desktop.ui.models.coalescing_load import CoalescingLoad
from threads_desktop.ui.models.my_device_model import device_name
from threads_desktop.ui.operations import devices as device_ops
from threads_desktop.ui.refusals import explain

QR_PNG_SCALE = 4  # pixels per module in the engine's PNG (acl.links.qr_png_bytes)
QR_SIDE = 280
_ERROR_STYLE = "color: #b3261e"


def minutes_left(expires_ms: int, now: float) -> int:
    """Whole minutes the link still works, rounded up (0 once expired)."""
    left = expires_ms / 1000 - now
    return 0 if left <= 0 else int(-(-left // 60))


class AddDeviceDialog(QDialog):
    link_ready = Signal(str)
    device_added = Signal(str, str)  # device ID, its name
    failed = Signal(str)

    def __init__(self, client: EngineClient, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._client = client
        self._offer: device_ops.DeviceLinkOffer | None = None
        self._known: set[str] | None = None  # device IDs before the link was made
        self._unused_link = False  # a link is out and no device came with it yet
        self.revoking: asyncio.Task[None] | None = None  # closed unused: its link being stopped
        self._task: asyncio.Task[None] | None = None
        self._closed = False
        self.setWindowTitle(self.tr("Add a device"))
        self.setMinimumWidth(460)
        self.intro = intro = QLabel(self.tr(
            "On the other computer, install Threads and choose “Add this computer to my devices” when it first "
            "starts (or File > Join by Link…). Then scan this code or paste the link there, and keep this window "
            "open until it is added. It will see every album and chat you are in, and can add and remove devices, "
            "just like this one."))
        intro.setWordWrap(True)
        self.qr = QLabel()
        self.qr.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.qr.setMinimumHeight(QR_SIDE)
        self.link = QLineEdit()
        self.link.setReadOnly(True)
        self.link.setPlaceholderText(self.tr("Making a link…"))
        self.copy_button = QPushButton(self.tr("Copy link"))
        self.copy_button.setEnabled(False)
        self.copy_button.clicked.connect(self.copy_link)
        row = QHBoxLayout()
        row.addWidget(self.link, 1)
        row.addWidget(self.copy_button)
        self.expiry = QLabel()
        self.expiry.setEnabled(False)
        self.status = QLabel()
        self.status.setWordWrap(True)
        self.status.setTextFormat(Qt.TextFormat.PlainText)  # a device's name comes from that device
        self.again_button = QPushButton(self.tr("Make a new link"))
        self.again_button.hide()
        self.again_button.clicked.connect(self.make_link)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        buttons.rejected.connect(self.reject)
        self.close_button = buttons.button(QDialogButtonBox.StandardButton.Close)
        self.offer = QWidget()  # the QR code, the link and how long it works: hidden once used
        offer_layout = QVBoxLayout(self.offer)
        offer_layout.setContentsMargins(0, 0, 0, 0)
        offer_layout.addWidget(self.qr)
        offer_layout.addLayout(row)
        offer_layout.addWidget(self.expiry)
        layout = QVBoxLayout(self)
        layout.addWidget(intro)
        layout.addWidget(self.offer)
        layout.addWidget(self.status)
        layout.addWidget(self.again_button, 0, Qt.AlignmentFlag.AlignLeft)
        layout.addWidget(buttons)
        self._ticker = QTimer(self)
        self._ticker.setInterval(10_000)
        self._ticker.timeout.connect(self._say_expiry)
        self._devices = CoalescingLoad(lambda: self._client.run(device_ops.my_devices), self._check_added,
                                       alive=lambda: not self._closed, loaded=lambda: None)
        client.changed.connect(self._on_changes)
        self.make_link()

    def make_link(self) -> None:
        if self._task is not None and not self._task.done():
            return
        self.again_button.hide()
        self.intro.show()
        self.offer.show()
        self.status.setStyleSheet("")
        self.status.setText("")
        self._task = asyncio.ensure_future(self._make_link())

    async def _make_link(self) -> None:
        try:
            known = await self._client.run(device_ops.my_devices)
            offer = await self._client.run(device_ops.new_device_link)
        except ThreadsError as exc:
            self._fail(explain(exc))
            return
        if offer is None:  # the network is still starting, or cannot listen
            self.offer.hide()
            self.status.setText(self.tr("This computer is not online yet, so the other one could not reach it. "
                                        "Try again in a moment."))
            self.again_button.setText(self.tr("Try again"))
            self.again_button.show()
            return
        self._known = {d.device_id for d in known}
        self._offer = offer
        self._unused_link = True
        pixmap = QPixmap()
        pixmap.loadFromData(offer.qr_png, "PNG")
        modules = max(1, pixmap.width() // QR_PNG_SCALE)  # whole pixels per module: crisp for a camera
        side = modules * max(2, QR_SIDE // modules)
        self.qr.setPixmap(pixmap.scaled(side, side, Qt.AspectRatioMode.KeepAspectRatio,
                                        Qt.TransformationMode.FastTransformation))
        self.link.setText(offer.link)
        self.link.setCursorPosition(0)
        self.copy_button.setEnabled(True)
        self.status.setText(self.tr("Waiting for the other computer…"))
        self._say_expiry()
        self._ticker.start()
        self.link_ready.emit(offer.link)

    def _say_expiry(self) -> None:
        if self._offer is None:
            return
        left = minutes_left(self._offer.expires_ms, time.time())
        if left == 0:
            self._ticker.stop()
            self.expiry.setText(self.tr("This link has expired."))
            self.status.setText(self.tr("Make a new link to add a device."))
            self.again_button.show()
            self.copy_button.setEnabled(False)
            return
        self.expiry.setText(self.tr("Works once, for the next minute.") if left == 1 else
                            self.tr("Works once, for the next %1 minutes.").replace("%1", str(left)))

    def copy_link(self) -> None:
        QGuiApplication.clipboard().setText(self.link.text())
        self.copy_button.setText(self.tr("Copied"))
        QTimer.singleShot(2_000, lambda: self.copy_button.setText(self.tr("Copy link")))

    def _on_changes(self, _changes: ChangeSet) -> None:
        if self._known is not None:
            self._devices.refresh()

    def _check_added(self, devices: list[device_ops.MyDevice]) -> None:
        if self._known is None:
            return
        new = [d for d in devices if d.device_id not in self._known and not d.removed]
        if not new:
            return
        added = new[0]
        self._known.add(added.device_id)
        self._unused_link = False
        self._ticker.stop()
        self.expiry.setText("")
        self.status.setText(self.tr("“%1” was added. Your albums and chats are on their way to it.")
                            .replace("%1", device_name(added)))
        self.copy_button.setEnabled(False)
        self.link.clear()
        self.qr.clear()
        self.offer.hide()
        self.intro.hide()  # how to add one: done; the dialog shrinks to what happened (wrapped text clipped)
        self.adjustSize()
        self.again_button.setText(self.tr("Add another device"))
        self.again_button.show()
        self.device_added.emit(added.device_id, device_name(added))

    async def _revoke(self) -> None:
        try:
            await self._client.run(device_ops.revoke_device_links)
        except ThreadsError:  # the engine stopped: an open link expires within 15 minutes anyway
            pass

    def _fail(self, message: str) -> None:
        self.status.setStyleSheet(_ERROR_STYLE)
        self.status.setText(message)
        self.again_button.show()
        self.failed.emit(message)

    def done(self, result: int) -> None:
        if self._unused_link:  # closed while waiting: the link it showed stops working
            self._unused_link = False
            self.revoking = asyncio.ensure_future(self._revoke())
        self._closed = True
        self._ticker.stop()
        if self._task is not None and not self._task.done():
            self._task.cancel()
        try:
            self._client.changed.disconnect(self._on_changes)
        except (RuntimeError, TypeError):  # already disconnected
            pass
        super().done(result)
