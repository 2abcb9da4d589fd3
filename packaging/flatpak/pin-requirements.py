#!/usr/bin/env python3
"""Write python3-requirements.yaml, the module file the Flatpak manifest
includes, from pip's installation reports: what flatpak-pip-generator
writes, without needing it (see README.md here for the commands).

One module per line of requirements.txt, carrying the files of that
requirement and of everything it pulls in (pip installs each module with
--no-index from its own sources), after the build-only modules that sdists
need (setuptools, wheel), as the generator does. The URL and sha256 of each
file are those of the report; --check DIR recomputes every sha256 from the
files of DIR (a `pip download` of the same URLs) and fails on a difference.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import sys
import urllib.parse
from dataclasses import dataclass
from pathlib import Path

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

HERE = Path(__file__).resolve().parent

# The runtime's Python: org.kde.Platform 6.8 is on the freedesktop 24.08
# base (CPython 3.12, x86_64 only for this manifest's wheels).
TARGET = {
    "python_version": "3.12",
    "python_full_version": "3.12.0",
    "implementation_name": "cpython",
    "platform_python_implementation": "CPython",
    "sys_platform": "linux",
    "platform_system": "Linux",
    "platform_machine": "x86_64",
    "os_name": "posix",
}

PIP_INSTALL = ('pip3 install --verbose --exists-action=i --no-index --find-links="file://${{PWD}}" '
               '--prefix=${{FLATPAK_DEST}} "{name}" --no-build-isolation')


@dataclass(frozen=True)
class Dist:
    name: str
    url: str
    sha256: str
    requires: tuple[str, ...]

    @property
    def filename(self) -> str:
        return urllib.parse.unquote(self.url.rsplit("/", 1)[1])

    @property
    def platform_specific(self) -> bool:
        # A wheel's last tag is its platform; sdists build on any.
        return self.filename.endswith(".whl") and not self.filename.endswith("-any.whl")


def load_report(path: Path) -> dict[str, Dist]:
    dists = {}
    for item in json.loads(path.read_text())["install"]:
        meta, info = item["metadata"], item["download_info"]
        dists[canonicalize_name(meta["name"])] = Dist(
            meta["name"], info["url"], info["archive_info"]["hashes"]["sha256"],
            tuple(meta.get("requires_dist", ())))
    return dists


def closure(name: str, dists: dict[str, Dist]) -> list[Dist]:
    """The distribution and all it needs on the target, in the report's versions."""
    seen: dict[str, set[str]] = {}
    todo = [(canonicalize_name(name), frozenset[str]())]
    while todo:
        key, extras = todo.pop()
        if key in seen and extras <= seen[key]:
            continue
        seen.setdefault(key, set()).update(extras)
        for spec in dists[key].requires:
            req = Requirement(spec)
            wanted = ["", *sorted(seen[key])]
            if req.marker is None or any(req.marker.evaluate({**TARGET, "extra": e}) for e in wanted):
                todo.append((canonicalize_name(req.name), frozenset(req.extras)))
    return sorted((dists[k] for k in seen), key=lambda d: canonicalize_name(d.name))


def module(name: str, files: list[Dist]) -> list[str]:
    lines = [
        f"  - name: python3-{canonicalize_name(name)}",
        "    buildsystem: simple",
        "    build-commands:",
        f"      - {PIP_INSTALL.format(name=name)}",
        "    sources:",
    ]
    for dist in files:
        lines += ["      - type: file", f"        url: {dist.url}", f"        sha256: {dist.sha256}"]
        if dist.platform_specific:
            lines += ["        only-arches:", "          - x86_64"]
    return lines


def requirement_names(path: Path) -> list[str]:
    return [Requirement(line).name for line in (s.strip() for s in path.read_text().splitlines())
            if line and not line.startswith("#")]


def render(requirements: list[str], runtime: dict[str, Dist], build: dict[str, Dist]) -> str:
    out = [
        "# Written by pin-requirements.py from pip's reports for requirements.txt",
        "# (CPython 3.12, x86_64: the org.kde.Platform 6.8 runtime); see README.md.",
        "# The SDK has GMP (headers and libgmp.so) for fastecdsa's sdist and the",
        "# runtime its libgmp.so.10, so no module of its own here.",
        "name: python3-requirements",
        "buildsystem: simple",
        "build-commands: []",
        "modules:",
        "  # Build-only: the sdists below (cbrrr, fastecdsa, varint, python-baseconv)",
        "  # build with setuptools, without build isolation.",
    ]
    for name in ("setuptools", "wheel"):
        out += module(name, closure(name, build))
    for name in requirements:
        out += module(name, closure(name, runtime))
    return "\n".join(out) + "\n"


def check(dists: list[Dist], folder: Path) -> list[str]:
    problems = []
    for dist in dists:
        path = folder / dist.filename
        if not path.is_file():
            problems.append(f"{dist.filename}: not downloaded")
        elif hashlib.sha256(path.read_bytes()).hexdigest() != dist.sha256:
            problems.append(f"{dist.filename}: sha256 differs from the report's")
    return problems


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("report", type=Path, help="pip install --dry-run --report of requirements.txt")
    parser.add_argument("build_report", type=Path, help="the same for `setuptools wheel`")
    parser.add_argument("--check", type=Path, metavar="DIR", help="folder of the downloaded files")
    parser.add_argument("--output", type=Path, default=HERE / "python3-requirements.yaml")
    args = parser.parse_args()
    runtime, build = load_report(args.report), load_report(args.build_report)
    if args.check:
        problems = check([*runtime.values(), *build.values()], args.check)
        if problems:
            print("\n".join(problems), file=sys.stderr)
            return 1
    args.output.write_text(render(requirement_names(HERE / "requirements.txt"), runtime, build))
    return 0


if __name__ == "__main__":
    sys.exit(main())
