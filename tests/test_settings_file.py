"""The app's settings file read without Qt gives what QSettings itself reads
back from a file QSettings wrote: the CLI finds the folder chosen in the
app, whatever characters its path holds."""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from PySide6.QtCore import QByteArray, QSettings

from threads_desktop.settings_file import DATA_DIR_KEY, chosen_data_dir, read_string, user_settings_path


def _written_by_qt(path: Path, key: str, value: object) -> object:
    """Write `value` with QSettings and return what QSettings reads back."""
    writer = QSettings(str(path), QSettings.Format.IniFormat)
    writer.setValue("window/last_thread", "b123")  # neighbours in other groups, as the app leaves them
    writer.setValue(key, value)
    writer.setValue("window/geometry", QByteArray(b"\x01\x02[]=\n;\"x\""))
    writer.sync()
    assert writer.status() == QSettings.Status.NoError
    return QSettings(str(path), QSettings.Format.IniFormat).value(key)


# Any character, with those Qt's INI syntax gives a meaning to drawn often.
_INI_TEXT = st.text(st.one_of(st.sampled_from(list(' \t"\\,;=@#%x0123456789abcdef()\n\r\x00\x7f\u00a0\u0085')),
                              st.characters(exclude_categories=["Cs"])), max_size=40)


@given(_INI_TEXT)
@settings(max_examples=300, deadline=None)
def test_any_string_reads_back_as_qsettings_reads_it(text: str) -> None:
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "settings.ini"
        qt_reads = _written_by_qt(path, DATA_DIR_KEY, text)
        assert read_string(path, DATA_DIR_KEY) == qt_reads


@pytest.mark.parametrize("folder", [
    "/home/ana/My Photos", "/home/zoë/フォト", "/mnt/a, b; c=d", "@home", " leading", "trailing ",
    '/say "cheese"', "C:\\Users\\ana", "/ends with a no-break space\u00a0", "/next line\u0085", "/tab\there",
    "%HOME%/x", "#not a comment", "/emoji 😀", "/ends with a tab\t", "\t",
])
def test_a_chosen_folder_reads_back_whatever_its_name_holds(tmp_path: Path, folder: str) -> None:
    path = tmp_path / "settings.ini"
    assert _written_by_qt(path, DATA_DIR_KEY, folder) == folder
    assert read_string(path, DATA_DIR_KEY) == folder
    assert chosen_data_dir(path) == Path(folder)


def test_values_that_are_no_plain_string_are_none(tmp_path: Path) -> None:
    path = tmp_path / "settings.ini"
    _written_by_qt(path, "a/list", ["one", "two"])
    _written_by_qt(path, "a/bytes", QByteArray(b"/x"))
    assert read_string(path, "a/list") is None
    assert read_string(path, "a/bytes") is None
    assert read_string(path, "a/missing") is None


def test_no_file_no_key_or_an_unreadable_file_means_no_choice(tmp_path: Path) -> None:
    assert chosen_data_dir(tmp_path / "absent.conf") is None
    empty = tmp_path / "empty.conf"
    _written_by_qt(empty, "window/last_thread", "b1")
    assert chosen_data_dir(empty) is None
    garbled = tmp_path / "garbled.conf"
    garbled.write_bytes(b"[profile]\ndata_dir=\xff\xfe")
    assert chosen_data_dir(garbled) is None


@pytest.mark.parametrize("config_home", [None, "config home ë"])
def test_the_users_file_is_the_one_qsettings_keeps_the_apps_settings_in(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, config_home: str | None) -> None:
    """Asked of a fresh Qt in a subprocess: this test process's QSettings
    paths are redirected (conftest's private_user_settings)."""
    env = {**os.environ, "HOME": str(tmp_path / "home")}
    env.pop("XDG_CONFIG_HOME", None)
    if config_home is not None:
        env["XDG_CONFIG_HOME"] = str(tmp_path / config_home)
    qt_says = subprocess.run(
        [sys.executable, "-c", "from PySide6.QtCore import QSettings as S; "
                               "print(S(S.Format.NativeFormat, S.Scope.UserScope, 'Threads', 'Threads Desktop')"
                               ".fileName())"],
        env=env, capture_output=True, text=True, timeout=60, check=True).stdout.strip()
    for name in ("HOME", "XDG_CONFIG_HOME"):
        if name in env:
            monkeypatch.setenv(name, env[name])
        else:
            monkeypatch.delenv(name, raising=False)
    assert user_settings_path() == Path(qt_says)
