"""Settings > Devices' model: this computer first and never removable,
the others by name, removed ones last; online or last seen in words."""

from __future__ import annotations

import time

from threads_desktop.engine.core.types import Connection
from threads_desktop.ui.models.my_device_model import MyDeviceModel, MyDeviceRole, status_text
from threads_desktop.ui.operations.devices import MyDevice

PEER = "12D3KooW" + "A" * 44


def _device(name: str | None, *, this: bool = False, removed: bool = False,
            connection: Connection = Connection.OFFLINE, last_seen: float | None = None,
            device_id: str | None = None) -> MyDevice:
    return MyDevice(device_id or f"12D3KooW{(name or 'x'):A<44}"[:52], name, this, removed, None, connection,
                    last_seen)


def test_this_computer_comes_first_then_by_name_and_removed_last(qapp) -> None:  # type: ignore[no-untyped-def]
    model = MyDeviceModel()
    model.set_devices([_device("zed box"), _device("Old laptop", removed=True), _device("attic", this=True),
                       _device("Bob's desktop")])
    names = [model.index(row).data(MyDeviceRole.NAME) for row in range(model.rowCount())]
    assert names == ["attic", "Bob's desktop", "zed box", "Old laptop"]
    first = model.index(0)
    assert first.data(MyDeviceRole.THIS_DEVICE) and not first.data(MyDeviceRole.REMOVABLE)
    assert first.data(MyDeviceRole.STATUS_TEXT) == "This computer"
    assert model.index(1).data(MyDeviceRole.REMOVABLE)
    last = model.index(3)
    assert not last.data(MyDeviceRole.REMOVABLE) and last.data(MyDeviceRole.STATUS_TEXT) == "Removed"
    assert model.row_of(model.index(2).data(MyDeviceRole.DEVICE_ID)) == 2
    assert b"status_text" in model.roleNames().values()


def test_a_first_device_without_a_name_is_called_so(qapp) -> None:  # type: ignore[no-untyped-def]
    model = MyDeviceModel()
    model.set_devices([_device(None, device_id=PEER)])
    assert model.index(0).data(MyDeviceRole.NAME) == "Your first device"


def test_status_says_online_or_when_last_seen(qapp) -> None:  # type: ignore[no-untyped-def]
    now = time.time()
    assert status_text(_device("a", connection=Connection.SAME_NETWORK), now) == "Online, on this network"
    assert status_text(_device("a", connection=Connection.RELAY), now) == "Online"
    assert status_text(_device("a"), now) == "Not seen yet"
    earlier = time.mktime((*time.localtime(now)[:3], 0, 1, 0, 0, 0, -1))  # 00:01 today
    assert status_text(_device("a", last_seen=earlier), now) == "Last seen 00:01"
    long_ago = time.mktime((2020, 3, 4, 12, 0, 0, 0, 0, -1))
    assert status_text(_device("a", last_seen=long_ago), now) == "Last seen 4 Mar 2020"


def test_a_device_says_when_it_was_added(qapp) -> None:  # type: ignore[no-untyped-def]
    now = time.time()
    added = MyDevice("12D3KooW" + "B" * 44, "vm", False, False, int(time.mktime((2020, 3, 4, 12, 0, 0, 0, 0, -1)))
                     * 1000, Connection.SAME_NETWORK, None)
    assert status_text(added, now) == "Online, on this network · added 4 Mar 2020"


def test_rows_are_painted_with_a_badge_and_two_lines_removed_ones_grey(qtbot) -> None:  # type: ignore[no-untyped-def]
    from PySide6.QtWidgets import QListView

    from threads_desktop.ui.widgets.my_device_delegate import MyDeviceDelegate

    model = MyDeviceModel()
    model.set_devices([_device("attic", this=True), _device("Old laptop", removed=True)])
    view = QListView()
    view.setModel(model)
    view.setItemDelegate(MyDeviceDelegate(view))
    view.resize(400, 200)
    qtbot.addWidget(view)
    view.show()
    qtbot.waitExposed(view)
    first, second = view.visualRect(model.index(0)), view.visualRect(model.index(1))
    assert first.height() == second.height() >= 2 * view.fontMetrics().height()
    image = view.viewport().grab().toImage()
    badge_edge = second.top() + 8 + 3  # inside the round badge, clear of its letter
    assert image.pixelColor(8 + 16, badge_edge).name() == "#9e9e9e"  # a removed device's badge is grey
    assert image.pixelColor(8 + 16, first.top() + 8 + 3).name() != "#9e9e9e"
