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
