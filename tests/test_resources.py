"""What desktops and software centres read: the .desktop file and AppStream
metainfo pass Debian's validators, the icon exists in every size a desktop
asks for, the translation source is well formed, the follower's systemd unit
verifies, and `threads-desktop --version` answers without loading Qt or the
engine."""

from __future__ import annotations

import configparser
import os
import shutil
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
from PIL import Image

from threads_desktop import __version__

ROOT = Path(__file__).resolve().parent.parent
RESOURCES = ROOT / "resources"
ICON_SIZES = (16, 24, 32, 48, 64, 128, 256, 512)
APP_ID = "io.github.threads_desktop.Threads"
UNIT = ROOT / "packaging" / "systemd" / "threads-desktop-follower.service"


def _tool(name: str) -> str:
    path = shutil.which(name)
    if path is None:  # scripts/install-system-deps.sh installs it (make test runs it)
        pytest.fail(f"{name} is missing: run scripts/install-system-deps.sh")
    return path


def test_the_desktop_file_passes_desktop_file_validate_and_opens_threads_links() -> None:
    [desktop] = RESOURCES.glob("*.desktop")
    result = subprocess.run([_tool("desktop-file-validate"), str(desktop)], capture_output=True, text=True)
    assert result.returncode == 0 and result.stdout.strip() == "", result.stdout + result.stderr
    entry = configparser.ConfigParser(interpolation=None)
    entry.optionxform = str  # type: ignore[assignment,method-assign]  # keys are case-sensitive
    entry.read(desktop, encoding="utf-8")
    section = entry["Desktop Entry"]
    assert section["Exec"] == "threads-desktop %u"
    assert "x-scheme-handler/threads" in section["MimeType"].split(";")
    assert section["Icon"] == "threads-desktop"


def test_the_metainfo_passes_appstreamcli_validate_and_names_the_desktop_file() -> None:
    [metainfo] = RESOURCES.glob("*.metainfo.xml")
    assert metainfo.name == f"{APP_ID}.metainfo.xml"
    result = subprocess.run([_tool("appstreamcli"), "validate", "--no-net", str(metainfo)],
                            capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr
    component = ET.parse(metainfo).getroot()
    assert component.findtext("id") == APP_ID
    assert component.findtext("launchable") == "threads-desktop.desktop"
    assert (RESOURCES / component.findtext("launchable", "")).exists()
    assert component.findtext("provides/binary") == "threads-desktop"
    assert component.find("releases/release").get("version") == __version__  # the newest first
    # Each screenshot is one the repository holds.
    images = [image.text or "" for image in component.iter("image")]
    assert images
    for url in images:
        assert url.startswith("https://raw.githubusercontent.com/threads-desktop/threads-desktop/main/")
        assert (ROOT / url.split("/main/", 1)[1]).is_file(), url


@pytest.mark.parametrize("size", ICON_SIZES)
def test_the_icon_exists_as_a_png_of_each_size(size: int) -> None:
    path = RESOURCES / "icons" / "hicolor" / f"{size}x{size}" / "apps" / "threads-desktop.png"
    with Image.open(path) as image:
        assert image.format == "PNG" and image.size == (size, size) and image.mode == "RGBA"
        # Not blank: the corners are transparent, the middle is the icon.
        assert image.getpixel((0, 0))[3] == 0 and image.getpixel((size // 2, size // 2))[3] == 255


def test_the_scalable_icon_is_the_packages_svg() -> None:
    scalable = RESOURCES / "icons" / "hicolor" / "scalable" / "apps" / "threads-desktop.svg"
    assert scalable.resolve() == (ROOT / "threads_desktop" / "ui" / "icons" / "threads-desktop.svg").resolve()


def test_the_render_script_makes_every_size_from_the_svg(tmp_path: Path) -> None:
    # In its own process, as it is run: it makes a QGuiApplication, which
    # would stand in the way of the QApplication of the tests that follow.
    result = subprocess.run([sys.executable, str(ROOT / "scripts" / "render-icons.py"), str(tmp_path)],
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    for size in ICON_SIZES:
        rendered = Image.open(tmp_path / f"{size}x{size}" / "apps" / "threads-desktop.png")
        committed = Image.open(RESOURCES / "icons" / "hicolor" / f"{size}x{size}" / "apps" / "threads-desktop.png")
        assert rendered.size == (size, size)
        # The committed PNGs are the SVG's current rendering (within a shade
        # or two: antialiasing may differ between Qt builds).
        difference = max(abs(a - b) for a, b in zip(rendered.tobytes(), committed.tobytes(), strict=True))
        assert difference <= 8, f"{size}px differs from the SVG: run scripts/render-icons.py"


def test_the_translation_source_is_a_ts_file_with_the_ui_strings() -> None:
    root = ET.parse(RESOURCES / "translations" / "threads_desktop_en.ts").getroot()
    assert root.tag == "TS" and root.get("sourcelanguage") == "en"
    contexts = {context.findtext("name"): [m.findtext("source") for m in context.iter("message")]
                for context in root.iter("context")}
    assert "Start Threads when I log in" in contexts["SettingsDialog"]
    assert "Copy &Diagnostics" in contexts["CopyDiagnosticsAction"]
    # The Devices window's words, translated under the context Qt looks them up in.
    assert {"Same network", "Through a relay", "Offline since %1", "Up to date"} <= set(contexts["Devices"])
    assert "Ask the router to let other devices in (UPnP)" in contexts["SettingsDialog"]
    assert "Reached through relays" in contexts["NetworkStatusWidget"]


def test_version_prints_the_package_version_and_exits_0() -> None:
    executable = Path(sys.executable).with_name("threads-desktop")
    result = subprocess.run([str(executable), "--version"], capture_output=True, text=True, timeout=60)
    assert (result.returncode, result.stdout) == (0, f"threads-desktop {__version__}\n")


def test_version_imports_neither_qt_nor_the_engine() -> None:
    probe = (
        "import sys\n"
        "from threads_desktop.cli.main import main\n"
        "try:\n    main(['--version'])\nexcept SystemExit as exit:\n    code = exit.code\n"
        "heavy = [m for m in sys.modules if m.startswith(('PySide6', 'threads_desktop.engine', 'trio', 'libp2p'))]\n"
        "print(code, heavy)\n"
    )
    result = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=60, cwd=ROOT)
    assert result.stdout.splitlines()[-1] == "0 []", result.stdout + result.stderr


# --- the follower's systemd unit ---------------------------------------------------------

def _unit() -> configparser.ConfigParser:
    unit = configparser.ConfigParser(interpolation=None, strict=False)
    unit.optionxform = str  # type: ignore[assignment,method-assign]
    unit.read(UNIT, encoding="utf-8")
    return unit


def test_the_follower_unit_serves_the_follower_profile_and_restarts_on_failure() -> None:
    service = _unit()["Service"]
    assert service["ExecStart"] == ("%h/.local/bin/threads-desktop --data-dir %h/.local/share/threads-follower "
                                    "serve --listen /ip4/0.0.0.0/tcp/4141")
    assert service["Restart"] == "on-failure"
    assert service["NoNewPrivileges"] == "yes" and service["UMask"] == "0077"
    assert _unit()["Install"]["WantedBy"] == "default.target"  # a user unit: starts with the user's manager


def test_the_follower_unit_passes_systemd_analyze_verify(tmp_path: Path) -> None:
    analyze = shutil.which("systemd-analyze")
    if analyze is None:
        pytest.skip("systemd-analyze is not installed (the unit's keys are checked above)")
    # verify resolves %h and checks that ExecStart is executable: a home
    # whose ~/.local/bin/threads-desktop is this virtualenv's real command.
    home, runtime = tmp_path / "home", tmp_path / "run"
    (home / ".local" / "bin").mkdir(parents=True)
    (home / ".local" / "bin" / "threads-desktop").symlink_to(Path(sys.executable).with_name("threads-desktop"))
    runtime.mkdir(mode=0o700)
    unit = tmp_path / UNIT.name
    shutil.copy(UNIT, unit)
    env = {**os.environ, "HOME": str(home), "XDG_RUNTIME_DIR": str(runtime)}
    result = subprocess.run([analyze, "--user", "verify", str(unit)], capture_output=True, text=True, env=env,
                            timeout=60)
    # Any warning (an unknown key, a bad value) is printed even when the exit code is 0.
    assert result.returncode == 0 and result.stdout + result.stderr == "", result.stdout + result.stderr
