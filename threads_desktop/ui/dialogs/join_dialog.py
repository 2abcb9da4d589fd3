"""Join by a link someone sent: paste it, see what it opens and who it
came from, then join. A bad, cut or altered link says so and changes nothing."""

from __future__ import annotations

import asyncio

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import QDialog, QDialogButtonBox, QLabel, QPlainTextEdit, QVBoxLayout, QWidget

from threads_desktop.engine.acl.crdt import Role
from threads_desktop.engine.acl.links import InviteLink
from threads_desktop.engine.core.errors import ThreadsError
from threads_desktop.engine.core.ids import ThreadId
from threads_desktop.engine.logstore.addressbook import peer_of_address
from threads_desktop.ui.engine_client import EngineClient

_ROLE_TEXT = {Role.WRITE: "you can add photos and messages", Role.READ: "you can view it",
              Role.FOLLOW: "this device keeps a backup it cannot read"}


class JoinDialog(QDialog):
    joined = Signal(object)  # ThreadId
    failed = Signal(str)

    def __init__(self, client: EngineClient, parent: QWidget | None = None, text: str = "") -> None:
        super().__init__(parent)
        self._client = client
        self._link: InviteLink | None = None
        self._task: asyncio.Task[None] | None = None
        self.setWindowTitle(self.tr("Join an album or chat"))
        self.setMinimumWidth(480)
        prompt = QLabel(self.tr("Paste the invite link you were sent:"))
        self.link_edit = QPlainTextEdit()
        self.link_edit.setPlaceholderText("threads://join/…")
        self.link_edit.setTabChangesFocus(True)
        self.link_edit.setFixedHeight(72)
        self.details = QLabel()
        self.details.setWordWrap(True)
        self.details.setTextFormat(Qt.TextFormat.PlainText)
        self.error = QLabel()
        self.error.setStyleSheet("color: #b3261e")
        self.error.setWordWrap(True)
        self.error.setTextFormat(Qt.TextFormat.PlainText)
        self.buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel)
        self.join_button = self.buttons.button(QDialogButtonBox.StandardButton.Ok)
        self.join_button.setText(self.tr("Join"))
        self.join_button.setEnabled(False)
        self.buttons.accepted.connect(self._join)
        self.buttons.rejected.connect(self.reject)
        self.link_edit.textChanged.connect(self._check)
        layout = QVBoxLayout(self)
        layout.addWidget(prompt)
        layout.addWidget(self.link_edit)
        layout.addWidget(self.details)
        layout.addWidget(self.error)
        layout.addWidget(self.buttons)
        if text:
            self.link_edit.setPlainText(text)

    def _check(self) -> None:
        text = self.link_edit.toPlainText().strip()
        self._link = None
        self.details.clear()
        self.error.clear()
        self.join_button.setEnabled(False)
        if not text:
            return
        try:
            link = InviteLink.parse(text)
        except ThreadsError as exc:
            self.error.setText(self.tr("This link does not work: %1").replace("%1", str(exc)))
            return
        self._link = link
        inviters = {str(p) for p in map(peer_of_address, link.addresses) if p is not None}
        name = link.name or self.tr("an album or chat")
        lines = [self.tr("“%1”: %2.").replace("%1", name).replace("%2", self.tr(_ROLE_TEXT[link.role]))]
        if inviters:
            inviter = sorted(inviters)[0]
            lines.append(self.tr("From %1").replace("%1", f"{inviter[:10]}…{inviter[-6:]}"))
        else:
            lines.append(self.tr("The link names no address: it will sync when you meet a member nearby."))
        self.details.setText("\n".join(lines))
        self.join_button.setEnabled(True)

    def _join(self) -> None:
        if self._link is None:
            return
        self.join_button.setEnabled(False)
        self._task = asyncio.ensure_future(self._run_join(self._link))

    async def _run_join(self, link: InviteLink) -> None:
        try:
            thread_id: ThreadId = await self._client.join(link)
        except ThreadsError as exc:
            self.error.setText(str(exc))
            self.join_button.setEnabled(True)
            self.failed.emit(str(exc))
            return
        self.joined.emit(thread_id)
        self.accept()
