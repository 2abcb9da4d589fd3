"""A chat's writing side: the composer (send, reply, edit), deleting and
reacting, photos to attach, the bars above the composer and a message's menu.

A mixin of `ChatView` (views/chat_view.py), which owns the widgets and state
named below; split out so each module reads in one sitting."""

from __future__ import annotations

from collections.abc import Coroutine
from concurrent.futures import Executor
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QDragEnterEvent, QDragMoveEvent, QDropEvent
from PySide6.QtWidgets import (
    QFileDialog,
    QFrame,
    QLabel,
    QMenu,
    QMessageBox,
    QPushButton,
    QToolButton,
    QWidget,
)

from threads_desktop.engine.core.types import ItemActions, ThreadSummary
from threads_desktop.ui.dialogs.photo_dialog import PhotoDialog
from threads_desktop.ui.engine_client import EngineClient
from threads_desktop.ui.models.message_list_model import MessageListModel
from threads_desktop.ui.operations import chat as chat_ops
from threads_desktop.ui.widgets.chat_composer import IMAGE_SUFFIXES, ChatComposer, image_paths
from threads_desktop.ui.widgets.message_menu import message_menu

_NO_ACTIONS = ItemActions(edit=False, delete=False)

# Typed as the widget it is mixed into; a plain class at run time (Qt's base comes from ChatView).
if TYPE_CHECKING:
    _Base = QWidget
else:
    _Base = object


class ChatWriting(_Base):
    message_sent: ClassVar[Signal]
    message_edited: ClassVar[Signal]
    message_deleted: ClassVar[Signal]
    reaction_toggled: ClassVar[Signal]
    _client: EngineClient
    _decoder: Executor
    _summary: ThreadSummary | None
    _reply_to: str | None
    _editing: str | None
    _attachments: list[Path]
    _actions: dict[str, ItemActions]
    _sending: bool
    _scroll_to_end_next: bool
    model: MessageListModel
    composer: ChatComposer
    send_button: QPushButton
    attach_button: QToolButton
    invite_button: QPushButton
    notice: QLabel
    mode_bar: QFrame
    mode_label: QLabel
    mode_cancel: QToolButton
    attachment_bar: QFrame
    attachment_label: QLabel
    context_menu: QMenu | None
    confirm_box: QMessageBox | None
    photo_dialog: PhotoDialog | None

    if TYPE_CHECKING:
        def _spawn(self, work: Coroutine[Any, Any, None]) -> None: ...
        def _show_error(self, message: str) -> None: ...
        def _is_current(self, summary: ThreadSummary) -> bool: ...

    # --- writing ----------------------------------------------------------------------------

    def _writable(self) -> bool:
        return self._summary is not None and self._summary.can_read and self._summary.can_write

    def _apply_rights(self) -> None:
        summary = self._summary
        writable = self._writable()
        if writable or summary is None:
            reason = ""
        elif summary.can_read:
            reason = self.tr("You can read this chat but not write in it.")
        else:
            reason = self.tr("This device keeps an encrypted backup of this chat: it cannot read or write in it.")
        self.composer.setEnabled(writable)
        self.composer.setPlaceholderText(self.tr("Write a message… (Shift+Enter for a new line)") if writable
                                         else reason)
        self.composer.setToolTip(reason)
        self.send_button.setEnabled(writable and not self._sending)
        self.send_button.setToolTip(reason or self.tr("Send (Enter)"))
        self.attach_button.setEnabled(writable)
        self.attach_button.setToolTip(reason or self.tr("Attach photos…"))
        self.invite_button.setVisible(summary is None or (summary.can_invite and not summary.removed))
        self.notice.setText(reason if summary is not None and not summary.can_read else "")
        self.notice.setVisible(bool(self.notice.text()))

    def send(self) -> None:
        """Send the composer's text (and attached photos), or save the edit."""
        summary = self._summary
        if summary is None or not self._writable() or self._sending:
            return
        text = self.composer.toPlainText().strip()
        if self._editing is not None:
            if text:
                self._spawn(self._save_edit(summary, self._editing, text))
            return
        if not text and not self._attachments:
            return
        self._spawn(self._send(summary, text, self._reply_to, list(self._attachments)))

    async def _send(self, summary: ThreadSummary, text: str, reply_to: str | None, photos: list[Path]) -> None:
        self._set_sending(True)
        try:
            message_id = await self._client.run(chat_ops.post, summary.thread_id, text, reply_to, photos)
        finally:
            self._set_sending(False)
        if not self._is_current(summary):
            return
        self.composer.clear()
        self._reply_to = None
        self._attachments = []
        self._update_bars()
        self._show_error("")
        self._scroll_to_end_next = True  # our own message: show it even when scrolled up
        self.message_sent.emit(message_id)

    async def _save_edit(self, summary: ThreadSummary, message_id: str, text: str) -> None:
        self._set_sending(True)
        try:
            await self._client.run(chat_ops.edit, summary.thread_id, message_id, text)
        finally:
            self._set_sending(False)
        if self._is_current(summary):
            self._editing = None
            self.composer.clear()
            self._update_bars()
            self._show_error("")
            self.message_edited.emit(message_id)

    def _set_sending(self, sending: bool) -> None:
        self._sending = sending
        self.send_button.setEnabled(self._writable() and not sending)

    def start_reply(self, message_id: str) -> None:
        self._editing = None
        self._reply_to = message_id
        self._update_bars()
        self.composer.setFocus()

    def start_edit(self, message_id: str) -> None:
        row = self.model.row_of(message_id)
        item = self.model.message(row) if row >= 0 else None
        if item is None:
            return
        self._reply_to = None
        self._editing = message_id
        self.composer.setPlainText(item.text)
        self.composer.moveCursor(self.composer.textCursor().MoveOperation.End)
        self._update_bars()
        self.composer.setFocus()

    def cancel_mode(self) -> None:
        """Drop the reply or the edit under way (an edit's text goes too)."""
        if self._editing is not None:
            self.composer.clear()
        self._reply_to = self._editing = None
        self._update_bars()

    def ask_delete(self, message_id: str) -> QMessageBox:
        row = self.model.row_of(message_id)
        item = self.model.message(row) if row >= 0 else None
        question = (self.tr("Delete this message by {name} for everyone in the chat?").format(
            name=self.model.name_of(item.author)) if item is not None and not item.mine
            else self.tr("Delete this message for everyone in the chat?"))
        box = QMessageBox(QMessageBox.Icon.Question, self.tr("Delete message"), question,
                          QMessageBox.StandardButton.Yes | QMessageBox.StandardButton.Cancel, self)
        box.setTextFormat(Qt.TextFormat.PlainText)
        box.button(QMessageBox.StandardButton.Yes).setText(self.tr("Delete"))
        box.setDefaultButton(QMessageBox.StandardButton.Cancel)

        def answered() -> None:
            if box.clickedButton() is box.button(QMessageBox.StandardButton.Yes):
                self.delete(message_id)
        box.finished.connect(answered)
        box.finished.connect(box.deleteLater)
        self.confirm_box = box
        # open(), not exec(): a nested modal loop inside qasync would re-enter it.
        box.open()
        return box

    def delete(self, message_id: str) -> None:
        if self._summary is not None:
            self._spawn(self._delete(self._summary, message_id))

    async def _delete(self, summary: ThreadSummary, message_id: str) -> None:
        await self._client.run(chat_ops.delete, summary.thread_id, message_id)
        if self._is_current(summary):
            if message_id in (self._editing, self._reply_to):
                self.cancel_mode()
            self.message_deleted.emit(message_id)

    def toggle_reaction(self, message_id: str, emoji: str, on: bool) -> None:
        if self._summary is not None and self._writable():
            self._spawn(self._react(self._summary, message_id, emoji, on))

    async def _react(self, summary: ThreadSummary, message_id: str, emoji: str, on: bool) -> None:
        await self._client.run(chat_ops.react, summary.thread_id, message_id, emoji, on)
        self.reaction_toggled.emit(message_id, emoji, on)

    # --- photos -------------------------------------------------------------------------------

    def ask_attach(self) -> QFileDialog:
        patterns = " ".join(f"*{suffix}" for suffix in sorted(IMAGE_SUFFIXES))
        dialog = QFileDialog(self, self.tr("Attach photos"), "", self.tr("Images ({patterns})").format(
            patterns=patterns))
        dialog.setFileMode(QFileDialog.FileMode.ExistingFiles)
        dialog.filesSelected.connect(lambda files: self.attach([Path(f) for f in files]))
        dialog.finished.connect(dialog.deleteLater)
        dialog.open()
        return dialog

    def open_photo(self, message_id: str, position: int) -> PhotoDialog | None:
        """Show a message's photo large (double-click on it, or Enter on the
        message), in a window of its own with the message's other photos."""
        row = self.model.row_of(message_id)
        item = self.model.message(row) if row >= 0 else None
        if self._summary is None or item is None:
            return None
        photos = list(item.photos)
        if not 0 <= position < len(photos):
            return None
        if self.photo_dialog is not None:
            self.photo_dialog.close()
        dialog = PhotoDialog(self._client, self._decoder, self._summary.thread_id, photos, position, self)
        dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        dialog.destroyed.connect(lambda: setattr(self, "photo_dialog", None) if self.photo_dialog is dialog else None)
        self.photo_dialog = dialog
        dialog.show()
        return dialog

    def attach(self, paths: list[Path]) -> None:
        """Photos to send with the next message (they go when it is sent)."""
        if not self._writable():
            return
        for path in paths:
            if path not in self._attachments:
                self._attachments.append(path)
        self._update_bars()
        self.composer.setFocus()

    def clear_attachments(self) -> None:
        self._attachments = []
        self._update_bars()

    def dragEnterEvent(self, event: QDragEnterEvent) -> None:
        if self._writable() and image_paths(event.mimeData()):
            event.acceptProposedAction()

    def dragMoveEvent(self, event: QDragMoveEvent) -> None:
        if self._writable() and image_paths(event.mimeData()):
            event.acceptProposedAction()

    def dropEvent(self, event: QDropEvent) -> None:
        paths = image_paths(event.mimeData())
        if paths and self._writable():
            event.acceptProposedAction()
            self.attach(paths)

    # --- the bars above the composer --------------------------------------------------------

    def _update_bars(self) -> None:
        if self._editing is not None:
            self.mode_label.setText(self.tr("Editing your message (Enter saves, Esc cancels)"))
            self.mode_cancel.setToolTip(self.tr("Cancel the edit"))
        elif self._reply_to is not None:
            row = self.model.row_of(self._reply_to)
            item = self.model.message(row) if row >= 0 else None
            if item is not None:
                first_line = item.text.split("\n", 1)[0] if item.text else "📷"
                text = self.tr("Replying to {name}: {quote}").format(name=self.model.name_of(item.author),
                                                                      quote=first_line)
            else:
                text = self.tr("Replying to a message")
            metrics = self.mode_label.fontMetrics()
            self.mode_label.setText(metrics.elidedText(text, Qt.TextElideMode.ElideRight,
                                                       max(200, self.width() - 80)))
            self.mode_cancel.setToolTip(self.tr("Cancel the reply"))
        self.mode_bar.setVisible(self._editing is not None or self._reply_to is not None)
        if self._attachments:
            names = ", ".join(path.name for path in self._attachments)
            count = len(self._attachments)
            label = self.tr("1 photo") if count == 1 else self.tr("{count} photos").format(count=count)
            self.attachment_label.setText(f"📎 {label}: {names}")
        self.attachment_bar.setVisible(bool(self._attachments))

    @property
    def reply_to(self) -> str | None:
        return self._reply_to

    @property
    def editing(self) -> str | None:
        return self._editing

    @property
    def attachments(self) -> list[Path]:
        return list(self._attachments)

    # --- the context menu ------------------------------------------------------------------

    def menu_for(self, row: int) -> QMenu | None:
        """The actions on one message (widgets/message_menu.py); none on a notice."""
        item = self.model.message(row)
        if item is None:
            return None
        writable = self._writable()
        if self.context_menu is not None:
            self.context_menu.deleteLater()
        allowed = self._actions.get(item.id, _NO_ACTIONS) if writable else _NO_ACTIONS
        self.context_menu = message_menu(self, item, self, writable=writable, allowed=allowed)
        return self.context_menu

