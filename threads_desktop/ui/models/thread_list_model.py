"""The profile's albums and chats as a list model with named roles."""

from __future__ import annotations

import enum
from typing import Any

from PySide6.QtCore import QAbstractListModel, QByteArray, QModelIndex, QPersistentModelIndex, Qt

from threads_desktop.engine.core.ids import ThreadId
from threads_desktop.engine.core.types import ThreadKind, ThreadSummary

_Index = QModelIndex | QPersistentModelIndex


class ThreadRole(enum.IntEnum):
    THREAD_ID = Qt.ItemDataRole.UserRole + 1
    KIND = enum.auto()
    NAME = enum.auto()
    CREATED_AT = enum.auto()
    EVENT_COUNT = enum.auto()
    ITEM_COUNT = enum.auto()
    SUMMARY = enum.auto()
    UNREAD = enum.auto()
    LAST_ACTIVITY_MS = enum.auto()
    SYNCING = enum.auto()  # blocks of it are coming in now
    REMOVED = enum.auto()  # an admin removed us (or took our right to add): kept read-only


class ThreadListModel(QAbstractListModel):
    def __init__(self) -> None:
        super().__init__()
        self._threads: list[ThreadSummary] = []
        self._syncing: frozenset[ThreadId] = frozenset()

    def rowCount(self, parent: _Index = QModelIndex()) -> int:  # noqa: B008 - Qt's name
        return 0 if parent.isValid() else len(self._threads)

    def roleNames(self) -> dict[int, QByteArray]:
        return {role.value: QByteArray(role.name.lower().encode()) for role in ThreadRole} | {
            Qt.ItemDataRole.DisplayRole.value: QByteArray(b"display")}

    def data(self, index: _Index, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if not index.isValid() or not 0 <= index.row() < len(self._threads):
            return None
        thread = self._threads[index.row()]
        if role in (Qt.ItemDataRole.DisplayRole, ThreadRole.NAME):
            return thread.name if thread.name is not None else self.tr("Encrypted backup")
        if role == Qt.ItemDataRole.ToolTipRole:
            return str(thread.thread_id)
        if role == ThreadRole.THREAD_ID:
            return str(thread.thread_id)
        if role == ThreadRole.KIND:
            return thread.kind.value if thread.kind is not None else "backup"
        if role == ThreadRole.CREATED_AT:
            return thread.created_at
        if role == ThreadRole.EVENT_COUNT:
            return thread.event_count
        if role == ThreadRole.ITEM_COUNT:  # photos of an album, messages of a chat
            return thread.photo_count if thread.kind is ThreadKind.ALBUM else thread.message_count
        if role == ThreadRole.SUMMARY:
            return thread
        if role == ThreadRole.UNREAD:
            return thread.unread
        if role == ThreadRole.LAST_ACTIVITY_MS:
            return thread.last_activity_ms
        if role == ThreadRole.SYNCING:
            return thread.thread_id in self._syncing
        if role == ThreadRole.REMOVED:
            return thread.removed
        return None

    def row_of(self, thread_id: str) -> int:
        for row, thread in enumerate(self._threads):
            if str(thread.thread_id) == thread_id:
                return row
        return -1

    def set_syncing(self, thread_ids: frozenset[ThreadId]) -> None:
        """The threads with transfers in progress (from the network status)."""
        changed = self._syncing ^ thread_ids
        self._syncing = thread_ids
        for row, thread in enumerate(self._threads):
            if thread.thread_id in changed:
                self.dataChanged.emit(self.index(row), self.index(row), [ThreadRole.SYNCING])

    def update_threads(self, threads: list[ThreadSummary]) -> None:
        """These threads changed (or are new: they go last, as the profile
        lists them); the other rows stay as they are."""
        rows = {thread.thread_id: row for row, thread in enumerate(self._threads)}
        for thread in threads:
            row = rows.get(thread.thread_id)
            if row is None:
                self.beginInsertRows(QModelIndex(), len(self._threads), len(self._threads))
                rows[thread.thread_id] = len(self._threads)
                self._threads.append(thread)
                self.endInsertRows()
            elif self._threads[row] != thread:
                self._threads[row] = thread
                self.dataChanged.emit(self.index(row), self.index(row))

    def set_threads(self, threads: list[ThreadSummary]) -> None:
        """Show `threads`, as a minimal change when only some were added or
        updated at the end (the common case), so selections survive."""
        old_ids = [t.thread_id for t in self._threads]
        new_ids = [t.thread_id for t in threads]
        if new_ids[:len(old_ids)] != old_ids:
            self.beginResetModel()
            self._threads = list(threads)
            self.endResetModel()
            return
        kept = zip(self._threads, threads[:len(old_ids)], strict=True)
        changed = [row for row, (old, new) in enumerate(kept) if old != new]
        self._threads[:len(old_ids)] = threads[:len(old_ids)]
        for row in changed:
            self.dataChanged.emit(self.index(row), self.index(row))
        if len(threads) > len(old_ids):
            self.beginInsertRows(QModelIndex(), len(old_ids), len(threads) - 1)
            self._threads.extend(threads[len(old_ids):])
            self.endInsertRows()
