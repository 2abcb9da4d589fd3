"""Runs the real app (run_app, offscreen) on a settings file an older app
wrote and, once its window shows, waits for the originals choice to leave
that file (carried into the profile), then quits. Prints what happened; the
test reads it and the profile.

usage: python -m tests.ui.drivers.settings_at_start DATA_DIR SETTINGS_INI
"""

from __future__ import annotations

import sys
from pathlib import Path

from tests.ui.drivers.running_app import poll, run_app_then
from threads_desktop.ui.views.main_window import MainWindow

WAIT_S = 10.0  # one engine call after the start: well within this


def main() -> int:
    data_dir, settings_file = Path(sys.argv[1]), Path(sys.argv[2])

    def when_shown(window: MainWindow) -> None:
        def done(what: str) -> None:
            print(what, flush=True)
            window.quit_action.trigger()

        poll(lambda: "fetch_originals" not in settings_file.read_text(), lambda: done("left the settings file"),
             give_up_after_s=WAIT_S, on_timeout=lambda: done("still in the settings file"))

    return run_app_then(data_dir, settings_file, when_shown)


if __name__ == "__main__":
    raise SystemExit(main())
