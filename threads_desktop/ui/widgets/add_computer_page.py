"""First launch, "Add this computer to my devices": the link another of the
person's devices shows (pasted, or read from a picture of its QR code),
whose devices this computer joins, then the wait for that device, which
can be cancelled; done, every album and chat of the person is on its way."""

from __future__ import annotations

import asyncio
from pathlib import Path

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QFileDialog,
    QHBoxLayout,
    QLabel,
    QPlainTextEdit,
    QProgressBar,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from threads_desktop.engine.acl.links import PREFIX as INVITE_PREFIX
from threads_desktop.engine.core.errors import ThreadsError
from threads_desktop.engine.persons.device_links import PREFIX as DEVICE_PREFIX
from threads_desktop.ui.devices_text import preview_text
from threads_desktop.ui.dialogs.join_dialog import IMAGE_FILTER, NoQrCodeError, NotAnInviteError, read_qr_link
from threads_desktop.ui.engine_client import EngineClient
from threads_desktop.ui.operations import devices as device_ops
from threads_desktop.ui.refusals import explain

_ERROR_STYLE = "color: #b3261e"


class AddComputerPage(QWidget):
    back_requested = Signal()
    added = Signal(str)  # the person's name (or "" if it has none)
    failed = Signal(str)
    checked = Signal()  # the pasted text was read

    def __init__(self, client: EngineClient, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._client = client
        self._check_task: asyncio.Task[None] | None = None
        self._task: asyncio.Task[None] | None = None
        self.file_dialog: QFileDialog | None = None
        intro = QLabel(self.tr(
            "On a computer where you already use Threads, open Settings > Devices and choose “Add a device…”. "
            "Paste the link it shows here, or open a picture of its QR code."))
        intro.setWordWrap(True)
        self.link = QPlainTextEdit()
        self.link.setPlaceholderText(self.tr("threads://device/…"))
        self.link.setFixedHeight(70)
        self.link.textChanged.connect(self._check_soon)
        self.open_qr_button = QPushButton(self.tr("Open QR image…"))
        self.open_qr_button.clicked.connect(self.ask_qr_image)
        self.preview = QLabel()
        self.preview.setWordWrap(True)
        self.preview.setTextFormat(Qt.TextFormat.PlainText)  # names come from the link
        self.progress = QProgressBar()
        self.progress.setRange(0, 0)  # how long the other device takes is not known
        self.progress.setTextVisible(False)
        self.progress.hide()
        self.back_button = QPushButton(self.tr("Back"))
        self.back_button.clicked.connect(self.back_requested)
        self.cancel_button = QPushButton(self.tr("Cancel"))
        self.cancel_button.clicked.connect(self.cancel)
        self.cancel_button.hide()
        self.add_button = QPushButton(self.tr("Add this computer"))
        self.add_button.setDefault(True)
        self.add_button.setEnabled(False)
        self.add_button.clicked.connect(self.start)
        link_row = QHBoxLayout()
        link_row.addStretch()
        link_row.addWidget(self.open_qr_button)
        buttons = QHBoxLayout()
        buttons.addWidget(self.back_button)
        buttons.addStretch()
        buttons.addWidget(self.cancel_button)
        buttons.addWidget(self.add_button)
        layout = QVBoxLayout(self)
        layout.addWidget(intro)
        layout.addWidget(self.link)
        layout.addLayout(link_row)
        layout.addWidget(self.preview)
        layout.addWidget(self.progress)
        layout.addStretch()
        layout.addLayout(buttons)
        self._preview: device_ops.DeviceLinkPreview | None = None

    @property
    def busy(self) -> bool:
        return self._task is not None and not self._task.done()

    def _check_soon(self) -> None:
        if self._check_task is not None and not self._check_task.done():
            self._check_task.cancel()
        self._check_task = asyncio.ensure_future(self._check(self.link.toPlainText()))

    async def _check(self, text: str) -> None:
        self._preview = None
        self.add_button.setEnabled(False)
        self.preview.setStyleSheet("")
        if not text.strip():
            self.preview.setText("")
            self.checked.emit()
            return
        if DEVICE_PREFIX not in text:
            self._say_error(self.tr("There is no device link here. On your other device, open Settings > Devices "
                                    "and choose “Add a device…”: its link starts with %1").replace("%1", DEVICE_PREFIX)
                            if INVITE_PREFIX not in text else
                            self.tr("This is an invitation to an album or chat, not a device link. Start new "
                                    "instead, then join with it."), emit=False)
            self.checked.emit()
            return
        try:
            preview = await self._client.run(device_ops.read_device_link, text)
        except ThreadsError as exc:
            self._say_error(explain(exc), emit=False)
            self.checked.emit()
            return
        self.preview.setStyleSheet("" if preview.problem is None else _ERROR_STYLE)
        self.preview.setText(preview_text(preview))
        if preview.problem is None:
            self._preview = preview
        self.add_button.setEnabled(self._preview is not None and not self.busy)
        self.checked.emit()

    def ask_qr_image(self) -> QFileDialog:
        dialog = QFileDialog(self, self.tr("Open a picture of the QR code"))
        dialog.setFileMode(QFileDialog.FileMode.ExistingFile)
        dialog.setNameFilters([self.tr("Images (%1)").replace("%1", IMAGE_FILTER), self.tr("All files (*)")])
        dialog.fileSelected.connect(lambda path: asyncio.ensure_future(self.load_qr_image(Path(path))))
        dialog.finished.connect(dialog.deleteLater)
        self.file_dialog = dialog
        dialog.open()
        return dialog

    async def load_qr_image(self, path: Path) -> None:
        try:
            text = await asyncio.get_running_loop().run_in_executor(None, read_qr_link, path)
        except NoQrCodeError:
            self._say_error(self.tr("No QR code was found in “%1”. Try a sharper or closer picture.")
                            .replace("%1", path.name))
            return
        except NotAnInviteError:
            self._say_error(self.tr("The QR code in “%1” is not a Threads link.").replace("%1", path.name))
            return
        except OSError:
            self._say_error(self.tr("“%1” could not be opened as a picture.").replace("%1", path.name))
            return
        self.link.setPlainText(text)

    def start(self) -> None:
        if self._preview is None or self.busy:
            return
        self.preview.setStyleSheet("")
        self.preview.setText(self.tr("Waiting for %1… Keep Threads open there.")
                             .replace("%1", self._preview.device_name or self.tr("your other device")))
        self.progress.show()
        self.cancel_button.show()
        for widget in (self.add_button, self.back_button, self.link, self.open_qr_button):
            widget.setEnabled(False)
        self._task = asyncio.ensure_future(self._add(self._preview.link))

    async def _add(self, text: str) -> None:
        try:
            person = await self._client.run(device_ops.add_this_computer, text)
        except ThreadsError as exc:
            self._stopped()
            self._say_error(explain(exc))
            return
        except asyncio.CancelledError:
            self._stopped()
            raise
        self._stopped()
        self.add_button.setEnabled(False)
        self.preview.setText(self.tr("This computer is now one of your devices. Your albums and chats are "
                                     "arriving."))
        self.added.emit(person or "")

    def cancel(self) -> None:
        """Stop waiting: the engine's wait is cancelled with the call, and
        nothing was written before the other device answered."""
        if self._task is not None and not self._task.done():
            self._task.cancel()
        self.preview.setStyleSheet("")
        # Not "the link still works": the other device may have answered already.
        self.preview.setText(self.tr("Cancelled. Nothing was changed on this computer."))

    def _stopped(self) -> None:
        self.progress.hide()
        self.cancel_button.hide()
        for widget in (self.back_button, self.link, self.open_qr_button):
            widget.setEnabled(True)
        self.add_button.setEnabled(self._preview is not None)

    def _say_error(self, message: str, *, emit: bool = True) -> None:
        self.preview.setStyleSheet(_ERROR_STYLE)
        self.preview.setText(message)
        if emit:
            self.failed.emit(message)

    def stop(self) -> None:
        for task in (self._task, self._check_task):
            if task is not None and not task.done():
                task.cancel()
