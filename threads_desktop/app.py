"""The desktop app: Qt on the main thread (driven by qasync), the engine on
its own trio thread behind EngineRuntime."""

from __future__ import annotations

import asyncio
import logging
import os
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from threads_desktop.control_socket import Handler
    from threads_desktop.engine.node import Node
    from threads_desktop.engine.runtime import ServiceFactory
    from threads_desktop.ui.settings import AppSettings

log = logging.getLogger(__name__)


def background_services(listen: Sequence[str] | None = None, lan_discovery: bool = True, *,
                        commands: Callable[[Node], Handler] | None = None) -> list[ServiceFactory]:
    """What the app runs beside the node on the engine thread: its served
    profile (serving.py): the network, on the usual port or any free one if
    another profile has it, and, given the CLI's `commands`, the control
    socket, so CLI commands reach the running app. The CLI hands its
    commands in (the app imports no CLI: they would import each other)."""
    from threads_desktop.serving import ANY_FREE_PORT, ServedProfile

    return ServedProfile(listen=listen, if_taken=None if listen else ANY_FREE_PORT, lan_discovery=lan_discovery,
                         commands=commands).services()


def _log_failure(task: asyncio.Future[Any]) -> None:
    if not task.cancelled() and task.exception() is not None:
        # Not worth a dialog: the next start tries again.
        log.warning("cannot carry the originals choice over into the profile: %s", task.exception())


def _finish_tasks(loop: asyncio.AbstractEventLoop) -> None:
    """Let the tasks cancelled as the window closed take their cancellation
    before the loop closes. Left pending, each is reported "destroyed but
    pending" by the garbage collector during interpreter shutdown, when the
    log file can no longer even be opened."""
    pending = [task for task in asyncio.all_tasks(loop) if not task.done()]
    for task in pending:
        task.cancel()
    if pending:
        loop.run_until_complete(asyncio.wait(pending, timeout=5.0))


def run_app(data_dir: Path, *, listen: Sequence[str] | None = None, lan_discovery: bool = True,
            link: str | None = None, settings: AppSettings | None = None,
            commands: Callable[[Node], Handler] | None = None) -> int:
    """The app for one profile. If that profile's app already runs, hand it
    the link (or ask it to come to the front) and return 0 at once: this
    happens before the engine starts, since the profile is locked by it,
    and before anything needs a display (a link opened from a terminal
    without one still reaches the app)."""
    from threads_desktop.ui.display import missing_display

    if (no_display := missing_display()) is not None:
        from threads_desktop.ui.single_instance import hand_over_without_display

        if hand_over_without_display(data_dir, link):
            return 0
        print(f"threads-desktop: cannot open the app: {no_display}. Start it from your desktop; "
              "commands such as `threads-desktop join LINK` work without a display.", file=sys.stderr)
        return 1
    from PySide6.QtWidgets import QApplication

    from threads_desktop.ui.qt_environment import serial_painting
    from threads_desktop.ui.single_instance import InstanceServer, bring_to_front, hand_over, server_name

    serial_painting()
    app = QApplication.instance() or QApplication(sys.argv)
    assert isinstance(app, QApplication)
    instance = InstanceServer(server_name(data_dir))
    if hand_over(instance.name, link):  # before the heavy imports: a second launch exits at once
        log.info("handed over to the app already running for %s", data_dir)
        return 0
    from threads_desktop.logs import setup_logging

    setup_logging(data_dir)  # only the instance that owns the profile writes its log

    from importlib.resources import files

    import qasync
    from PySide6.QtGui import QIcon
    from PySide6.QtWidgets import QMessageBox

    from threads_desktop.engine.core.errors import ThreadsError
    from threads_desktop.engine.node import Node
    from threads_desktop.engine.runtime import EngineRuntime
    from threads_desktop.ui.collector import MainThreadCollector
    from threads_desktop.ui.engine_client import EngineClient
    from threads_desktop.ui.first_paint import AfterFirstPaint
    from threads_desktop.ui.notifiers import DesktopNotifications
    from threads_desktop.ui.settings import AppSettings, carry_over_fetch_originals
    from threads_desktop.ui.tray import TrayIcon
    from threads_desktop.ui.views.main_window import MainWindow

    if not instance.listen():  # the app still works, only a second launch will not find it
        log.warning("cannot listen on %s: later launches will not reach this app", instance.name)
    settings = settings or AppSettings.user()
    app.setApplicationName("Threads")
    # Inside a Flatpak the desktop file is renamed to the app ID; windows must name that one.
    app.setDesktopFileName(os.environ.get("FLATPAK_ID") or "threads-desktop")
    app.setWindowIcon(QIcon(str(files("threads_desktop.ui") / "icons" / "threads-desktop.svg")))
    # Cyclic garbage is collected on this thread only: a QObject destroyed
    # on the engine thread can deadlock both (ui/collector.py).
    collector = MainThreadCollector(app)
    collector.start()
    runtime = EngineRuntime(lambda: Node.open(data_dir), background_services(listen, lan_discovery, commands=commands))
    try:
        # The window shows while the network loads, which starts once the window is painted.
        runtime.start(wait_for_services=False, hold_services=True)
    except ThreadsError as exc:
        instance.close()
        QMessageBox.critical(None, "Threads", str(exc))
        return 1
    loop = qasync.QEventLoop(app)
    asyncio.set_event_loop(loop)
    try:
        client = EngineClient(runtime, loop)
        window = MainWindow(client, settings)
        new_album = getattr(window, "new_album_action", None)
        notifications = DesktopNotifications(desktop_entry=app.desktopFileName())
        app.aboutToQuit.connect(notifications.close)
        tray = TrayIcon(window, settings, client, new_album=new_album.trigger if new_album is not None else None,
                        request_quit=window.request_quit, notifier=notifications)
        window.quit_confirmed.connect(tray.quit)  # closes the window for good, then asks the app to end
        # Someone waits for our approval to join: said outside the window too.
        window.join_asked.connect(lambda text: tray.notify(tray.tr("Someone asks to join"), text))
        tray.quit_requested.connect(app.quit)
        # An older app kept the originals choice here; the profile keeps it now.
        carry_over = asyncio.ensure_future(carry_over_fetch_originals(client, settings))
        carry_over.add_done_callback(_log_failure)

        def open_link(text: str) -> None:
            bring_to_front(window)
            window.ask_join(text)

        instance.activation_requested.connect(lambda: bring_to_front(window))
        instance.link_received.connect(open_link)
        if not (settings.start_minimised and tray.available):
            window.show()
        AfterFirstPaint(window, runtime.start_services)
        if link:
            open_link(link)
        elif window.isVisible():  # not when started in the tray: it asks on a later launch
            window.ask_name_once()  # a first launch asks for the name others see
        app.aboutToQuit.connect(runtime.stop)
        app.aboutToQuit.connect(instance.close)
        with loop:
            loop.run_forever()
            _finish_tasks(loop)
    finally:
        runtime.stop()
        asyncio.set_event_loop(None)
    return 0
