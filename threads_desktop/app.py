"""The desktop app: Qt on the main thread (driven by qasync), the engine on
its own trio thread behind EngineRuntime."""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path


def run_app(data_dir: Path) -> int:
    from importlib.resources import files

    import qasync
    from PySide6.QtGui import QIcon
    from PySide6.QtWidgets import QApplication, QMessageBox

    from threads_desktop.engine.core.errors import ThreadsError
    from threads_desktop.engine.node import Node
    from threads_desktop.engine.runtime import EngineRuntime
    from threads_desktop.ui.engine_client import EngineClient
    from threads_desktop.ui.views.main_window import MainWindow

    app = QApplication.instance() or QApplication(sys.argv)
    assert isinstance(app, QApplication)
    app.setApplicationName("Threads")
    app.setDesktopFileName("threads-desktop")
    app.setWindowIcon(QIcon(str(files("threads_desktop.ui") / "icons" / "threads-desktop.svg")))
    runtime = EngineRuntime(lambda: Node.open(data_dir))
    try:
        runtime.start()
    except ThreadsError as exc:
        QMessageBox.critical(None, "Threads", str(exc))
        return 1
    loop = qasync.QEventLoop(app)
    asyncio.set_event_loop(loop)
    try:
        window = MainWindow(EngineClient(runtime, loop))
        window.show()
        app.aboutToQuit.connect(runtime.stop)
        with loop:
            loop.run_forever()
    finally:
        runtime.stop()
        asyncio.set_event_loop(None)
    return 0
