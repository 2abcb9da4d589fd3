"""The peers this profile shares albums and chats with (the Devices window),
as a list model with named roles, and the feed that keeps one up to date
from the engine's change sets."""

from __future__ import annotations

import enum
import time
from collections.abc import Sequence
from dataclasses import replace
from typing import Any

import shiboken6
from PySide6.QtCore import (
    QAbstractListModel,
    QByteArray,
    QCoreApplication,
    QModelIndex,
    QObject,
    QPersistentModelIndex,
    Qt,
    Signal,
)

from threads_desktop.engine.core.types import ChangeSet, Connection, Device, NetworkStatus, ThreadSync
from threads_desktop.ui.engine_client import EngineClient
from threads_desktop.ui.models.coalescing_load import CoalescingLoad
from threads_desktop.ui.operations import network as network_ops
from threads_desktop.ui.people import person

_Index = QModelIndex | QPersistentModelIndex


class DeviceRole(enum.IntEnum):
    PEER_ID = Qt.ItemDataRole.UserRole + 1
    NAME = enum.auto()  # the name it gives itself, else its short ID
    HAS_NAME = enum.auto()
    CONNECTION = enum.auto()  # Connection's value
    CONNECTION_TEXT = enum.auto()  # "Same network", "Offline since 14:05", ...
    LAST_SEEN = enum.auto()  # seconds since the epoch, or None
    SHARED_TEXT = enum.auto()  # "Holidays, Family chat"
    PROGRESS_TEXT = enum.auto()  # "Up to date", "Receiving photos: 40%", ...
    PROGRESS = enum.auto()  # 0..1 while photos come in, else None
    THREADS = enum.auto()  # [(name, state text)] one per album or chat


def connection_text(device: Device, now: float) -> str:
    """How it is connected, in plain words (the offline time local: 14:05
    today, else 3 Dec)."""
    if device.connection is Connection.SAME_NETWORK:
        return QCoreApplication.translate("Devices", "Same network")
    if device.connection is Connection.INTERNET:
        return QCoreApplication.translate("Devices", "Internet, direct")
    if device.connection is Connection.RELAY:
        return QCoreApplication.translate("Devices", "Through a relay")
    if device.last_seen is None:
        return QCoreApplication.translate("Devices", "Not connected yet")
    seen, today = time.localtime(device.last_seen), time.localtime(now)
    if seen[:3] == today[:3]:
        return QCoreApplication.translate("Devices", "Offline since %1").replace("%1", time.strftime("%H:%M", seen))
    day = f"{seen.tm_mday} {time.strftime('%b', seen)}" + ("" if seen.tm_year == today.tm_year
                                                          else f" {seen.tm_year}")
    return QCoreApplication.translate("Devices", "Offline since %1").replace("%1", day)


def thread_name(thread: ThreadSync) -> str:
    if thread.name:
        return thread.name
    return QCoreApplication.translate("Devices", "Encrypted backup")


def thread_state(thread: ThreadSync, connected: bool) -> str:
    """How far one album or chat is in step with the peer."""
    if thread.total:
        return QCoreApplication.translate("Devices", "receiving photos, %1%").replace(
            "%1", str(int(100 * thread.done / thread.total)))
    if not connected:
        return ""
    if not thread.compared:
        return QCoreApplication.translate("Devices", "checking…")
    if thread.in_sync:
        return QCoreApplication.translate("Devices", "up to date")
    if thread.we_lack and thread.they_lack:
        return QCoreApplication.translate("Devices", "syncing both ways")
    if thread.we_lack:
        return (QCoreApplication.translate("Devices", "receiving 1 change") if thread.we_lack == 1 else
                QCoreApplication.translate("Devices", "receiving %1 changes").replace("%1", str(thread.we_lack)))
    if thread.they_lack:
        return (QCoreApplication.translate("Devices", "sending 1 change") if thread.they_lack == 1 else
                QCoreApplication.translate("Devices", "sending %1 changes").replace("%1", str(thread.they_lack)))
    return QCoreApplication.translate("Devices", "syncing")


def progress_text(device: Device) -> str:
    """One line for the whole device: up to date, or what is moving."""
    if device.connection is Connection.OFFLINE:
        return ""
    threads = device.threads
    done, total = sum(t.done for t in threads), sum(t.total for t in threads)
    if total:
        return QCoreApplication.translate("Devices", "Receiving photos: %1 of %2 MB").replace(
            "%1", f"{done / 1e6:.1f}").replace("%2", f"{total / 1e6:.1f}")
    if threads and all(t.in_sync for t in threads):
        return QCoreApplication.translate("Devices", "Up to date")
    we_lack, they_lack = sum(t.we_lack for t in threads), sum(t.they_lack for t in threads)
    if we_lack and they_lack:
        return QCoreApplication.translate("Devices", "Syncing: %1 changes to receive, %2 to send").replace(
            "%1", str(we_lack)).replace("%2", str(they_lack))
    if we_lack:
        return (QCoreApplication.translate("Devices", "Receiving 1 change") if we_lack == 1 else
                QCoreApplication.translate("Devices", "Receiving %1 changes").replace("%1", str(we_lack)))
    if they_lack:
        return (QCoreApplication.translate("Devices", "Sending 1 change") if they_lack == 1 else
                QCoreApplication.translate("Devices", "Sending %1 changes").replace("%1", str(they_lack)))
    return QCoreApplication.translate("Devices", "Checking what is new…")


class DeviceModel(QAbstractListModel):
    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._devices: list[Device] = []

    def rowCount(self, parent: _Index = QModelIndex()) -> int:  # noqa: B008 - Qt's name
        return 0 if parent.isValid() else len(self._devices)

    def roleNames(self) -> dict[int, QByteArray]:
        return {role.value: QByteArray(role.name.lower().encode()) for role in DeviceRole} | {
            Qt.ItemDataRole.DisplayRole.value: QByteArray(b"display")}

    def data(self, index: _Index, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if not index.isValid() or not 0 <= index.row() < len(self._devices):
            return None
        device = self._devices[index.row()]
        connected = device.connection is not Connection.OFFLINE
        if role in (Qt.ItemDataRole.DisplayRole, DeviceRole.NAME):
            return person(device.name, device.peer_id)
        if role == Qt.ItemDataRole.ToolTipRole:
            return "\n".join([person(device.name, device.peer_id), *(
                f"{thread_name(t)}: {thread_state(t, connected)}".rstrip(": ") for t in device.threads)])
        if role == DeviceRole.PEER_ID:
            return device.peer_id
        if role == DeviceRole.HAS_NAME:
            return bool(device.name)
        if role == DeviceRole.CONNECTION:
            return device.connection.value
        if role == DeviceRole.CONNECTION_TEXT:
            return connection_text(device, time.time())
        if role == DeviceRole.LAST_SEEN:
            return device.last_seen
        if role == DeviceRole.SHARED_TEXT:
            return ", ".join(thread_name(t) for t in device.threads)
        if role == DeviceRole.PROGRESS_TEXT:
            return progress_text(device)
        if role == DeviceRole.PROGRESS:
            total = sum(t.total for t in device.threads)
            return sum(t.done for t in device.threads) / total if total and connected else None
        if role == DeviceRole.THREADS:
            return [(thread_name(t), thread_state(t, connected)) for t in device.threads]
        return None

    def devices(self) -> list[Device]:
        return list(self._devices)

    def row_of(self, peer_id: str) -> int:
        return next((row for row, d in enumerate(self._devices) if d.peer_id == peer_id), -1)

    def set_devices(self, devices: Sequence[Device]) -> None:
        """Show `devices` (in the engine's order: connected first), with a
        reset only when the set of peers changed, so the list holds still
        while progress moves."""
        if [d.peer_id for d in devices] != [d.peer_id for d in self._devices]:
            self.beginResetModel()
            self._devices = list(devices)
            self.endResetModel()
            return
        for row, device in enumerate(devices):
            if device != self._devices[row]:
                self._devices[row] = device
                self.dataChanged.emit(self.index(row), self.index(row))

    def apply_status(self, status: NetworkStatus, now: float) -> bool:
        """Take the live part of a status (who is connected, how, how far in
        step) without asking the engine; False when it names a peer sharing
        something that is not listed (the caller loads the list again)."""
        live = {link.peer_id: link for link in status.links}
        updated = []
        for device in self._devices:
            link = live.pop(device.peer_id, None)
            if link is None:
                was_connected = device.connection is not Connection.OFFLINE
                updated.append(replace(device, connection=Connection.OFFLINE,
                                       last_seen=now if was_connected else device.last_seen,
                                       threads=tuple(ThreadSync(t.thread_id, name=t.name, kind=t.kind)
                                                     for t in device.threads)))
                continue
            progress = {t.thread_id: t for t in link.threads}
            threads = tuple(replace(progress[t.thread_id], name=t.name, kind=t.kind) if t.thread_id in progress
                            else t for t in device.threads)
            updated.append(replace(device, connection=link.connection, last_seen=None, threads=threads))
        self.set_devices(updated)
        return not any(link.threads for link in live.values())


class DeviceFeed(QObject):
    """Keeps a DeviceModel equal to `Node.devices()`: loads once, then takes
    each network status the change sets carry (no call back into the
    engine); asks again only when a new peer shows up, an album or chat
    comes or goes, or a name or album name changes."""

    loaded = Signal()  # after each load shown
    updated = Signal()  # after a status was taken

    def __init__(self, client: EngineClient, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._client = client
        self.model = DeviceModel(self)
        model = self.model
        self._load = CoalescingLoad(lambda: client.run(network_ops.devices), model.set_devices,
                                    alive=lambda: shiboken6.isValid(model), loaded=self.loaded.emit)
        client.changed.connect(self._on_changes)
        self.refresh()

    def _on_changes(self, changes: ChangeSet) -> None:
        renamed = any(collection in ("member_profile", "thread") for _t, collection, _d in changes.documents)
        if changes.threads_added or changes.threads_removed or renamed:
            self.refresh()
            return
        if changes.network is None:
            return
        if self._load.busy:
            self._load.refresh()  # the load under way may answer from before this status: ask once more
            return
        if not self.model.apply_status(changes.network, time.time()):
            self.refresh()
        self.updated.emit()

    def refresh(self) -> None:
        self._load.refresh()
