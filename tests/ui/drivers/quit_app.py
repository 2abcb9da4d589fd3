"""Runs the real app (run_app, offscreen) on a desktop that has a system
tray and, once its main window shows, does what a user does: `quit` picks
File > Quit; `close` closes the window and then picks Quit in the tray's
menu; `import` starts adding a folder of photos to the album "Summer" and
picks Quit (then Quit in the question) once the first ones are in. Prints
what happened; the test reads it, the exit code and stderr.

usage: python -m tests.ui.drivers.quit_app DATA_DIR SETTINGS_INI quit|close|import [PHOTO_FOLDER]
"""

from __future__ import annotations

import sys
from pathlib import Path

from PySide6.QtCore import QTimer
from PySide6.QtWidgets import QSystemTrayIcon

from tests.ui.drivers.running_app import GIVE_UP_AFTER_S, poll, run_app_then
from threads_desktop.ui.models.thread_list_model import ThreadRole
from threads_desktop.ui.tray import TrayIcon
from threads_desktop.ui.views.main_window import MainWindow


def quit_during_import(window: MainWindow, folder: Path) -> None:
    def added(done: int, _total: int) -> None:
        if done and window.quit_box is None:
            box = window.request_quit()
            assert box is not None, "quit did not ask while photos were being added"
            print("asked", flush=True)
            next(b for b in box.buttons() if b.text() == "Quit").click()

    def add() -> None:
        importer = window.album_view.add_paths([folder])
        assert importer is not None
        importer.progressed.connect(added)

    def select() -> None:
        window.select_thread(str(window.threads.index(0).data(ThreadRole.THREAD_ID)))
        poll(lambda: window.album_view.title.text() == "Summer", add, give_up_after_s=GIVE_UP_AFTER_S,
             on_timeout=lambda: print("the album never showed", flush=True))

    poll(lambda: window.threads.rowCount() > 0, select, give_up_after_s=GIVE_UP_AFTER_S,
         on_timeout=lambda: print("the album was never listed", flush=True))


def main() -> int:
    data_dir, settings_file, mode = Path(sys.argv[1]), Path(sys.argv[2]), sys.argv[3]
    # Offscreen Qt has no tray; this stands for a desktop that has one, where
    # closing the window hides it (the case where Quit used to only hide).
    QSystemTrayIcon.isSystemTrayAvailable = staticmethod(lambda: True)  # type: ignore[method-assign]

    def when_shown(window: MainWindow) -> None:
        print("window shown", flush=True)
        if mode == "import":
            quit_during_import(window, Path(sys.argv[4]))
            return
        if mode == "quit":
            window.quit_action.trigger()
        else:
            window.close()
            print("hidden" if not window.isVisible() else "still visible", flush=True)
            tray = window.findChild(TrayIcon)
            assert tray is not None
            tray.quit_action.trigger()
        QTimer.singleShot(100, lambda: print("still running after quit", flush=True))

    return run_app_then(data_dir, settings_file, when_shown)


if __name__ == "__main__":
    raise SystemExit(main())
