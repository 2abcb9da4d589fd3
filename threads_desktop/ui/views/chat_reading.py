"""A chat's reading side: which message is the newest seen, and the read
marker written for it once the list settles.

A mixin of `ChatView` (views/chat_view.py), which owns the widgets and state
named below."""

from __future__ import annotations

from collections.abc import Coroutine
from typing import TYPE_CHECKING, Any, ClassVar

from PySide6.QtCore import Signal
from PySide6.QtWidgets import QListView, QWidget

from threads_desktop.engine.core.types import ThreadSummary
from threads_desktop.ui.engine_client import EngineClient
from threads_desktop.ui.models.message_list_model import MessageListModel
from threads_desktop.ui.operations import chat as chat_ops

# Typed as the widget it is mixed into; a plain class at run time (Qt's base comes from ChatView).
if TYPE_CHECKING:
    _Base = QWidget
else:
    _Base = object


class ChatReading(_Base):
    marked_read: ClassVar[Signal]
    _client: EngineClient
    _summary: ThreadSummary | None
    _read_up_to: bytes
    unread_count: int
    model: MessageListModel
    list: QListView

    if TYPE_CHECKING:
        def _spawn(self, work: Coroutine[Any, Any, None]) -> None: ...
        def _is_current(self, summary: ThreadSummary) -> bool: ...

    def _newest_visible_row(self) -> int:
        viewport = self.list.viewport().rect()
        for row in range(self.model.rowCount() - 1, -1, -1):
            rect = self.list.visualRect(self.model.index(row))
            if rect.intersects(viewport):
                return row
            if rect.bottom() < viewport.top():
                break
        return -1

    def _mark_visible_read(self) -> None:
        summary = self._summary
        if summary is None or not summary.can_read or not self.isVisible():
            return  # (a reader's position is kept on this device: it writes nothing to the thread)
        row = self._newest_visible_row()
        while row >= 0 and ((found := self.model.message(row)) is None or found.mine):
            row -= 1  # our own messages (and notices) are never unread: no marker event for them
        item = self.model.message(row) if row >= 0 else None
        if item is None or item.created <= self._read_up_to:
            return
        self._read_up_to = item.created
        self._spawn(self._mark_read(summary, item.id))

    async def _mark_read(self, summary: ThreadSummary, message_id: str) -> None:
        unread = await self._client.run(chat_ops.mark_read, summary.thread_id, message_id)
        if self._is_current(summary):
            self.unread_count = unread
            self.marked_read.emit(unread)
