"""The page of a link we joined with and are not let in yet: the album's
name as the link gave it, where the join stands in a person's words, and
what they can do about it (paste a new link once refused, or remove it)."""

from __future__ import annotations

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import QHBoxLayout, QLabel, QPushButton, QVBoxLayout, QWidget

from threads_desktop.engine.core.members import JoinState
from threads_desktop.ui.joins import join_explanation, join_status_line


class JoinPage(QWidget):
    new_link_requested = Signal()  # "Join with a new link…"
    remove_requested = Signal(object)  # the JoinState to forget

    def __init__(self) -> None:
        super().__init__()
        self._state: JoinState | None = None
        layout = QVBoxLayout(self)
        layout.setContentsMargins(28, 24, 28, 24)
        self.title = QLabel()
        self.title.setWordWrap(True)
        font = self.title.font()
        font.setPointSizeF(font.pointSizeF() * 1.8)
        font.setBold(True)
        self.title.setFont(font)
        self.status = QLabel()
        status_font = self.status.font()
        status_font.setBold(True)
        self.status.setFont(status_font)
        self.explanation = QLabel()
        self.explanation.setWordWrap(True)
        # The name and the inviter's name come from a link: never rich text.
        for label in (self.title, self.status, self.explanation):
            label.setTextFormat(Qt.TextFormat.PlainText)
        self.new_link_button = QPushButton(self.tr("Join with a new link…"))
        self.new_link_button.clicked.connect(self.new_link_requested)
        self.remove_button = QPushButton(self.tr("Remove from the list"))
        self.remove_button.clicked.connect(lambda: self._state and self.remove_requested.emit(self._state))
        buttons = QHBoxLayout()
        buttons.addWidget(self.new_link_button)
        buttons.addWidget(self.remove_button)
        buttons.addStretch()
        layout.addWidget(self.title)
        layout.addSpacing(8)
        layout.addWidget(self.status)
        layout.addWidget(self.explanation)
        layout.addSpacing(12)
        layout.addLayout(buttons)
        layout.addStretch()

    @property
    def state(self) -> JoinState | None:
        return self._state

    def show_join(self, state: JoinState) -> None:
        self._state = state
        self.title.setText(state.name or self.tr("An invitation"))
        self.status.setText(join_status_line(state))
        self.status.setStyleSheet("color: #b3261e" if state.status == "refused" else "")
        self.explanation.setText(join_explanation(state))
        refused = state.status == "refused"
        self.new_link_button.setVisible(refused)
        self.remove_button.setText(self.tr("Remove from the list") if refused else self.tr("Cancel joining"))
