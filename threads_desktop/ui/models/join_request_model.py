"""People who asked this device (an admin's) to let them in: those waiting
for a person's approval, with Approve and Decline, and the attempts refused,
with the reason in words. A table with named roles; the members dialog
shows it to admins only."""

from __future__ import annotations

import datetime
import enum
from collections.abc import Sequence
from typing import Any

from PySide6.QtCore import QAbstractTableModel, QByteArray, QCoreApplication, QModelIndex, QPersistentModelIndex, Qt

from threads_desktop.engine.core.members import InviteState, JoinRequest
from threads_desktop.ui.joins import request_refusal_words
from threads_desktop.ui.models.member_table_model import role_text
from threads_desktop.ui.people import person

_Index = QModelIndex | QPersistentModelIndex


class RequestColumn(enum.IntEnum):
    WHO = 0
    LINK = 1
    STATUS = 2  # since when it waits, or why it was refused
    APPROVE = 3
    DECLINE = 4


class RequestRole(enum.IntEnum):
    REQUEST_ID = Qt.ItemDataRole.UserRole + 1
    PEER_ID = enum.auto()
    STATUS = enum.auto()  # "waiting" | "refused"
    REASON = enum.auto()  # the engine's machine word, for a refused one
    READABLE = enum.auto()  # the row in one sentence
    REQUEST = enum.auto()


def link_labels(invites: Sequence[InviteState], names: dict[str, str], me: str) -> dict[bytes, str]:
    """Invite key -> how the dialog names the link: whose it is and what it
    lets one do ("your link · Add", "Alice's link · View")."""
    labels = {}
    for invite in invites:
        role = role_text(invite.role)
        if invite.inviter == me:
            labels[invite.key] = QCoreApplication.translate("JoinRequests", "your link · %1").replace("%1", role)
        else:
            labels[invite.key] = QCoreApplication.translate("JoinRequests", "%1's link · %2").replace(
                "%1", person(names.get(invite.inviter), invite.inviter)).replace("%2", role)
    return labels


def _when(millis: int) -> str:
    moment = datetime.datetime.fromtimestamp(millis / 1000)
    today = datetime.date.today()
    return moment.strftime("%H:%M") if moment.date() == today else moment.strftime("%d %b, %H:%M")


class JoinRequestModel(QAbstractTableModel):
    def __init__(self) -> None:
        super().__init__()
        self._requests: list[JoinRequest] = []
        self._links: dict[bytes, str] = {}

    def set_requests(self, requests: Sequence[JoinRequest], invites: Sequence[InviteState], *,
                     names: dict[str, str], me: str) -> None:
        """Waiting ones first (oldest first: who asked first is answered
        first), then the refused ones, newest first."""
        self.beginResetModel()
        waiting = sorted((r for r in requests if r.status == "waiting"), key=lambda r: r.at_ms)
        refused = sorted((r for r in requests if r.status != "waiting"), key=lambda r: -r.at_ms)
        self._requests = waiting + refused
        self._links = link_labels(invites, names, me)
        self.endResetModel()

    def waiting_count(self) -> int:
        return sum(1 for r in self._requests if r.status == "waiting")

    def who(self, request: JoinRequest) -> str:
        return person(request.name, request.peer)

    def link(self, request: JoinRequest) -> str:
        return self._links.get(request.invite_key) or self.tr("a link")

    def status_text(self, request: JoinRequest) -> str:
        if request.status == "waiting":
            return self.tr("waiting since %1").replace("%1", _when(request.at_ms))
        return request_refusal_words(request.reason)

    def readable(self, request: JoinRequest) -> str:
        return f"{self.who(request)} ({self.link(request)}): {self.status_text(request)}"

    def rowCount(self, parent: _Index = QModelIndex()) -> int:  # noqa: B008 - Qt's name
        return 0 if parent.isValid() else len(self._requests)

    def columnCount(self, parent: _Index = QModelIndex()) -> int:  # noqa: B008 - Qt's name
        return 0 if parent.isValid() else len(RequestColumn)

    def roleNames(self) -> dict[int, QByteArray]:
        return {role.value: QByteArray(role.name.lower().encode()) for role in RequestRole} | {
            Qt.ItemDataRole.DisplayRole.value: QByteArray(b"display")}

    def headerData(self, section: int, orientation: Qt.Orientation, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if orientation is not Qt.Orientation.Horizontal or role != Qt.ItemDataRole.DisplayRole:
            return None
        return {RequestColumn.WHO: self.tr("Who"), RequestColumn.LINK: self.tr("Link"),
                RequestColumn.STATUS: self.tr("Since, or why refused")}.get(RequestColumn(section), "")

    def flags(self, index: _Index) -> Qt.ItemFlag:
        if not index.isValid():
            return Qt.ItemFlag.NoItemFlags
        if index.column() in (RequestColumn.APPROVE, RequestColumn.DECLINE) \
                and self._requests[index.row()].status != "waiting":
            return Qt.ItemFlag.NoItemFlags  # refused already: nothing to decide
        return Qt.ItemFlag.ItemIsEnabled

    def data(self, index: _Index, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if not index.isValid() or not 0 <= index.row() < len(self._requests):
            return None
        request = self._requests[index.row()]
        column = RequestColumn(index.column())
        if role == Qt.ItemDataRole.DisplayRole:
            waiting = request.status == "waiting"
            return {RequestColumn.WHO: self.who(request), RequestColumn.LINK: self.link(request),
                    RequestColumn.STATUS: self.status_text(request),
                    RequestColumn.APPROVE: self.tr("Approve") if waiting else "",
                    RequestColumn.DECLINE: self.tr("Decline") if waiting else ""}[column]
        if role == Qt.ItemDataRole.ToolTipRole and column is RequestColumn.WHO:
            return self.tr("%1: ID %2").replace("%1", self.who(request)).replace("%2", request.peer)
        named: dict[int, Any] = {
            RequestRole.REQUEST_ID: request.request_id, RequestRole.PEER_ID: request.peer,
            RequestRole.STATUS: request.status, RequestRole.REASON: request.reason,
            RequestRole.READABLE: self.readable(request), RequestRole.REQUEST: request}
        return named.get(role)
