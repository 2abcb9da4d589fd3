"""Settings: the dialog writes the app's choices to its INI file and the
display name and originals policy to a real engine (the profile's, never the
INI file); start-time settings say
they need a restart; the CLI and app read the data folder from them."""

from __future__ import annotations

from pathlib import Path

import pytest
import qasync
from PySide6.QtCore import Qt

from tests.ui.waiting import wait_for
from threads_desktop.cli.main import chosen_data_dir, default_data_dir
from threads_desktop.engine.core.ids import ThreadId
from threads_desktop.engine.core.types import FetchOriginals, ThreadKind
from threads_desktop.engine.node import Node
from threads_desktop.engine.runtime import EngineRuntime
from threads_desktop.ui.dialogs.settings_dialog import SettingsDialog
from threads_desktop.ui.engine_client import EngineClient
from threads_desktop.ui.notifications import NotificationDetail
from threads_desktop.ui.settings import AppSettings


@pytest.fixture
def settings(tmp_path: Path) -> AppSettings:
    return AppSettings.from_file(tmp_path / "settings.ini")


@pytest.fixture
def client(qt_loop: qasync.QEventLoop, runtime: EngineRuntime) -> EngineClient:
    return EngineClient(runtime, qt_loop)


def _call(qtbot, runtime: EngineRuntime, fn, *args):  # type: ignore[no-untyped-def]
    """An engine call awaited on the Qt loop the dialogs use (asyncio.run
    cannot run inside it)."""
    return wait_for(qtbot, runtime.call(fn, *args), timeout=10_000)


def _albums(qtbot, runtime: EngineRuntime, *names: str) -> list[ThreadId]:  # type: ignore[no-untyped-def]
    return [_call(qtbot, runtime, Node.create_thread, ThreadKind.ALBUM, name).thread_id for name in names]


def _fetches_originals(node: Node, thread_ids: list[ThreadId]) -> dict[ThreadId, bool]:
    return {thread_id: node.peers.fetch_originals(thread_id) for thread_id in thread_ids}


def _open(qtbot, client: EngineClient, settings: AppSettings) -> SettingsDialog:  # type: ignore[no-untyped-def]
    dialog = SettingsDialog(client, settings, default_data_dir=Path("/default/profile"))
    qtbot.addWidget(dialog)
    with qtbot.waitSignal(dialog.loaded, timeout=10_000):
        dialog.open()
    return dialog


def _ok(qtbot, dialog: SettingsDialog) -> None:  # type: ignore[no-untyped-def]
    with qtbot.waitSignal(dialog.saved, timeout=10_000):
        dialog.ok_button.click()


def test_the_dialog_starts_from_the_saved_settings_and_the_engines_name(
        qtbot, client: EngineClient, runtime: EngineRuntime, settings: AppSettings, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    settings.lan_discovery = False
    _call(qtbot, runtime, Node.set_fetch_originals, FetchOriginals.ON_DEMAND)
    settings.data_dir = tmp_path / "elsewhere"
    settings.sync()
    _call(qtbot, runtime, Node.set_display_name, "Ana")
    dialog = _open(qtbot, client, settings)
    assert dialog.display_name.text() == "Ana" and dialog.display_name.isEnabled()
    assert not dialog.lan_discovery.isChecked()
    assert dialog.fetch_originals.currentData() == FetchOriginals.ON_DEMAND and dialog.fetch_originals.isEnabled()
    assert dialog.data_dir.text() == str(tmp_path / "elsewhere")
    assert dialog.data_dir.placeholderText() == "/default/profile"
    assert not dialog.start_minimised.isChecked() and dialog.close_to_tray.isChecked()  # the defaults
    assert dialog.notification_detail.currentData() is NotificationDetail.FULL


def test_ok_writes_every_choice_to_the_ini_file_and_the_name_to_the_engine(
        qtbot, client: EngineClient, runtime: EngineRuntime, settings: AppSettings, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    dialog = _open(qtbot, client, settings)
    dialog.display_name.setText("  Bea  ")
    dialog.data_dir.setText(str(tmp_path / "moved"))
    dialog.lan_discovery.setChecked(False)
    dialog.start_minimised.setChecked(True)
    dialog.close_to_tray.setChecked(False)
    dialog.notification_detail.setCurrentIndex(dialog.notification_detail.findData(NotificationDetail.NOTHING))
    _ok(qtbot, dialog)
    assert dialog.restart_needed
    assert _call(qtbot, runtime, Node.display_name) == "Bea"
    reread = AppSettings.from_file(tmp_path / "settings.ini")  # a fresh reader of the same file
    assert reread.data_dir == tmp_path / "moved"
    assert reread.lan_discovery is False
    assert reread.start_minimised is True
    assert reread.close_to_tray is False
    assert reread.notification_detail is NotificationDetail.NOTHING
    assert _call(qtbot, runtime, Node.fetch_originals) is FetchOriginals.ALWAYS
    text = (tmp_path / "settings.ini").read_text()
    assert "lan_discovery=false" in text and "moved" in text and "fetch_originals" not in text


def test_choosing_originals_on_demand_is_kept_by_the_profile_for_every_album(
        qtbot, client: EngineClient, runtime: EngineRuntime, settings: AppSettings, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    albums = _albums(qtbot, runtime, "Lisbon", "Porto")
    assert _call(qtbot, runtime, _fetches_originals, albums) == dict.fromkeys(albums, True)  # the engine's default
    dialog = _open(qtbot, client, settings)
    dialog.fetch_originals.setCurrentIndex(dialog.fetch_originals.findData(FetchOriginals.ON_DEMAND))
    _ok(qtbot, dialog)
    assert _call(qtbot, runtime, _fetches_originals, albums) == dict.fromkeys(albums, False)
    assert _call(qtbot, runtime, Node.fetch_originals) is FetchOriginals.ON_DEMAND
    assert "fetch_originals" not in (tmp_path / "settings.ini").read_text()
    assert not dialog.restart_needed  # the policy applies at once
    [later] = _albums(qtbot, runtime, "Braga")  # no one pushes the choice into a new album
    assert _call(qtbot, runtime, _fetches_originals, [later]) == {later: False}

    again = _open(qtbot, client, settings)
    again.fetch_originals.setCurrentIndex(again.fetch_originals.findData(FetchOriginals.ALWAYS))
    _ok(qtbot, again)
    assert _call(qtbot, runtime, _fetches_originals, albums) == dict.fromkeys(albums, True)


def test_cancel_changes_neither_the_file_nor_the_engine(
        qtbot, client: EngineClient, runtime: EngineRuntime, settings: AppSettings, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    [album] = _albums(qtbot, runtime, "Kept")
    dialog = _open(qtbot, client, settings)
    dialog.display_name.setText("Not me")
    dialog.lan_discovery.setChecked(False)
    dialog.fetch_originals.setCurrentIndex(dialog.fetch_originals.findData(FetchOriginals.ON_DEMAND))
    dialog.reject()
    assert _call(qtbot, runtime, Node.display_name) == ""
    assert _call(qtbot, runtime, _fetches_originals, [album]) == {album: True}
    assert _call(qtbot, runtime, Node.fetch_originals) is FetchOriginals.ALWAYS
    assert AppSettings.from_file(tmp_path / "settings.ini").lan_discovery is True
    assert not (tmp_path / "settings.ini").exists() or "lan_discovery" not in (tmp_path / "settings.ini").read_text()


def test_a_name_the_engine_refuses_is_explained_and_nothing_is_saved(
        qtbot, client: EngineClient, runtime: EngineRuntime, settings: AppSettings, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    dialog = _open(qtbot, client, settings)
    dialog.display_name.setText("Ana\u202eevil")  # a bidi override: the engine refuses hidden characters
    dialog.start_minimised.setChecked(True)
    with qtbot.waitSignal(dialog.failed, timeout=10_000) as failed:
        dialog.ok_button.click()
    assert "invisible" in failed.args[0] or "control" in failed.args[0]
    assert dialog.error.isVisible() and dialog.error.text() == failed.args[0]
    assert dialog.isVisible() and dialog.ok_button.isEnabled()
    assert _call(qtbot, runtime, Node.display_name) == ""
    assert AppSettings.from_file(tmp_path / "settings.ini").start_minimised is False


def test_the_data_folder_chosen_in_the_app_is_used_unless_one_is_given(settings: AppSettings, tmp_path: Path) -> None:
    file = Path(settings.store.fileName())
    assert chosen_data_dir(None, file) == default_data_dir()
    settings.data_dir = tmp_path / "chosen"
    settings.sync()  # the CLI reads the file, not this process's QSettings
    assert chosen_data_dir(None, file) == tmp_path / "chosen"
    assert chosen_data_dir(tmp_path / "given", file) == tmp_path / "given"


def test_relays_and_upnp_are_stored_in_the_profile_and_a_bad_relay_is_said_in_plain_words(
        qtbot, client: EngineClient, runtime: EngineRuntime, settings: AppSettings, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    from threads_desktop.engine.core.keys import SigningKey

    kept = f"/ip4/198.51.100.7/tcp/4141/p2p/{SigningKey.generate().peer_id}"
    _call(qtbot, runtime, Node.add_relay, kept)
    dialog = _open(qtbot, client, settings)
    assert dialog.relays.addresses() == [kept] and dialog.upnp.isChecked()  # UPnP is on until turned off

    dialog.relays.address.setText("my-server:4141")
    with qtbot.waitSignal(dialog.failed, timeout=10_000) as refused:
        dialog.relays.add_button.click()
    assert refused.args[0].startswith("That is not a relay address.") and dialog.relays.error.isVisible()
    assert dialog.relays.addresses() == [kept] and dialog.relays.address.text() == "my-server:4141"  # left to correct

    added = f"/dns4/photos.example.org/tcp/4141/p2p/{SigningKey.generate().peer_id}"
    dialog.relays.address.setText(f"  {added} ")
    qtbot.keyClick(dialog.relays.address, Qt.Key.Key_Return)  # adds it; the dialog stays open
    qtbot.waitUntil(lambda: dialog.relays.addresses() == [kept, added], timeout=10_000)
    assert dialog.isVisible()
    assert not dialog.relays.error.isVisible() and dialog.relays.address.text() == ""
    assert _call(qtbot, runtime, Node.relays) == [kept]  # nothing stored before OK
    dialog.relays.relays.setCurrentRow(0)
    dialog.relays.remove_button.click()
    dialog.upnp.setChecked(False)
    _ok(qtbot, dialog)
    assert _call(qtbot, runtime, Node.relays) == [added]
    assert _call(qtbot, runtime, Node.upnp_enabled) is False
    assert "relay" not in (tmp_path / "settings.ini").read_text()  # the profile's, not this computer's
    again = _open(qtbot, client, settings)
    assert again.relays.addresses() == [added] and not again.upnp.isChecked()
