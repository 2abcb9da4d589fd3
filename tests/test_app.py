"""The app's start: an older app's originals choice (kept in QSettings) is
carried into the profile, where `serve` and CLI commands follow it too; the
window is painted before the network loads, and without the QR code maker."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from threads_desktop.engine.core.types import FetchOriginals, ThreadKind
from threads_desktop.engine.node import Node


def test_the_first_start_carries_an_older_apps_originals_choice_into_the_profile(tmp_path: Path) -> None:
    settings_file = tmp_path / "settings.ini"
    settings_file.write_text("[photos]\nfetch_originals=on_demand\n\n[window]\nstart_minimised=false\n",
                             encoding="utf-8")  # as an older app left it
    repo = Path(__file__).resolve().parents[1]
    env = {**os.environ, "QT_QPA_PLATFORM": "offscreen", "XDG_CONFIG_HOME": str(tmp_path / "config"),
           "XDG_DATA_HOME": str(tmp_path / "data"), "PYTHONPATH": str(repo)}
    done = subprocess.run([sys.executable, "-m", "tests.ui.drivers.settings_at_start", str(tmp_path / "profile"),
                           str(settings_file)], cwd=repo, env=env, capture_output=True, text=True, timeout=60,
                          check=False)
    assert done.returncode == 0, done.stderr[-2000:]
    assert "left the settings file" in done.stdout
    assert "start_minimised=false" in settings_file.read_text()  # the rest stays
    node = Node.open(tmp_path / "profile")  # as `serve` or a CLI command opens it
    try:
        assert node.fetch_originals() is FetchOriginals.ON_DEMAND
        album = node.create_thread(ThreadKind.ALBUM, "Later").thread_id
        assert node.peers.fetch_originals(album) is False
    finally:
        node.close()


def test_the_network_starts_after_the_window_is_first_painted(tmp_path: Path) -> None:
    """Importing py-libp2p on the engine thread while the window was built
    held the interpreter lock against it: building and showing the window
    took 86-176 ms so, 30-39 ms without (100,000-photo profile)."""
    (tmp_path / "settings.ini").write_text("[window]\nstart_minimised=false\n", encoding="utf-8")
    out = _start_order(tmp_path)
    assert "at the first paint, the network loading: False" in out, out
    assert "services started" in out, out


def test_the_qr_code_maker_is_not_imported_before_the_window_shows(tmp_path: Path) -> None:
    """segno and what it imports (urllib, http.client, xml): 17-23 ms of CPU
    before the window, for a code only an invite shows."""
    (tmp_path / "settings.ini").write_text("[window]\nstart_minimised=false\n", encoding="utf-8")
    assert "at the first paint, QR codes loaded: False" in _start_order(tmp_path)


def _start_order(tmp_path: Path) -> str:
    repo = Path(__file__).resolve().parents[1]
    env = {**os.environ, "QT_QPA_PLATFORM": "offscreen", "XDG_CONFIG_HOME": str(tmp_path / "config"),
           "XDG_DATA_HOME": str(tmp_path / "data"), "PYTHONPATH": str(repo)}
    done = subprocess.run([sys.executable, "-m", "tests.ui.drivers.start_order", str(tmp_path / "profile"),
                           str(tmp_path / "settings.ini")], cwd=repo, env=env, capture_output=True, text=True,
                          timeout=90, check=False)
    assert done.returncode == 0, done.stderr[-2000:]
    return done.stdout
