"""The devices of the person using this computer (Settings > Devices), one
row each with named roles: the name, "This computer", online or when last
seen, removed. Rows come from ui/operations/devices (plain values)."""

from __future__ import annotations

import enum
import time
from typing import Any

from PySide6.QtCore import QAbstractListModel, QByteArray, QCoreApplication, QModelIndex, QPersistentModelIndex, Qt

from threads_desktop.engine.core.types import Connection
from threads_desktop.ui.operations.devices import MyDevice

_Index = QModelIndex | QPersistentModelIndex


class MyDeviceRole(enum.IntEnum):
    DEVICE_ID = Qt.ItemDataRole.UserRole + 1
    NAME = enum.auto()  # the device's name, else a short form of its ID
    THIS_DEVICE = enum.auto()
    REMOVED = enum.auto()
    STATUS_TEXT = enum.auto()  # "This computer", "Online, same network", "Last seen 14:05", "Removed"
    REMOVABLE = enum.auto()  # may Remove… be offered on this row?
    DEVICE = enum.auto()  # the MyDevice


def _day(seen: time.struct_time, today: time.struct_time) -> str:
    if seen[:3] == today[:3]:
        return time.strftime("%H:%M", seen)
    return f"{seen.tm_mday} {time.strftime('%b', seen)}" + ("" if seen.tm_year == today.tm_year
                                                           else f" {seen.tm_year}")


def device_name(device: MyDevice) -> str:
    """Its certified name; a person's first device has none (ui/operations
    names this computer by its host name)."""
    return device.name or QCoreApplication.translate("MyDevices", "Your first device")


def status_text(device: MyDevice, now: float) -> str:
    """How it is now, and when it was added (two computers may share a name)."""
    state = _state_text(device, now)
    if device.added_ms is None or device.removed:
        return state
    added = _day(time.localtime(device.added_ms / 1000), time.localtime(now))
    return QCoreApplication.translate("MyDevices", "%1 · added %2").replace("%1", state).replace("%2", added)


def _state_text(device: MyDevice, now: float) -> str:
    tr = QCoreApplication.translate
    if device.removed:
        return tr("MyDevices", "Removed")
    if device.this_device:
        return tr("MyDevices", "This computer")
    if device.connection is Connection.SAME_NETWORK:
        return tr("MyDevices", "Online, on this network")
    if device.connection in (Connection.INTERNET, Connection.RELAY):
        return tr("MyDevices", "Online")
    if device.last_seen is None:
        return tr("MyDevices", "Not seen yet")
    return tr("MyDevices", "Last seen %1").replace("%1", _day(time.localtime(device.last_seen), time.localtime(now)))


class MyDeviceModel(QAbstractListModel):
    def __init__(self) -> None:
        super().__init__()
        self._devices: list[MyDevice] = []

    def set_devices(self, devices: list[MyDevice]) -> None:
        """This computer first, then the others by name; removed ones last."""
        ordered = sorted(devices, key=lambda d: (d.removed, not d.this_device, device_name(d).casefold()))
        self.beginResetModel()
        self._devices = ordered
        self.endResetModel()

    def devices(self) -> list[MyDevice]:
        return list(self._devices)

    def row_of(self, device_id: str) -> int:
        return next((row for row, d in enumerate(self._devices) if d.device_id == device_id), -1)

    def rowCount(self, parent: _Index = QModelIndex()) -> int:  # noqa: B008 (Qt's default argument)
        return 0 if parent.isValid() else len(self._devices)

    def data(self, index: _Index, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if not index.isValid() or not 0 <= index.row() < len(self._devices):
            return None
        device = self._devices[index.row()]
        if role in (Qt.ItemDataRole.DisplayRole, MyDeviceRole.NAME):
            if role == Qt.ItemDataRole.DisplayRole:
                return f"{device_name(device)} — {status_text(device, time.time())}"
            return device_name(device)
        if role == Qt.ItemDataRole.ToolTipRole:
            return status_text(device, time.time())
        if role == MyDeviceRole.DEVICE_ID:
            return device.device_id
        if role == MyDeviceRole.THIS_DEVICE:
            return device.this_device
        if role == MyDeviceRole.REMOVED:
            return device.removed
        if role == MyDeviceRole.STATUS_TEXT:
            return status_text(device, time.time())
        if role == MyDeviceRole.REMOVABLE:
            return not device.this_device and not device.removed
        if role == MyDeviceRole.DEVICE:
            return device
        return None

    def roleNames(self) -> dict[int, QByteArray]:
        return {int(role): QByteArray(role.name.lower().encode()) for role in MyDeviceRole}
