"""The app's own preferences, kept in QSettings: this computer's choices
for this app (window, tray, data folder, LAN discovery).

What belongs to the profile (the display name others see, when full-size
photos download) lives in the engine, in the profile's database, so every
process that opens the profile follows it; the one bridge here carries an
older app's originals choice over into the profile, once."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from PySide6.QtCore import QByteArray, QSettings

from threads_desktop.engine.core.types import FetchOriginals
from threads_desktop.settings_file import APPLICATION, DATA_DIR_KEY, ORGANIZATION
from threads_desktop.ui.notifications import NotificationDetail
from threads_desktop.ui.operations import profile as profile_ops

if TYPE_CHECKING:
    from threads_desktop.ui.engine_client import EngineClient

class AppSettings:
    """Typed access to the app's QSettings. Pass the QSettings in (the user's
    by default; tests give a temporary INI file) so nothing reads a global."""

    _DATA_DIR = DATA_DIR_KEY  # the CLI reads it without Qt (settings_file.py)
    _LAN_DISCOVERY = "network/lan_discovery"
    _FETCH_ORIGINALS = "photos/fetch_originals"
    _START_MINIMISED = "window/start_minimised"
    _CLOSE_TO_TRAY = "window/close_to_tray"
    _NAME_ASKED = "profile/names_asked"  # the peer IDs of the profiles asked
    _TOLD_STILL_RUNNING = "window/told_still_running"
    _GEOMETRY = "window/geometry"
    _LAST_THREAD = "window/last_thread"
    _NEWEST_FIRST = "album/newest_first"
    _NOTIFICATION_DETAIL = "notifications/detail"

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
    def legacy_fetch_originals(self) -> FetchOriginals | None:
        """The originals choice an older app kept here, if any (the profile
        keeps it now: see carry_over_fetch_originals)."""
        if not self.store.contains(self._FETCH_ORIGINALS):
            return None
        try:
            return FetchOriginals(str(self.store.value(self._FETCH_ORIGINALS, "", str)))
        except ValueError:  # hand-edited: the profile keeps its own
            return None

    def forget_legacy_fetch_originals(self) -> None:
        if self.store.contains(self._FETCH_ORIGINALS):
            self.store.remove(self._FETCH_ORIGINALS)
            self.store.sync()

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

    @property
    def notification_detail(self) -> NotificationDetail:
        """How much notifications show; anything unknown reads as the default."""
        value = self.store.value(self._NOTIFICATION_DETAIL, NotificationDetail.FULL.value)
        try:
            return NotificationDetail(str(value))
        except ValueError:
            return NotificationDetail.FULL

    @notification_detail.setter
    def notification_detail(self, value: NotificationDetail) -> None:
        self.store.setValue(self._NOTIFICATION_DETAIL, value.value)

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


# --- engine bridge ----------------------------------------------------------------------

async def carry_over_fetch_originals(client: EngineClient, settings: AppSettings) -> FetchOriginals | None:
    """Write the originals choice an older app kept in QSettings into the
    profile, then remove it here: once, on the first start that opens a
    profile. Returns what was carried over (None: nothing to carry). The
    key stays if the engine refused, so the next start tries again."""
    policy = settings.legacy_fetch_originals
    if policy is not None:
        await client.run(profile_ops.set_fetch_originals, policy)
    settings.forget_legacy_fetch_originals()
    return policy
