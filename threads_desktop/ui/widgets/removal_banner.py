"""The bar on an album or chat page whose member was removed (or lost the
right to add): who did it and when, that what this device kept stays
read-only, and a button that deletes it from this device."""

from __future__ import annotations

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import QFrame, QHBoxLayout, QLabel, QPushButton, QVBoxLayout, QWidget

from threads_desktop.engine.core.types import ThreadKind
from threads_desktop.ui.notices import removal_text
from threads_desktop.ui.operations.notices import RemovalNotice

BANNER_STYLE = ("QFrame#removalBanner { background: rgba(179, 38, 30, 0.10);"
                " border: 1px solid rgba(179, 38, 30, 0.35); border-radius: 6px; }")


def banner_parts(frame: QFrame, button_text: str) -> tuple[QLabel, QLabel, QPushButton]:
    """The look every removal bar shares (this one, and the removed
    device's across the window): a red frame, a bold headline over a
    detail (plain text: names come from peers), a button at the right.
    The frame starts hidden."""
    frame.setObjectName("removalBanner")
    frame.setStyleSheet(BANNER_STYLE)
    layout = QHBoxLayout(frame)
    layout.setContentsMargins(12, 8, 8, 8)
    texts = QVBoxLayout()
    headline, detail = QLabel(), QLabel()
    font = headline.font()
    font.setBold(True)
    headline.setFont(font)
    for label in (headline, detail):
        label.setTextFormat(Qt.TextFormat.PlainText)
        label.setWordWrap(True)
        texts.addWidget(label)
    layout.addLayout(texts, 1)
    button = QPushButton(button_text)
    layout.addWidget(button, 0, Qt.AlignmentFlag.AlignVCenter)
    frame.setVisible(False)
    return headline, detail, button


class RemovalBanner(QFrame):
    remove_requested = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.headline, self.detail, self.remove_button = banner_parts(self, self.tr("Remove from this device"))
        self.remove_button.clicked.connect(self.remove_requested)

    def show_removal(self, notice: RemovalNotice | None, kind: ThreadKind | None) -> None:
        """Shown for a removal or a lost write right; hidden for None."""
        if notice is None:
            self.setVisible(False)
            return
        self.headline.setText(removal_text(notice, kind))
        if kind is None:  # a backup device: it never could read what it keeps
            self.detail.setText(self.tr("This device keeps the encrypted backup it had. New changes no longer "
                                        "reach it."))
        elif notice.removal.role_left is None:
            self.detail.setText(self.tr("What this device had is kept, read-only. New changes no longer reach it."))
        else:
            self.detail.setText(self.tr("You can still see it, but no longer add to it or change it."))
        self.remove_button.setVisible(notice.removal.role_left is None)
        self.setVisible(True)
