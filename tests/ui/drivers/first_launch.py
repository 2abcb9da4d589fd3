"""Runs the real app (run_app, offscreen) and reports whether it asked for
the user's name once its window showed; `save NAME` types NAME and saves,
`skip` skips, `none` expects no prompt. Then quits. The test reads stdout.

usage: python -m tests.ui.drivers.first_launch DATA_DIR SETTINGS_INI save NAME|skip|none
"""

from __future__ import annotations

import sys
from pathlib import Path

from PySide6.QtCore import QTimer

from tests.ui.drivers.running_app import poll, run_app_then
from threads_desktop.ui.views.main_window import MainWindow

# The check is two engine calls, which can queue behind the network's start
# under load (1.9 s seen with four busy processes): waited for, not guessed.
WAIT_FOR_CHECK_S = 30.0


def main() -> int:
    data_dir, settings_file, mode = Path(sys.argv[1]), Path(sys.argv[2]), sys.argv[3]

    def answer(window: MainWindow) -> None:
        prompt = window.name_prompt
        assert prompt is not None
        print(f"prompt prefilled: {prompt.name_edit.text()}", flush=True)
        if mode == "save":
            prompt.name_edit.setText(sys.argv[4])
            prompt.saved.connect(lambda name: print(f"saved: {name}", flush=True))
            prompt.saved.connect(lambda _name: QTimer.singleShot(300, window.quit_action.trigger))
            prompt.save_button.click()
            return
        prompt.skip_button.click()
        finish(window)

    def no_prompt(window: MainWindow) -> None:
        print("no prompt", flush=True)
        finish(window)

    def finish(window: MainWindow) -> None:
        print(f"identity: {window.identity_label.text().splitlines()[0]}", flush=True)
        window.quit_action.trigger()

    def checked(window: MainWindow) -> None:
        if window.name_prompt is not None and window.name_prompt.isVisible():
            answer(window)
        else:
            no_prompt(window)

    def gave_up(window: MainWindow) -> None:
        print(f"the name check never ended; the status bar said: {window.statusBar().currentMessage()}", flush=True)
        window.quit_action.trigger()

    def when_shown(window: MainWindow) -> None:
        # The identity shown too (a separate engine call), for `finish`.
        poll(lambda: window.name_checked and window.identity_label.text() != window.tr("Opening profile…"),
             lambda: checked(window), give_up_after_s=WAIT_FOR_CHECK_S, on_timeout=lambda: gave_up(window))

    return run_app_then(data_dir, settings_file, when_shown)


if __name__ == "__main__":
    raise SystemExit(main())
