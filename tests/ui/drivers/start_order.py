"""Runs the real app (run_app, offscreen) and reports, at its main window's
first paint, whether the network had begun to load (py-libp2p imported on
the engine thread) and whether the QR code maker was imported, then whether it started after (the control socket, the
service after the network, is listening). Then quits. The test reads stdout.

usage: python -m tests.ui.drivers.start_order DATA_DIR SETTINGS_INI
"""

from __future__ import annotations

import sys
from pathlib import Path

from PySide6.QtCore import QEvent, QObject
from PySide6.QtWidgets import QApplication

from tests.ui.drivers.running_app import poll
from threads_desktop.app import run_app
from threads_desktop.cli.commands import forwarding_handler
from threads_desktop.control_socket import CONTROL_SOCKET_NAME
from threads_desktop.ui.settings import AppSettings
from threads_desktop.ui.views.main_window import MainWindow

WAIT_S = 30.0  # the network's start: py-libp2p imports in about a second


class FirstPaint(QObject):
    def __init__(self, data_dir: Path) -> None:
        super().__init__()
        self.data_dir = data_dir
        self.seen = False

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        if not self.seen and isinstance(watched, MainWindow) and event.type() == QEvent.Type.Paint:
            self.seen = True
            print(f"at the first paint, the network loading: {'libp2p' in sys.modules}", flush=True)
            print(f"at the first paint, QR codes loaded: {'segno' in sys.modules}", flush=True)
            socket = self.data_dir / CONTROL_SOCKET_NAME
            poll(socket.exists, lambda: self._done(watched, "services started"), give_up_after_s=WAIT_S,
                 on_timeout=lambda: self._done(watched, "services never started"))
        return False

    def _done(self, window: QObject, what: str) -> None:
        print(what, flush=True)
        assert isinstance(window, MainWindow)
        window.quit_action.trigger()


def main() -> int:
    data_dir, settings_file = Path(sys.argv[1]), Path(sys.argv[2])
    app = QApplication(sys.argv[:1])
    watch = FirstPaint(data_dir)
    app.installEventFilter(watch)
    return run_app(data_dir, listen=["/ip4/127.0.0.1/tcp/0"], lan_discovery=False, commands=forwarding_handler,
                   settings=AppSettings.from_file(settings_file))


if __name__ == "__main__":
    raise SystemExit(main())
