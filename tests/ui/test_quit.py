"""Quit ends the app, whatever closing the window does; closing hides it
in the tray (when the setting is on) and says so the first time; quitting
while photos are being added asks first."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from PySide6.QtWidgets import QMainWindow

from tests.ui.album import drop_files, new_album, photo_files
from threads_desktop.engine.core.types import ThreadKind
from threads_desktop.engine.node import Node
from threads_desktop.ui.settings import AppSettings
from threads_desktop.ui.tray import TrayIcon
from threads_desktop.ui.views.main_window import MainWindow

REPO = Path(__file__).resolve().parents[2]


def _run_driver(tmp_path: Path, how: str, *extra: str) -> tuple[subprocess.Popen[str], str, str]:
    env = {**os.environ, "QT_QPA_PLATFORM": "offscreen", "XDG_CONFIG_HOME": str(tmp_path / "config"),
           "XDG_DATA_HOME": str(tmp_path / "data"), "PYTHONPATH": str(REPO)}
    app = subprocess.Popen([sys.executable, "-m", "tests.ui.drivers.quit_app", str(tmp_path / "profile"),
                            str(tmp_path / "settings.ini"), how, *extra], cwd=REPO, env=env,
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        stdout, stderr = app.communicate(timeout=60)
    except subprocess.TimeoutExpired:
        app.kill()
        stdout, stderr = app.communicate()
        pytest.fail(f"the app still ran 60 s after Quit:\n{stdout}\n{stderr[-2000:]}")
    return app, stdout, stderr


@pytest.mark.parametrize("how", ["quit", "close"], ids=["file-quit", "close-then-tray-quit"])
def test_quit_ends_the_process_even_when_closing_only_hides_the_window(tmp_path: Path, how: str) -> None:
    app, stdout, stderr = _run_driver(tmp_path, how)
    assert "window shown" in stdout, stderr[-2000:]
    if how == "close":
        assert "hidden" in stdout  # closing the window only hid it: the tray was there
    assert app.returncode == 0, stderr[-2000:]


def test_closing_hides_in_the_tray_and_says_so_only_the_first_time(qtbot, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    settings = AppSettings.from_file(tmp_path / "settings.ini")
    window = QMainWindow()
    qtbot.addWidget(window)
    tray = TrayIcon(window, settings, available=True)
    told: list[str] = []
    tray.told_still_running.connect(lambda title, text: told.append(title + ": " + text))
    for _ in range(2):
        window.show()
        with qtbot.waitSignal(tray.window_hidden, timeout=2000):
            window.close()
        assert not window.isVisible()
    assert len(told) == 1 and "still running" in told[0] and "Quit" in told[0]
    assert AppSettings.from_file(tmp_path / "settings.ini").told_still_running  # also after a restart


def test_quitting_while_photos_are_added_asks_and_stops_the_import(qtbot, window: MainWindow,  # type: ignore[no-untyped-def]
                                                                   tmp_path: Path) -> None:
    new_album(qtbot, window, "Big")
    album = window.album_view
    quits: list[bool] = []
    window.quit_confirmed.connect(lambda: quits.append(True))
    with qtbot.waitSignal(album.import_finished, timeout=60_000) as finished:
        drop_files(album.grid, photo_files(tmp_path / "many", 40, size=(1200, 900)))
        assert album.current_import is not None
        box = window.request_quit()
        assert box is not None and quits == []  # asked, not quit yet
        assert "still being added" in box.text()
        quit_button = next(b for b in box.buttons() if b.text() == "Quit")
        quit_button.click()
    assert quits == [True]
    summary = finished.args[0]
    assert summary.cancelled and len(summary.added) < 40


def test_quit_without_an_import_quits_at_once(qtbot, window: MainWindow) -> None:  # type: ignore[no-untyped-def]
    with qtbot.waitSignal(window.quit_confirmed, timeout=2000):
        window.quit_action.trigger()
    assert window.quit_box is None


def test_an_import_that_ends_while_quit_is_asked_quits_and_keep_adding_does_not(  # type: ignore[no-untyped-def]
        qtbot, window: MainWindow, tmp_path: Path) -> None:
    new_album(qtbot, window, "Small")
    album = window.album_view
    quits: list[bool] = []
    window.quit_confirmed.connect(lambda: quits.append(True))
    with qtbot.waitSignal(album.import_finished, timeout=60_000):
        drop_files(album.grid, photo_files(tmp_path / "a", 20, size=(800, 600)))
        box = window.request_quit()
        assert box is not None
        next(b for b in box.buttons() if b.text() == "Keep Adding").click()
    assert quits == [] and window.quit_box is None  # kept adding: it finished, the app goes on
    with qtbot.waitSignal(album.import_finished, timeout=60_000):
        drop_files(album.grid, photo_files(tmp_path / "b", 20, first_seed=50, size=(800, 600)))
        assert window.request_quit() is not None
    qtbot.waitUntil(lambda: quits == [True], timeout=5000)  # it ended while asked: quit as asked


def test_quitting_in_the_middle_of_an_import_ends_cleanly_and_keeps_what_was_added(tmp_path: Path) -> None:
    node = Node.open(tmp_path / "profile")
    try:
        thread_id = node.create_thread(ThreadKind.ALBUM, "Summer").thread_id
    finally:
        node.close()
    photo_files(tmp_path / "summer", 40, size=(1600, 1200))
    app, stdout, stderr = _run_driver(tmp_path, "import", str(tmp_path / "summer"))
    assert "asked" in stdout, stderr[-3000:]
    assert app.returncode == 0, stderr[-3000:]
    # Every task ended before the interpreter did: nothing was left pending
    # for the garbage collector to report while logging was being torn down.
    assert "Task was destroyed" not in stderr and "Logging error" not in stderr, stderr[-3000:]
    node = Node.open(tmp_path / "profile")
    try:
        added = len(node.photos(thread_id).ordered_ids(newest_first=True))
    finally:
        node.close()
    assert 0 < added < 40


def test_closing_the_window_while_photos_are_added_asks_like_quit_when_it_would_not_hide(  # type: ignore[no-untyped-def]
        qtbot, window: MainWindow, tmp_path: Path) -> None:
    # No tray here: closing the window ends the app, so it asks first.
    new_album(qtbot, window, "Big")
    album = window.album_view
    quits: list[bool] = []
    window.quit_confirmed.connect(lambda: quits.append(True))
    with qtbot.waitSignal(album.import_finished, timeout=60_000):
        drop_files(album.grid, photo_files(tmp_path / "many", 40, size=(1200, 900)))
        window.close()
        assert window.isVisible() and window.quit_box is not None and quits == []
        next(b for b in window.quit_box.buttons() if b.text() == "Quit").click()
    assert quits == [True]
    window.close()  # now it closes without asking again
    assert not window.isVisible()
