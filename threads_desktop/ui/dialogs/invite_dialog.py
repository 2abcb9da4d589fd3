"""Invite someone: pick what they may do and for how long; then either invite
a peer found nearby directly (it accepts or declines in its app) or get a QR
code and a link to send, with a Copy button that says it copied."""

from __future__ import annotations

import asyncio

from PySide6.QtCore import Qt, QTimer, Signal
from PySide6.QtGui import QGuiApplication, QPixmap
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QFormLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QMessageBox,
    QPushButton,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from threads_desktop.engine.core.errors import ThreadsError
from threads_desktop.engine.core.members import Role
from threads_desktop.engine.core.types import ThreadSummary
from threads_desktop.ui.engine_client import EngineClient
from threads_desktop.ui.models.nearby_model import NearbyFeed, NearbyRole
from threads_desktop.ui.operations import invites as invite_ops
from threads_desktop.ui.refusals import explain
from threads_desktop.ui.widgets.nearby_list import nearby_view

DAY = 24 * 3600.0
QR_PNG_SCALE = 4  # pixels per module in the engine's PNG
QR_SIDE = 320  # about this many pixels on screen
_ERROR_STYLE = "color: #b3261e"
MAX_USES = 1000  # as the engine and the CLI's --uses allow


class InviteDialog(QDialog):
    link_ready = Signal(str)
    failed = Signal(str)  # the link could not be made
    invitation_sent = Signal(str)  # peer ID invited directly
    invitation_failed = Signal(str)  # why a direct invite did not go out
    links_reset = Signal(int)  # how many open links "Reset links" revoked

    def __init__(self, client: EngineClient, summary: ThreadSummary, parent: QWidget | None = None,
                 peer_id: str | None = None) -> None:
        """`peer_id`: a nearby peer to preselect (the sidebar's Invite…)."""
        super().__init__(parent)
        self._client = client
        self._summary = summary
        self._task: asyncio.Task[None] | None = None
        self._direct_task: asyncio.Task[None] | None = None
        self._reset_task: asyncio.Task[None] | None = None
        self.reset_box: QMessageBox | None = None
        self._preselect = peer_id
        self.setWindowTitle(self.tr("Invite to “%1”").replace("%1", summary.name or ""))
        self.setMinimumWidth(480)
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
        form.addRow(self.tr("Invitation works for:"), self.expiry)
        self.uses = QSpinBox()
        self.uses.setRange(1, MAX_USES)
        self.uses.setValue(1)
        form.addRow(self.tr("How many people can join with it:"), self.uses)
        self.approve = QCheckBox(self.tr("Approve each person who joins"))
        self.approve.setToolTip(self.tr("Before anyone gets in with the link, you (or another admin) see "
                                        "their name and approve or decline them"))
        form.addRow("", self.approve)
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
        self.error.setStyleSheet(_ERROR_STYLE)
        self.error.setWordWrap(True)
        self.error.hide()
        hint = QLabel()
        hint.setWordWrap(True)
        hint.setEnabled(False)
        self.hint = hint
        self.approve.toggled.connect(self._say_who_gets_in)
        self._say_who_gets_in(False)
        row = QHBoxLayout()
        row.addWidget(self.link, 1)
        row.addWidget(self.copy_button)
        row.addWidget(self.copied)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        buttons.rejected.connect(self.reject)
        self.reset_button = QPushButton(self.tr("Reset links…"))
        self.reset_button.setToolTip(self.tr("Stop every invite link of this album or chat that still lets "
                                             "someone in"))
        self.reset_button.clicked.connect(self.ask_reset)
        self.reset_status = QLabel()  # beside the button: the dialog keeps its size when it speaks
        self.reset_status.setWordWrap(True)
        bottom = QHBoxLayout()
        bottom.addWidget(self.reset_button)
        bottom.addWidget(self.reset_status, 1)
        bottom.addWidget(buttons)
        by_link = QGroupBox(self.tr("By link or QR code"))
        link_layout = QVBoxLayout(by_link)
        link_layout.addWidget(self.create_button)
        link_layout.addWidget(self.qr)
        link_layout.addLayout(row)
        link_layout.addWidget(self.error)
        link_layout.addWidget(hint)
        layout = QVBoxLayout(self)
        layout.addLayout(form)
        layout.addWidget(self._nearby_section())
        layout.addWidget(by_link)
        layout.addLayout(bottom)
        self._copied_timer = QTimer(self)
        self._copied_timer.setSingleShot(True)
        self._copied_timer.timeout.connect(self.copied.hide)

    def _say_who_gets_in(self, approving: bool) -> None:
        self.hint.setText(
            self.tr("Send the link over a channel you trust, or let them scan the code: whoever has it can ask "
                    "to join, and you see their name and decide.") if approving else
            self.tr("Send the link over a channel you trust, or let them scan the code: whoever has it can join."))

    def _nearby_section(self) -> QGroupBox:
        box = QGroupBox(self.tr("Nearby"))
        self.nearby_feed = NearbyFeed(self._client, self)
        self.nearby_feed.loaded.connect(self._on_nearby_loaded)
        self.nearby = nearby_view(self.nearby_feed.model)
        self.nearby.setFixedHeight(3 * 38 + 4)
        self.nearby.selectionModel().currentChanged.connect(lambda *_: self._update_invite_button())
        self.nearby.doubleClicked.connect(lambda _index: self.invite_selected())
        self.nearby_empty = QLabel(self.tr("No one nearby. People on this network running Threads appear here."))
        self.nearby_empty.setWordWrap(True)
        self.nearby_empty.setEnabled(False)
        self.invite_button = QPushButton(self.tr("Invite"))
        self.invite_button.setEnabled(False)
        self.invite_button.clicked.connect(self.invite_selected)
        self.nearby_status = QLabel()
        self.nearby_status.setWordWrap(True)
        self.nearby_status.setTextFormat(Qt.TextFormat.PlainText)  # names come from peers
        row = QHBoxLayout()
        row.addWidget(self.nearby_status, 1)
        row.addWidget(self.invite_button)
        layout = QVBoxLayout(box)
        layout.addWidget(self.nearby)
        layout.addWidget(self.nearby_empty)
        layout.addLayout(row)
        self._on_nearby_loaded()
        return box

    def _on_nearby_loaded(self) -> None:
        model = self.nearby_feed.model
        if self._preselect is not None:
            row = model.row_of(self._preselect)
            if row >= 0:
                self.nearby.setCurrentIndex(model.index(row))
                self._preselect = None
        empty = model.rowCount() == 0
        self.nearby.setVisible(not empty)
        self.nearby_empty.setVisible(empty)
        self._update_invite_button()

    def _update_invite_button(self) -> None:
        sending = self._direct_task is not None and not self._direct_task.done()
        self.invite_button.setEnabled(self.nearby.currentIndex().isValid() and not sending)

    def selected_peer(self) -> str | None:
        index = self.nearby.currentIndex()
        return str(index.data(NearbyRole.PEER_ID)) if index.isValid() else None

    def invite_selected(self) -> None:
        """Send the selected nearby peer an invitation with the role and
        expiry chosen above."""
        index = self.nearby.currentIndex()
        if not index.isValid() or (self._direct_task is not None and not self._direct_task.done()):
            return
        peer_id, name = str(index.data(NearbyRole.PEER_ID)), str(index.data(NearbyRole.NAME))
        self.nearby_status.setStyleSheet("")
        self.nearby_status.setText(self.tr("Sending an invitation to %1…").replace("%1", name))
        self._direct_task = asyncio.ensure_future(
            self._send_direct(peer_id, name, self.role.currentData(), self.expiry.currentData()))
        self._update_invite_button()

    async def _send_direct(self, peer_id: str, name: str, role: Role, expires_in: float | None) -> None:
        try:
            await self._client.run(invite_ops.invite_nearby, self._summary.thread_id, peer_id, role, expires_in)
        except ThreadsError as exc:
            self.nearby_status.setStyleSheet(_ERROR_STYLE)
            self.nearby_status.setText(self.tr("Could not invite %1: %2").replace("%1", name)
                                       .replace("%2", explain(exc)))
            self.invitation_failed.emit(explain(exc))
            return
        finally:
            self._direct_task = None
            self._update_invite_button()
        self.nearby_status.setText(self.tr("Invitation sent to %1. They can accept it in their app.")
                                   .replace("%1", name))
        self.invitation_sent.emit(peer_id)

    def _create(self) -> None:
        self.create_button.setEnabled(False)
        self.error.hide()
        self._task = asyncio.ensure_future(self._make_link())

    async def _make_link(self) -> None:
        try:
            text, png = await self._client.invite(self._summary.thread_id, self.role.currentData(),
                                                  self.expiry.currentData(), self.uses.value(),
                                                  self.approve.isChecked())
        except ThreadsError as exc:
            self.error.setText(explain(exc))
            self.error.show()
            self.create_button.setEnabled(True)
            self.failed.emit(explain(exc))
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

    def ask_reset(self) -> None:
        """Count the open links, then ask before revoking them all."""
        if self._reset_task is not None and not self._reset_task.done():
            return
        self.reset_button.setEnabled(False)
        self._reset_task = asyncio.ensure_future(self._count_then_ask())

    async def _count_then_ask(self) -> None:
        try:
            count = await self._client.run(invite_ops.open_links, self._summary.thread_id)
        except ThreadsError as exc:
            self._say_reset(explain(exc), error=True)
            return
        if count == 0:
            self._say_reset(self.tr("There are no open invite links to reset."))
            return
        name = self._summary.name or ""
        box = QMessageBox(QMessageBox.Icon.Question, self.tr("Reset links"),
                          (self.tr("Stop the open invite link to “%1”? Nobody can join with it any more; "
                                   "people already in stay in.") if count == 1 else
                           self.tr("Stop all %2 open invite links to “%1”? Nobody can join with them any "
                                   "more; people already in stay in.")).replace("%1", name)
                          .replace("%2", str(count)),
                          QMessageBox.StandardButton.Cancel, self)
        reset = box.addButton(self.tr("Reset links"), QMessageBox.ButtonRole.DestructiveRole)
        box.setDefaultButton(QMessageBox.StandardButton.Cancel)
        reset.clicked.connect(lambda: self._start_reset())
        box.rejected.connect(lambda: self.reset_button.setEnabled(True))
        box.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        box.open()  # not exec(): no nested event loop under asyncio
        self.reset_box = box

    def _start_reset(self) -> None:
        self._reset_task = asyncio.ensure_future(self._reset())

    async def _reset(self) -> None:
        try:
            count = await self._client.run(invite_ops.reset_links, self._summary.thread_id)
        except ThreadsError as exc:
            self._say_reset(explain(exc), error=True)
            return
        self._say_reset(self.tr("Invite link stopped.") if count == 1 else
                        self.tr("%1 invite links stopped.").replace("%1", str(count)))
        self.links_reset.emit(count)

    def _say_reset(self, text: str, *, error: bool = False) -> None:
        self.reset_status.setStyleSheet(_ERROR_STYLE if error else "")
        self.reset_status.setText(text)
        self.reset_button.setEnabled(True)
