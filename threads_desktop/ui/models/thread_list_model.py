"""The profile's albums and chats as a list model with named roles; after
them, the links we joined with that are not let in yet (kind "joining")."""

from __future__ import annotations

import enum
from typing import Any

from PySide6.QtCore import QAbstractListModel, QByteArray, QModelIndex, QPersistentModelIndex, Qt

from threads_desktop.engine.core.ids import ThreadId
from threads_desktop.engine.core.members import JoinState
from threads_desktop.engine.core.types import ThreadKind, ThreadSummary
from threads_desktop.ui.joins import join_status_line

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
    JOIN_STATE = enum.auto()  # a pending join's JoinState (None for a thread we are in)
    JOIN_STATUS = enum.auto()  # "waiting" | "waiting-approval" | "admitted" | "refused" (None: in it)
    STATUS_LINE = enum.auto()  # a pending join's status in words
    ASKING = enum.auto()  # how many people wait for our approval to join it (admins)


PENDING_KIND = "joining"  # the KIND of a pending join's row


class ThreadListModel(QAbstractListModel):
    def __init__(self) -> None:
        super().__init__()
        self._threads: list[ThreadSummary] = []
        self._syncing: frozenset[ThreadId] = frozenset()
        self._pending: list[JoinState] = []  # rows after the threads'
        self._asking: dict[ThreadId, int] = {}

    def rowCount(self, parent: _Index = QModelIndex()) -> int:  # noqa: B008 - Qt's name
        return 0 if parent.isValid() else len(self._threads) + len(self._pending)

    def roleNames(self) -> dict[int, QByteArray]:
        return {role.value: QByteArray(role.name.lower().encode()) for role in ThreadRole} | {
            Qt.ItemDataRole.DisplayRole.value: QByteArray(b"display")}

    def data(self, index: _Index, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if not index.isValid() or not 0 <= index.row() < self.rowCount():
            return None
        if index.row() >= len(self._threads):
            return self._pending_data(self._pending[index.row() - len(self._threads)], role)
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
        if role == ThreadRole.ASKING:
            return self._asking.get(thread.thread_id, 0)
        return None

    def asking(self, thread_id: ThreadId) -> int:
        return self._asking.get(thread_id, 0)

    def set_asking(self, thread_id: ThreadId, count: int) -> None:
        """How many people wait for our approval to join the thread."""
        if self._asking.get(thread_id, 0) == count:
            return
        if count:
            self._asking[thread_id] = count
        else:
            self._asking.pop(thread_id, None)
        row = self.row_of(str(thread_id))
        if row >= 0:
            self.dataChanged.emit(self.index(row), self.index(row), [ThreadRole.ASKING])

    def _pending_data(self, join: JoinState, role: int) -> Any:
        if role in (Qt.ItemDataRole.DisplayRole, ThreadRole.NAME):
            return join.name or self.tr("An invitation")
        if role in (ThreadRole.STATUS_LINE, Qt.ItemDataRole.ToolTipRole):
            return join_status_line(join)
        if role == ThreadRole.THREAD_ID:
            return str(join.thread_id)
        if role == ThreadRole.KIND:
            return PENDING_KIND
        if role == ThreadRole.JOIN_STATE:
            return join
        if role == ThreadRole.JOIN_STATUS:
            return join.status
        if role == ThreadRole.LAST_ACTIVITY_MS:
            return join.since_ms
        if role in (ThreadRole.UNREAD, ThreadRole.ITEM_COUNT, ThreadRole.EVENT_COUNT, ThreadRole.ASKING):
            return 0
        if role in (ThreadRole.SYNCING, ThreadRole.REMOVED):
            return False
        return None

    def row_of(self, thread_id: str) -> int:
        """The row of a thread, else of a pending join of it, else -1."""
        for row, thread in enumerate(self._threads):
            if str(thread.thread_id) == thread_id:
                return row
        for row, join in enumerate(self._pending, start=len(self._threads)):
            if str(join.thread_id) == thread_id:
                return row
        return -1

    def set_pending(self, joins: list[JoinState]) -> None:
        """The pending joins to list (one whose thread is listed already is
        left out: it was let in)."""
        listed = {thread.thread_id for thread in self._threads}
        joins = [join for join in joins if join.thread_id not in listed]
        start = len(self._threads)
        old_ids = [join.thread_id for join in self._pending]
        if [join.thread_id for join in joins] == old_ids:
            for row, (old, new) in enumerate(zip(self._pending, joins, strict=True), start=start):
                if old != new:
                    self._pending[row - start] = new
                    self.dataChanged.emit(self.index(row), self.index(row))
            return
        if self._pending:
            self.beginRemoveRows(QModelIndex(), start, start + len(self._pending) - 1)
            self._pending = []
            self.endRemoveRows()
        if joins:
            self.beginInsertRows(QModelIndex(), start, start + len(joins) - 1)
            self._pending = joins
            self.endInsertRows()

    def _drop_pending_of(self, thread_id: ThreadId) -> None:
        for row, join in enumerate(self._pending, start=len(self._threads)):
            if join.thread_id == thread_id:
                self.beginRemoveRows(QModelIndex(), row, row)
                del self._pending[row - len(self._threads)]
                self.endRemoveRows()
                return

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
                self._drop_pending_of(thread.thread_id)  # let in: the thread's row takes its place
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
        for thread_id in set(new_ids) - set(old_ids):
            self._drop_pending_of(thread_id)
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
