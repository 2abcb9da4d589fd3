from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path

import pytest
import qasync
from PySide6.QtWidgets import QApplication

from threads_desktop.engine.runtime import EngineRuntime
from threads_desktop.ui.collector import MainThreadCollector
from threads_desktop.ui.engine_client import EngineClient
from threads_desktop.ui.settings import AppSettings
from threads_desktop.ui.views.main_window import MainWindow


@pytest.fixture
def qt_loop(qapp: QApplication) -> Iterator[qasync.QEventLoop]:
    """asyncio on Qt's loop, running whenever pytest-qt spins the Qt loop."""
    loop = qasync.QEventLoop(qapp, already_running=True)
    asyncio.set_event_loop(loop)
    # A nested event loop run inside a coroutine (a modal exec(), a modal
    # QProgressDialog's setValue) makes qasync step one task inside another:
    # asyncio reports it here, the stepped task hangs for good. No GUI test
    # may pass with that happening.
    reentries: list[str] = []

    def on_loop_error(loop: asyncio.AbstractEventLoop, context: dict[str, object]) -> None:
        if "Cannot enter into task" in str(context.get("exception", "")):
            reentries.append(str(context["exception"]))
        loop.default_exception_handler(context)

    loop.set_exception_handler(on_loop_error)
    collector = MainThreadCollector()  # as the app does: QObjects never die on the engine thread
    collector.start()
    yield loop
    collector.stop()
    assert reentries == [], f"a task was stepped inside another: {reentries[0]}"
    # loop.stop() would call QApplication.exit(), which makes every later
    # QEventLoop (pytest-qt's waits) return at once; only mark it stopped.
    loop._QEventLoop__is_running = False  # type: ignore[attr-defined]
    loop.close()
    asyncio.events._set_running_loop(None)
    asyncio.set_event_loop(None)


@pytest.fixture
def window(qtbot, qt_loop: qasync.QEventLoop, runtime: EngineRuntime,  # type: ignore[no-untyped-def]
           tmp_path: Path) -> Iterator[MainWindow]:
    main_window = MainWindow(EngineClient(runtime, qt_loop), AppSettings.from_file(tmp_path / "settings.ini"))
    qtbot.addWidget(main_window)
    with qtbot.waitSignal(main_window.threads_loaded, timeout=10_000):
        main_window.show()
    yield main_window
    main_window.close()  # its work stops while the asyncio loop still exists (qt_loop ends after this)
