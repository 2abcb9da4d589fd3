"""Direct invitations waiting for an answer, as a list model with named roles."""

from __future__ import annotations

import enum
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from PySide6.QtCore import QAbstractListModel, QByteArray, QModelIndex, QObject, QPersistentModelIndex, Qt

from threads_desktop.engine.core.members import Role
from threads_desktop.ui.people import person

_Index = QModelIndex | QPersistentModelIndex

_ROLE_TEXT = {Role.WRITE: "You can add photos and messages", Role.READ: "You can view it",
              Role.FOLLOW: "This device keeps a backup it cannot read"}


@dataclass(frozen=True, slots=True)
class Invitation:
    """One waiting invite, in plain values the GUI thread may hold."""

    invite_id: bytes
    sender: str  # peer ID
    sender_name: str | None  # the name it gives itself in a thread we share, if known
    thread_id: str
    thread_name: str | None  # the link's hint
    role: Role


class InvitationRole(enum.IntEnum):
    INVITE_ID = Qt.ItemDataRole.UserRole + 1
    SENDER = enum.auto()
    SENDER_NAME = enum.auto()  # the name, else the short peer ID
    THREAD_ID = enum.auto()
    THREAD_NAME = enum.auto()
    ROLE = enum.auto()
    ROLE_TEXT = enum.auto()


class InvitationModel(QAbstractListModel):
    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._invitations: list[Invitation] = []

    def rowCount(self, parent: _Index = QModelIndex()) -> int:  # noqa: B008 - Qt's name
        return 0 if parent.isValid() else len(self._invitations)

    def roleNames(self) -> dict[int, QByteArray]:
        return {role.value: QByteArray(role.name.lower().encode()) for role in InvitationRole} | {
            Qt.ItemDataRole.DisplayRole.value: QByteArray(b"display")}

    def data(self, index: _Index, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if not index.isValid() or not 0 <= index.row() < len(self._invitations):
            return None
        invitation = self._invitations[index.row()]
        if role == Qt.ItemDataRole.DisplayRole:
            return "\n".join((self._headline(invitation), self._role_text(invitation)))
        if role == Qt.ItemDataRole.ToolTipRole:
            sender = person(invitation.sender_name, invitation.sender)
            return "\n".join((self._headline(invitation), self.tr("From %1").replace("%1", sender)))
        if role == InvitationRole.INVITE_ID:
            return invitation.invite_id
        if role == InvitationRole.SENDER:
            return invitation.sender
        if role == InvitationRole.SENDER_NAME:
            return person(invitation.sender_name, invitation.sender)
        if role == InvitationRole.THREAD_ID:
            return invitation.thread_id
        if role == InvitationRole.THREAD_NAME:
            return invitation.thread_name or self.tr("an album or chat")
        if role == InvitationRole.ROLE:
            return invitation.role
        if role == InvitationRole.ROLE_TEXT:
            return self._role_text(invitation)
        return None

    def _headline(self, invitation: Invitation) -> str:
        name = invitation.thread_name
        return (self.tr("%1 invites you to “%2”") if name else self.tr("%1 invites you to an album or chat")) \
            .replace("%1", person(invitation.sender_name, invitation.sender)).replace("%2", name or "")

    def _role_text(self, invitation: Invitation) -> str:
        return self.tr(_ROLE_TEXT.get(invitation.role, invitation.role.label))

    def row_of(self, invite_id: bytes) -> int:
        for row, invitation in enumerate(self._invitations):
            if invitation.invite_id == invite_id:
                return row
        return -1

    def set_invitations(self, invitations: Sequence[Invitation]) -> None:
        """Oldest first, as the engine lists them: new ones come at the end,
        answered ones go, so removals and appends keep the selection."""
        wanted = {invitation.invite_id for invitation in invitations}
        for row in reversed(range(len(self._invitations))):
            if self._invitations[row].invite_id not in wanted:
                self.beginRemoveRows(QModelIndex(), row, row)
                del self._invitations[row]
                self.endRemoveRows()
        held = {invitation.invite_id for invitation in self._invitations}
        arriving = [invitation for invitation in invitations if invitation.invite_id not in held]
        if arriving:
            self.beginInsertRows(QModelIndex(), len(self._invitations), len(self._invitations) + len(arriving) - 1)
            self._invitations.extend(arriving)
            self.endInsertRows()
