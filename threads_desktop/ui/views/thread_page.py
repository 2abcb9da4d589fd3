"""The page of a thread with no view of its own here: a backup this device
keeps but cannot read, a join still waiting, or one that was refused."""

from __future__ import annotations

import datetime

from PySide6.QtCore import Qt
from PySide6.QtGui import QGuiApplication
from PySide6.QtWidgets import QHBoxLayout, QLabel, QPushButton, QVBoxLayout, QWidget

from threads_desktop.engine.core.types import ThreadKind, ThreadSummary
from threads_desktop.ui.widgets.removal_banner import RemovalBanner


class ThreadPage(QWidget):
    """What is known about the selected album or chat."""

    def __init__(self) -> None:
        super().__init__()
        layout = QVBoxLayout(self)
        layout.setContentsMargins(28, 24, 28, 24)
        self.title = QLabel()
        self.title.setWordWrap(True)
        font = self.title.font()
        font.setPointSizeF(font.pointSizeF() * 1.8)
        font.setBold(True)
        self.title.setFont(font)
        self.subtitle = QLabel()
        muted = self.subtitle.palette()
        colour = muted.color(muted.ColorRole.WindowText)
        colour.setAlphaF(0.65)
        muted.setColor(muted.ColorRole.WindowText, colour)
        self.subtitle.setPalette(muted)
        id_row = QHBoxLayout()
        self.thread_id = QLabel()
        self.thread_id.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.copy_id = QPushButton(self.tr("Copy ID"))
        self.copy_id.clicked.connect(self._copy_id)
        id_row.addWidget(self.thread_id, 1)
        id_row.addWidget(self.copy_id)
        self.status = QLabel()
        self.status.setWordWrap(True)
        # Names come from peers: never let a label read them as rich text.
        for label in (self.title, self.subtitle, self.thread_id, self.status):
            label.setTextFormat(Qt.TextFormat.PlainText)
        layout.addWidget(self.title)
        layout.addWidget(self.subtitle)
        layout.addSpacing(8)
        self.removal_banner = RemovalBanner()  # a backup device whose follow right was taken
        layout.addWidget(self.removal_banner)
        layout.addSpacing(16)
        layout.addLayout(id_row)
        layout.addWidget(self.status)
        self.invite_button = QPushButton(self.tr("Invite people…"))
        invite_row = QHBoxLayout()
        invite_row.addWidget(self.invite_button)
        invite_row.addStretch()
        layout.addSpacing(12)
        layout.addLayout(invite_row)
        layout.addStretch()

    def show_thread(self, summary: ThreadSummary) -> None:
        self.removal_banner.show_removal(None, summary.kind)
        self.title.setText(summary.name or self.tr("Encrypted backup"))
        created = datetime.datetime.fromtimestamp(summary.created_at).strftime("%d %b %Y, %H:%M")
        kinds = {ThreadKind.ALBUM: self.tr("Album"), ThreadKind.CHAT: self.tr("Chat"), None: self.tr("Backup")}
        kind = kinds[summary.kind]  # a backup knows neither its kind nor its name
        self.subtitle.setText(self.tr("{kind} · created {created}").format(kind=kind, created=created))
        self.thread_id.setText(self.tr("ID: {id}").format(id=summary.thread_id))
        access = self.tr("You can add to it.") if summary.can_write else (
            self.tr("You can view it.") if summary.can_read else self.tr("This device keeps an encrypted backup."))
        if summary.kind == ThreadKind.ALBUM:
            items = self.tr("1 photo") if summary.photo_count == 1 else self.tr("{count} photos").format(
                count=summary.photo_count)
        elif summary.kind == ThreadKind.CHAT:
            items = self.tr("1 message") if summary.message_count == 1 else self.tr("{count} messages").format(
                count=summary.message_count)
        else:
            self.status.setText(self.tr("Every change is signed and encrypted ({events} in the logs). "
                                        "{access}").format(events=summary.event_count, access=access))
            return
        self.status.setText(self.tr("{items}. Every change is signed and encrypted ({events} in the logs). "
                                    "{access}").format(items=items, events=summary.event_count, access=access))

    def _copy_id(self) -> None:
        text = self.thread_id.text().split(": ", 1)[-1]
        QGuiApplication.clipboard().setText(text)
        self.copy_id.setText(self.tr("Copied"))
