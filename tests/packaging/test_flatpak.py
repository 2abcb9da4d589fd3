"""The Flatpak manifest (packaging/flatpak/) cannot be built here (no
network for the runtime and the wheels): these tests check what can go
wrong without building it, namely that it names the app as its metainfo
does, installs resource files that exist, and asks for the dependencies
pyproject.toml has."""

from __future__ import annotations

import re
import tomllib
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[2]
FLATPAK = ROOT / "packaging" / "flatpak"
METAINFO = ROOT / "resources" / "io.github.threads_desktop.Threads.metainfo.xml"
APP_ID = METAINFO.name.removesuffix(".metainfo.xml")
MANIFEST = FLATPAK / f"{APP_ID}.yml"
ICON_SIZES = ("16", "24", "32", "48", "64", "128", "256", "512")


def _manifest() -> dict[str, Any]:
    yaml = pytest.importorskip("yaml")  # PyYAML is not a dependency of the project
    loaded = yaml.safe_load(MANIFEST.read_text())
    assert isinstance(loaded, dict)
    return loaded


def _pyproject_dependencies() -> list[str]:
    return list(tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["dependencies"])


def test_the_manifest_is_named_and_identified_by_the_metainfo_component_id() -> None:
    component_id = ET.parse(METAINFO).getroot().findtext("id")
    assert component_id == APP_ID
    assert re.search(rf"^app-id: {re.escape(APP_ID)}$", MANIFEST.read_text(), re.MULTILINE)


def test_every_repository_file_the_manifest_installs_exists() -> None:
    text = MANIFEST.read_text()
    named = set(re.findall(r"\b((?:resources|threads_desktop)/[\w./${}-]+)", text))
    assert any(p.endswith(".desktop") for p in named) and any(p.endswith(".metainfo.xml") for p in named)
    for path in {p.rstrip(".") for p in named}:  # a sentence may end on a path
        expanded = [path.replace("${size}", size) for size in ICON_SIZES] if "${size}" in path else [path]
        for one in expanded:
            assert (ROOT / one).is_file(), f"the manifest installs {one}, which is not in the repository"
    # The launchable it rewrites is the one the metainfo names.
    assert "<launchable type=\"desktop-id\">threads-desktop.desktop</launchable>" in METAINFO.read_text()
    assert re.search(r"launchable type=\\\"desktop-id\\\">threads-desktop\.desktop<", text)


def test_the_pip_requirements_are_those_of_pyproject_but_pyside6() -> None:
    listed = [line.strip() for line in (FLATPAK / "requirements.txt").read_text().splitlines()
              if line.strip() and not line.startswith("#")]
    expected = [d for d in _pyproject_dependencies() if not d.lower().startswith("pyside6")]
    assert listed == expected


def test_the_manifest_parses_and_builds_the_app_from_this_repository() -> None:
    manifest = _manifest()
    assert manifest["app-id"] == APP_ID and manifest["command"] == "threads-desktop"
    assert manifest["runtime"] == "org.kde.Platform" and manifest["sdk"] == "org.kde.Sdk"
    modules = manifest["modules"]
    app = modules[-1]
    assert app["name"] == "threads-desktop"
    source = app["sources"][0]
    assert source["type"] == "dir" and (MANIFEST.parent / source["path"]).resolve() == ROOT
    # PySide6 wheels pinned by hash, at a version pyproject.toml allows.
    pyside = next(m for m in modules if isinstance(m, dict) and m["name"] == "python3-pyside6-essentials")
    wheels = [s["url"].rsplit("/", 1)[1] for s in pyside["sources"]]
    assert all(len(s["sha256"]) == 64 for s in pyside["sources"])
    version = next(w.split("-")[1] for w in wheels if w.startswith("pyside6_essentials-"))
    spec = next(d for d in _pyproject_dependencies() if d.lower().startswith("pyside6"))
    low, high = re.findall(r"[<>]=?([\d.]+)", spec)
    as_tuple = [tuple(int(x) for x in v.split(".")) for v in (low, version, high)]
    assert as_tuple[0] <= as_tuple[1] < as_tuple[2]
    assert "--share=network" in manifest["finish-args"]


# python3-requirements.yaml, the module file the manifest includes (written by
# packaging/flatpak/pin-requirements.py): every requirement pinned by URL and
# sha256, in files the runtime's CPython 3.12 on x86_64 can install.
MODULE_FILE = FLATPAK / "python3-requirements.yaml"


def _requirement_files() -> dict[str, list[dict[str, Any]]]:
    """Module name -> its sources: parsed with PyYAML when it is there, else
    read from the fixed layout pin-requirements.py writes."""
    try:
        import yaml
    except ImportError:
        modules: dict[str, list[dict[str, Any]]] = {}
        current: list[dict[str, Any]] = []
        for line in MODULE_FILE.read_text().splitlines():
            if match := re.fullmatch(r"  - name: (\S+)", line):
                current = modules.setdefault(match[1], [])
            elif line == "      - type: file":
                current.append({"type": "file"})
            elif match := re.fullmatch(r"        (url|sha256): (\S+)", line):
                current[-1][match[1]] = match[2]
        return modules
    loaded = yaml.safe_load(MODULE_FILE.read_text())
    assert loaded["name"] == "python3-requirements" and loaded["buildsystem"] == "simple"
    return {m["name"]: m["sources"] for m in loaded["modules"]}


def test_the_manifest_includes_the_requirements_module_file_which_exists() -> None:
    assert "  - python3-requirements.yaml" in MANIFEST.read_text().splitlines()
    assert MODULE_FILE.is_file()


def test_every_requirement_module_pins_its_files_by_url_and_sha256() -> None:
    modules = _requirement_files()
    assert modules
    by_file: dict[str, str] = {}
    for name, sources in modules.items():
        assert sources, f"{name} has no sources"
        for source in sources:
            assert source["type"] == "file"
            assert source["url"].startswith("https://files.pythonhosted.org/packages/"), source
            assert re.fullmatch(r"[0-9a-f]{64}", source["sha256"]), source
            # A file shared by modules has one hash everywhere.
            filename = source["url"].rsplit("/", 1)[1]
            assert by_file.setdefault(filename, source["sha256"]) == source["sha256"], filename


def test_every_name_of_requirements_txt_has_its_module() -> None:
    modules = _requirement_files()
    listed = [re.split(r"[<>=!~;\[ ]", line.strip(), maxsplit=1)[0]
              for line in (FLATPAK / "requirements.txt").read_text().splitlines()
              if line.strip() and not line.startswith("#")]
    assert len(listed) == 17
    for name in listed:
        normal = re.sub(r"[-_.]+", "-", name).lower()
        sources = modules.get(f"python3-{normal}")
        assert sources, f"{name} of requirements.txt has no module"
        # The module carries the requirement's own file, not only its dependencies'.
        files = [s["url"].rsplit("/", 1)[1] for s in sources]
        assert any(re.sub(r"[-_.]+", "-", f.lower()).startswith(f"{normal}-") for f in files), name
        assert f'"{name}" --no-build-isolation' in MODULE_FILE.read_text()


def _installs_on_cpython_3_12(wheel: str) -> bool:
    """Whether the wheel's tags let CPython 3.12 on x86_64 Linux install it."""
    pythons, abi, platform = wheel.removesuffix(".whl").split("-")[-3:]
    on_linux_x86_64 = platform == "any" or ("linux" in platform and "x86_64" in platform)
    for python in pythons.split("."):
        if python == "py3" and abi == "none":
            return on_linux_x86_64
        if match := re.fullmatch(r"cp3(\d+)", python):
            minor = int(match[1])
            if (abi == "abi3" and minor <= 12) or (abi == "cp312" and minor == 12):
                return on_linux_x86_64
    return False


def test_the_files_suit_cpython_3_12_on_x86_64_and_sdists_build_after_setuptools() -> None:
    modules = _requirement_files()
    assert next(iter(modules)) == "python3-setuptools"
    files = {s["url"].rsplit("/", 1)[1] for sources in modules.values() for s in sources}
    sdists = {f for f in files if f.endswith(".tar.gz")}
    # cbrrr ships an sdist only and libp2p pins fastecdsa 2.3.2, which has no cp312 wheel.
    assert {"cbrrr-1.1.0.tar.gz", "fastecdsa-2.3.2.tar.gz"} <= sdists
    for wheel in files - sdists:
        assert _installs_on_cpython_3_12(wheel), wheel
