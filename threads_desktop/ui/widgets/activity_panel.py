"""An album's activity: its membership notices, newest first, in a compact
side panel the user opens from the album ("Activity"). Loaded when opened."""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QFrame, QLabel, QListWidget, QListWidgetItem, QVBoxLayout, QWidget

from threads_desktop.engine.acl.notices import ThreadNotices
from threads_desktop.ui.moments import full_time, short_time
from threads_desktop.ui.notices import notice_text

WIDTH = 260


class ActivityPanel(QFrame):
    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setFrameShape(QFrame.Shape.StyledPanel)
        self.setFixedWidth(WIDTH)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(8, 8, 8, 8)
        title = QLabel(self.tr("Activity"))
        font = title.font()
        font.setBold(True)
        title.setFont(font)
        layout.addWidget(title)
        self.list = QListWidget()
        self.list.setFrameShape(QFrame.Shape.NoFrame)
        self.list.setWordWrap(True)
        self.list.setSelectionMode(QListWidget.SelectionMode.NoSelection)
        self.list.setFocusPolicy(Qt.FocusPolicy.NoFocus)
        layout.addWidget(self.list, 1)
        self.empty = QLabel(self.tr("Nobody has joined or left yet."))
        self.empty.setWordWrap(True)
        layout.addWidget(self.empty)
        self.setVisible(False)

    def show_notices(self, notices: ThreadNotices) -> None:
        self.list.clear()
        for notice in reversed(notices.notices):  # newest first
            when = short_time(notice.at_ms)
            text = notice_text(notice, notices.names, notices.me)
            item = QListWidgetItem(f"{text}\n{when}" if when else text)
            item.setToolTip(full_time(notice.at_ms))
            self.list.addItem(item)
        self.empty.setVisible(not notices.notices)

    def texts(self) -> list[str]:
        """The notices' words as listed, newest first (for tests and accessibility checks)."""
        return [self.list.item(row).text().split("\n", 1)[0] for row in range(self.list.count())]
