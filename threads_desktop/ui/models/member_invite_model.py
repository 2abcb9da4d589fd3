"""The invites of an album or chat, as a table with named roles: what each
offers, how many times it was used, until when it works, who made it, its
state, and a Revoke column."""

from __future__ import annotations

import datetime
import enum
import time
from collections.abc import Callable
from typing import Any

from PySide6.QtCore import QAbstractTableModel, QByteArray, QModelIndex, QPersistentModelIndex, Qt

from threads_desktop.engine.core.members import InviteState
from threads_desktop.engine.core.types import ThreadKind
from threads_desktop.ui.models.member_table_model import role_text
from threads_desktop.ui.people import person

_Index = QModelIndex | QPersistentModelIndex


class InviteColumn(enum.IntEnum):
    ROLE = 0
    USES = 1
    EXPIRES = 2
    MADE_BY = 3
    STATE = 4
    REVOKE = 5


class InviteStatus(enum.StrEnum):
    OPEN = "open"
    REVOKED = "revoked"
    USED_UP = "used up"
    EXPIRED = "expired"


class InviteRole(enum.IntEnum):
    KEY = Qt.ItemDataRole.UserRole + 1  # the invite's public key (bytes): what revoking names
    ROLE = enum.auto()
    USED = enum.auto()
    USES = enum.auto()
    EXPIRES_MS = enum.auto()  # 0: never
    INVITER = enum.auto()
    STATE = enum.auto()  # an InviteStatus value
    REVOCABLE = enum.auto()
    INVITE = enum.auto()


class MemberInviteModel(QAbstractTableModel):
    def __init__(self, kind: ThreadKind | None = None, now_ms: Callable[[], int] | None = None) -> None:
        super().__init__()
        self._kind = kind
        self._now_ms = now_ms or (lambda: int(time.time() * 1000))
        self._invites: list[InviteState] = []
        self._me = ""
        self._i_am_admin = False
        self._names: dict[str, str] = {}

    def set_invites(self, invites: list[InviteState] | tuple[InviteState, ...], *, me: str,
                    i_am_admin: bool, names: dict[str, str] | None = None) -> None:
        """Open invites first, then the others; within each, the soonest to
        expire first. `names`: peer ID -> the name that member gives itself."""
        self.beginResetModel()
        self._me = me
        self._names = dict(names or {})
        self._i_am_admin = i_am_admin
        self._invites = sorted(invites, key=lambda i: (self._state(i) is not InviteStatus.OPEN,
                                                        i.expires_ms or 2**63, i.key))
        self.endResetModel()

    def row_of(self, key: bytes) -> int:
        return next((row for row, i in enumerate(self._invites) if i.key == key), -1)

    def state(self, row: int) -> InviteStatus:
        return self._state(self._invites[row])

    def blocked_reason(self, invite: InviteState) -> str | None:
        if not self._i_am_admin:
            if self._kind is ThreadKind.CHAT:
                return self.tr("Only the chat's admins can revoke invites")
            return self.tr("Only the album's admins can revoke invites")
        state = self._state(invite)
        return {InviteStatus.REVOKED: self.tr("Already revoked"),
                InviteStatus.USED_UP: self.tr("Used up: nobody else can join with it"),
                InviteStatus.EXPIRED: self.tr("Expired: nobody can join with it any more")}.get(state)

    def _state(self, invite: InviteState) -> InviteStatus:
        if invite.revoked:
            return InviteStatus.REVOKED
        if invite.used >= invite.uses:
            return InviteStatus.USED_UP
        if invite.expires_ms and invite.expires_ms <= self._now_ms():
            return InviteStatus.EXPIRED
        return InviteStatus.OPEN

    # --- QAbstractItemModel ------------------------------------------------------------

    def rowCount(self, parent: _Index = QModelIndex()) -> int:  # noqa: B008 - Qt's name
        return 0 if parent.isValid() else len(self._invites)

    def columnCount(self, parent: _Index = QModelIndex()) -> int:  # noqa: B008 - Qt's name
        return 0 if parent.isValid() else len(InviteColumn)

    def roleNames(self) -> dict[int, QByteArray]:
        return {role.value: QByteArray(role.name.lower().encode()) for role in InviteRole} | {
            Qt.ItemDataRole.DisplayRole.value: QByteArray(b"display"),
            Qt.ItemDataRole.ToolTipRole.value: QByteArray(b"tooltip")}

    def headerData(self, section: int, orientation: Qt.Orientation, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if orientation is not Qt.Orientation.Horizontal or role != Qt.ItemDataRole.DisplayRole:
            return None
        return {InviteColumn.ROLE: self.tr("Offers"), InviteColumn.USES: self.tr("Used"),
                InviteColumn.EXPIRES: self.tr("Works until"), InviteColumn.MADE_BY: self.tr("Made by"),
                InviteColumn.STATE: self.tr("State"), InviteColumn.REVOKE: ""}.get(InviteColumn(section))

    def flags(self, index: _Index) -> Qt.ItemFlag:
        if not index.isValid():
            return Qt.ItemFlag.NoItemFlags
        if index.column() != InviteColumn.REVOKE:
            return Qt.ItemFlag.ItemIsEnabled | Qt.ItemFlag.ItemIsSelectable
        if self.blocked_reason(self._invites[index.row()]) is not None:
            return Qt.ItemFlag.NoItemFlags
        return Qt.ItemFlag.ItemIsEnabled | Qt.ItemFlag.ItemIsEditable

    def data(self, index: _Index, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if not index.isValid() or not 0 <= index.row() < len(self._invites):
            return None
        invite = self._invites[index.row()]
        column = InviteColumn(index.column())
        if role == Qt.ItemDataRole.DisplayRole:
            return self._display(invite, column)
        if role == Qt.ItemDataRole.ToolTipRole:
            if column is InviteColumn.MADE_BY:
                return invite.inviter
            if column is InviteColumn.REVOKE:
                return self.blocked_reason(invite) or self.tr("Revoke: nobody else can join with this link")
            return None
        named: dict[int, Any] = {
            InviteRole.KEY: invite.key, InviteRole.ROLE: invite.role, InviteRole.USED: invite.used,
            InviteRole.USES: invite.uses, InviteRole.EXPIRES_MS: invite.expires_ms,
            InviteRole.INVITER: invite.inviter, InviteRole.STATE: self._state(invite).value,
            InviteRole.REVOCABLE: self.blocked_reason(invite) is None, InviteRole.INVITE: invite}
        return named.get(role)

    def _display(self, invite: InviteState, column: InviteColumn) -> str:
        if column is InviteColumn.ROLE:
            return role_text(invite.role)
        if column is InviteColumn.USES:
            return f"{invite.used}/{invite.uses}"
        if column is InviteColumn.EXPIRES:
            if not invite.expires_ms:
                return self.tr("Never expires")
            try:  # an admin's peer chose this number: data() must never raise
                return datetime.datetime.fromtimestamp(invite.expires_ms / 1000).strftime("%d %b %Y, %H:%M")
            except (OverflowError, OSError, ValueError):
                return self.tr("Far in the future")
        if column is InviteColumn.MADE_BY:
            if invite.inviter == self._me:
                return self.tr("you")
            return person(self._names.get(invite.inviter), invite.inviter)
        if column is InviteColumn.STATE:
            return {InviteStatus.OPEN: self.tr("Open"), InviteStatus.REVOKED: self.tr("Revoked"),
                    InviteStatus.USED_UP: self.tr("Used up"),
                    InviteStatus.EXPIRED: self.tr("Expired")}[self._state(invite)]
        return self.tr("Revoke")
