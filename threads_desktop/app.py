"""The desktop app: Qt on the main thread (driven by qasync), the engine on
its own trio thread behind EngineRuntime."""

from __future__ import annotations

import asyncio
import logging
import sys
from collections.abc import Sequence
from functools import partial
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)


def background_services(listen: Sequence[str] | None = None, lan_discovery: bool = True) -> list[Any]:
    """What the app runs beside the node on the engine thread: the network
    (on the usual port, or any free one if another profile has it) and the
    control socket, so CLI commands reach the running app."""
    import trio

    from threads_desktop.cli_control import forwarding_handler
    from threads_desktop.cli_serve import lan_discovery as discovery
    from threads_desktop.control_socket import CONTROL_SOCKET_NAME, serve_control_socket
    from threads_desktop.engine.net.host import DEFAULT_LISTEN
    from threads_desktop.engine.net.service import NetworkService
    from threads_desktop.engine.node import Node

    def network(node: Node) -> Any:
        async def run(task_status: Any = trio.TASK_STATUS_IGNORED) -> None:
            for addresses in ((listen,) if listen else (DEFAULT_LISTEN, ("/ip4/0.0.0.0/tcp/0",))):
                service = NetworkService(node, listen=list(addresses), discovery=discovery if lan_discovery else None)
                try:
                    await service.run(task_status=task_status)
                    return
                except OSError as exc:  # the port is taken: any free one will do
                    log.info("cannot listen on %s (%s)", addresses, exc)
                    if listen:
                        raise
        return run

    def control(node: Node) -> Any:
        return partial(serve_control_socket, node.profile.directory / CONTROL_SOCKET_NAME, forwarding_handler(node))

    return [network, control]


def run_app(data_dir: Path, *, listen: Sequence[str] | None = None, lan_discovery: bool = True) -> int:
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
    runtime = EngineRuntime(lambda: Node.open(data_dir), background_services(listen, lan_discovery))
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
