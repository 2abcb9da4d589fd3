"""The status bar tells whether we are online, how many peers are connected
and how far photos coming in are."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path

import pytest
import qasync

from tests.ui.counting_runtime import CountingRuntime
from threads_desktop.engine.acl.links import InviteLink
from threads_desktop.engine.core.ids import ThreadId
from threads_desktop.engine.core.members import Role
from threads_desktop.engine.core.types import NetworkStatus, ThreadKind, Transfer
from threads_desktop.engine.node import Node
from threads_desktop.engine.runtime import EngineRuntime
from threads_desktop.ui.engine_client import EngineClient
from threads_desktop.ui.models.nearby_model import NearbyFeed
from threads_desktop.ui.views.main_window import MainWindow
from threads_desktop.ui.widgets.network_status import NetworkStatusWidget


def test_progress_and_peer_count_are_shown(qtbot) -> None:  # type: ignore[no-untyped-def]
    widget = NetworkStatusWidget()
    qtbot.addWidget(widget)
    thread_id = ThreadId.from_random(ThreadId.parse(
        "bafyjdh5fkxyuekotdlha6fbmdpafxp5jdv3jo7radf45spwc6z66boy").variant, bytes(32))
    widget.show_status(NetworkStatus(online=True, peers=2, transfers=(Transfer(thread_id, 3_000_000, 12_000_000),)))
    assert widget.label.text() == "2 peers connected"
    assert not widget.progress.isHidden() and widget.progress.value() == 250
    widget.show_status(NetworkStatus(online=False))
    assert widget.label.text() == "Offline" and widget.progress.isHidden()


def test_the_window_shows_a_peer_connecting(qtbot, qt_loop: qasync.QEventLoop,  # type: ignore[no-untyped-def]
                                            two_app_engines: tuple[EngineRuntime, EngineRuntime]) -> None:
    a, b = two_app_engines
    window = MainWindow(EngineClient(a, qt_loop))
    qtbot.addWidget(window)
    with qtbot.waitSignal(window.network_status_shown, timeout=10_000):
        window.show()
    assert window.network_status.label.text() == "Online, no peers connected"

    async def b_joins() -> None:
        summary = await a.call(Node.create_thread, ThreadKind.CHAT, "Us")
        link = await a.call(lambda node: node.invite(summary.thread_id, Role.WRITE).to_uri())
        await b.call(lambda node: node.join(InviteLink.parse(link)))

    def one_peer_shown() -> bool:
        return window.network_status.label.text() == "1 peer connected"

    joined = qt_loop.create_task(b_joins())
    with qtbot.waitSignal(window.network_status_shown, check_params_cb=lambda: one_peer_shown(), timeout=20_000):
        pass
    assert joined.done() and joined.exception() is None


@pytest.fixture
def counting_runtime(tmp_path: Path) -> Iterator[CountingRuntime]:
    engine = CountingRuntime(lambda: Node.open(tmp_path / "profile"))
    engine.start()
    yield engine
    engine.stop()


def test_network_notifications_are_shown_without_calling_back_into_the_engine(
        qtbot, qt_loop: qasync.QEventLoop, counting_runtime: CountingRuntime) -> None:  # type: ignore[no-untyped-def]
    """Transfers publish their progress 4 times a second: the window's
    status bar and the nearby list show each change set's snapshot."""
    client = EngineClient(counting_runtime, qt_loop)
    window = MainWindow(client)
    qtbot.addWidget(window)
    with qtbot.waitSignal(window.network_status_shown, timeout=10_000):
        window.show()
    feed = NearbyFeed(client)
    with qtbot.waitSignal(feed.loaded, timeout=10_000):
        pass
    shown = []
    window.network_status_shown.connect(lambda: shown.append(True))
    before = counting_runtime.calls
    notifications = 20

    def publish(node: Node) -> None:
        for _ in range(notifications):
            node.network_changed()  # as a transfer's progress does

    published = asyncio.ensure_future(counting_runtime.call(publish))
    qtbot.waitUntil(lambda: published.done() and len(shown) == notifications, timeout=10_000)
    assert published.exception() is None
    assert counting_runtime.calls - before == 1  # the publishing call itself; the window and the list asked nothing
    assert window.network_status.label.text() == "Offline"
