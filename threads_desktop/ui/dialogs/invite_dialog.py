"""Invite someone: pick what they may do and for how long; get a QR code and
a link to send, with a Copy button that says it copied."""

from __future__ import annotations

import asyncio

from PySide6.QtCore import Qt, QTimer, Signal
from PySide6.QtGui import QGuiApplication, QPixmap
from PySide6.QtWidgets import (
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from threads_desktop.engine.acl.crdt import Role
from threads_desktop.engine.core.errors import ThreadsError
from threads_desktop.engine.core.types import ThreadSummary
from threads_desktop.ui.engine_client import EngineClient

DAY = 24 * 3600.0
QR_PNG_SCALE = 4  # pixels per module in the engine's PNG
QR_SIDE = 320  # about this many pixels on screen


class InviteDialog(QDialog):
    link_ready = Signal(str)
    failed = Signal(str)

    def __init__(self, client: EngineClient, summary: ThreadSummary, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._client = client
        self._summary = summary
        self._task: asyncio.Task[None] | None = None
        self.setWindowTitle(self.tr("Invite to “%1”").replace("%1", summary.name or ""))
        self.setMinimumWidth(460)
        self.role = QComboBox()
        self.role.addItem(self.tr("Can add photos and messages"), Role.WRITE)
        self.role.addItem(self.tr("View only"), Role.READ)
        self.role.addItem(self.tr("Backup device (stores, cannot read)"), Role.FOLLOW)
        self.expiry = QComboBox()
        for label, seconds in ((self.tr("1 day"), DAY), (self.tr("7 days"), 7 * DAY), (self.tr("30 days"), 30 * DAY),
                               (self.tr("Never"), None)):
            self.expiry.addItem(label, seconds)
        self.expiry.setCurrentIndex(1)
        form = QFormLayout()
        form.addRow(self.tr("They can:"), self.role)
        form.addRow(self.tr("Link works for:"), self.expiry)
        self.create_button = QPushButton(self.tr("Create invite"))
        self.create_button.setDefault(True)
        self.create_button.clicked.connect(self._create)
        self.qr = QLabel()
        self.qr.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.qr.hide()
        self.link = QLineEdit()
        self.link.setReadOnly(True)
        self.link.setPlaceholderText(self.tr("The link appears here"))
        self.copy_button = QPushButton(self.tr("Copy link"))
        self.copy_button.setEnabled(False)
        self.copy_button.clicked.connect(self.copy_link)
        self.copied = QLabel(self.tr("Copied"))
        self.copied.hide()
        self.error = QLabel()
        self.error.setStyleSheet("color: #b3261e")
        self.error.setWordWrap(True)
        self.error.hide()
        hint = QLabel(self.tr("Send the link over a channel you trust, or let them scan the code: "
                              "whoever has it can join."))
        hint.setWordWrap(True)
        hint.setEnabled(False)
        row = QHBoxLayout()
        row.addWidget(self.link, 1)
        row.addWidget(self.copy_button)
        row.addWidget(self.copied)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addLayout(form)
        layout.addWidget(self.create_button)
        layout.addWidget(self.qr)
        layout.addLayout(row)
        layout.addWidget(self.error)
        layout.addWidget(hint)
        layout.addWidget(buttons)
        self._copied_timer = QTimer(self)
        self._copied_timer.setSingleShot(True)
        self._copied_timer.timeout.connect(self.copied.hide)

    def _create(self) -> None:
        self.create_button.setEnabled(False)
        self.error.hide()
        self._task = asyncio.ensure_future(self._make_link())

    async def _make_link(self) -> None:
        try:
            text, png = await self._client.invite(self._summary.thread_id, self.role.currentData(),
                                                  self.expiry.currentData())
        except ThreadsError as exc:
            self.error.setText(str(exc))
            self.error.show()
            self.create_button.setEnabled(True)
            self.failed.emit(str(exc))
            return
        pixmap = QPixmap()
        pixmap.loadFromData(png, "PNG")
        # Whole modules per pixel, so the code stays crisp for a camera.
        modules = max(1, pixmap.width() // QR_PNG_SCALE)
        side = modules * max(2, QR_SIDE // modules)
        self.qr.setPixmap(pixmap.scaled(side, side, Qt.AspectRatioMode.KeepAspectRatio,
                                        Qt.TransformationMode.FastTransformation))
        self.qr.show()
        self.link.setText(text)
        self.link.setCursorPosition(0)
        self.copy_button.setEnabled(True)
        self.create_button.setText(self.tr("Create another"))
        self.create_button.setEnabled(True)
        self.link_ready.emit(text)

    def copy_link(self) -> None:
        QGuiApplication.clipboard().setText(self.link.text())
        self.copied.show()
        self._copied_timer.start(2500)
