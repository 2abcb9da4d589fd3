"""Runs the real app (run_app, offscreen) on a desktop that has a system
tray and, once its main window shows, does what a user does: `quit` picks
File > Quit; `close` closes the window and then picks Quit in the tray's
menu; `import` starts adding a folder of photos to the album "Summer" and
picks Quit (then Quit in the question) once the first ones are in. Prints
what happened; the test reads it, the exit code and stderr.

usage: python -m tests.ui.drivers.quit_app DATA_DIR SETTINGS_INI quit|close|import [PHOTO_FOLDER]
"""

from __future__ import annotations

import os
import sys
import time
import traceback
from pathlib import Path
from types import TracebackType

from PySide6.QtCore import QTimer
from PySide6.QtWidgets import QApplication, QSystemTrayIcon

from threads_desktop.app import run_app
from threads_desktop.ui.models.thread_list_model import ThreadRole
from threads_desktop.ui.settings import AppSettings
from threads_desktop.ui.tray import TrayIcon
from threads_desktop.ui.views.main_window import MainWindow

GIVE_UP_AFTER_S = 60  # the test's own deadline is shorter: this only bounds a stray process


def _fail_at_once(kind: type[BaseException], error: BaseException, trace: TracebackType | None) -> None:
    # An error in a slot would otherwise be printed and the app run on until the test's deadline.
    traceback.print_exception(kind, error, trace)
    os._exit(3)


def quit_during_import(window: MainWindow, folder: Path) -> None:
    def added(done: int, _total: int) -> None:
        if done and window.quit_box is None:
            box = window.request_quit()
            assert box is not None, "quit did not ask while photos were being added"
            print("asked", flush=True)
            next(b for b in box.buttons() if b.text() == "Quit").click()

    def add_when_shown() -> None:
        if window.album_view.title.text() != "Summer":
            QTimer.singleShot(100, add_when_shown)
            return
        importer = window.album_view.add_paths([folder])
        assert importer is not None
        importer.progressed.connect(added)

    def select_when_listed() -> None:
        if window.threads.rowCount() == 0:
            QTimer.singleShot(100, select_when_listed)
            return
        window.select_thread(str(window.threads.index(0).data(ThreadRole.THREAD_ID)))
        add_when_shown()

    select_when_listed()


def main() -> int:
    data_dir, settings_file, mode = Path(sys.argv[1]), Path(sys.argv[2]), sys.argv[3]
    # Offscreen Qt has no tray; this stands for a desktop that has one, where
    # closing the window hides it (the case where Quit used to only hide).
    QSystemTrayIcon.isSystemTrayAvailable = staticmethod(lambda: True)  # type: ignore[method-assign]
    app = QApplication(sys.argv[:1])
    sys.excepthook = _fail_at_once
    started = time.monotonic()

    def act() -> None:
        windows = [w for w in app.topLevelWidgets() if isinstance(w, MainWindow) and w.isVisible()]
        if not windows:
            if time.monotonic() - started < GIVE_UP_AFTER_S:
                QTimer.singleShot(100, act)
            return
        window = windows[0]
        print("window shown", flush=True)
        if mode == "quit":
            window.quit_action.trigger()
        elif mode == "import":
            quit_during_import(window, Path(sys.argv[4]))
            return
        else:
            window.close()
            print("hidden" if not window.isVisible() else "still visible", flush=True)
            tray = window.findChild(TrayIcon)
            assert tray is not None
            tray.quit_action.trigger()
        QTimer.singleShot(100, lambda: print("still running after quit", flush=True))

    QTimer.singleShot(100, act)
    return run_app(data_dir, listen=["/ip4/127.0.0.1/tcp/0"], lan_discovery=False,
                   settings=AppSettings.from_file(settings_file))


if __name__ == "__main__":
    raise SystemExit(main())
