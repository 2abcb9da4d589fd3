"""Changes the album's rules refused (a member writing without the right to,
a join with a revoked link...), as a table with named roles: who and why,
in words a person can read."""

from __future__ import annotations

import enum
from typing import Any

from PySide6.QtCore import QAbstractTableModel, QModelIndex, QPersistentModelIndex, Qt

from threads_desktop.ui.member_calls import PEER_ID_PATTERN, Refusal
from threads_desktop.ui.people import short_id

_Index = QModelIndex | QPersistentModelIndex


class RefusalColumn(enum.IntEnum):
    WHO = 0
    WHY = 1


class RefusalRole(enum.IntEnum):
    AUTHOR = Qt.ItemDataRole.UserRole + 1  # peer ID, or None when the reason does not name one
    LOG = enum.auto()
    SEQ = enum.auto()
    REASON = enum.auto()  # the engine's own words
    READABLE_REASON = enum.auto()
    REFUSAL = enum.auto()


class MemberRefusalModel(QAbstractTableModel):
    def __init__(self) -> None:
        super().__init__()
        self._refusals: list[Refusal] = []
        self._me = ""

    def set_refusals(self, refusals: list[Refusal] | tuple[Refusal, ...], *, me: str) -> None:
        self.beginResetModel()
        self._refusals = list(reversed(refusals))  # newest first
        self._me = me
        self.endResetModel()

    def readable(self, reason: str) -> str:
        """The engine's reason with peer IDs shortened (or "you") and a capital."""
        text = PEER_ID_PATTERN.sub(
            lambda m: self.tr("you") if m.group(0) == self._me else short_id(m.group(0)), reason)
        return text[:1].upper() + text[1:]

    def rowCount(self, parent: _Index = QModelIndex()) -> int:  # noqa: B008 - Qt's name
        return 0 if parent.isValid() else len(self._refusals)

    def columnCount(self, parent: _Index = QModelIndex()) -> int:  # noqa: B008 - Qt's name
        return 0 if parent.isValid() else len(RefusalColumn)

    def roleNames(self) -> dict[int, bytes]:
        return {role.value: role.name.lower().encode() for role in RefusalRole} | {
            Qt.ItemDataRole.DisplayRole.value: b"display", Qt.ItemDataRole.ToolTipRole.value: b"tooltip"}

    def headerData(self, section: int, orientation: Qt.Orientation, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if orientation is not Qt.Orientation.Horizontal or role != Qt.ItemDataRole.DisplayRole:
            return None
        return {RefusalColumn.WHO: self.tr("Who"), RefusalColumn.WHY: self.tr("Why it was refused")}.get(
            RefusalColumn(section))

    def data(self, index: _Index, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if not index.isValid() or not 0 <= index.row() < len(self._refusals):
            return None
        refusal = self._refusals[index.row()]
        column = RefusalColumn(index.column())
        if role == Qt.ItemDataRole.DisplayRole:
            if column is RefusalColumn.WHY:
                return self.readable(refusal.reason)
            if refusal.author is None:
                return self.tr("Unknown (log %1)").replace("%1", short_id(refusal.log))
            return self.tr("you") if refusal.author == self._me else short_id(refusal.author)
        if role == Qt.ItemDataRole.ToolTipRole:
            who = refusal.author or self.tr("an unknown member")
            return self.tr("%1, change %2 of log %3").replace("%1", who).replace("%2", str(refusal.seq)).replace(
                "%3", refusal.log)
        named: dict[int, Any] = {
            RefusalRole.AUTHOR: refusal.author, RefusalRole.LOG: refusal.log, RefusalRole.SEQ: refusal.seq,
            RefusalRole.REASON: refusal.reason, RefusalRole.READABLE_REASON: self.readable(refusal.reason),
            RefusalRole.REFUSAL: refusal}
        return named.get(role)
