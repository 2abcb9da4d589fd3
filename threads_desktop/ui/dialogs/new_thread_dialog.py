"""Asks for the name of a new album or chat."""

from __future__ import annotations

from PySide6.QtWidgets import QDialog, QDialogButtonBox, QLabel, QLineEdit, QVBoxLayout, QWidget

from threads_desktop.engine.core.types import ThreadKind
from threads_desktop.engine.threads import MAX_NAME_LENGTH


class NewThreadDialog(QDialog):
    def __init__(self, kind: ThreadKind, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.kind = kind
        album = kind == ThreadKind.ALBUM
        self.setWindowTitle(self.tr("New album") if album else self.tr("New chat"))
        self.setMinimumWidth(380)
        prompt = QLabel(self.tr("Name of the album:") if album else self.tr("Name of the chat:"))
        self.name_edit = QLineEdit()
        self.name_edit.setMaxLength(MAX_NAME_LENGTH)
        self.name_edit.setPlaceholderText(self.tr("e.g. Summer in Lisbon") if album else self.tr("e.g. Family"))
        prompt.setBuddy(self.name_edit)
        hint = QLabel(self.tr("Only people you invite can see it. You can rename it later."))
        hint.setWordWrap(True)
        hint.setEnabled(False)
        self.buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel)
        self.create_button = self.buttons.button(QDialogButtonBox.StandardButton.Ok)
        self.create_button.setText(self.tr("Create"))
        self.create_button.setEnabled(False)
        self.buttons.accepted.connect(self.accept)
        self.buttons.rejected.connect(self.reject)
        self.name_edit.textChanged.connect(lambda text: self.create_button.setEnabled(bool(text.strip())))
        layout = QVBoxLayout(self)
        layout.addWidget(prompt)
        layout.addWidget(self.name_edit)
        layout.addWidget(hint)
        layout.addWidget(self.buttons)

    def name(self) -> str:
        return self.name_edit.text().strip()
