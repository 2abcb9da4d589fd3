"""The tray icon: Show/Hide, New Album and Quit; closing the window hides it
there (when the platform has a tray and the setting says so); and a
notification, batched per few seconds, when other members add photos or
messages while the window is not active: through the notifier it is given
(the desktop's service), else its own balloon (ui/notifiers.py)."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from typing import Any

from PySide6.QtCore import QEvent, QObject, Signal
from PySide6.QtGui import QAction, QIcon
from PySide6.QtWidgets import QApplication, QMenu, QSystemTrayIcon, QWidget

from threads_desktop.engine.core.types import ChangeSet
from threads_desktop.ui.engine_client import EngineClient
from threads_desktop.ui.notifications import BATCH_MS, NotificationBatcher
from threads_desktop.ui.notifiers import Notifier, TrayMessages
from threads_desktop.ui.operations.notifications import NOTIFIED_COLLECTIONS, arrivals_from_others
from threads_desktop.ui.settings import AppSettings

log = logging.getLogger(__name__)


# --- the tray icon ----------------------------------------------------------------------

def hides_on_close(tray_available: bool, settings: AppSettings) -> bool:
    """Closing the window only hides it when there is a tray to come back from."""
    return tray_available and settings.close_to_tray


class TrayIcon(QObject):
    """The app in the system tray. Construct after the window; it watches the
    window's close events (an event filter: the window needs no code for
    it) and, given a client, the engine's change sets.

    `available` is whether the platform has a tray (QSystemTrayIcon asks the
    desktop when None). Notifications go to `notifier` when it is available
    (the desktop's service), else to the tray's balloon, else nowhere."""

    notified = Signal(str, str)  # title, body: shown in the tray
    described = Signal(object)    # list[Arrival] found in one change set (maybe empty)
    window_hidden = Signal()      # closing hid the window in the tray
    told_still_running = Signal(str, str)  # title, text: shown once, the first time closing hides the window
    quit_requested = Signal()     # Quit from the tray menu: the app should end (run_app connects app.quit)

    def __init__(self, window: QWidget, settings: AppSettings, client: EngineClient | None = None, *,
                 new_album: Callable[[], object] | None = None, available: bool | None = None,
                 batch_ms: int = BATCH_MS, request_quit: Callable[[], object] | None = None,
                 notifier: Notifier | None = None) -> None:
        """`request_quit`: what the menu's Quit asks (the window's, which
        may ask the user first and then calls `quit`); `quit` by default."""
        super().__init__(window)
        self._window = window
        self._settings = settings
        self._client = client
        self._quitting = False
        self._tasks: set[asyncio.Task[Any]] = set()
        self.available = QSystemTrayIcon.isSystemTrayAvailable() if available is None else available
        self.batcher = NotificationBatcher(batch_ms, self, detail=lambda: settings.notification_detail)
        self.batcher.ready.connect(self._show_notification)

        self.menu = QMenu(window)
        self.show_action = QAction(self.tr("Hide Threads"), self)
        self.show_action.triggered.connect(self.toggle_window)
        self.new_album_action = QAction(self.tr("New Album…"), self)
        self.new_album_action.setEnabled(new_album is not None)
        if new_album is not None:
            self.new_album_action.triggered.connect(lambda: self._new_album(new_album))
        self.quit_action = QAction(self.tr("Quit"), self)
        self.quit_action.triggered.connect(request_quit or self.quit)
        self.menu.addActions([self.show_action, self.new_album_action])
        self.menu.addSeparator()
        self.menu.addAction(self.quit_action)
        self.menu.aboutToShow.connect(self._update_show_action)

        self.icon: QSystemTrayIcon | None = None
        if self.available:
            self.icon = QSystemTrayIcon(_app_icon(window), self)
            self.icon.setToolTip(self.tr("Threads"))
            self.icon.setContextMenu(self.menu)
            self.icon.activated.connect(self._on_activated)
            self.icon.messageClicked.connect(self.show_window)
            self.icon.show()
        self.tray_messages = TrayMessages(self.icon) if self.icon is not None else None
        self._notifiers: list[Notifier] = [n for n in (notifier, self.tray_messages) if n is not None]
        window.installEventFilter(self)
        if client is not None:
            client.changed.connect(self.notify_changes)

    # --- window ------------------------------------------------------------------------

    def hides_on_close(self) -> bool:
        return not self._quitting and hides_on_close(self.available, self._settings)

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        if "_window" not in self.__dict__:
            # The cycle collector cleared this wrapper while Qt, whose window
            # still holds the filter, keeps the object: nothing to decide.
            return False
        if watched is self._window and event.type() == QEvent.Type.Close and self.hides_on_close():
            event.ignore()
            self._window.hide()
            self._say_still_running()
            self.window_hidden.emit()
            return True
        return super().eventFilter(watched, event)

    def _say_still_running(self) -> None:
        """Once: where the app went, and how to really quit."""
        if self._settings.told_still_running:
            return
        self._settings.told_still_running = True
        title = self.tr("Threads is still running")
        text = self.tr("New photos and messages keep arriving. Open Threads from its icon here; Quit in its "
                       "menu ends it. You can turn this off in Settings.")
        if self.icon is not None:
            self.icon.showMessage(title, text, QSystemTrayIcon.MessageIcon.Information, 10_000)
        self.told_still_running.emit(title, text)

    def show_window(self) -> None:
        from threads_desktop.ui.single_instance import bring_to_front

        bring_to_front(self._window)

    def toggle_window(self) -> None:
        if self._window.isVisible() and not self._window.isMinimized():
            self._window.hide()
        else:
            self.show_window()

    def _update_show_action(self) -> None:
        visible = self._window.isVisible() and not self._window.isMinimized()
        self.show_action.setText(self.tr("Hide Threads") if visible else self.tr("Show Threads"))

    def _on_activated(self, reason: QSystemTrayIcon.ActivationReason) -> None:
        if reason == QSystemTrayIcon.ActivationReason.Trigger:
            self.toggle_window()

    def _new_album(self, new_album: Callable[[], object]) -> None:
        self.show_window()
        new_album()

    def quit(self) -> None:
        """Really quit: close the window (its own close handling runs, the
        tray lets it through) and ask the app to end."""
        self._quitting = True
        self._window.close()
        if self.icon is not None:
            self.icon.hide()
        self.quit_requested.emit()

    # --- notifications -------------------------------------------------------------------

    def notify_changes(self, changes: ChangeSet) -> None:
        """Connected to EngineClient.changed: news from others while the
        window is not active becomes a (batched) notification."""
        if not self.can_notify() or self._window.isActiveWindow() or not changes.documents:
            return
        if not any(collection in NOTIFIED_COLLECTIONS for _, collection, _ in changes.documents):
            return
        if self._client is None:
            return
        task = asyncio.ensure_future(self._query(changes))
        self._tasks.add(task)
        task.add_done_callback(self._finished)

    def notify(self, title: str, body: str) -> None:
        """A notification now (not batched), unless the window is active."""
        if self.can_notify():
            self._show_notification(title, body)

    def can_notify(self) -> bool:
        return any(notifier.available() for notifier in self._notifiers)

    async def _query(self, changes: ChangeSet) -> None:
        assert self._client is not None
        arrivals = await self._client.run(arrivals_from_others, changes.documents)
        self.batcher.add(arrivals)
        self.described.emit(arrivals)

    def _finished(self, task: asyncio.Task[Any]) -> None:
        self._tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            log.warning("cannot describe new photos and messages: %s", task.exception())

    def _show_notification(self, title: str, body: str) -> None:
        if self._window.isActiveWindow():
            return  # the user came back while we waited: they see it anyway
        notifier = next((n for n in self._notifiers if n.available()), None)
        if notifier is not None:
            notifier.show(title, body)
        self.notified.emit(title, body)


def _app_icon(window: QWidget) -> QIcon:
    icon = window.windowIcon()
    if icon.isNull():
        app = QApplication.instance()
        if isinstance(app, QApplication):
            icon = app.windowIcon()
    return icon
