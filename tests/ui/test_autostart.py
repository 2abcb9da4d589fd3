"""Start at login: the settings checkbox writes and removes the XDG
autostart entry ($XDG_CONFIG_HOME honoured), which desktops accept, and
reads it back as the truth."""

from __future__ import annotations

import shlex
import shutil
import subprocess
from pathlib import Path

import pytest
import qasync

from threads_desktop.engine.runtime import EngineRuntime
from threads_desktop.ui.autostart import Autostart, config_home, entry, exec_line, launch_command
from threads_desktop.ui.dialogs.settings_dialog import SettingsDialog
from threads_desktop.ui.engine_client import EngineClient
from threads_desktop.ui.settings import AppSettings


@pytest.fixture
def config_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    folder = tmp_path / "config"
    monkeypatch.setenv("XDG_CONFIG_HOME", str(folder))
    return folder


def _exec_value(path: Path) -> str:
    [line] = [line for line in path.read_text().splitlines() if line.startswith("Exec=")]
    return line.removeprefix("Exec=")


def test_the_entry_goes_to_xdg_config_home_and_passes_desktop_file_validate(config_dir: Path) -> None:
    autostart = Autostart()
    assert autostart.path == config_dir / "autostart" / "threads-desktop.desktop"
    assert not autostart.enabled
    autostart.enable()
    assert autostart.enabled and autostart.path.is_file()
    validate = shutil.which("desktop-file-validate")
    assert validate is not None, "run scripts/install-system-deps.sh"
    result = subprocess.run([validate, str(autostart.path)], capture_output=True, text=True)
    assert result.returncode == 0 and result.stdout == "", result.stdout
    # It starts this installation, whatever is on PATH.
    assert shlex.split(_exec_value(autostart.path)) == launch_command()
    assert Path(launch_command()[0]).is_absolute()
    autostart.disable()
    assert not autostart.path.exists() and not autostart.enabled
    autostart.disable()  # twice is fine


def test_without_xdg_config_home_the_entry_goes_to_dot_config(monkeypatch: pytest.MonkeyPatch,
                                                              tmp_path: Path) -> None:
    monkeypatch.delenv("XDG_CONFIG_HOME", raising=False)
    monkeypatch.setenv("HOME", str(tmp_path))
    assert Autostart().path == tmp_path / ".config" / "autostart" / "threads-desktop.desktop"
    assert config_home({"XDG_CONFIG_HOME": "relative/dir"}) == tmp_path / ".config"  # the spec ignores it


def test_an_entry_hidden_by_the_desktop_counts_as_off(config_dir: Path) -> None:
    autostart = Autostart()
    autostart.enable()
    autostart.path.write_text(autostart.path.read_text() + "Hidden=true\n")
    assert not autostart.enabled


def test_exec_quotes_spaces_and_percent_signs() -> None:
    line = exec_line(["/opt/My Apps/threads-desktop", "--data-dir", "/home/a/100%"])
    assert line == '"/opt/My Apps/threads-desktop" --data-dir /home/a/100%%'
    assert 'Exec="/a \\\\"b\\\\"/t"' in entry(['/a "b"/t'])  # quote escaped, then the value's backslash


def _dialog(qtbot, client: EngineClient, settings: AppSettings, autostart: Autostart) -> SettingsDialog:  # type: ignore[no-untyped-def]
    dialog = SettingsDialog(client, settings, autostart=autostart)
    qtbot.addWidget(dialog)
    with qtbot.waitSignal(dialog.loaded, timeout=10_000):
        dialog.open()
    return dialog


def test_the_settings_checkbox_writes_and_removes_the_entry(  # type: ignore[no-untyped-def]
        qtbot, qt_loop: qasync.QEventLoop, runtime: EngineRuntime, tmp_path: Path, config_dir: Path) -> None:
    client = EngineClient(runtime, qt_loop)
    settings = AppSettings.from_file(tmp_path / "settings.ini")
    autostart = Autostart()

    dialog = _dialog(qtbot, client, settings, autostart)
    assert not dialog.start_at_login.isChecked()
    dialog.start_at_login.setChecked(True)
    with qtbot.waitSignal(dialog.saved, timeout=10_000):
        dialog.ok_button.click()
    assert autostart.enabled

    dialog = _dialog(qtbot, client, settings, autostart)
    assert dialog.start_at_login.isChecked()  # read back from the file
    dialog.start_at_login.setChecked(False)
    with qtbot.waitSignal(dialog.saved, timeout=10_000):
        dialog.ok_button.click()
    assert not autostart.path.exists()


def test_saving_other_settings_leaves_the_entry_alone(  # type: ignore[no-untyped-def]
        qtbot, qt_loop: qasync.QEventLoop, runtime: EngineRuntime, tmp_path: Path, config_dir: Path) -> None:
    autostart = Autostart()
    autostart.path.parent.mkdir(parents=True)
    autostart.path.write_text(entry(["/custom/launcher", "--data-dir", "/elsewhere"]))  # the user's own edit
    dialog = _dialog(qtbot, EngineClient(runtime, qt_loop), AppSettings.from_file(tmp_path / "s.ini"), autostart)
    dialog.close_to_tray.setChecked(not dialog.close_to_tray.isChecked())
    with qtbot.waitSignal(dialog.saved, timeout=10_000):
        dialog.ok_button.click()
    assert _exec_value(autostart.path) == "/custom/launcher --data-dir /elsewhere"


def test_an_entry_that_cannot_be_written_is_an_error_in_the_dialog(  # type: ignore[no-untyped-def]
        qtbot, qt_loop: qasync.QEventLoop, runtime: EngineRuntime, tmp_path: Path, config_dir: Path) -> None:
    config_dir.mkdir()
    (config_dir / "autostart").write_text("a file where the folder should be")
    dialog = _dialog(qtbot, EngineClient(runtime, qt_loop), AppSettings.from_file(tmp_path / "s.ini"), Autostart())
    dialog.start_at_login.setChecked(True)
    with qtbot.waitSignal(dialog.failed, timeout=10_000):
        dialog.ok_button.click()
    assert dialog.error.isVisible() and dialog.isVisible()
