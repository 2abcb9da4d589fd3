"""The first-launch name prompt: prefilled from the account, shown with
open() (the window keeps running), saved through the engine, and asked
once only, whether saved or skipped."""

from __future__ import annotations

import asyncio
import os
import pwd
from pathlib import Path

import qasync

from threads_desktop.engine.runtime import EngineRuntime
from threads_desktop.ui.dialogs.name_prompt import account_name
from threads_desktop.ui.engine_client import EngineClient
from threads_desktop.ui.settings import AppSettings
from threads_desktop.ui.views.main_window import MainWindow


def _window(qtbot, loop: qasync.QEventLoop, runtime: EngineRuntime, settings: AppSettings) -> MainWindow:  # type: ignore[no-untyped-def]
    window = MainWindow(EngineClient(runtime, loop), settings)
    qtbot.addWidget(window)
    with qtbot.waitSignal(window.threads_loaded, timeout=10_000):
        window.show()
    return window


def _asked(qtbot, window: MainWindow) -> bool:  # type: ignore[no-untyped-def]
    """Run the first-launch check to its end; whether it asked."""
    window.name_prompt = None
    window.ask_name_once()
    qtbot.waitUntil(lambda: not window._tasks, timeout=10_000)  # the check is done (open() never blocks it)
    return window.name_prompt is not None and window.name_prompt.isVisible()


def test_the_account_name_is_the_full_name_else_the_login() -> None:
    entry = pwd.getpwuid(os.getuid())
    full = entry.pw_gecos.split(",")[0].strip()
    assert account_name() == " ".join((full or entry.pw_name).split())


def test_a_first_launch_asks_for_a_name_once_and_saves_it_through_the_engine(  # type: ignore[no-untyped-def]
        qtbot, qt_loop: qasync.QEventLoop, runtime: EngineRuntime, tmp_path: Path) -> None:
    settings = AppSettings.from_file(tmp_path / "settings.ini")
    window = _window(qtbot, qt_loop, runtime, settings)
    assert _asked(qtbot, window)
    prompt = window.name_prompt
    assert prompt is not None and prompt.name_edit.text() == account_name()
    qtbot.waitUntil(prompt.name_edit.hasFocus, timeout=5_000)
    prompt.name_edit.clear()
    prompt.name_edit.insert("  Zoë   Example ")  # as typed (QTest cannot type the ë)
    with qtbot.waitSignal(prompt.saved, timeout=10_000) as saved:
        prompt.save_button.click()
    assert saved.args == ["Zoë Example"] and not prompt.isVisible()
    qtbot.waitUntil(lambda: window.identity_label.text().startswith("Zoë Example"), timeout=10_000)

    def name() -> str:
        import asyncio

        future = asyncio.ensure_future(runtime.call(lambda node: node.display_name()))
        qtbot.waitUntil(future.done, timeout=10_000)
        return str(future.result())

    assert name() == "Zoë Example"
    assert not _asked(qtbot, window)  # named now: never asked again


def test_a_skipped_prompt_is_not_shown_again(  # type: ignore[no-untyped-def]
        qtbot, qt_loop: qasync.QEventLoop, runtime: EngineRuntime, tmp_path: Path) -> None:
    settings = AppSettings.from_file(tmp_path / "settings.ini")
    window = _window(qtbot, qt_loop, runtime, settings)
    assert _asked(qtbot, window)
    assert window.name_prompt is not None
    window.name_prompt.skip_button.click()
    assert settings.name_asked(_peer_id(qtbot, runtime))
    assert not _asked(qtbot, window)  # still no name, but asked already
    again = _window(qtbot, qt_loop, runtime, AppSettings.from_file(tmp_path / "settings.ini"))
    assert not _asked(qtbot, again)  # ... in a later launch too


def _first_launch(tmp_path: Path, *args: str) -> str:
    import subprocess
    import sys

    repo = Path(__file__).resolve().parents[2]
    env = {**os.environ, "QT_QPA_PLATFORM": "offscreen", "XDG_CONFIG_HOME": str(tmp_path / "config"),
           "XDG_DATA_HOME": str(tmp_path / "data"), "PYTHONPATH": str(repo)}
    done = subprocess.run([sys.executable, "-m", "tests.ui.drivers.first_launch", str(tmp_path / "profile"),
                           str(tmp_path / "settings.ini"), *args], cwd=repo, env=env, capture_output=True,
                          text=True, timeout=60, check=False)
    assert done.returncode == 0, done.stderr[-2000:]
    return done.stdout


def test_the_real_app_asks_on_its_first_launch_only(tmp_path: Path) -> None:
    first = _first_launch(tmp_path, "save", "Zoë Example")
    assert f"prompt prefilled: {account_name()}" in first and "saved: Zoë Example" in first
    second = _first_launch(tmp_path, "none")
    assert "no prompt" in second and "identity: Zoë Example" in second



def _peer_id(qtbot, runtime: EngineRuntime) -> str:  # type: ignore[no-untyped-def]
    future = asyncio.ensure_future(runtime.call(lambda node: node.identity_card().peer_id))
    qtbot.waitUntil(future.done, timeout=10_000)
    return str(future.result())


def test_another_profile_is_asked_for_its_name_too(  # type: ignore[no-untyped-def]
        qtbot, qt_loop: qasync.QEventLoop, runtime: EngineRuntime, tmp_path: Path) -> None:
    settings = AppSettings.from_file(tmp_path / "settings.ini")
    settings.mark_name_asked("12D3KooWSomeOtherProfileOfThisUser")  # asked in another --data-dir
    window = _window(qtbot, qt_loop, runtime, settings)
    assert _asked(qtbot, window)
