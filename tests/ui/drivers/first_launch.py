"""Runs the real app (run_app, offscreen) and reports whether it asked for
the user's name once its window showed; `save NAME` types NAME and saves,
`skip` skips, `none` expects no prompt. Then quits. The test reads stdout.

usage: python -m tests.ui.drivers.first_launch DATA_DIR SETTINGS_INI save NAME|skip|none
"""

from __future__ import annotations

import os
import sys
import time
import traceback
from pathlib import Path
from types import TracebackType

from PySide6.QtCore import QTimer
from PySide6.QtWidgets import QApplication

from threads_desktop.app import run_app
from threads_desktop.ui.settings import AppSettings
from threads_desktop.ui.views.main_window import MainWindow

WAIT_FOR_PROMPT_S = 3.0  # the check is one engine call: a prompt comes well within this
GIVE_UP_AFTER_S = 60


def _fail_at_once(kind: type[BaseException], error: BaseException, trace: TracebackType | None) -> None:
    traceback.print_exception(kind, error, trace)
    os._exit(3)


def main() -> int:
    data_dir, settings_file, mode = Path(sys.argv[1]), Path(sys.argv[2]), sys.argv[3]
    app = QApplication(sys.argv[:1])
    sys.excepthook = _fail_at_once
    started = time.monotonic()
    shown_at: list[float] = []

    def act() -> None:
        windows = [w for w in app.topLevelWidgets() if isinstance(w, MainWindow) and w.isVisible()]
        if not windows:
            if time.monotonic() - started < GIVE_UP_AFTER_S:
                QTimer.singleShot(100, act)
            return
        window = windows[0]
        shown_at[:] = shown_at or [time.monotonic()]
        prompt = window.name_prompt
        if prompt is None or not prompt.isVisible():
            if time.monotonic() - shown_at[0] < WAIT_FOR_PROMPT_S:
                QTimer.singleShot(100, act)
                return
            print("no prompt", flush=True)
        else:
            print(f"prompt prefilled: {prompt.name_edit.text()}", flush=True)
            if mode == "save":
                prompt.name_edit.setText(sys.argv[4])
                prompt.saved.connect(lambda name: print(f"saved: {name}", flush=True))
                prompt.saved.connect(lambda _name: QTimer.singleShot(300, window.quit_action.trigger))
                prompt.save_button.click()
                return
            prompt.skip_button.click()
        print(f"identity: {window.identity_label.text().splitlines()[0]}", flush=True)
        window.quit_action.trigger()

    QTimer.singleShot(100, act)
    return run_app(data_dir, listen=["/ip4/127.0.0.1/tcp/0"], lan_discovery=False,
                   settings=AppSettings.from_file(settings_file))


if __name__ == "__main__":
    raise SystemExit(main())
