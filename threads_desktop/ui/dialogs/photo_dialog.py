"""A photo from a chat, large: the preview at once, the original when it is
on this device (asked for from the peers when it is not), left/right through
the message's photos, and "Save As…" for the original.

Not modal and never exec(): it is opened with show(), and Save As… opens its
file dialog with open(), so no nested event loop runs inside qasync."""

from __future__ import annotations

import asyncio
import os
import tempfile
import unicodedata
from concurrent.futures import Executor
from pathlib import Path

from PySide6.QtCore import QStandardPaths, Qt, Signal
from PySide6.QtGui import QKeyEvent, QPixmap, QResizeEvent
from PySide6.QtWidgets import (
    QDialog,
    QFileDialog,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QSizePolicy,
    QVBoxLayout,
    QWidget,
)

from threads_desktop.engine.core.errors import NotFoundError
from threads_desktop.engine.core.ids import ThreadId
from threads_desktop.engine.core.types import ChangeSet
from threads_desktop.ui.engine_client import EngineClient
from threads_desktop.ui.operations import photos as photo_ops
from threads_desktop.ui.pictures import shown_picture
from threads_desktop.ui.tasks import Tasks

_SUFFIXES = ((b"\xff\xd8\xff", ".jpg"), (b"\x89PNG\r\n\x1a\n", ".png"), (b"GIF8", ".gif"))
MAX_NAME = 120
_NOT_IN_NAMES = {"Cc", "Cf", "Cs", "Co", "Cn", "Zl", "Zp"}  # controls, invisible marks, line breaks


def safe_file_name(name: str, data: bytes) -> str:
    """A file name for a name a peer chose: one plain name (no folders, no
    control characters, not hidden), not too long, with the suffix of what
    the bytes are when it has none."""
    cleaned = "".join("_" if ch in "/\\:" or unicodedata.category(ch) in _NOT_IN_NAMES else ch
                      for ch in unicodedata.normalize("NFC", name))
    cleaned = cleaned.strip().lstrip(".").strip()
    stem, suffix = os.path.splitext(cleaned)
    if not suffix:
        suffix = next((s for magic, s in _SUFFIXES if data.startswith(magic)),
                      ".webp" if data[8:12] == b"WEBP" else "")
    stem = stem[:MAX_NAME] or "photo"
    return stem + suffix[:10]


def _write_file(target: Path, data: bytes) -> None:
    """The whole file or nothing: written beside the target, then put in place
    (the file dialog has asked before replacing a file that was there)."""
    handle, temporary = tempfile.mkstemp(dir=target.parent, prefix=".saving-")
    try:
        with os.fdopen(handle, "wb") as out:
            out.write(data)
        os.replace(temporary, target)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


class PhotoDialog(QDialog):
    shown = Signal(str)  # photo ID, once its picture is on screen
    original_shown = Signal(str)
    saved = Signal(str)  # the path written
    failed = Signal(str)

    def __init__(self, client: EngineClient, decoder: Executor, thread_id: ThreadId, photo_ids: list[str],
                 row: int = 0, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._client = client
        self._decoder = decoder
        self._thread_id = thread_id
        self._ids = photo_ids
        self._row = row
        self._photo: photo_ops.ChatPhoto | None = None
        self._pixmap = QPixmap()
        self._tasks = Tasks(self._failed)
        self.save_dialog: QFileDialog | None = None
        self.setWindowTitle(self.tr("Photo"))
        self.resize(900, 680)
        self._build()
        client.changed.connect(self._on_engine_changed)
        self.finished.connect(lambda _result: self._tasks.cancel_all(close=True))
        self._show_row(row)

    def _build(self) -> None:
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 8)
        self.picture = QLabel()
        self.picture.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.picture.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Ignored)
        self.picture.setStyleSheet("background: #111; color: #eee;")
        layout.addWidget(self.picture, 1)
        bar = QHBoxLayout()
        bar.setContentsMargins(12, 0, 12, 0)
        self.previous_button = QPushButton("\u2039")
        self.previous_button.setToolTip(self.tr("Previous (Left)"))
        self.previous_button.clicked.connect(self.show_previous)
        self.next_button = QPushButton("\u203a")
        self.next_button.setToolTip(self.tr("Next (Right)"))
        self.next_button.clicked.connect(self.show_next)
        self.caption = QLabel()
        self.caption.setTextFormat(Qt.TextFormat.PlainText)  # a name from a peer
        self.save_button = QPushButton(self.tr("Save As…"))
        self.save_button.clicked.connect(self.ask_save)
        close = QPushButton(self.tr("Close"))
        close.clicked.connect(self.close)
        for button in (self.previous_button, self.next_button, self.save_button, close):
            button.setAutoDefault(False)
        bar.addWidget(self.previous_button)
        bar.addWidget(self.next_button)
        bar.addWidget(self.caption, 1)
        bar.addWidget(self.save_button)
        bar.addWidget(close)
        layout.addLayout(bar)
        self.previous_button.setVisible(len(self._ids) > 1)
        self.next_button.setVisible(len(self._ids) > 1)

    # --- what is shown -------------------------------------------------------------------

    def current_photo(self) -> str:
        return self._ids[self._row]

    def show_next(self) -> None:
        if self._row + 1 < len(self._ids):
            self._show_row(self._row + 1)

    def show_previous(self) -> None:
        if self._row > 0:
            self._show_row(self._row - 1)

    def _show_row(self, row: int) -> None:
        self._row = row
        self._photo = None
        self._pixmap = QPixmap()
        self.picture.setText(self.tr("Loading…"))
        self.previous_button.setEnabled(row > 0)
        self.next_button.setEnabled(row + 1 < len(self._ids))
        self._update_caption()
        self._tasks.spawn(self._load(self.current_photo()))

    async def _load(self, photo_id: str, again: bool = False) -> None:
        # A load again (the original may have come) must not ask the peers for it once more.
        photo = await self._client.run(photo_ops.chat_photo, self._thread_id, photo_id, not again)
        if photo_id != self.current_photo():
            return  # the user moved on meanwhile
        had_original = self._photo is not None and self._photo.original is not None
        self._photo = photo
        self._update_caption()
        if photo.original is not None and not had_original and await self._show_picture(photo_id, photo.original):
            self.shown.emit(photo_id)
            self.original_shown.emit(photo_id)
            return
        if self._pixmap.isNull() and photo.preview is not None and await self._show_picture(photo_id, photo.preview):
            self.shown.emit(photo_id)
        if self._pixmap.isNull():
            self.picture.setText(self.tr("The photo is on its way from the other devices…"))

    async def _show_picture(self, photo_id: str, data: bytes) -> bool:
        image = await asyncio.get_running_loop().run_in_executor(self._decoder, shown_picture, data)
        if photo_id != self.current_photo() or image.isNull():
            return False
        self._pixmap = QPixmap.fromImage(image)
        self._place_picture()
        return True

    def _update_caption(self) -> None:
        photo = self._photo
        name = photo.name if photo is not None and photo.name else ""
        place = self.tr("{n} of {total}").format(n=self._row + 1, total=len(self._ids)) if len(self._ids) > 1 else ""
        self.caption.setText("  ·  ".join(part for part in (name, place) if part))
        here = photo is not None and photo.original is not None
        self.save_button.setEnabled(here)
        self.save_button.setToolTip("" if here or photo is None else
                                    self.tr("The original is still on another device; it is on its way."))

    def displayed_pixmap(self) -> QPixmap:
        """The picture at its own size (what is on screen is it, fitted)."""
        return self._pixmap

    def _place_picture(self) -> None:
        if not self._pixmap.isNull():
            self.picture.setPixmap(self._pixmap.scaled(self.picture.size(), Qt.AspectRatioMode.KeepAspectRatio,
                                                       Qt.TransformationMode.SmoothTransformation))

    def resizeEvent(self, event: QResizeEvent) -> None:
        super().resizeEvent(event)
        self._place_picture()

    def keyPressEvent(self, event: QKeyEvent) -> None:
        if event.key() == Qt.Key.Key_Left:
            self.show_previous()
        elif event.key() == Qt.Key.Key_Right:
            self.show_next()
        else:
            super().keyPressEvent(event)

    def _on_engine_changed(self, changes: ChangeSet) -> None:
        # Transfers publish their progress several times a second: only this
        # photo's original becoming whole, or its document changing, is read.
        photo = self._photo
        if photo is not None and photo.original is None:  # it may have come
            shown = (self._thread_id, "photo", self.current_photo())
            if (*shown, "original") in changes.blobs or shown in changes.documents:
                self._tasks.spawn(self._load(self.current_photo(), again=True))

    # --- saving --------------------------------------------------------------------------

    def ask_save(self) -> QFileDialog | None:
        photo = self._photo
        if photo is None or photo.original is None:
            return None
        pictures = QStandardPaths.writableLocation(QStandardPaths.StandardLocation.PicturesLocation)
        folder = pictures if pictures and Path(pictures).is_dir() else str(Path.home())
        dialog = QFileDialog(self, self.tr("Save Photo As"),
                             str(Path(folder) / safe_file_name(photo.name, photo.original)))
        dialog.setAcceptMode(QFileDialog.AcceptMode.AcceptSave)
        dialog.setFileMode(QFileDialog.FileMode.AnyFile)  # it asks before replacing a file
        original, photo_id = photo.original, self.current_photo()
        dialog.fileSelected.connect(lambda path: self._tasks.spawn(self._save(photo_id, original, Path(path))))
        dialog.finished.connect(dialog.deleteLater)
        self.save_dialog = dialog
        dialog.open()  # open(), not exec(): no nested event loop under qasync
        return dialog

    async def _save(self, photo_id: str, data: bytes, target: Path) -> None:
        try:
            await asyncio.get_running_loop().run_in_executor(self._decoder, _write_file, target, data)
        except OSError as exc:
            reason = exc.strerror or self.tr("the disk refused it")
            self._failed_text(self.tr("The photo was not saved to {folder}: {reason}.").format(
                folder=target.parent.name or str(target.parent), reason=reason.lower()))
            return
        self.saved.emit(str(target))

    def _failed(self, error: BaseException) -> None:
        self._failed_text(self.tr("This photo is no longer in the chat.") if isinstance(error, NotFoundError)
                          else self.tr("The photo cannot be shown."))

    def _failed_text(self, text: str) -> None:
        self.caption.setText(text)
        self.failed.emit(text)
