"""Changes the album's rules refused (a member writing without the right to,
a join with a revoked link...), as a table with named roles: who and why,
in words a person can read."""

from __future__ import annotations

import enum
from typing import Any

from PySide6.QtCore import QAbstractTableModel, QByteArray, QModelIndex, QPersistentModelIndex, Qt

from threads_desktop.ui.operations.members import Refusal
from threads_desktop.ui.people import person, short_id
from threads_desktop.ui.refusals import refused_change

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
        self._names: dict[str, str] = {}

    def set_refusals(self, refusals: list[Refusal] | tuple[Refusal, ...], *, me: str,
                     names: dict[str, str] | None = None) -> None:
        """`names`: peer ID -> the name that member gives itself."""
        self.beginResetModel()
        self._refusals = list(reversed(refusals))  # newest first
        self._me = me
        self._names = dict(names or {})
        self.endResetModel()

    def who(self, refusal: Refusal) -> str:
        if refusal.author is None:
            return self.tr("Someone")
        return self.tr("you") if refusal.author == self._me else person(self._names.get(refusal.author),
                                                                        refusal.author)

    def why(self, refusal: Refusal) -> str:
        """The engine's reason in a person's words (no IDs, no hashes), with a capital."""
        text = refused_change(refusal.reason, self.who(refusal))
        return text[:1].upper() + text[1:]

    def rowCount(self, parent: _Index = QModelIndex()) -> int:  # noqa: B008 - Qt's name
        return 0 if parent.isValid() else len(self._refusals)

    def columnCount(self, parent: _Index = QModelIndex()) -> int:  # noqa: B008 - Qt's name
        return 0 if parent.isValid() else len(RefusalColumn)

    def roleNames(self) -> dict[int, QByteArray]:
        return {role.value: QByteArray(role.name.lower().encode()) for role in RefusalRole} | {
            Qt.ItemDataRole.DisplayRole.value: QByteArray(b"display"),
            Qt.ItemDataRole.ToolTipRole.value: QByteArray(b"tooltip")}

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
                return self.why(refusal)
            return self.who(refusal)
        if role == Qt.ItemDataRole.ToolTipRole:  # the whole ID, for an admin who must tell members apart
            if refusal.author is None:
                return self.tr("A device that is not a member (its ID ends %1)").replace("%1", short_id(refusal.log))
            return self.tr("%1: ID %2").replace("%1", self.who(refusal)).replace("%2", refusal.author)
        named: dict[int, Any] = {
            RefusalRole.AUTHOR: refusal.author, RefusalRole.LOG: refusal.log, RefusalRole.SEQ: refusal.seq,
            RefusalRole.REASON: refusal.reason, RefusalRole.READABLE_REASON: self.why(refusal),
            RefusalRole.REFUSAL: refusal}
        return named.get(role)
