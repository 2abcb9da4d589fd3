"""One photo, large: the preview at once, the original on demand (fetched
from a peer with progress if it is not on this device), left/right through
the album, zoom, the caption, comments, reactions and the camera's details."""

from __future__ import annotations

import asyncio
import datetime
from collections.abc import Callable, Coroutine
from concurrent.futures import Executor
from typing import Any

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QKeyEvent, QPixmap, QResizeEvent
from PySide6.QtWidgets import (
    QFrame,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QListView,
    QProgressBar,
    QPushButton,
    QScrollArea,
    QSizePolicy,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from threads_desktop.engine.core.ids import ThreadId
from threads_desktop.engine.core.types import ChangeSet, NetworkStatus
from threads_desktop.ui.engine_client import EngineClient
from threads_desktop.ui.models.comment_list_model import CommentListModel
from threads_desktop.ui.operations import photos as photo_ops
from threads_desktop.ui.pictures import shown_picture
from threads_desktop.ui.refusals import explain
from threads_desktop.ui.tasks import Tasks

REACTIONS = ("👍", "❤️", "😂", "😮", "🎉")


class PhotoViewer(QWidget):
    closed = Signal()
    shown = Signal(str)          # photo ID, once its picture is on screen
    original_shown = Signal(str)
    failed = Signal(str)

    def __init__(self, client: EngineClient, decoder: Executor, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._client = client
        self._decoder = decoder
        self._thread_id: ThreadId | None = None
        self._ids: list[str] = []
        self._row = -1
        self._details: photo_ops.PhotoDetails | None = None
        self._pixmap = QPixmap()
        self._zoomed = False
        self._waiting_original = False
        self._tasks = Tasks(self._failed)
        self.comments = CommentListModel()
        self._build()
        client.changed.connect(self._on_engine_changed)

    # --- construction -----------------------------------------------------------------

    def _build(self) -> None:
        self.setFocusPolicy(Qt.FocusPolicy.StrongFocus)
        layout = QHBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(0)
        stage = QWidget()
        stage.setObjectName("photoStage")
        stage.setStyleSheet("#photoStage { background: #111; } QLabel { color: #eee; }")
        stage_layout = QVBoxLayout(stage)
        stage_layout.setContentsMargins(0, 0, 0, 0)
        bar = QHBoxLayout()
        bar.setContentsMargins(8, 6, 8, 6)
        self.back_button = _stage_button("✕", self.tr("Back to the album (Esc)"), self.close_viewer)
        self.previous_button = _stage_button("\u2039", self.tr("Previous (Left)"), self.show_previous)
        self.next_button = _stage_button("\u203a", self.tr("Next (Right)"), self.show_next)
        self.zoom_button = _stage_button("1:1", self.tr("Actual size / fit to window (Z)"), self.toggle_zoom)
        self.position = QLabel()
        bar.addWidget(self.back_button)
        bar.addStretch()
        bar.addWidget(self.previous_button)
        bar.addWidget(self.position)
        bar.addWidget(self.next_button)
        bar.addStretch()
        bar.addWidget(self.zoom_button)
        stage_layout.addLayout(bar)
        self.picture_area = QScrollArea()
        self.picture_area.setFrameShape(QFrame.Shape.NoFrame)
        self.picture_area.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.picture_area.setStyleSheet("background: #111;")
        self.picture = QLabel()
        self.picture.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.picture.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Ignored)
        self.picture_area.setWidget(self.picture)
        self.picture_area.setWidgetResizable(True)
        stage_layout.addWidget(self.picture_area, 1)
        layout.addWidget(stage, 1)
        layout.addWidget(self._side_panel())
        # Keys reach the viewer when the text fields do not want them (their
        # own Left/Right move the cursor), so they are handled in keyPressEvent.
        self._keys: dict[Qt.Key, Callable[[], None]] = {
            Qt.Key.Key_Left: self.show_previous, Qt.Key.Key_Right: self.show_next,
            Qt.Key.Key_Escape: self.close_viewer, Qt.Key.Key_Z: self.toggle_zoom}

    def _side_panel(self) -> QWidget:
        panel = QWidget()
        panel.setFixedWidth(320)
        side = QVBoxLayout(panel)
        side.setContentsMargins(16, 16, 16, 16)
        self.name = QLabel()
        font = self.name.font()
        font.setBold(True)
        font.setPointSizeF(font.pointSizeF() * 1.15)
        self.name.setFont(font)
        self.facts = QLabel()
        self.original_state = QLabel()
        self.get_original = QPushButton(self.tr("Get original"))
        self.get_original.clicked.connect(self.fetch_original)
        self.original_progress = QProgressBar()
        self.original_progress.setTextVisible(False)
        self.original_progress.setFixedHeight(6)
        self.original_progress.hide()
        self.caption = QLineEdit()
        self.caption.setPlaceholderText(self.tr("Add a caption…"))
        self.caption.setMaxLength(2000)
        self.caption.editingFinished.connect(self._save_caption)
        reactions = QHBoxLayout()
        self.reaction_buttons: dict[str, QToolButton] = {}
        for emoji in REACTIONS:
            button = QToolButton()
            button.setCheckable(True)
            button.setText(emoji)
            button.setAutoRaise(True)
            button.clicked.connect(lambda on, e=emoji: self._spawn(self._react(e, on)))
            reactions.addWidget(button)
            self.reaction_buttons[emoji] = button
        reactions.addStretch()
        self.comment_list = QListView()
        self.comment_list.setModel(self.comments)
        self.comment_list.setWordWrap(True)
        self.comment_list.setFrameShape(QFrame.Shape.NoFrame)
        self.comment_list.setSpacing(3)
        self.comment_edit = QLineEdit()
        self.comment_edit.setPlaceholderText(self.tr("Write a comment and press Enter"))
        self.comment_edit.returnPressed.connect(lambda: self._spawn(self._comment()))
        self.error = QLabel()
        self.error.setStyleSheet("color: #b3261e")
        self.error.setWordWrap(True)
        for label in (self.name, self.facts, self.original_state, self.error):
            label.setTextFormat(Qt.TextFormat.PlainText)  # names and captions come from peers
            label.setWordWrap(True)
        side.addWidget(self.name)
        side.addWidget(self.facts)
        side.addSpacing(6)
        side.addWidget(self.original_state)
        row = QHBoxLayout()
        row.addWidget(self.get_original)
        row.addStretch()
        side.addLayout(row)
        side.addWidget(self.original_progress)
        side.addSpacing(10)
        side.addWidget(self.caption)
        side.addLayout(reactions)
        side.addWidget(_heading(self.tr("Comments")))
        side.addWidget(self.comment_list, 1)
        side.addWidget(self.comment_edit)
        side.addWidget(self.error)
        return panel

    # --- what is shown ----------------------------------------------------------------

    def show_photos(self, thread_id: ThreadId, ids: list[str], row: int) -> None:
        self._thread_id = thread_id
        self._ids = ids
        self._show_row(row)
        self.setFocus()

    def current_photo(self) -> str | None:
        return self._ids[self._row] if 0 <= self._row < len(self._ids) else None

    def show_next(self) -> None:
        if self._row + 1 < len(self._ids):
            self._show_row(self._row + 1)

    def show_previous(self) -> None:
        if self._row > 0:
            self._show_row(self._row - 1)

    def close_viewer(self) -> None:
        self.closed.emit()

    def toggle_zoom(self) -> None:
        self._zoomed = not self._zoomed
        self.zoom_button.setText(self.tr("Fit") if self._zoomed else "1:1")
        self._place_picture()

    def _show_row(self, row: int) -> None:
        self._row = row
        self._zoomed = False
        self._waiting_original = False
        self.zoom_button.setText("1:1")
        self.position.setText(self.tr("{n} of {total}").format(n=row + 1, total=len(self._ids)))
        self.previous_button.setEnabled(row > 0)
        self.next_button.setEnabled(row + 1 < len(self._ids))
        self.error.clear()
        self._spawn(self._load(self._ids[row], picture=True))

    async def _load(self, photo_id: str, *, picture: bool) -> None:
        assert self._thread_id is not None
        details = await self._client.run(photo_ops.photo_details, self._thread_id, photo_id)
        if photo_id != self.current_photo():
            return  # the user moved on meanwhile
        self._details = details
        self._show_details(details)
        if picture:
            await self._show_picture(details.preview)
            if details.original_here:
                await self._show_original()

    async def _show_picture(self, data: bytes | None, *, original: bool = False) -> None:
        if data is None:
            self._pixmap = QPixmap()
            self.picture.setText(self.tr("The picture is on its way from the other devices…"))
            return
        photo_id = self.current_photo()
        image = await asyncio.get_running_loop().run_in_executor(self._decoder, shown_picture, data)
        if photo_id != self.current_photo():
            return
        if image.isNull():  # damaged, or not a picture this app shows
            if original:
                self.error.setText(self.tr("The original cannot be shown here; this is its preview."))
            else:
                self._pixmap = QPixmap()
                self.picture.setText(self.tr("This picture cannot be shown."))
            return
        self._pixmap = QPixmap.fromImage(image)
        self._place_picture()
        if photo_id is not None and not original:
            self.shown.emit(photo_id)

    def _show_details(self, details: photo_ops.PhotoDetails) -> None:
        self.name.setText(details.name or self.tr("Untitled"))
        facts = []
        taken = _camera_time(details.taken_at)
        if taken:
            facts.append(self.tr("Taken {when}").format(when=taken))
        facts.append(self.tr("{w} \u00d7 {h} pixels").format(w=details.width, h=details.height))
        if details.camera:
            facts.append(details.camera)
        if details.gps:
            facts.append(self.tr("Location {lat:.4f}, {lon:.4f}").format(
                lat=details.gps.get("lat", 0.0), lon=details.gps.get("lon", 0.0)))
        facts.append(self.tr("Added by {who}").format(who=details.added_by) if details.added_by
                     else self.tr("Added by you"))
        self.facts.setText("\n".join(facts))
        self._show_original_state(details.original_here)
        if not self.caption.hasFocus():
            self.caption.setText(details.caption)
        self.caption.setReadOnly(not details.can_edit)
        self.caption.setToolTip("" if details.can_edit else self.tr("Only the person who added this photo can "
                                                                     "change its caption") if details.can_write
                                else self.tr("You can view this album but not change it"))
        self.comment_edit.setEnabled(details.can_write)
        self.comment_edit.setToolTip("" if details.can_write else self.tr("You can view this album but not comment"))
        for emoji, button in self.reaction_buttons.items():
            count, mine = details.reactions.get(emoji, (0, False))
            button.setText(f"{emoji} {count}" if count else emoji)
            button.setChecked(mine)
            button.setEnabled(details.can_write)
        self.comments.set_comments(details.comments)

    def _show_original_state(self, here: bool) -> None:
        self.get_original.setVisible(not here)
        self.get_original.setEnabled(not self._waiting_original)
        if here:
            self.original_progress.hide()
            self.original_state.setText(self.tr("The original is on this device."))
        elif self._waiting_original:
            self.original_state.setText(self.tr("Fetching the original…"))
        else:
            self.original_state.setText(self.tr("Showing a preview; the original is on another device."))

    def _place_picture(self) -> None:
        if self._pixmap.isNull():
            return
        if self._zoomed:
            self.picture_area.setWidgetResizable(False)
            self.picture.setPixmap(self._pixmap)
            self.picture.resize(self._pixmap.size())
        else:
            self.picture_area.setWidgetResizable(True)
            area = self.picture_area.viewport().size()
            self.picture.setPixmap(self._pixmap.scaled(area, Qt.AspectRatioMode.KeepAspectRatio,
                                                       Qt.TransformationMode.SmoothTransformation))

    def resizeEvent(self, event: QResizeEvent) -> None:
        super().resizeEvent(event)
        self._place_picture()

    def keyPressEvent(self, event: QKeyEvent) -> None:
        key = Qt.Key(event.key())
        if key in (Qt.Key.Key_Plus, Qt.Key.Key_Minus):
            if self._zoomed != (key == Qt.Key.Key_Plus):
                self.toggle_zoom()
            return
        action = self._keys.get(key)
        if action is None:
            super().keyPressEvent(event)
            return
        action()

    # --- the original -----------------------------------------------------------------

    def fetch_original(self) -> None:
        self._waiting_original = True
        self._show_original_state(False)
        self._show_progress(None)  # busy until the peer says how much
        self._spawn(self._ask_original())

    async def _ask_original(self) -> None:
        photo_id, thread_id = self.current_photo(), self._thread_id
        if photo_id is None or thread_id is None:
            return
        progress = await self._client.run(photo_ops.ask_for_original, thread_id, photo_id)
        self._show_progress(progress)

    def _show_progress(self, progress: tuple[int, int] | None) -> None:
        self.original_progress.setVisible(self._waiting_original)
        if progress is None or progress[1] == 0:
            self.original_progress.setRange(0, 0)  # busy until the peer says how much
        else:
            self.original_progress.setRange(0, progress[1])
            self.original_progress.setValue(progress[0])

    async def _show_original(self) -> None:
        photo_id, thread_id = self.current_photo(), self._thread_id
        if photo_id is None or thread_id is None:
            return
        data = await self._client.run(photo_ops.original, thread_id, photo_id)
        if data is None or photo_id != self.current_photo():
            return
        self._waiting_original = False
        self._show_original_state(True)
        await self._show_picture(data, original=True)
        self.original_shown.emit(photo_id)

    def _show_transfer(self, status: NetworkStatus) -> None:
        """The album's transfer in a network snapshot, as the original's progress."""
        self._show_progress(next(((t.done, t.total) for t in status.transfers if t.thread_id == self._thread_id),
                                 None))

    # --- changes ----------------------------------------------------------------------

    def _save_caption(self) -> None:
        details, thread_id, text = self._details, self._thread_id, self.caption.text()
        if details is None or thread_id is None or not details.can_edit or text.strip() == details.caption:
            return
        photo_id = details.photo_id
        self._spawn(self._client.run(photo_ops.set_caption, thread_id, photo_id, text))

    def _on_engine_changed(self, changes: ChangeSet) -> None:
        photo_id = self.current_photo()
        if photo_id is None or self._thread_id is None or not self.isVisible():
            return
        # Transfers move 4 times a second: their snapshot is shown as it is,
        # and the engine is asked only once the picture itself is here.
        if self._waiting_original and changes.network is not None:
            self._show_transfer(changes.network)
        arrived = {name for thread, collection, doc, name in changes.blobs
                   if thread == self._thread_id and collection == "photo" and doc == photo_id}
        if "original" in arrived:
            self._spawn(self._show_original())
        elif "preview" in arrived and self._pixmap.isNull():
            self._spawn(self._load(photo_id, picture=True))
        if self._thread_id in changes.membership or any(  # a role change: what we may do here
                thread == self._thread_id and collection in ("photo", "comment", "reaction")
                for thread, collection, _doc in changes.documents):
            self._spawn(self._load(photo_id, picture=False))

    async def _react(self, emoji: str, on: bool) -> None:
        photo_id, thread_id = self.current_photo(), self._thread_id
        if photo_id is not None and thread_id is not None:
            await self._client.run(photo_ops.react, thread_id, photo_id, emoji, on)

    async def _comment(self) -> None:
        text, photo_id, thread_id = self.comment_edit.text(), self.current_photo(), self._thread_id
        if not text.strip() or photo_id is None or thread_id is None:
            return
        await self._client.run(photo_ops.comment, thread_id, photo_id, text)
        self.comment_edit.clear()

    def _spawn(self, work: Coroutine[Any, Any, None]) -> None:
        self._tasks.spawn(work)

    def _failed(self, error: BaseException) -> None:
        message = explain(error)
        self.error.setText(message)
        self.failed.emit(message)

    def cancel_work(self) -> None:
        self._tasks.cancel_all(close=True)


def _stage_button(text: str, tip: str, slot: Callable[[], None]) -> QToolButton:
    button = QToolButton()
    button.setText(text)
    button.setToolTip(tip)
    button.setAutoRaise(True)
    button.setStyleSheet("QToolButton { color: #eee; font-size: 16px; padding: 2px 10px; }"
                         "QToolButton:disabled { color: #555; }")
    button.clicked.connect(slot)
    return button


def _heading(text: str) -> QLabel:
    label = QLabel(text.upper())
    font = label.font()
    font.setBold(True)
    font.setPointSizeF(font.pointSizeF() * 0.8)
    label.setFont(font)
    return label


def _camera_time(taken_at_ms: int | None) -> str | None:
    """The camera's own clock reading: stored as if UTC when the camera gave
    no zone, so shown in UTC. A nonsense value from a peer shows nothing."""
    if not isinstance(taken_at_ms, int) or isinstance(taken_at_ms, bool) or not taken_at_ms:
        return None
    try:
        return datetime.datetime.fromtimestamp(taken_at_ms / 1000, tz=datetime.UTC).strftime("%d %b %Y, %H:%M")
    except (OverflowError, OSError, ValueError):
        return None

