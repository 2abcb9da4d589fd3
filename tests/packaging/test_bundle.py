"""The PyInstaller bundle (packaging/threads-desktop.spec) runs without the
virtualenv: `--version`, and a headless `serve` that a peer running from the
venv syncs with over 127.0.0.1.

The bundle is built once per session into dist/ (as `make dist` does, about
70 s on a 2-core machine) unless dist/ is already newer than every source it
is made of. The test needs PyInstaller (the `dist` extra); without it, it is
skipped, and THREADS_BUILD_BUNDLE=1 turns that skip into a failure, so that
a CI job that means to check the bundle cannot pass without building it."""

from __future__ import annotations

import json
import os
import queue
import signal
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.served import START_SECONDS, ServedPeer, _pump, cli, cli_json, eventually
from tests.engine.modules.images import image_bytes
from threads_desktop import __version__

BUILD_SECONDS = 900
# The first test to ask for the bundle may build it. `make test` runs the
# suite with pytest-xdist's --dist loadfile: this file's tests share one
# worker, so dist/ is built once and never by two workers at a time.
pytestmark = [pytest.mark.slow, pytest.mark.timeout(BUILD_SECONDS + 300)]

ROOT = Path(__file__).resolve().parents[2]
SPEC = ROOT / "packaging" / "threads-desktop.spec"
DIST = ROOT / "dist"
BUNDLE = DIST / "threads-desktop" / "threads-desktop"


def _sources() -> Iterator[Path]:
    """What the bundle is made of, on this side of the virtualenv."""
    yield from (ROOT / "threads_desktop").rglob("*")
    yield SPEC
    yield ROOT / "packaging" / "entry.py"
    yield ROOT / "pyproject.toml"


def _bundle_is_current() -> bool:
    if not BUNDLE.exists():
        return False
    built = BUNDLE.stat().st_mtime
    return all(path.stat().st_mtime <= built for path in _sources() if path.is_file())


@pytest.fixture(scope="session")
def bundle() -> Path:
    if _bundle_is_current():
        return BUNDLE
    try:
        import PyInstaller  # noqa: F401
    except ImportError:
        if os.environ.get("THREADS_BUILD_BUNDLE") == "1":
            pytest.fail("THREADS_BUILD_BUNDLE=1 but PyInstaller is not installed (pip install -e '.[dist]')")
        pytest.skip("PyInstaller is not installed: `make dist` (or pip install -e '.[dist]') to check the bundle")
    built = subprocess.run(
        [sys.executable, "-m", "PyInstaller", "--noconfirm", "--log-level", "WARN", "--distpath", str(DIST),
         "--workpath", str(ROOT / "build" / "pyinstaller"), str(SPEC)],
        cwd=ROOT, capture_output=True, text=True, timeout=BUILD_SECONDS)
    assert built.returncode == 0, f"PyInstaller failed:\n{built.stderr[-4000:]}"
    assert BUNDLE.exists()
    return BUNDLE


@pytest.fixture
def clean_env(tmp_path: Path) -> dict[str, str]:
    """What a machine without our Python would give the bundle: no
    PYTHONPATH or PYTHONHOME, no virtualenv on PATH, a HOME of its own."""
    home = tmp_path / "home"
    home.mkdir()
    venv_bin = str(Path(sys.executable).parent)
    path = os.pathsep.join(p for p in os.environ.get("PATH", "/usr/bin:/bin").split(os.pathsep)
                           if p and Path(p) != Path(venv_bin) and ".venv" not in p)
    return {"PATH": path, "HOME": str(home), "LANG": "C.UTF-8", "QT_QPA_PLATFORM": "offscreen",
            "XDG_RUNTIME_DIR": str(home), "PYTHONUNBUFFERED": "1"}


class BundledServe:
    """`<bundle> --data-dir DIR serve` on 127.0.0.1, any free port."""

    def __init__(self, bundle: Path, data_dir: Path, env: dict[str, str]) -> None:
        self.bundle, self.data_dir, self.env = bundle, data_dir, env
        self.stderr_lines: list[str] = []
        self.process = subprocess.Popen(
            [str(bundle), "--data-dir", str(data_dir), "serve", "--listen", "/ip4/127.0.0.1/tcp/0", "--no-mdns",
             "--pull-interval", "2"],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
        lines: queue.Queue[str] = queue.Queue()
        assert self.process.stdout is not None and self.process.stderr is not None
        threading.Thread(target=_pump, args=(self.process.stdout, lines.put), daemon=True).start()
        threading.Thread(target=_pump, args=(self.process.stderr, self.stderr_lines.append), daemon=True).start()
        try:
            self.ready: dict[str, Any] = json.loads(lines.get(timeout=START_SECONDS))
        except queue.Empty:
            self.process.kill()
            raise AssertionError(f"the bundled serve did not start: {self.stderr[-3000:]}") from None

    def run(self, *args: str) -> subprocess.CompletedProcess[str]:
        """A CLI command of the bundle on the same profile: it goes to the
        running serve over its control socket."""
        done = subprocess.run([str(self.bundle), "--data-dir", str(self.data_dir), *args],
                              capture_output=True, text=True, env=self.env, timeout=120)
        assert done.returncode == 0, f"{' '.join(args)} failed ({done.returncode}): {done.stderr}"
        return done

    def run_json(self, *args: str) -> Any:
        return json.loads(self.run(*args, "--json").stdout)

    @property
    def stderr(self) -> str:
        return "".join(self.stderr_lines)


def test_the_bundle_prints_its_version_without_the_virtualenv(bundle: Path, clean_env: dict[str, str]) -> None:
    done = subprocess.run([str(bundle), "--version"], capture_output=True, text=True, env=clean_env, timeout=60)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == f"threads-desktop {__version__}"


def test_a_bundled_serve_reads_a_chat_and_backs_up_an_album_from_a_venv_peer(
        bundle: Path, clean_env: dict[str, str], tmp_path: Path) -> None:
    writer = ServedPeer(tmp_path / "writer")
    chat = cli(writer.data_dir, "create", "chat", "Us").stdout.strip()
    album = cli(writer.data_dir, "create", "album", "Backup me").stdout.strip()
    writer.start()
    bundled = BundledServe(bundle, tmp_path / "bundled", clean_env)
    try:
        assert bundled.ready["serving"].startswith("12D3KooW")
        assert any(a.startswith("/ip4/127.0.0.1/tcp/") for a in bundled.ready["addresses"])
        # Links carry the writer's address: the bundled peer dials it.
        bundled.run("join", cli(writer.data_dir, "invite", chat, "--role", "read").stdout.strip())
        bundled.run("join", cli(writer.data_dir, "invite", album, "--role", "follow").stdout.strip())
        cli(writer.data_dir, "say", chat, "hello, bundle")
        photo = tmp_path / "photo.jpg"
        photo.write_bytes(image_bytes("JPEG", size=(320, 240), seed=1))
        cli(writer.data_dir, "add", album, str(photo))

        # A reader decrypts and applies the events: the message reads the same.
        eventually(lambda: [i["text"] for i in bundled.run_json("show", chat)["items"]] == ["hello, bundle"],
                   peers=(writer,))
        # A follower holds every record of the album without reading it.
        def events(listing: list[dict[str, Any]]) -> list[Any]:
            return [t["events"] for t in listing if t["id"] == album]

        writer_events = events(cli_json(writer.data_dir, "ls"))
        assert writer_events and writer_events[0] > 0
        eventually(lambda: events(bundled.run_json("ls")) == writer_events, peers=(writer,))

        bundled.process.send_signal(signal.SIGTERM)
        assert bundled.process.wait(timeout=30) == 0, bundled.stderr[-3000:]
        assert writer.stop() == 0
    finally:
        if bundled.process.poll() is None:
            bundled.process.kill()
            bundled.process.wait(timeout=30)
        writer.kill()


def test_the_bundled_app_starts_offscreen_and_a_second_launch_hands_its_link_over(
        bundle: Path, clean_env: dict[str, str], tmp_path: Path) -> None:
    """The GUI side of the bundle: Qt's platform plugin, the widgets, qasync
    and the engine thread come up; QtNetwork's local socket takes a second
    launch's threads:// link to the running app, which keeps running."""
    data_dir = tmp_path / "app"
    app = subprocess.Popen([str(bundle), "--data-dir", str(data_dir), "--listen", "/ip4/127.0.0.1/tcp/0", "--no-mdns"],
                           stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=clean_env)
    try:
        # The app listens for later launches before it opens the profile,
        # which writes the lock file.
        eventually(lambda: (data_dir / "lock").exists() or app.poll() is not None, timeout=START_SECONDS)
        assert app.poll() is None, app.communicate()[0][-3000:]
        second = subprocess.run([str(bundle), "--data-dir", str(data_dir), "threads://join/not-a-real-invite"],
                                capture_output=True, text=True, env=clean_env, timeout=60)
        assert second.returncode == 0, second.stderr
        assert app.poll() is None
    finally:
        app.terminate()
        output = app.communicate(timeout=30)[0]
    assert "Traceback" not in output, output[-3000:]
