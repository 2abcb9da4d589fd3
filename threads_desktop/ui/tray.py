"""The tray icon: Show/Hide, New Album and Quit; closing the window hides it
there (when the platform has a tray and the setting says so); and a
notification, batched per few seconds, when other members add photos or
messages while the window is not active."""

from __future__ import annotations

import asyncio
import html
import logging
import sys
from collections.abc import Callable, Iterable
from dataclasses import dataclass, replace
from typing import Any

from PySide6.QtCore import QCoreApplication, QEvent, QObject, QTimer, Signal
from PySide6.QtGui import QAction, QIcon
from PySide6.QtWidgets import QApplication, QMenu, QSystemTrayIcon, QWidget

from threads_desktop.engine.core.errors import ThreadsError
from threads_desktop.engine.core.ids import ThreadId
from threads_desktop.engine.core.types import ChangeSet, ThreadKind
from threads_desktop.engine.node import Node
from threads_desktop.ui.engine_client import EngineClient
from threads_desktop.ui.settings import AppSettings

log = logging.getLogger(__name__)

BATCH_MS = 4000  # one notification per this long at most
NOTIFIED_COLLECTIONS = ("photo", "message")


@dataclass(frozen=True, slots=True)
class Arrival:
    """New photos and messages from other members in one thread."""

    thread_id: str
    name: str | None  # None: not known (yet)
    kind: ThreadKind | None
    photos: int = 0
    messages: int = 0

    def merged(self, other: Arrival) -> Arrival:
        return replace(self, name=other.name or self.name, kind=other.kind or self.kind,
                       photos=self.photos + other.photos, messages=self.messages + other.messages)


# --- engine bridge (runs on the engine thread through EngineClient.run) ------------------

def arrivals_from_others(node: Node, documents: Iterable[tuple[ThreadId, str, str]]) -> list[Arrival]:
    """Among changed documents, the photos and messages that are new (first
    version) and written by another member than this profile: its author
    (the log that created it) is not our own log in that thread."""
    by_thread: dict[ThreadId, list[tuple[str, str]]] = {}
    for thread_id, collection, doc_id in documents:
        if collection in NOTIFIED_COLLECTIONS:
            by_thread.setdefault(thread_id, []).append((collection, doc_id))
    arrivals = []
    for thread_id, changed in by_thread.items():
        try:
            collections = node.collections(thread_id)
            summary = node.get_thread(thread_id)
        except ThreadsError:  # a backup we cannot read, or gone
            continue
        own_log = node.store.own_log(thread_id)
        counts = {"photo": 0, "message": 0}
        for collection, doc_id in changed:
            document = collections[collection].find_one_by_id(doc_id)
            # An edit or a caption is not news; neither is what we wrote.
            if document is not None and document.version == 1 and document.author != own_log:
                counts[collection] += 1
        if counts["photo"] or counts["message"]:
            arrivals.append(Arrival(str(thread_id), summary.name, summary.kind, counts["photo"], counts["message"]))
    return arrivals


# --- notification text ------------------------------------------------------------------

def _tr(text: str) -> str:
    return QCoreApplication.translate("TrayIcon", text)


def arrival_text(arrival: Arrival) -> str:
    """"3 new photos in Lisbon", "1 new message in Family", "2 new photos
    and 1 new message in Trip"."""
    parts = []
    if arrival.photos:
        parts.append(_tr("1 new photo") if arrival.photos == 1
                     else _tr("{count} new photos").format(count=arrival.photos))
    if arrival.messages:
        parts.append(_tr("1 new message") if arrival.messages == 1
                     else _tr("{count} new messages").format(count=arrival.messages))
    what = _tr("{first} and {second}").format(first=parts[0], second=parts[1]) if len(parts) == 2 else parts[0]
    place = arrival.name or (_tr("an album") if arrival.kind == ThreadKind.ALBUM else _tr("a chat"))
    return _tr("{what} in {place}").format(what=what, place=place)


def notification_for(arrivals: list[Arrival]) -> tuple[str, str]:
    """Title and body of one notification: a line per thread."""
    title = arrivals[0].name if len(arrivals) == 1 and arrivals[0].name else _tr("Threads")
    return title, "\n".join(arrival_text(a) for a in arrivals)


def _for_tray(text: str) -> str:
    # Linux notification servers read the body as markup; names come from
    # peers, so escape them there (other platforms show text as it is).
    return html.escape(text, quote=False) if sys.platform.startswith("linux") else text


class NotificationBatcher(QObject):
    """Gathers arrivals and emits one notification per `delay_ms`: the first
    arrival starts the wait, everything until then is added up per thread."""

    ready = Signal(str, str)  # title, body

    def __init__(self, delay_ms: int = BATCH_MS, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._pending: dict[str, Arrival] = {}
        self._timer = QTimer(self)
        self._timer.setSingleShot(True)
        self._timer.setInterval(delay_ms)
        self._timer.timeout.connect(self.flush)

    def add(self, arrivals: Iterable[Arrival]) -> None:
        for arrival in arrivals:
            held = self._pending.get(arrival.thread_id)
            self._pending[arrival.thread_id] = held.merged(arrival) if held else arrival
        if self._pending and not self._timer.isActive():
            self._timer.start()

    def pending(self) -> list[Arrival]:
        return list(self._pending.values())

    def flush(self) -> None:
        self._timer.stop()
        if not self._pending:
            return
        arrivals, self._pending = list(self._pending.values()), {}
        self.ready.emit(*notification_for(arrivals))


# --- the tray icon ----------------------------------------------------------------------

def hides_on_close(tray_available: bool, settings: AppSettings) -> bool:
    """Closing the window only hides it when there is a tray to come back from."""
    return tray_available and settings.close_to_tray


class TrayIcon(QObject):
    """The app in the system tray. Construct after the window; it watches the
    window's close events (an event filter: the window needs no code for
    it) and, given a client, the engine's change sets.

    `available` is whether the platform has a tray (QSystemTrayIcon asks the
    desktop when None)."""

    notified = Signal(str, str)  # title, body: shown in the tray
    described = Signal(object)    # list[Arrival] found in one change set (maybe empty)
    window_hidden = Signal()      # closing hid the window in the tray
    told_still_running = Signal(str, str)  # title, text: shown once, the first time closing hides the window
    quit_requested = Signal()     # Quit from the tray menu: the app should end (run_app connects app.quit)

    def __init__(self, window: QWidget, settings: AppSettings, client: EngineClient | None = None, *,
                 new_album: Callable[[], object] | None = None, available: bool | None = None,
                 batch_ms: int = BATCH_MS, request_quit: Callable[[], object] | None = None) -> None:
        """`request_quit`: what the menu's Quit asks (the window's, which
        may ask the user first and then calls `quit`); `quit` by default."""
        super().__init__(window)
        self._window = window
        self._settings = settings
        self._client = client
        self._quitting = False
        self._tasks: set[asyncio.Task[Any]] = set()
        self.available = QSystemTrayIcon.isSystemTrayAvailable() if available is None else available
        self.batcher = NotificationBatcher(batch_ms, self)
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
        window.installEventFilter(self)
        if client is not None:
            client.changed.connect(self.notify_changes)

    # --- window ------------------------------------------------------------------------

    def hides_on_close(self) -> bool:
        return not self._quitting and hides_on_close(self.available, self._settings)

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
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
        if not self.available or self._window.isActiveWindow() or not changes.documents:
            return
        if not any(collection in NOTIFIED_COLLECTIONS for _, collection, _ in changes.documents):
            return
        if self._client is None:
            return
        task = asyncio.ensure_future(self._query(changes))
        self._tasks.add(task)
        task.add_done_callback(self._finished)

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
        if self.icon is not None:
            self.icon.showMessage(_for_tray(title), _for_tray(body), QSystemTrayIcon.MessageIcon.Information, 8000)
        self.notified.emit(title, body)


def _app_icon(window: QWidget) -> QIcon:
    icon = window.windowIcon()
    if icon.isNull():
        app = QApplication.instance()
        if isinstance(app, QApplication):
            icon = app.windowIcon()
    return icon
