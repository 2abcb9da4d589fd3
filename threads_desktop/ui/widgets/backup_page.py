"""Settings > Backup: what a backup brings back and what it cannot, "Export
a backup…" and "Check a backup's passphrase…"."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QCoreApplication, Qt, Signal
from PySide6.QtWidgets import QHBoxLayout, QLabel, QPushButton, QVBoxLayout, QWidget

from threads_desktop.ui.dialogs.backup_dialogs import CheckBackupDialog, ExportBackupDialog
from threads_desktop.ui.engine_client import EngineClient


def restores_text() -> str:
    return QCoreApplication.translate(
        "Backup",
        "A backup brings back, on a new computer:\n"
        "•  you: your name, and the key that makes a computer one of your devices\n"
        "•  every album and chat you were in, with their keys\n"
        "•  who you share with and where to find them, and your settings\n"
        "Photos and messages then come back from the people and devices that have them, once they are online.")


def cannot_restore_text() -> str:
    return QCoreApplication.translate(
        "Backup",
        "It cannot bring back:\n"
        "•  photos and messages that only this computer had\n"
        "•  albums and chats you joined after making the backup\n"
        "•  albums and chats you were removed from\n"
        "Make a new backup after joining something important.")


class BackupPage(QWidget):
    exported = Signal(str)  # the file written

    def __init__(self, client: EngineClient, parent: QWidget | None = None, *,
                 default_folder: Path | None = None) -> None:
        super().__init__(parent)
        self._client = client
        self._folder = default_folder
        self.export_dialog: ExportBackupDialog | None = None
        self.check_dialog: CheckBackupDialog | None = None
        self._last_file: Path | None = None
        self.restores = QLabel(restores_text())
        self.cannot = QLabel(cannot_restore_text())
        for label in (self.restores, self.cannot):
            label.setWordWrap(True)
        self.export_button = QPushButton(self.tr("Export a backup…"))
        self.export_button.clicked.connect(self.ask_export)
        self.check_button = QPushButton(self.tr("Check a backup's passphrase…"))
        self.check_button.clicked.connect(self.ask_check)
        self.status = QLabel()
        self.status.setWordWrap(True)
        self.status.setTextFormat(Qt.TextFormat.PlainText)
        buttons = QHBoxLayout()
        buttons.addWidget(self.export_button)
        buttons.addWidget(self.check_button)
        buttons.addStretch()
        layout = QVBoxLayout(self)
        layout.addWidget(self.restores)
        layout.addWidget(self.cannot)
        layout.addLayout(buttons)
        layout.addWidget(self.status)
        layout.addStretch()

    def ask_export(self) -> ExportBackupDialog:
        self.export_dialog = ExportBackupDialog(self._client, self, default_folder=self._folder)
        self.export_dialog.exported.connect(self._on_exported)
        self.export_dialog.open()
        return self.export_dialog

    def _on_exported(self, path: str) -> None:
        self._last_file = Path(path)
        self.status.setText(self.tr("Backup saved to %1. Keep the passphrase somewhere else than the file.")
                            .replace("%1", path))
        self.exported.emit(path)

    def ask_check(self) -> CheckBackupDialog:
        self.check_dialog = CheckBackupDialog(self._client, self, path=self._last_file)
        self.check_dialog.open()
        return self.check_dialog
