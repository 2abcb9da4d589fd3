"""What the drivers share: the real app (run_app, offscreen, on 127.0.0.1)
with a step of the driver's run once its main window shows, and an error in
that step ending the process at once (otherwise it is printed and the app
runs on until the test's deadline)."""

from __future__ import annotations

import os
import sys
import time
import traceback
from collections.abc import Callable
from pathlib import Path
from types import TracebackType

from PySide6.QtCore import QTimer
from PySide6.QtWidgets import QApplication

from threads_desktop.app import run_app
from threads_desktop.cli.commands import forwarding_handler
from threads_desktop.ui.settings import AppSettings
from threads_desktop.ui.views.main_window import MainWindow

GIVE_UP_AFTER_S = 60  # the tests' own deadlines are shorter: this only bounds a stray process


def _fail_at_once(kind: type[BaseException], error: BaseException, trace: TracebackType | None) -> None:
    traceback.print_exception(kind, error, trace)
    os._exit(3)


def run_app_then(data_dir: Path, settings_file: Path, when_shown: Callable[[MainWindow], None]) -> int:
    """run_app's exit code; `when_shown(window)` runs once the main window shows."""
    app = QApplication(sys.argv[:1])
    sys.excepthook = _fail_at_once
    started = time.monotonic()

    def look() -> None:
        windows = [w for w in app.topLevelWidgets() if isinstance(w, MainWindow) and w.isVisible()]
        if windows:
            when_shown(windows[0])
        elif time.monotonic() - started < GIVE_UP_AFTER_S:
            QTimer.singleShot(100, look)

    QTimer.singleShot(100, look)
    return run_app(data_dir, listen=["/ip4/127.0.0.1/tcp/0"], lan_discovery=False, commands=forwarding_handler,
                   settings=AppSettings.from_file(settings_file))


def poll(condition: Callable[[], bool], then: Callable[[], None], *, give_up_after_s: float,
         on_timeout: Callable[[], None]) -> None:
    """`then()` as soon as `condition()` holds, checked every 100 ms on Qt's loop."""
    started = time.monotonic()

    def check() -> None:
        if condition():
            then()
        elif time.monotonic() - started < give_up_after_s:
            QTimer.singleShot(100, check)
        else:
            on_timeout()

    check()
