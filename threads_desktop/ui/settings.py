"""The app's own preferences, kept in QSettings; and the engine bridge that
applies the photo originals policy to every album.

What belongs to the profile (the display name others see) lives in the
engine, not here: these are this computer's choices for this app."""

from __future__ import annotations

import asyncio
import enum
import logging
from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from PySide6.QtCore import QByteArray, QObject, QSettings, Signal

if TYPE_CHECKING:  # the CLI reads the data folder from here: keep the import light
    from threads_desktop.engine.core.ids import ThreadId
    from threads_desktop.engine.core.types import ChangeSet
    from threads_desktop.engine.node import Node
    from threads_desktop.ui.engine_client import EngineClient

log = logging.getLogger(__name__)

ORGANIZATION = "Threads"
APPLICATION = "Threads Desktop"


class FetchOriginals(enum.StrEnum):
    ALWAYS = "always"        # full-size photos come with the previews
    ON_DEMAND = "on_demand"  # only when one is opened or exported


class AppSettings:
    """Typed access to the app's QSettings. Pass the QSettings in (the user's
    by default; tests give a temporary INI file) so nothing reads a global."""

    _DATA_DIR = "profile/data_dir"
    _LAN_DISCOVERY = "network/lan_discovery"
    _FETCH_ORIGINALS = "photos/fetch_originals"
    _START_MINIMISED = "window/start_minimised"
    _CLOSE_TO_TRAY = "window/close_to_tray"
    _NAME_ASKED = "profile/names_asked"  # the peer IDs of the profiles asked
    _TOLD_STILL_RUNNING = "window/told_still_running"
    _GEOMETRY = "window/geometry"
    _LAST_THREAD = "window/last_thread"
    _NEWEST_FIRST = "album/newest_first"

    def __init__(self, store: QSettings) -> None:
        self.store = store

    @classmethod
    def user(cls) -> AppSettings:
        return cls(QSettings(ORGANIZATION, APPLICATION))

    @classmethod
    def from_file(cls, path: Path) -> AppSettings:
        return cls(QSettings(str(path), QSettings.Format.IniFormat))

    # --- values ---------------------------------------------------------------------

    @property
    def data_dir(self) -> Path | None:
        """The profile folder chosen in the app (read at start), or None for
        the platform's default."""
        value = self.store.value(self._DATA_DIR, "", str)
        return Path(str(value)).expanduser() if value else None

    @data_dir.setter
    def data_dir(self, value: Path | None) -> None:
        if value is None:
            self.store.remove(self._DATA_DIR)
        else:
            self.store.setValue(self._DATA_DIR, str(value))

    @property
    def lan_discovery(self) -> bool:
        return self._bool(self._LAN_DISCOVERY, True)

    @lan_discovery.setter
    def lan_discovery(self, value: bool) -> None:
        self.store.setValue(self._LAN_DISCOVERY, bool(value))

    @property
    def fetch_originals(self) -> FetchOriginals:
        value = self.store.value(self._FETCH_ORIGINALS, FetchOriginals.ALWAYS.value, str)
        try:
            return FetchOriginals(str(value))
        except ValueError:  # a hand-edited or newer file: fall back to the engine's default
            return FetchOriginals.ALWAYS

    @fetch_originals.setter
    def fetch_originals(self, value: FetchOriginals) -> None:
        self.store.setValue(self._FETCH_ORIGINALS, FetchOriginals(value).value)

    @property
    def start_minimised(self) -> bool:
        return self._bool(self._START_MINIMISED, False)

    @start_minimised.setter
    def start_minimised(self, value: bool) -> None:
        self.store.setValue(self._START_MINIMISED, bool(value))

    @property
    def close_to_tray(self) -> bool:
        """Closing the window keeps the app running in the tray (when there is one)."""
        return self._bool(self._CLOSE_TO_TRAY, True)

    @close_to_tray.setter
    def close_to_tray(self, value: bool) -> None:
        self.store.setValue(self._CLOSE_TO_TRAY, bool(value))

    def name_asked(self, peer_id: str) -> bool:
        """The first-launch name prompt was shown for this profile (saved or
        skipped): never again. Per profile: each --data-dir is a person of its own."""
        return peer_id in self._names_asked()

    def mark_name_asked(self, peer_id: str) -> None:
        self.store.setValue(self._NAME_ASKED, sorted({*self._names_asked(), peer_id}))

    def _names_asked(self) -> set[str]:
        value = self.store.value(self._NAME_ASKED, [])
        values = value if isinstance(value, list) else [value] if isinstance(value, str) else []
        return {str(v) for v in values if v}

    @property
    def told_still_running(self) -> bool:
        """The user was told once that closing the window leaves the app in the tray."""
        return self._bool(self._TOLD_STILL_RUNNING, False)

    @told_still_running.setter
    def told_still_running(self, value: bool) -> None:
        self.store.setValue(self._TOLD_STILL_RUNNING, bool(value))

    @property
    def window_geometry(self) -> bytes:
        """The main window's size and place (QWidget.saveGeometry), or b""."""
        value = self.store.value(self._GEOMETRY, b"")
        if isinstance(value, QByteArray):
            return bytes(value.data())  # bytes at run time; typed as any buffer
        return value if isinstance(value, bytes) else b""

    @window_geometry.setter
    def window_geometry(self, value: bytes) -> None:
        self.store.setValue(self._GEOMETRY, QByteArray(value))

    @property
    def last_thread(self) -> str | None:
        """The album or chat shown when the app was last closed."""
        return str(self.store.value(self._LAST_THREAD, "", str)) or None

    @last_thread.setter
    def last_thread(self, value: str | None) -> None:
        self.store.setValue(self._LAST_THREAD, value or "")

    @property
    def newest_first(self) -> bool:
        """The albums' sort order."""
        return self._bool(self._NEWEST_FIRST, True)

    @newest_first.setter
    def newest_first(self, value: bool) -> None:
        self.store.setValue(self._NEWEST_FIRST, bool(value))

    def sync(self) -> None:
        self.store.sync()

    def _bool(self, key: str, default: bool) -> bool:
        # INI files hold "true"/"false" strings; QSettings converts with type=bool.
        return bool(self.store.value(key, default, bool))


def configured_data_dir(settings: AppSettings | None = None) -> Path | None:
    """The data folder the user chose in the app, if any (for cli/run_app
    when --data-dir is not given)."""
    return (settings or AppSettings.user()).data_dir


# --- engine bridge (runs on the engine thread through EngineClient.run) ----------------

def apply_fetch_originals(node: Node, policy: FetchOriginals,
                          thread_ids: Iterable[ThreadId] | None = None) -> int:
    """Set the originals policy of the given threads (all of this profile's
    by default); returns how many were set. The network reads the policy at
    each transfer, so a change takes effect on the next sync round. Backups
    (threads this profile cannot read) always keep originals: the engine
    ignores the policy for them."""
    always = policy is FetchOriginals.ALWAYS
    targets = list(thread_ids) if thread_ids is not None else [t.thread_id for t in node.list_threads()]
    for thread_id in targets:
        node.peers.set_fetch_originals(thread_id, always)
    return len(targets)


def read_fetch_originals(node: Node, thread_ids: Iterable[ThreadId]) -> dict[ThreadId, bool]:
    """Each thread's current policy (True: always)."""
    return {thread_id: node.peers.fetch_originals(thread_id) for thread_id in thread_ids}


class OriginalsPolicy(QObject):
    """Keeps every thread on the chosen originals policy: all of them at
    start and when the setting changes, and each new one as it is added."""

    applied = Signal(int)  # how many threads were just set

    def __init__(self, client: EngineClient, settings: AppSettings, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._client = client
        self._settings = settings
        self._tasks: set[asyncio.Task[Any]] = set()
        client.changed.connect(self._on_changed)

    def apply_all(self) -> None:
        self._spawn(None)

    def _on_changed(self, changes: ChangeSet) -> None:
        if changes.threads_added:
            self._spawn(list(changes.threads_added))

    def _spawn(self, thread_ids: list[ThreadId] | None) -> None:
        task = asyncio.ensure_future(self._apply(thread_ids))
        self._tasks.add(task)
        task.add_done_callback(self._finished)

    async def _apply(self, thread_ids: list[ThreadId] | None) -> None:
        count = await self._client.run(apply_fetch_originals, self._settings.fetch_originals, thread_ids)
        self.applied.emit(count)

    def _finished(self, task: asyncio.Task[Any]) -> None:
        self._tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            # Not worth a dialog: the policy is applied again at the next start.
            log.warning("cannot apply the originals policy: %s", task.exception())
