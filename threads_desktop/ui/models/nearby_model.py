"""Peers LAN discovery found lately, as a list model with named roles, and
the feed that keeps one up to date from the engine's change sets."""

from __future__ import annotations

import enum
from collections.abc import Sequence
from typing import Any

import shiboken6
from PySide6.QtCore import QAbstractListModel, QByteArray, QModelIndex, QObject, QPersistentModelIndex, Qt, Signal

from threads_desktop.engine.core.types import ChangeSet, NearbyPeer
from threads_desktop.ui.engine_client import EngineClient
from threads_desktop.ui.models.coalescing_load import CoalescingLoad
from threads_desktop.ui.operations import network as network_ops
from threads_desktop.ui.people import person, short_id

_Index = QModelIndex | QPersistentModelIndex


class NearbyRole(enum.IntEnum):
    PEER_ID = Qt.ItemDataRole.UserRole + 1
    NAME = enum.auto()  # the name it gives itself, else its short ID
    HAS_NAME = enum.auto()
    SHORT_ID = enum.auto()
    LAST_SEEN = enum.auto()  # seconds since the epoch
    ADDRESSES = enum.auto()


class NearbyModel(QAbstractListModel):
    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._peers: list[NearbyPeer] = []

    def rowCount(self, parent: _Index = QModelIndex()) -> int:  # noqa: B008 - Qt's name
        return 0 if parent.isValid() else len(self._peers)

    def roleNames(self) -> dict[int, QByteArray]:
        return {role.value: QByteArray(role.name.lower().encode()) for role in NearbyRole} | {
            Qt.ItemDataRole.DisplayRole.value: QByteArray(b"display")}

    def data(self, index: _Index, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if not index.isValid() or not 0 <= index.row() < len(self._peers):
            return None
        peer = self._peers[index.row()]
        if role in (Qt.ItemDataRole.DisplayRole, NearbyRole.NAME):
            return person(peer.display_name, peer.peer_id)
        if role == Qt.ItemDataRole.ToolTipRole:
            return peer.peer_id
        if role == NearbyRole.PEER_ID:
            return peer.peer_id
        if role == NearbyRole.HAS_NAME:
            return bool(peer.display_name)
        if role == NearbyRole.SHORT_ID:
            return short_id(peer.peer_id)
        if role == NearbyRole.LAST_SEEN:
            return peer.last_seen
        if role == NearbyRole.ADDRESSES:
            return list(peer.addresses)
        return None

    def peer_ids(self) -> list[str]:
        return [peer.peer_id for peer in self._peers]

    def row_of(self, peer_id: str) -> int:
        for row, peer in enumerate(self._peers):
            if peer.peer_id == peer_id:
                return row
        return -1

    def set_peers(self, peers: Sequence[NearbyPeer]) -> None:
        """Show `peers` (newest first) with row removals, insertions and a
        reorder rather than a reset, so a selection follows its peer: the
        list changes while someone is
        choosing whom to invite."""
        new_ids = [peer.peer_id for peer in peers]
        wanted = set(new_ids)
        for row in reversed(range(len(self._peers))):
            if self._peers[row].peer_id not in wanted:
                self.beginRemoveRows(QModelIndex(), row, row)
                del self._peers[row]
                self.endRemoveRows()
        held = set(self.peer_ids())
        arriving = [peer for peer in peers if peer.peer_id not in held]
        if arriving:
            self.beginInsertRows(QModelIndex(), len(self._peers), len(self._peers) + len(arriving) - 1)
            self._peers.extend(arriving)
            self.endInsertRows()
        if self.peer_ids() != new_ids:
            self.layoutAboutToBeChanged.emit()
            old_ids = self.peer_ids()
            self._peers = list(peers)
            new_rows = {peer_id: row for row, peer_id in enumerate(new_ids)}
            for index in self.persistentIndexList():
                self.changePersistentIndex(index, self.index(new_rows[old_ids[index.row()]]))
            self.layoutChanged.emit()
        elif self._peers != list(peers):
            self._peers = list(peers)
            self.dataChanged.emit(self.index(0), self.index(len(self._peers) - 1))


class NearbyFeed(QObject):
    """Keeps a NearbyModel equal to `Node.nearby_peers()`: loads once, then
    shows the nearby list each change set carries when that list changed
    (no call back into the engine); asks again only when a member's name
    changed, since a listed peer may be that member."""

    loaded = Signal()  # after each load shown

    def __init__(self, client: EngineClient, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._client = client
        self.model = NearbyModel(self)
        model = self.model
        self._load = CoalescingLoad(lambda: client.run(network_ops.nearby_peers), model.set_peers,
                                    alive=lambda: shiboken6.isValid(model), loaded=self.loaded.emit)
        client.changed.connect(self._on_changes)
        self.refresh()

    def _on_changes(self, changes: ChangeSet) -> None:
        if changes.nearby is None:
            names = any(collection == "member_profile" for _t, collection, _d in changes.documents)
            if names and self.model.rowCount():
                self.refresh()  # a peer listed may have told its name in a thread we share: rare, so ask
            return
        if self._load.busy:
            self._load.refresh()  # the load under way may answer from before this list: ask once more
            return
        self.model.set_peers(list(changes.nearby))
        self.loaded.emit()

    def refresh(self) -> None:
        self._load.refresh()
