"""An album that fetches originals only on demand: the viewer shows the
preview, and "Get original" brings the original over the network."""

from __future__ import annotations

from pathlib import Path

import qasync

from tests.ui.album import drop_files, new_album, photo_files
from tests.ui.waiting import wait_for
from threads_desktop.engine.acl.links import InviteLink
from threads_desktop.engine.core.ids import ThreadId
from threads_desktop.engine.core.members import Role
from threads_desktop.engine.core.types import FetchOriginals
from threads_desktop.engine.node import Node
from threads_desktop.engine.runtime import EngineRuntime
from threads_desktop.ui.engine_client import EngineClient
from threads_desktop.ui.models.thread_list_model import ThreadRole
from threads_desktop.ui.settings import AppSettings
from threads_desktop.ui.views.main_window import MainWindow


def _window(qtbot, loop: qasync.QEventLoop, engine: EngineRuntime, settings: Path) -> MainWindow:  # type: ignore[no-untyped-def]
    window = MainWindow(EngineClient(engine, loop), AppSettings.from_file(settings))
    qtbot.addWidget(window)
    with qtbot.waitSignal(window.threads_loaded, timeout=10_000):
        window.show()
    return window


def _join_on_demand(node: Node, link: str) -> ThreadId:
    # One engine call: the policy is set before any sync can fetch an original
    # (for the profile: the album is not ours until an admin admits us).
    node.set_fetch_originals(FetchOriginals.ON_DEMAND)
    return node.join(InviteLink.parse(link))


def test_the_viewer_fetches_an_original_on_demand_with_progress(  # type: ignore[no-untyped-def]
        qtbot, qt_loop: qasync.QEventLoop, two_app_engines: tuple[EngineRuntime, EngineRuntime],
        tmp_path: Path) -> None:
    a, b = two_app_engines
    window_a = _window(qtbot, qt_loop, a, tmp_path / "a.ini")
    window_b = _window(qtbot, qt_loop, b, tmp_path / "b.ini")
    thread_id = new_album(qtbot, window_a, "Originals")
    with qtbot.waitSignal(window_a.album_view.import_finished, timeout=30_000):
        drop_files(window_a.album_view.grid, photo_files(tmp_path / "in", 2))
    link = qtbot_call(qtbot, a, lambda node: node.invite(ThreadId.parse(thread_id), Role.WRITE).to_uri())
    qtbot_call(qtbot, b, _join_on_demand, link)
    qtbot.waitUntil(lambda: window_b.threads.rowCount() == 1
                    and window_b.threads.index(0).data(ThreadRole.KIND) == "album", timeout=30_000)
    window_b.select_thread(thread_id)  # listed under Joining, then Backups, until the join completes
    album = window_b.album_view
    qtbot.waitUntil(lambda: album.model.rowCount() == 2, timeout=30_000)
    viewer = album.viewer
    with qtbot.waitSignal(viewer.shown, timeout=30_000):  # the preview came with the sync
        album.open_viewer(0)
    assert "original is on another device" in viewer.original_state.text()
    assert viewer.get_original.isVisible()
    with qtbot.waitSignal(viewer.original_shown, timeout=30_000):
        viewer.get_original.click()
        assert "Fetching the original" in viewer.original_state.text()
    assert "original is on this device" in viewer.original_state.text()
    assert not viewer.get_original.isVisible()


def qtbot_call(qtbot, engine: EngineRuntime, fn, *args):  # type: ignore[no-untyped-def]
    """Run an engine call from the test and wait for it on Qt's loop."""

    return wait_for(qtbot, engine.call(fn, *args), timeout=10_000)
