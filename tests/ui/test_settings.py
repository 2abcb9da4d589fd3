"""An older app kept the originals choice in QSettings; the profile keeps it
now. The first start carries it over into the profile's database and
removes it from the INI file, once."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import pytest
import qasync

from tests.ui.waiting import wait_for
from threads_desktop.engine.core.types import FetchOriginals
from threads_desktop.engine.node import Node
from threads_desktop.engine.runtime import EngineRuntime
from threads_desktop.ui.engine_client import EngineClient
from threads_desktop.ui.settings import AppSettings, carry_over_fetch_originals

T = TypeVar("T")
OLD_KEY = "photos/fetch_originals"  # where the older app kept it


@pytest.fixture
def client(qt_loop: qasync.QEventLoop, runtime: EngineRuntime) -> EngineClient:
    return EngineClient(runtime, qt_loop)


def _await(qtbot: Any, awaitable: Any) -> Any:
    return wait_for(qtbot, awaitable, timeout=10_000)


def _call(qtbot: Any, runtime: EngineRuntime, fn: Callable[..., T], *args: Any) -> T:
    return _await(qtbot, runtime.call(fn, *args))  # type: ignore[no-any-return]


def _older_apps_file(path: Path, value: str) -> AppSettings:
    settings = AppSettings.from_file(path)
    settings.store.setValue(OLD_KEY, value)
    settings.sync()
    return AppSettings.from_file(path)


def test_an_older_apps_choice_goes_into_the_profile_and_leaves_the_ini_file(
        qtbot: Any, client: EngineClient, runtime: EngineRuntime, tmp_path: Path) -> None:
    settings = _older_apps_file(tmp_path / "settings.ini", "on_demand")
    assert _await(qtbot, carry_over_fetch_originals(client, settings)) is FetchOriginals.ON_DEMAND
    assert _call(qtbot, runtime, Node.fetch_originals) is FetchOriginals.ON_DEMAND
    assert "fetch_originals" not in (tmp_path / "settings.ini").read_text()


def test_it_is_carried_over_once_a_later_choice_stays(
        qtbot: Any, client: EngineClient, runtime: EngineRuntime, tmp_path: Path) -> None:
    settings = _older_apps_file(tmp_path / "settings.ini", "on_demand")
    _await(qtbot, carry_over_fetch_originals(client, settings))
    _call(qtbot, runtime, Node.set_fetch_originals, FetchOriginals.ALWAYS)  # chosen again in the new dialog
    again = AppSettings.from_file(tmp_path / "settings.ini")  # the next start
    assert _await(qtbot, carry_over_fetch_originals(client, again)) is None
    assert _call(qtbot, runtime, Node.fetch_originals) is FetchOriginals.ALWAYS


def test_a_hand_edited_value_is_dropped_and_the_profile_keeps_its_own(
        qtbot: Any, client: EngineClient, runtime: EngineRuntime, tmp_path: Path) -> None:
    _call(qtbot, runtime, Node.set_fetch_originals, FetchOriginals.ON_DEMAND)
    settings = _older_apps_file(tmp_path / "settings.ini", "sometimes")
    assert _await(qtbot, carry_over_fetch_originals(client, settings)) is None
    assert _call(qtbot, runtime, Node.fetch_originals) is FetchOriginals.ON_DEMAND
    assert "fetch_originals" not in (tmp_path / "settings.ini").read_text()


def test_no_older_choice_changes_nothing(
        qtbot: Any, client: EngineClient, runtime: EngineRuntime, tmp_path: Path) -> None:
    settings = AppSettings.from_file(tmp_path / "settings.ini")
    settings.lan_discovery = False
    settings.sync()
    before = (tmp_path / "settings.ini").read_text()
    assert _await(qtbot, carry_over_fetch_originals(client, settings)) is None
    assert _call(qtbot, runtime, Node.fetch_originals) is FetchOriginals.ALWAYS
    assert (tmp_path / "settings.ini").read_text() == before
