"""An album's or chat's members as a table with named roles: who (column 0),
what they may do (column 1, edited with a combo box) and Remove (column 2).
The model never changes the ACL itself: an edit is a request the dialog
carries to the engine, and the next load shows what the engine decided."""

from __future__ import annotations

import enum
from typing import Any

from PySide6.QtCore import (
    QAbstractTableModel,
    QByteArray,
    QCoreApplication,
    QModelIndex,
    QPersistentModelIndex,
    Qt,
    Signal,
)

from threads_desktop.engine.core.members import Member, Role
from threads_desktop.engine.core.types import ThreadKind
from threads_desktop.ui.people import short_id

_Index = QModelIndex | QPersistentModelIndex


class MemberColumn(enum.IntEnum):
    MEMBER = 0
    ROLE = 1
    REMOVE = 2


class MemberRole(enum.IntEnum):
    PEER_ID = Qt.ItemDataRole.UserRole + 1
    SHORT_ID = enum.auto()
    ROLE = enum.auto()  # the highest Role held (NO_ACCESS for none)
    ADMIN = enum.auto()
    IS_ME = enum.auto()
    JOINED = enum.auto()
    EDITABLE = enum.auto()  # may I change this member's role or remove them?
    BLOCKED_REASON = enum.auto()  # why not, for the tooltip; None if editable
    MEMBER = enum.auto()
    DEVICES = enum.auto()  # the names of the person's devices writing here ("" for an unnamed first device)


def highest_role(roles: tuple[Role, ...] | frozenset[Role]) -> Role:
    return max(roles, default=Role.NO_ACCESS)


def role_text(role: Role) -> str:
    """The words the app uses for a role (the combo boxes' items)."""
    texts = {Role.NO_ACCESS: "No access", Role.FOLLOW: "Backup only", Role.READ: "View", Role.WRITE: "Add",
             Role.DELETE: "Delete"}
    return QCoreApplication.translate("MemberRole", texts[role])


def role_explanation(role: Role) -> str:
    texts = {Role.NO_ACCESS: "Cannot see or sync anything",
             Role.FOLLOW: "Keeps an encrypted backup it cannot read",
             Role.READ: "Can view everything, cannot add",
             Role.WRITE: "Can view and add photos and messages",
             Role.DELETE: "Can view, add, and delete what others added"}
    return QCoreApplication.translate("MemberRole", texts[role])


def admins_only_text(kind: ThreadKind | None) -> str:
    if kind is ThreadKind.CHAT:
        return QCoreApplication.translate("MemberRole", "Only the chat's admins can change roles")
    return QCoreApplication.translate("MemberRole", "Only the album's admins can change roles")


class MemberTableModel(QAbstractTableModel):
    # A role picked in the table: (peer ID, Role). The dialog runs it.
    role_change_requested = Signal(str, object)

    def __init__(self, kind: ThreadKind | None = None) -> None:
        super().__init__()
        self._kind = kind
        self._members: list[Member] = []
        self._names: dict[str, str] = {}
        self._devices: dict[str, tuple[str, ...]] = {}
        self._i_am_admin = False
        self._pending: dict[str, Role] = {}  # picked, not confirmed by a load yet

    # --- content ---------------------------------------------------------------------

    def set_members(self, members: list[Member] | tuple[Member, ...], *, i_am_admin: bool,
                    names: dict[str, str] | None = None, devices: dict[str, tuple[str, ...]] | None = None) -> None:
        """Show `members`: me first, then admins, then the others, each group
        by peer ID (stable, so rows do not jump between loads), by the names
        they give themselves where they gave one."""
        self.beginResetModel()
        self._names = dict(names or {})
        self._devices = dict(devices or {})
        self._members = sorted(members, key=lambda m: (not m.is_me, not m.admin, m.peer_id))
        self._i_am_admin = i_am_admin
        self._pending.clear()
        self.endResetModel()

    def member(self, row: int) -> Member:
        return self._members[row]

    def row_of(self, peer_id: str) -> int:
        return next((row for row, m in enumerate(self._members) if m.peer_id == peer_id), -1)

    def blocked_reason(self, member: Member) -> str | None:
        """Why I may not change this member, or None if I may."""
        if not self._i_am_admin:
            return admins_only_text(self._kind)
        if member.is_me:
            return self.tr("You can't change your own role or remove yourself")
        return None

    # --- QAbstractItemModel ------------------------------------------------------------

    def rowCount(self, parent: _Index = QModelIndex()) -> int:  # noqa: B008 - Qt's name
        return 0 if parent.isValid() else len(self._members)

    def columnCount(self, parent: _Index = QModelIndex()) -> int:  # noqa: B008 - Qt's name
        return 0 if parent.isValid() else len(MemberColumn)

    def roleNames(self) -> dict[int, QByteArray]:
        return {role.value: QByteArray(role.name.lower().encode()) for role in MemberRole} | {
            Qt.ItemDataRole.DisplayRole.value: QByteArray(b"display"),
            Qt.ItemDataRole.ToolTipRole.value: QByteArray(b"tooltip")}

    def headerData(self, section: int, orientation: Qt.Orientation, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if orientation is not Qt.Orientation.Horizontal or role != Qt.ItemDataRole.DisplayRole:
            return None
        return {MemberColumn.MEMBER: self.tr("Member"), MemberColumn.ROLE: self.tr("Can"),
                MemberColumn.REMOVE: ""}.get(MemberColumn(section))

    def flags(self, index: _Index) -> Qt.ItemFlag:
        if not index.isValid():
            return Qt.ItemFlag.NoItemFlags
        if index.column() == MemberColumn.MEMBER:
            return Qt.ItemFlag.ItemIsEnabled | Qt.ItemFlag.ItemIsSelectable
        if self.blocked_reason(self._members[index.row()]) is not None:
            return Qt.ItemFlag.NoItemFlags  # shown disabled; the tooltip says why
        if index.column() == MemberColumn.REMOVE and not self._members[index.row()].roles:
            return Qt.ItemFlag.NoItemFlags  # removed already
        return Qt.ItemFlag.ItemIsEnabled | Qt.ItemFlag.ItemIsEditable

    def data(self, index: _Index, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if not index.isValid() or not 0 <= index.row() < len(self._members):
            return None
        member = self._members[index.row()]
        column = MemberColumn(index.column())
        if role == Qt.ItemDataRole.DisplayRole:
            if column is MemberColumn.MEMBER:
                return self._describe(member)
            if column is MemberColumn.ROLE:
                return self.tr("Admin") if member.admin else role_text(self._role(member))
            return self.tr("Remove")
        if role == Qt.ItemDataRole.ToolTipRole:
            if column is MemberColumn.MEMBER:
                return self.devices_text(member.peer_id) or member.peer_id
            reason = self.blocked_reason(member)
            if reason is not None:
                return reason
            if column is MemberColumn.REMOVE:
                return (self.tr("Already removed") if not member.roles else
                        self.tr("Remove: they get none of what is added from now on"))
            if member.admin:
                return self.tr("Admins can do everything, including changing who can do what")
            return role_explanation(self._role(member))
        named: dict[int, Any] = {
            MemberRole.PEER_ID: member.peer_id, MemberRole.SHORT_ID: short_id(member.peer_id),
            MemberRole.ROLE: self._role(member), MemberRole.ADMIN: member.admin, MemberRole.IS_ME: member.is_me,
            MemberRole.JOINED: member.joined, MemberRole.EDITABLE: self.blocked_reason(member) is None,
            MemberRole.BLOCKED_REASON: self.blocked_reason(member), MemberRole.MEMBER: member,
            MemberRole.DEVICES: list(self._devices.get(member.peer_id, ()))}
        if role == Qt.ItemDataRole.EditRole and column is MemberColumn.ROLE:
            return self._role(member)
        return named.get(role)

    def setData(self, index: _Index, value: Any, role: int = Qt.ItemDataRole.EditRole) -> bool:
        if (role != Qt.ItemDataRole.EditRole or not index.isValid() or index.column() != MemberColumn.ROLE
                or not self.flags(index) & Qt.ItemFlag.ItemIsEditable):
            return False
        member = self._members[index.row()]
        picked = Role(value)
        if picked == self._role(member):
            return False
        # Shown at once; the next load replaces it with what the engine holds.
        self._pending[member.peer_id] = picked
        self.dataChanged.emit(index, index)
        self.role_change_requested.emit(member.peer_id, picked)
        return True

    # --- helpers --------------------------------------------------------------------------

    def devices_text(self, peer_id: str) -> str | None:
        """ "On 2 devices: their first device, Bob's desktop" for a person
        writing here from more than one device; None otherwise."""
        devices = self._devices.get(peer_id, ())
        if len(devices) < 2:
            return None
        names = [name or self.tr("their first device") for name in devices]
        return self.tr("On %1 devices: %2").replace("%1", str(len(names))).replace("%2", ", ".join(names))

    def _role(self, member: Member) -> Role:
        return self._pending.get(member.peer_id, highest_role(member.roles))

    def _describe(self, member: Member) -> str:
        notes = []
        if member.is_me:
            notes.append(self.tr("you"))
        if member.admin:
            notes.append(self.tr("admin"))
        if not member.joined:
            notes.append(self.tr("invited, not joined yet"))
        if not member.roles:
            notes.append(self.tr("removed"))
        name = self._names.get(member.peer_id)
        text = f"{name} · {short_id(member.peer_id)}" if name else short_id(member.peer_id)
        return f"{text} ({', '.join(notes)})" if notes else text
