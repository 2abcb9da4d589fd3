"""Notifications reach the desktop's notification service over D-Bus (a
private session bus with a small QtDBus server that records what it is
sent), even without a tray; the tray shows them where there is no service.
The news comes from a second real profile whose records a real engine takes."""

from __future__ import annotations

import select
import subprocess
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import qasync
from PySide6.QtDBus import QDBusConnection, QDBusMessage, QDBusVirtualObject
from PySide6.QtWidgets import QMainWindow

from tests.ui.test_tray import _call, _Friend
from threads_desktop.engine.core.types import ThreadKind
from threads_desktop.engine.node import Node
from threads_desktop.engine.runtime import EngineRuntime
from threads_desktop.ui.engine_client import EngineClient
from threads_desktop.ui.notifiers import DesktopNotifications
from threads_desktop.ui.settings import AppSettings
from threads_desktop.ui.tray import TrayIcon

PATH = "/org/freedesktop/Notifications"


@pytest.fixture
def session_bus() -> Iterator[str]:
    """A private D-Bus daemon; its address."""
    daemon = subprocess.Popen(["dbus-daemon", "--session", "--print-address=1", "--nofork", "--nopidfile"],
                              stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    try:
        assert daemon.stdout is not None
        ready, _, _ = select.select([daemon.stdout], [], [], 10)
        assert ready, "dbus-daemon printed no address"
        yield daemon.stdout.readline().strip()
    finally:
        daemon.terminate()
        daemon.wait(timeout=10)


class NotificationServer(QDBusVirtualObject):
    """org.freedesktop.Notifications as a desktop offers it, recording each
    Notify call: (signature, arguments)."""

    def __init__(self, capabilities: list[str]) -> None:
        super().__init__()
        self.capabilities = capabilities
        self.calls: list[tuple[str, list[Any]]] = []

    def introspect(self, path: str) -> str:
        return ""

    def handleMessage(self, message: QDBusMessage, connection: QDBusConnection) -> bool:
        if message.member() == "GetCapabilities":
            reply = message.createReply()
            reply.setArguments([self.capabilities])  # createReply(list) would send it as a variant
            connection.send(reply)
        elif message.member() == "Notify":
            self.calls.append((message.signature(), message.arguments()))
            connection.send(message.createReply([len(self.calls)]))
        else:
            return False
        return True


@pytest.fixture
def serve_notifications(session_bus: str) -> Iterator[Callable[[list[str]], NotificationServer]]:
    names: list[str] = []
    servers: list[NotificationServer] = []

    def start(capabilities: list[str]) -> NotificationServer:
        # A name of this bus's own: Qt hands back a connection of the same name if one lingers.
        name = f"notification-server-{session_bus.rsplit('guid=', 1)[-1]}-{len(names)}"
        connection = QDBusConnection.connectToBus(session_bus, name)
        names.append(name)
        server = NotificationServer(capabilities)
        servers.append(server)
        assert connection.registerVirtualObject(PATH, server)
        assert connection.registerService("org.freedesktop.Notifications")
        return server

    yield start
    for name in names:
        QDBusConnection.disconnectFromBus(name)


@pytest.fixture
def friend(qtbot, runtime: EngineRuntime, open_node: Callable[[str], Node]) -> _Friend:  # type: ignore[no-untyped-def]
    node = open_node("alice")
    node.set_display_name("Alice")
    return _Friend(qtbot, runtime, node)


@pytest.fixture
def make_notifier(session_bus: str) -> Iterator[Callable[..., DesktopNotifications]]:
    """Makes the app's notifier on the test's bus (after its server, if any,
    is up: it asks for the service once it is made)."""
    made: list[DesktopNotifications] = []

    def make(**options: Any) -> DesktopNotifications:
        made.append(DesktopNotifications(session_bus, **options))
        return made[-1]

    yield make
    for notifications in made:
        notifications.close()


def _tray(qtbot, qt_loop: qasync.QEventLoop, runtime: EngineRuntime, tmp_path: Path,  # type: ignore[no-untyped-def]
          notifier: DesktopNotifications | None, *, available: bool) -> TrayIcon:
    window = QMainWindow()
    qtbot.addWidget(window)
    settings = AppSettings.from_file(tmp_path / "settings.ini")
    return TrayIcon(window, settings, EngineClient(runtime, qt_loop), available=available, batch_ms=100,
                    notifier=notifier)


def _chat_with_alice(qtbot, runtime: EngineRuntime, friend: _Friend) -> Any:  # type: ignore[no-untyped-def]
    chat = _call(qtbot, runtime, Node.create_thread, ThreadKind.CHAT, "Alice & Bob").thread_id
    friend.join(chat)
    return chat


def test_a_message_is_sent_to_the_desktop_with_who_said_what_where_without_a_tray(  # type: ignore[no-untyped-def]
        qtbot, qt_loop: qasync.QEventLoop, runtime: EngineRuntime, friend: _Friend, tmp_path: Path,
        serve_notifications: Callable[[list[str]], NotificationServer],
        make_notifier: Callable[..., DesktopNotifications]) -> None:
    server = serve_notifications(["body", "actions"])
    notifier = make_notifier()
    qtbot.waitUntil(notifier.available, timeout=10_000)
    chat = _chat_with_alice(qtbot, runtime, friend)
    tray = _tray(qtbot, qt_loop, runtime, tmp_path, notifier, available=False)
    assert tray.icon is None and tray.can_notify()

    friend.node.chat(chat).post("see you at 6")
    friend.deliver(chat)
    qtbot.waitUntil(lambda: len(server.calls) == 1, timeout=10_000)
    signature, (app, replaces, _icon, summary, body, actions, _hints, timeout) = server.calls[0]
    assert signature == "susssasa{sv}i"  # what the specification (and a strict server) requires
    assert (app, replaces, summary, body, actions, timeout) == \
        ("Threads", 0, "Alice & Bob", "Alice: see you at 6", [], -1)


def test_a_server_that_reads_markup_gets_the_body_escaped_and_the_summary_as_it_is(  # type: ignore[no-untyped-def]
        qtbot, qt_loop: qasync.QEventLoop, runtime: EngineRuntime, friend: _Friend, tmp_path: Path,
        serve_notifications: Callable[[list[str]], NotificationServer],
        make_notifier: Callable[..., DesktopNotifications]) -> None:
    server = serve_notifications(["body", "body-markup"])
    notifier = make_notifier()
    qtbot.waitUntil(notifier.available, timeout=10_000)
    chat = _chat_with_alice(qtbot, runtime, friend)
    tray = _tray(qtbot, qt_loop, runtime, tmp_path, notifier, available=True)

    friend.node.chat(chat).post("fish & chips <b>now</b>")
    friend.deliver(chat)
    qtbot.waitUntil(lambda: len(server.calls) == 1, timeout=10_000)
    _signature, arguments = server.calls[0]
    assert arguments[3:5] == ["Alice & Bob", "Alice: fish &amp; chips &lt;b&gt;now&lt;/b&gt;"]
    assert tray.tray_messages is not None  # there is a tray, yet the desktop service is used


def test_without_a_notification_service_the_tray_shows_the_plain_text(  # type: ignore[no-untyped-def]
        qtbot, qt_loop: qasync.QEventLoop, runtime: EngineRuntime, friend: _Friend, tmp_path: Path,
        make_notifier: Callable[..., DesktopNotifications]) -> None:
    notifier = make_notifier()
    qtbot.waitUntil(lambda: notifier._probe.done(), timeout=10_000)  # the bus answered: nobody serves it
    assert not notifier.available()
    chat = _chat_with_alice(qtbot, runtime, friend)
    tray = _tray(qtbot, qt_loop, runtime, tmp_path, notifier, available=True)
    assert tray.tray_messages is not None

    friend.node.chat(chat).post("see you at 6 & bring Bob")
    with qtbot.waitSignal(tray.tray_messages.shown, timeout=10_000) as shown:
        friend.deliver(chat)
    assert shown.args == ["Alice & Bob", "Alice: see you at 6 & bring Bob"]


def test_without_a_service_or_a_tray_nothing_is_asked_of_the_engine(  # type: ignore[no-untyped-def]
        qtbot, qt_loop: qasync.QEventLoop, runtime: EngineRuntime, friend: _Friend, tmp_path: Path,
        make_notifier: Callable[..., DesktopNotifications]) -> None:
    notifier = make_notifier()
    qtbot.waitUntil(lambda: notifier._probe.done(), timeout=10_000)
    chat = _chat_with_alice(qtbot, runtime, friend)
    tray = _tray(qtbot, qt_loop, runtime, tmp_path, notifier, available=False)
    # Connected after the tray's own slot: it sees what the tray started for
    # this change set (a query would still be running: it needs the engine).
    queries_started: list[int] = []
    tray._client.changed.connect(lambda _changes: queries_started.append(len(tray._tasks)))  # type: ignore[union-attr]
    friend.node.chat(chat).post("anyone?")
    with qtbot.waitSignal(tray._client.changed, timeout=10_000):  # type: ignore[union-attr]
        friend.deliver(chat)
    assert not tray.can_notify()
    assert queries_started and set(queries_started) == {0}


def test_a_service_that_starts_after_the_app_is_found(  # type: ignore[no-untyped-def]
        qtbot, serve_notifications: Callable[[list[str]], NotificationServer],
        make_notifier: Callable[..., DesktopNotifications]) -> None:
    notifier = make_notifier(retry_s=0.05)
    qtbot.waitUntil(lambda: notifier._probe.done(), timeout=10_000)
    assert not notifier.available()
    server = serve_notifications(["body"])
    qtbot.waitUntil(notifier.available, timeout=10_000)  # asked again, a while after "no service"
    notifier.show("Holidays", "Bob added 3 photos to Holidays")
    qtbot.waitUntil(lambda: len(server.calls) == 1, timeout=10_000)
    assert server.calls[0][1][3:5] == ["Holidays", "Bob added 3 photos to Holidays"]


@pytest.mark.parametrize("address", ["disabled:", "unix:path=/nonexistent/bus", "not an address",
                                     "tcp:host=127.0.0.1,port=1"])
def test_a_bus_that_cannot_be_used_means_no_service_never_an_error(qtbot, address: str) -> None:  # type: ignore[no-untyped-def]
    notifier = DesktopNotifications(address)
    try:
        qtbot.waitUntil(lambda: notifier._probe.done(), timeout=10_000)
        assert notifier._probe.exception() is None and not notifier.available()
        notifier.show("Holidays", "Bob added a photo to Holidays")  # nothing to send it to: nothing happens
    finally:
        notifier.close()


def test_after_closing_twice_the_notifier_is_quietly_unavailable(  # type: ignore[no-untyped-def]
        qtbot, serve_notifications: Callable[[list[str]], NotificationServer],
        make_notifier: Callable[..., DesktopNotifications]) -> None:
    server = serve_notifications(["body"])
    notifier = make_notifier()
    qtbot.waitUntil(notifier.available, timeout=10_000)
    notifier.close()
    notifier.close()  # the app's aboutToQuit may come twice
    assert not notifier.available()
    notifier.show("Holidays", "too late")
    assert server.calls == []
