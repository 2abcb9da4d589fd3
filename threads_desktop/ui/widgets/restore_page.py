"""First launch, "Restore from a backup…": the file and its passphrase,
what it will and will not bring back, then the restore with progress. The
backup makes this computer a new device of the person in it; albums and
chats come back at once, their photos and messages from peers later. It
takes a second or two (the key derivation) and writes in one go, so it
offers no Cancel: there is nothing to wait for but this computer."""

from __future__ import annotations

import asyncio
from pathlib import Path

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QFileDialog,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QProgressBar,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from threads_desktop.engine.core.errors import ThreadsError
from threads_desktop.ui.devices_text import restored_text
from threads_desktop.ui.dialogs.backup_dialogs import choose_backup
from threads_desktop.ui.engine_client import EngineClient
from threads_desktop.ui.operations import backup as backup_ops
from threads_desktop.ui.refusals import explain
from threads_desktop.ui.widgets.backup_page import cannot_restore_text

_ERROR_STYLE = "color: #b3261e"


class RestorePage(QWidget):
    back_requested = Signal()
    restored = Signal(str)  # what came back, in words
    failed = Signal(str)

    def __init__(self, client: EngineClient, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._client = client
        self._task: asyncio.Task[None] | None = None
        self.chooser: QFileDialog | None = None
        intro = QLabel(self.tr("Choose the backup you exported on another computer and type its passphrase. "
                               "This computer becomes one of your devices again, with every album and chat "
                               "the backup knows."))
        intro.setWordWrap(True)
        self.file = QLineEdit()
        self.file.setPlaceholderText(self.tr("The backup file"))
        self.choose_button = QPushButton(self.tr("Choose…"))
        self.choose_button.clicked.connect(self.ask_file)
        file_row = QHBoxLayout()
        file_row.addWidget(self.file, 1)
        file_row.addWidget(self.choose_button)
        self.passphrase = QLineEdit()
        self.passphrase.setEchoMode(QLineEdit.EchoMode.Password)
        self.passphrase.setMaxLength(1024)
        form = QFormLayout()
        form.addRow(self.tr("Backup:"), file_row)
        form.addRow(self.tr("Passphrase:"), self.passphrase)
        self.cannot = cannot = QLabel(cannot_restore_text())
        cannot.setWordWrap(True)
        cannot.setEnabled(False)  # greyed: a note
        self.status = QLabel()
        self.status.setWordWrap(True)
        self.status.setTextFormat(Qt.TextFormat.PlainText)
        self.progress = QProgressBar()
        self.progress.setRange(0, 0)
        self.progress.setTextVisible(False)
        self.progress.hide()
        self.back_button = QPushButton(self.tr("Back"))
        self.back_button.clicked.connect(self.back_requested)
        self.restore_button = QPushButton(self.tr("Restore"))
        self.restore_button.setDefault(True)
        self.restore_button.clicked.connect(self.start)
        buttons = QHBoxLayout()
        buttons.addWidget(self.back_button)
        buttons.addStretch()
        buttons.addWidget(self.restore_button)
        layout = QVBoxLayout(self)
        layout.addWidget(intro)
        layout.addLayout(form)
        layout.addWidget(cannot)
        layout.addWidget(self.status)
        layout.addWidget(self.progress)
        layout.addStretch()
        layout.addLayout(buttons)
        for field in (self.file, self.passphrase):
            field.textChanged.connect(self._validate)
            field.returnPressed.connect(self.start)  # Enter restores, as the dialog's default button would
        self._validate()

    @property
    def busy(self) -> bool:
        return self._task is not None and not self._task.done()

    def _validate(self) -> None:
        self.restore_button.setEnabled(bool(self.file.text().strip()) and bool(self.passphrase.text())
                                       and not self.busy)

    def ask_file(self) -> QFileDialog:
        self.chooser = choose_backup(self, self.file)
        return self.chooser

    def start(self) -> None:
        if not self.restore_button.isEnabled():
            return
        self.status.setStyleSheet("")
        self.status.setText(self.tr("Opening the backup… This takes a few seconds."))
        self.progress.show()
        for widget in (self.file, self.choose_button, self.passphrase, self.back_button):
            widget.setEnabled(False)
        self._task = asyncio.ensure_future(self._restore(Path(self.file.text().strip()).expanduser(),
                                                         self.passphrase.text()))
        self._validate()

    async def _restore(self, path: Path, passphrase: str) -> None:
        try:
            summary = await self._client.run(backup_ops.restore_backup, path, passphrase)
        except (ThreadsError, OSError) as exc:
            self._stopped()
            message = explain(exc) if isinstance(exc, ThreadsError) else self.tr(
                "Could not read the file: %1").replace("%1", exc.strerror or str(exc))
            self.status.setStyleSheet(_ERROR_STYLE)
            self.status.setText(message)
            self.failed.emit(message)
            return
        self._stopped()
        self.restore_button.setEnabled(False)
        text = restored_text(summary)
        self.status.setText(text)
        self.restored.emit(text)

    def _stopped(self) -> None:
        self.progress.hide()
        for widget in (self.file, self.choose_button, self.passphrase, self.back_button):
            widget.setEnabled(True)
        self._validate()

    def stop(self) -> None:
        if self._task is not None and not self._task.done():
            self._task.cancel()
