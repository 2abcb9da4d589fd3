"""Runs the real app (run_app, offscreen) on a desktop that has a system
tray and, once its main window shows, does what a user does: `quit` picks
File > Quit; `close` closes the window and then picks Quit in the tray's
menu. Prints what happened; the test reads it and the exit code.

usage: python -m tests.ui.drivers.quit_app DATA_DIR SETTINGS_INI quit|close
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

from PySide6.QtCore import QTimer
from PySide6.QtWidgets import QApplication, QSystemTrayIcon

from threads_desktop.app import run_app
from threads_desktop.ui.settings import AppSettings
from threads_desktop.ui.tray import TrayIcon
from threads_desktop.ui.views.main_window import MainWindow

GIVE_UP_AFTER_S = 60  # the test's own deadline is shorter: this only bounds a stray process


def main() -> int:
    data_dir, settings_file, mode = Path(sys.argv[1]), Path(sys.argv[2]), sys.argv[3]
    # Offscreen Qt has no tray; this stands for a desktop that has one, where
    # closing the window hides it (the case where Quit used to only hide).
    QSystemTrayIcon.isSystemTrayAvailable = staticmethod(lambda: True)  # type: ignore[method-assign]
    app = QApplication(sys.argv[:1])
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
