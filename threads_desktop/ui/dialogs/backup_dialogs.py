"""Export a backup (a passphrase typed twice, a hint of how hard it is to
guess, then where to save it) and check that a passphrase opens a backup.
The key derivation takes a second or two and 64 MiB on purpose; it runs off
the engine thread (ui/operations/backup), so the window stays responsive."""

from __future__ import annotations

import asyncio
import datetime
from pathlib import Path

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QCheckBox,
    QDialog,
    QDialogButtonBox,
    QFileDialog,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from threads_desktop.engine.core.errors import ThreadsError
from threads_desktop.ui.devices_text import summary_text
from threads_desktop.ui.engine_client import EngineClient
from threads_desktop.ui.operations import backup as backup_ops
from threads_desktop.ui.passphrase import Strength, strength_hint
from threads_desktop.ui.refusals import explain

_ERROR_STYLE = "color: #b3261e"
_HINT_COLOURS = {Strength.TOO_SHORT: "#b3261e", Strength.WEAK: "#b3261e", Strength.FAIR: "#8a6d00",
                 Strength.GOOD: "#1e7b34", Strength.STRONG: "#1e7b34"}
BACKUP_SUFFIX = ".threadsbackup"
BACKUP_FILTER = "Threads backups (*.threadsbackup);;All files (*)"


def _password_field(placeholder: str) -> QLineEdit:
    field = QLineEdit()
    field.setEchoMode(QLineEdit.EchoMode.Password)
    field.setPlaceholderText(placeholder)
    field.setMaxLength(1024)
    return field


def _error_label() -> QLabel:
    label = QLabel()
    label.setStyleSheet(_ERROR_STYLE)
    label.setWordWrap(True)
    label.setTextFormat(Qt.TextFormat.PlainText)
    label.hide()
    return label



def choose_backup(parent: QWidget, file: QLineEdit) -> QFileDialog:
    """A file dialog (opened with open(), never exec()) for an existing
    backup, its choice written into `file` (the check dialog and the
    first launch's restore page)."""
    chooser = QFileDialog(parent, parent.tr("Choose a backup"), file.text() or str(Path.home()),
                          parent.tr(BACKUP_FILTER))
    chooser.setFileMode(QFileDialog.FileMode.ExistingFile)
    chooser.fileSelected.connect(file.setText)
    chooser.finished.connect(chooser.deleteLater)
    chooser.open()
    return chooser

class ExportBackupDialog(QDialog):
    exported = Signal(str)  # the file written
    failed = Signal(str)

    def __init__(self, client: EngineClient, parent: QWidget | None = None, *,
                 default_folder: Path | None = None) -> None:
        super().__init__(parent)
        self._client = client
        self._folder = default_folder or Path.home()
        self._task: asyncio.Task[None] | None = None
        self.chooser: QFileDialog | None = None
        self.setWindowTitle(self.tr("Export a backup"))
        self.setMinimumWidth(460)
        intro = QLabel(self.tr(
            "The backup is locked with a passphrase. Without it nobody can open the backup, not even you: "
            "write it down and keep it apart from the file."))
        intro.setWordWrap(True)
        self.passphrase = _password_field(self.tr("Passphrase"))
        self.repeat = _password_field(self.tr("The same passphrase again"))
        self.show_passphrase = QCheckBox(self.tr("Show passphrase"))
        self.show_passphrase.toggled.connect(self._show_typed)
        self.hint = QLabel()
        self.hint.setWordWrap(True)
        self.mismatch = QLabel(self.tr("The two passphrases are not the same."))
        self.mismatch.setStyleSheet(_ERROR_STYLE)
        self.mismatch.hide()
        form = QFormLayout()
        form.addRow(self.tr("Passphrase:"), self.passphrase)
        form.addRow("", self.hint)
        form.addRow(self.tr("Again:"), self.repeat)
        form.addRow("", self.mismatch)
        form.addRow("", self.show_passphrase)
        self.status = QLabel()
        self.status.setWordWrap(True)
        self.status.setTextFormat(Qt.TextFormat.PlainText)
        self.error = _error_label()
        self.buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Cancel)
        self.save_button = self.buttons.addButton(self.tr("Save backup…"), QDialogButtonBox.ButtonRole.AcceptRole)
        self.save_button.setDefault(True)
        self.buttons.accepted.connect(self.ask_file)
        self.buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addWidget(intro)
        layout.addLayout(form)
        layout.addWidget(self.status)
        layout.addWidget(self.error)
        layout.addWidget(self.buttons)
        self.passphrase.textChanged.connect(self._validate)
        self.repeat.textChanged.connect(self._validate)
        self._validate()

    def _show_typed(self, shown: bool) -> None:
        mode = QLineEdit.EchoMode.Normal if shown else QLineEdit.EchoMode.Password
        self.passphrase.setEchoMode(mode)
        self.repeat.setEchoMode(mode)

    def _validate(self) -> None:
        typed = self.passphrase.text()
        hint = strength_hint(typed)
        self.hint.setText(self.tr(hint.text) if typed else self.tr("Four or five unrelated words work well."))
        self.hint.setStyleSheet(f"color: {_HINT_COLOURS[hint.strength]}" if typed else "")
        same = typed == self.repeat.text()
        again = self.repeat.text()
        # Said once the second one is as long as the first, or already differs.
        self.mismatch.setVisible(bool(again) and not same and (len(again) >= len(typed) or not typed.startswith(again)))
        busy = self._task is not None and not self._task.done()
        self.save_button.setEnabled(hint.acceptable and same and not busy)

    def ask_file(self) -> QFileDialog | None:
        """Where to save it: a file dialog opened with open(), never exec()."""
        if not self.save_button.isEnabled():
            return None
        named = self.tr("Threads backup %1").replace("%1", datetime.date.today().isoformat()) + BACKUP_SUFFIX
        chooser = QFileDialog(self, self.tr("Save the backup"), str(self._folder / named),
                              self.tr(BACKUP_FILTER))
        chooser.setAcceptMode(QFileDialog.AcceptMode.AcceptSave)
        chooser.setDefaultSuffix(BACKUP_SUFFIX.lstrip("."))
        chooser.fileSelected.connect(lambda path: self.export_to(Path(path)))
        chooser.finished.connect(chooser.deleteLater)
        self.chooser = chooser
        chooser.open()
        return chooser

    def export_to(self, path: Path) -> None:
        if self._task is not None and not self._task.done():
            return
        self.error.hide()
        self.status.setText(self.tr("Encrypting the backup…"))
        self._task = asyncio.ensure_future(self._export(path, self.passphrase.text()))
        self._validate()

    async def _export(self, path: Path, passphrase: str) -> None:
        try:
            await self._client.run(backup_ops.export_backup, path, passphrase)
        except (ThreadsError, OSError) as exc:
            message = explain(exc) if isinstance(exc, ThreadsError) else self.tr(
                "Could not save the backup: %1").replace("%1", exc.strerror or str(exc))
            self.status.setText("")
            self.error.setText(message)
            self.error.show()
            self.failed.emit(message)
            return
        finally:
            self._task = None
            self._validate()
        self.exported.emit(str(path))
        self.accept()

    def done(self, result: int) -> None:
        if self._task is not None and not self._task.done():
            self._task.cancel()
        super().done(result)


class CheckBackupDialog(QDialog):
    """Does this passphrase open this backup? Nothing is restored or changed."""

    checked = Signal(str)  # what the backup holds, in words
    failed = Signal(str)

    def __init__(self, client: EngineClient, parent: QWidget | None = None, *, path: Path | None = None) -> None:
        super().__init__(parent)
        self._client = client
        self._task: asyncio.Task[None] | None = None
        self.chooser: QFileDialog | None = None
        self.setWindowTitle(self.tr("Check a backup's passphrase"))
        self.setMinimumWidth(460)
        intro = QLabel(self.tr("Make sure you still have the passphrase that opens a backup. Nothing is "
                               "restored or changed."))
        intro.setWordWrap(True)
        self.file = QLineEdit(str(path) if path else "")
        self.file.setPlaceholderText(self.tr("The backup file"))
        self.choose_button = QPushButton(self.tr("Choose…"))
        self.choose_button.clicked.connect(self.ask_file)
        row = QHBoxLayout()
        row.addWidget(self.file, 1)
        row.addWidget(self.choose_button)
        self.passphrase = _password_field(self.tr("Passphrase"))
        form = QFormLayout()
        form.addRow(self.tr("Backup:"), row)
        form.addRow(self.tr("Passphrase:"), self.passphrase)
        self.outcome = QLabel()
        self.outcome.setWordWrap(True)
        self.outcome.setTextFormat(Qt.TextFormat.PlainText)  # the name in it came from the profile
        self.buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        self.check_button = self.buttons.addButton(self.tr("Check"), QDialogButtonBox.ButtonRole.ActionRole)
        self.check_button.setDefault(True)
        self.check_button.clicked.connect(self.check)
        self.buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addWidget(intro)
        layout.addLayout(form)
        layout.addWidget(self.outcome)
        layout.addWidget(self.buttons)
        for field in (self.file, self.passphrase):
            field.textChanged.connect(self._validate)
        self._validate()

    def _validate(self) -> None:
        busy = self._task is not None and not self._task.done()
        self.check_button.setEnabled(bool(self.file.text().strip()) and bool(self.passphrase.text()) and not busy)

    def ask_file(self) -> QFileDialog:
        self.chooser = choose_backup(self, self.file)
        return self.chooser

    def check(self) -> None:
        if not self.check_button.isEnabled():
            return
        self.outcome.setStyleSheet("")
        self.outcome.setText(self.tr("Checking…"))
        self._task = asyncio.ensure_future(self._check(Path(self.file.text().strip()).expanduser(),
                                                       self.passphrase.text()))
        self._validate()

    async def _check(self, path: Path, passphrase: str) -> None:
        try:
            summary = await self._client.run(backup_ops.check_backup, path, passphrase)
        except (ThreadsError, OSError) as exc:
            message = explain(exc) if isinstance(exc, ThreadsError) else self.tr(
                "Could not read the file: %1").replace("%1", exc.strerror or str(exc))
            self.outcome.setStyleSheet(_ERROR_STYLE)
            self.outcome.setText(message)
            self.failed.emit(message)
            return
        finally:
            self._task = None
            self._validate()
        text = self.tr("The passphrase is right. %1").replace("%1", summary_text(summary))
        self.outcome.setStyleSheet("color: #1e7b34")
        self.outcome.setText(text)
        self.checked.emit(text)

    def done(self, result: int) -> None:
        if self._task is not None and not self._task.done():
            self._task.cancel()
        super().done(result)
