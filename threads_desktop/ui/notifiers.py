"""Where a notification is shown: the desktop's notification service
(org.freedesktop.Notifications on the session bus) when there is one, else
the tray icon's balloon. TrayIcon is handed one of these and does not care
which.

The D-Bus calls use jeepney, not QtDBus: Notify takes a uint32 and a string
array, and PySide6 can only send a Python int as int32/int64 and an empty
list as a variant array, which servers built on GDBus or QtDBus refuse as the
wrong signature (docs/LIBP2P-NOTES.md). They run on one worker thread, so a
slow or hung server never holds the GUI thread."""

from __future__ import annotations

import html
import logging
import sys
import time
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Protocol

from jeepney import DBusAddress, new_method_call
from jeepney.io.blocking import DBusConnection, open_dbus_connection
from jeepney.wrappers import DBusErrorResponse, unwrap_msg
from PySide6.QtCore import QObject, Signal
from PySide6.QtWidgets import QSystemTrayIcon

log = logging.getLogger(__name__)

APP_NAME = "Threads"
ICON = "threads-desktop"  # the icon named in resources/threads-desktop.desktop
CALL_TIMEOUT_S = 2.0
RETRY_S = 60.0  # how long after "no service" to ask again
_SERVICE = DBusAddress("/org/freedesktop/Notifications", bus_name="org.freedesktop.Notifications",
                       interface="org.freedesktop.Notifications")


class Notifier(Protocol):
    def available(self) -> bool: ...
    def show(self, title: str, body: str) -> None: ...


class DesktopNotifications:
    """The freedesktop notification service on a bus (the session bus by
    default). Whether it is there is asked off the GUI thread at construction,
    and again a while after it was not (a desktop may start its service after
    the app, or restart it); until an answer comes it counts as not there."""

    def __init__(self, bus: str = "SESSION", *, desktop_entry: str = "threads-desktop",
                 retry_s: float = RETRY_S) -> None:
        self._bus = bus
        self._retry_s = retry_s
        self._desktop_entry = desktop_entry
        self._worker = ThreadPoolExecutor(max_workers=1, thread_name_prefix="notify")
        self._connection: DBusConnection | None = None  # used only on the worker
        self._markup = False
        self._lost = False  # set on the worker when a call fails: ask again
        self._closed = False
        self._asked_at = time.monotonic()
        self._probe: Future[bool] = self._worker.submit(self._connect)

    def available(self) -> bool:
        if self._closed or not self._probe.done():
            return False
        if self._probe.exception() is None and self._probe.result() and not self._lost:
            return True
        if not self._closed and time.monotonic() - self._asked_at > self._retry_s:
            self._asked_at = time.monotonic()
            self._probe = self._worker.submit(self._connect)
        return False

    def show(self, title: str, body: str) -> None:
        if self.available():
            self._worker.submit(self._notify, title, body).add_done_callback(_log_failure)

    def close(self) -> None:
        """Let go of the bus; harmless to call again (aboutToQuit may come twice)."""
        if self._closed:
            return
        self._closed = True
        self._worker.submit(self._disconnect)
        self._worker.shutdown(wait=False)

    # --- on the worker thread ------------------------------------------------------------

    def _connect(self) -> bool:
        self._disconnect()
        try:
            self._connection = open_dbus_connection(self._bus)
            reply = self._connection.send_and_get_reply(new_method_call(_SERVICE, "GetCapabilities"),
                                                        timeout=CALL_TIMEOUT_S)
            capabilities = unwrap_msg(reply)[0]
        except (OSError, KeyError, ValueError, IndexError, StopIteration, RuntimeError, DBusErrorResponse) as exc:
            # No session bus (KeyError: no address; StopIteration, RuntimeError: none jeepney can
            # use, a tcp: one), no
            # service, a broken one: the tray shows them.
            log.info("no desktop notification service (%s); notifications go to the tray", exc)
            self._disconnect()
            return False
        self._markup = "body-markup" in capabilities
        self._lost = False
        return True

    def _notify(self, title: str, body: str) -> None:
        assert self._connection is not None
        # The summary is plain text by the specification; the body is markup
        # only where the server says so, and names come from peers.
        text = html.escape(body, quote=False) if self._markup else body
        hints = {"desktop-entry": ("s", self._desktop_entry), "category": ("s", "im.received")}
        message = new_method_call(_SERVICE, "Notify", "susssasa{sv}i",
                                  (APP_NAME, 0, ICON, title, text, [], hints, -1))
        try:
            unwrap_msg(self._connection.send_and_get_reply(message, timeout=CALL_TIMEOUT_S))
        except (OSError, DBusErrorResponse):
            self._lost = True  # the tray shows the next ones until the service answers again
            raise

    def _disconnect(self) -> None:
        if self._connection is not None:
            self._connection.close()
            self._connection = None


def _log_failure(done: Future[None]) -> None:
    if not done.cancelled() and done.exception() is not None:
        log.warning("the desktop did not take a notification: %s", done.exception())


class TrayMessages(QObject):
    """The tray icon's own balloon."""

    shown = Signal(str, str)  # title, body, as handed to the tray

    def __init__(self, icon: QSystemTrayIcon) -> None:
        super().__init__(icon)
        self._icon = icon

    def available(self) -> bool:
        return True  # made only where the platform has a tray

    def show(self, title: str, body: str) -> None:
        # Names and messages come from peers; Linux balloons (Qt's own label
        # on X11, or a notification server) read markup: escaped there, never
        # shown as markup. Elsewhere the balloon shows text as it is.
        escape = (lambda text: html.escape(text, quote=False)) if sys.platform.startswith("linux") else str
        self._icon.showMessage(escape(title), escape(body), QSystemTrayIcon.MessageIcon.Information, 8000)
        self.shown.emit(title, body)
