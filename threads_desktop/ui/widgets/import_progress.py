"""The strip above the photo grid while photos are being added: what is
being added where, how far it is, and Stop. It is part of the window, not a
modal dialog: it shows at once, even for two photos, and the album stays
usable meanwhile."""

from __future__ import annotations

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import QFrame, QHBoxLayout, QLabel, QProgressBar, QPushButton, QWidget


class ImportProgress(QFrame):
    stop_requested = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._album = ""
        self.setFrameShape(QFrame.Shape.StyledPanel)
        layout = QHBoxLayout(self)
        layout.setContentsMargins(10, 6, 10, 6)
        self.label = QLabel()
        self.label.setTextFormat(Qt.TextFormat.PlainText)  # album names come from peers
        self.bar = QProgressBar()
        self.bar.setTextVisible(False)
        self.bar.setMaximumHeight(10)
        self.stop_button = QPushButton(self.tr("Stop"))
        self.stop_button.setToolTip(self.tr("Stop after the photos being added now; what was added stays"))
        self.stop_button.clicked.connect(self._stop)
        layout.addWidget(self.label)
        layout.addWidget(self.bar, 1)
        layout.addWidget(self.stop_button)
        self.hide()

    def start(self, album: str) -> None:
        self._album = album
        self.label.setText(self.tr("Looking for photos to add to {album}…").format(album=album))
        self.bar.setRange(0, 0)  # busy until the files are counted
        self.stop_button.setEnabled(True)
        self.show()

    def show_progress(self, done: int, total: int) -> None:
        if total == 0:
            return
        self.bar.setRange(0, total)
        self.bar.setValue(done)
        if self.stop_button.isEnabled():
            self.label.setText(
                self.tr("Adding photos to {album}: {done} of {total}").format(album=self._album, done=done,
                                                                               total=total))

    def _stop(self) -> None:
        self.stop_button.setEnabled(False)
        self.label.setText(self.tr("Stopping after the photos being added now…"))
        self.stop_requested.emit()
