"""A photo's comments as a list model with named roles: who, when (as the
chat shows it) and what."""

from __future__ import annotations

import enum
from dataclasses import dataclass
from typing import Any

from PySide6.QtCore import QAbstractListModel, QByteArray, QModelIndex, QPersistentModelIndex, Qt

from threads_desktop.engine.core.hlc import unpack
from threads_desktop.ui.moments import full_time, short_time

_Index = QModelIndex | QPersistentModelIndex


@dataclass(frozen=True)
class Comment:
    comment_id: str
    author: str  # a name, or a short ID
    text: str
    hlc: int
    mine: bool

    @property
    def created_ms(self) -> int:
        """The author's clock when they wrote it."""
        return unpack(self.hlc)[0]


class CommentRole(enum.IntEnum):
    COMMENT_ID = Qt.ItemDataRole.UserRole + 1
    AUTHOR = enum.auto()
    TEXT = enum.auto()
    MINE = enum.auto()
    TIME = enum.auto()  # "14:05", "Yesterday, 14:05", …


class CommentListModel(QAbstractListModel):
    def __init__(self) -> None:
        super().__init__()
        self._comments: list[Comment] = []

    def rowCount(self, parent: _Index = QModelIndex()) -> int:  # noqa: B008 - Qt's name
        return 0 if parent.isValid() else len(self._comments)

    def roleNames(self) -> dict[int, QByteArray]:
        return {role.value: QByteArray(role.name.lower().encode()) for role in CommentRole}

    def data(self, index: _Index, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if not index.isValid() or not 0 <= index.row() < len(self._comments):
            return None
        comment = self._comments[index.row()]
        if role == Qt.ItemDataRole.DisplayRole:
            who = self.tr("You") if comment.mine else comment.author
            when = short_time(comment.created_ms)
            return f"{who} · {when}\n{comment.text}" if when else f"{who}\n{comment.text}"
        if role == Qt.ItemDataRole.ToolTipRole:
            return full_time(comment.created_ms) or None
        if role == CommentRole.TIME:
            return short_time(comment.created_ms)
        fields: dict[int, object] = {CommentRole.COMMENT_ID: comment.comment_id, CommentRole.AUTHOR: comment.author,
                                     CommentRole.TEXT: comment.text, CommentRole.MINE: comment.mine}
        return fields.get(role)

    def set_comments(self, comments: list[Comment]) -> None:
        if comments == self._comments:
            return
        self.beginResetModel()
        self._comments = list(comments)
        self.endResetModel()
