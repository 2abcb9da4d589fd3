"""Join by a link someone sent: paste it (the whole message will do, or open
a picture of its QR code), see what it opens and who it came from, then
join. A bad, cut or altered link says so and changes nothing; a link to a
thread this profile is already in offers to open it."""

from __future__ import annotations

import asyncio
from pathlib import Path

import zxingcpp
from PIL import Image
from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QShowEvent
from PySide6.QtWidgets import (
    QDialog,
    QDialogButtonBox,
    QFileDialog,
    QHBoxLayout,
    QLabel,
    QPlainTextEdit,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from threads_desktop.engine.acl.links import PREFIX, InviteLink
from threads_desktop.engine.core.errors import InvalidLinkError, ThreadsError
from threads_desktop.engine.core.ids import ThreadId
from threads_desktop.engine.core.members import Role
from threads_desktop.engine.logstore.addressbook import peer_of_address
from threads_desktop.engine.persons.device_links import PREFIX as DEVICE_PREFIX
from threads_desktop.ui.devices_text import preview_text
from threads_desktop.ui.engine_client import EngineClient
from threads_desktop.ui.operations import devices as device_ops
from threads_desktop.ui.operations import threads as thread_ops
from threads_desktop.ui.people import person
from threads_desktop.ui.refusals import explain

_ROLE_TEXT = {Role.WRITE: "you can add photos and messages", Role.READ: "you can view it",
              Role.FOLLOW: "this device keeps a backup it cannot read"}
IMAGE_FILTER = "*.png *.jpg *.jpeg *.webp *.bmp *.gif *.tif *.tiff"


class NoQrCodeError(Exception):
    """The picture holds no QR code that could be read."""


class NotAnInviteError(Exception):
    """The picture's QR code holds something else than an invite or device link."""


def read_qr_link(path: Path) -> str:
    """The invite link in the QR code of a picture (a screenshot, a photo of
    a screen). OSError if the file is no picture; NoQrCodeError,
    NotAnInviteError. Slow for big photos: call it off the GUI thread."""
    try:
        with Image.open(path) as image:
            # Grey levels are all the decoder looks at; converting here also
            # flattens palettes and alpha, which it would misread.
            grey = image.convert("L")
    except (ValueError, Image.DecompressionBombError) as exc:
        raise OSError(str(exc)) from exc
    codes = zxingcpp.read_barcodes(grey, formats=zxingcpp.BarcodeFormats(zxingcpp.BarcodeFormat.QRCode))
    texts = [code.text.strip() for code in codes if code.text.strip()]
    links = [text for text in texts if text.startswith((PREFIX, DEVICE_PREFIX))]  # an invite, or a device link
    if links:
        return links[0]
    if texts:
        raise NotAnInviteError(texts[0][:200])
    raise NoQrCodeError(str(path))


class JoinDialog(QDialog):
    joined = Signal(object)  # ThreadId (also when the user opens a thread it was already in)
    failed = Signal(str)
    checked = Signal()  # the link in the box was read, and whether we are in it already asked
    qr_read = Signal(str)  # the link found in a picture, now in the box
    qr_failed = Signal(str)  # why a picture gave no link
    became_device = Signal(str)  # a device link was used: this computer is another device of its person

    def __init__(self, client: EngineClient, parent: QWidget | None = None, text: str = "") -> None:
        super().__init__(parent)
        self._client = client
        self._link: InviteLink | None = None
        self._task: asyncio.Task[None] | None = None
        self._qr_task: asyncio.Task[None] | None = None
        self._member_task: asyncio.Task[None] | None = None
        self._already_in: ThreadId | None = None
        self._device_link: str | None = None  # a device link that checked out (issue 19)
        self.file_dialog: QFileDialog | None = None
        self.setWindowTitle(self.tr("Join an album or chat"))
        self.setMinimumWidth(480)
        prompt = QLabel(self.tr("Paste the invite link you were sent (the whole message will do):"))
        self.open_qr_button = QPushButton(self.tr("Open QR image…"))
        self.open_qr_button.setToolTip(self.tr("Read the link from a picture of its QR code"))
        self.open_qr_button.clicked.connect(self.ask_qr_image)
        self.open_qr_button.setAutoDefault(False)  # Enter in the box joins; it never opens a file dialog
        top = QHBoxLayout()
        top.addWidget(prompt, 1)
        top.addWidget(self.open_qr_button)
        self.link_edit = QPlainTextEdit()
        self.link_edit.setPlaceholderText("threads://join/…")
        self.link_edit.setTabChangesFocus(True)
        self.link_edit.setFixedHeight(72)
        self.details = QLabel()
        self.details.setWordWrap(True)
        self.details.setTextFormat(Qt.TextFormat.PlainText)
        self.error = QLabel()
        self.error.setStyleSheet("color: #b3261e")
        self.error.setWordWrap(True)
        self.error.setTextFormat(Qt.TextFormat.PlainText)
        self.error.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel)
        self.join_button = self.buttons.button(QDialogButtonBox.StandardButton.Ok)
        self.join_button.setText(self.tr("Join"))
        self.join_button.setEnabled(False)
        self.buttons.accepted.connect(self._join)
        self.buttons.rejected.connect(self.reject)
        self.link_edit.textChanged.connect(self._check)
        layout = QVBoxLayout(self)
        layout.addLayout(top)
        layout.addWidget(self.link_edit)
        layout.addWidget(self.details)
        layout.addWidget(self.error)
        layout.addWidget(self.buttons)
        self.link_edit.setFocus()  # Ctrl+J then Ctrl+V pastes straight in
        if text:
            self.link_edit.setPlainText(text)

    def showEvent(self, event: QShowEvent) -> None:
        super().showEvent(event)
        self.link_edit.setFocus()

    def ask_qr_image(self) -> QFileDialog:
        """A file dialog for a picture of a QR code; open(), so the loop runs."""
        dialog = QFileDialog(self, self.tr("Open a picture of the QR code"))
        dialog.setFileMode(QFileDialog.FileMode.ExistingFile)
        dialog.setNameFilters([self.tr("Images (%1)").replace("%1", IMAGE_FILTER), self.tr("All files (*)")])
        dialog.fileSelected.connect(self.load_qr_image)
        dialog.finished.connect(dialog.deleteLater)
        self.file_dialog = dialog
        dialog.open()
        return dialog

    def load_qr_image(self, path: str | Path) -> None:
        """Read the link from the picture at `path` (on a worker thread) and
        put it in the box; `qr_read` or `qr_failed` tells how it went."""
        self.open_qr_button.setEnabled(False)
        self.error.clear()
        self._qr_task = asyncio.ensure_future(self._read_qr(Path(path)))

    async def _read_qr(self, path: Path) -> None:
        try:
            link = await asyncio.get_running_loop().run_in_executor(None, read_qr_link, path)
        except NoQrCodeError:
            self._qr_problem(self.tr("No QR code was found in “%1”. Try a sharper or closer picture.")
                             .replace("%1", path.name))
            return
        except NotAnInviteError:
            self._qr_problem(self.tr("The QR code in “%1” is not an invite link.").replace("%1", path.name))
            return
        except OSError as exc:
            self._qr_problem(self.tr("Could not open “%1” as a picture: %2").replace("%1", path.name)
                             .replace("%2", exc.strerror or str(exc)))
            return
        finally:
            self.open_qr_button.setEnabled(True)
        self.link_edit.setPlainText(link)  # checked and explained as a pasted link is
        self.qr_read.emit(link)

    def _qr_problem(self, message: str) -> None:
        self.error.setText(message)
        self.qr_failed.emit(message)

    def _check(self) -> None:
        text = self.link_edit.toPlainText()
        self._link = None
        self._already_in = None
        self.details.clear()
        self.error.clear()
        self.join_button.setEnabled(False)
        self.join_button.setText(self.tr("Join"))
        if self._member_task is not None:
            self._member_task.cancel()
        self._device_link = None
        if not text.strip():
            return
        if DEVICE_PREFIX in text and PREFIX not in text:
            self._member_task = asyncio.ensure_future(self._check_device_link(text))
            return
        try:
            link = InviteLink.find(text)  # the whole message someone sent will do
        except InvalidLinkError as exc:
            self.error.setText(self._link_problem(text, exc))
            self.checked.emit()
            return
        self._link = link
        name = link.name or self.tr("an album or chat")
        lines = [self.tr("“%1”: %2.").replace("%1", name).replace("%2", self.tr(_ROLE_TEXT[link.role]))]
        inviters = sorted(str(p) for p in map(peer_of_address, link.addresses) if p is not None)
        if link.inviter or inviters:  # a link made offline names its inviter and no address
            lines.append(self.tr("From %1").replace("%1", link.inviter or person(None, inviters[0])))
        if link.approve:
            lines.append(self.tr("An admin will let you in by hand; you may have to wait."))
        if not link.addresses:
            lines.append(self.tr("The link names no address: it will sync when you meet a member nearby."))
        self.details.setText("\n".join(lines))
        self._member_task = asyncio.ensure_future(self._check_membership(link))

    def _link_problem(self, text: str, error: InvalidLinkError) -> str:
        if PREFIX.split("/")[0] not in text:
            return self.tr("There is no invite link here. An invite link starts with %1").replace("%1", PREFIX)
        if "newer version" in str(error):
            return self.tr("This link was made by a newer version of Threads. Update the app to join.")
        return explain(error)

    async def _check_membership(self, link: InviteLink) -> None:
        """Say at once when this profile is in that thread already, and offer to open it."""
        try:
            already_in = await self._client.run(thread_ops.already_in, link.thread_id)
        except ThreadsError as exc:
            self.error.setText(explain(exc))
            self.checked.emit()
            return
        if self._link is not link:
            return  # the box changed meanwhile
        if already_in is not None:
            self._already_in = link.thread_id
            name = link.name or self.tr("this album or chat")
            self.details.setText(self.tr("You are already a member of “%1”.").replace("%1", name)
                                 if already_in == "member" else
                                 self.tr("You already joined “%1” with a link: you are waiting to be let in.")
                                 .replace("%1", name))
            self.join_button.setText(self.tr("Open"))
        self.join_button.setEnabled(True)
        self.checked.emit()

    async def _check_device_link(self, text: str) -> None:
        """A device link pasted here: say what it would do (issue 19)."""
        try:
            preview = await self._client.run(device_ops.read_device_link, text)
        except ThreadsError as exc:
            self.error.setText(explain(exc))
            self.checked.emit()
            return
        if preview.problem is None:
            self.details.setText(preview_text(preview))
            self._device_link = preview.link
            self.join_button.setText(self.tr("Add this computer"))
            self.join_button.setEnabled(True)
        else:
            self.error.setText(preview_text(preview))
        self.checked.emit()

    def _join(self) -> None:
        if self._device_link is not None and self.join_button.isEnabled():
            self.join_button.setEnabled(False)
            self.details.setText(self.tr("Waiting for your other device… Keep Threads open there."))
            self._task = asyncio.ensure_future(self._become_device(self._device_link))
            return
        if self._already_in is not None:
            self.joined.emit(self._already_in)  # the window opens it
            self.accept()
            return
        if self._link is None or not self.join_button.isEnabled():
            return
        self.join_button.setEnabled(False)
        self._task = asyncio.ensure_future(self._run_join(self._link))

    async def _become_device(self, link: str) -> None:
        try:
            await self._client.run(device_ops.add_this_computer, link)
        except ThreadsError as exc:
            self.error.setText(explain(exc))
            self.join_button.setEnabled(True)
            self.failed.emit(explain(exc))
            return
        self.became_device.emit(self.tr("This computer is now one of your devices. Your albums and chats are "
                                        "arriving."))
        self.accept()

    async def _run_join(self, link: InviteLink) -> None:
        try:
            thread_id: ThreadId = await self._client.join(link)
        except ThreadsError as exc:
            self.error.setText(self.tr("Could not join: %1").replace("%1", explain(exc)))
            self.join_button.setEnabled(True)
            self.failed.emit(explain(exc))
            return
        self.joined.emit(thread_id)
        self.accept()
