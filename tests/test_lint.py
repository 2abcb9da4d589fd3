"""ruff on the whole tree and strict mypy on the whole package stay clean; the
import rules hold and no new import cycle appears."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

ROOT = Path(__file__).parents[1]


def test_ruff_finds_nothing() -> None:
    result = subprocess.run([sys.executable, "-m", "ruff", "check", "threads_desktop", "tests"],
                            cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stdout + result.stderr


def test_mypy_is_strict_over_the_whole_package() -> None:
    """Not only the engine: the UI, the CLI and the app are checked too."""
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["mypy"]
    assert config["strict"] is True
    assert config["packages"] == ["threads_desktop"]


@pytest.mark.slow
def test_mypy_strict_on_the_whole_package_finds_nothing() -> None:
    result = subprocess.run([sys.executable, "-m", "mypy"], cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stdout + result.stderr


def test_the_import_contracts_in_pyproject_hold() -> None:
    """import-linter's contracts ([tool.importlinter]): the engine never
    imports Qt, the UI or the entry layer; the engine's tower; the network
    only through engine/networking.py and its Protocols; the UI only
    through ui/operations (and the engine client)."""
    lint_imports = Path(sys.executable).parent / "lint-imports"
    result = subprocess.run([str(lint_imports), "--no-cache"], cwd=ROOT, capture_output=True, text=True, timeout=120,
                            env={**os.environ, "PYTHONPATH": str(ROOT)})
    assert result.returncode == 0, result.stdout + result.stderr
    assert "0 broken" in result.stdout


def test_every_module_of_the_network_but_its_protocols_is_protected() -> None:
    """A module added to engine/net is behind the seam unless listed here."""
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["importlinter"]["contracts"]
    [protected] = [c for c in config if c["name"].startswith("The network only through its Protocols")]
    modules = {f"threads_desktop.engine.net.{p.stem}" for p in (ROOT / "threads_desktop/engine/net").glob("*.py")}
    assert set(protected["protected_modules"]) == modules - {"threads_desktop.engine.net.__init__",
                                                            "threads_desktop.engine.net.ports"}
    assert protected["allowed_importers"] == ["threads_desktop.engine.net", "threads_desktop.engine.networking"]


# Import cycles there are today, each with the issue item that removes it;
# any other cycle, or a module joining one of these, fails the test.
KNOWN_CYCLES: set[frozenset[str]] = set()


def import_cycles(imports: dict[str, set[str]]) -> set[frozenset[str]]:
    """The modules that import each other in a circle: the strongly
    connected components of more than one module (Tarjan, without recursion)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    cycles: set[frozenset[str]] = set()
    for root in sorted(imports):
        if root in index:
            continue
        work = [(root, iter(sorted(imports[root])))]
        index[root] = low[root] = len(index)
        stack.append(root)
        on_stack.add(root)
        while work:
            module, targets = work[-1]
            target = next(targets, None)
            if target is not None:
                if target not in index:
                    index[target] = low[target] = len(index)
                    stack.append(target)
                    on_stack.add(target)
                    work.append((target, iter(sorted(imports.get(target, ())))))
                elif target in on_stack:
                    low[module] = min(low[module], index[target])
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[module])
            if low[module] == index[module]:
                component = set()
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.add(member)
                    if member == module:
                        break
                if len(component) > 1:
                    cycles.add(frozenset(component))
    return cycles


def test_import_cycles_are_found() -> None:
    """The finder itself, on a small graph: a -> b -> c -> a is one cycle; d
    only imports into it; e imports itself through f."""
    imports = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}, "e": {"f"}, "f": {"e"}, "g": set()}
    assert import_cycles(imports) == {frozenset("abc"), frozenset("ef")}
    assert import_cycles({"a": {"b"}, "b": set()}) == set()


def test_no_import_cycle_inside_threads_desktop_but_the_known_ones() -> None:
    script = ("import grimp, json\n"
              "graph = grimp.build_graph('threads_desktop', cache_dir=None)\n"
              "print(json.dumps({m: sorted(graph.find_modules_directly_imported_by(m)) for m in graph.modules}))\n")
    result = subprocess.run([sys.executable, "-c", script], cwd=ROOT, capture_output=True, text=True, timeout=120,
                            env={**os.environ, "PYTHONPATH": str(ROOT)})
    assert result.returncode == 0, result.stderr
    imports = {module: set(targets) for module, targets in json.loads(result.stdout).items()}
    for module in imports:  # importing a.b runs a/__init__.py first: an import of a too
        parent = module.rpartition(".")[0]
        if parent in imports:
            imports[module].add(parent)
    assert import_cycles(imports) == KNOWN_CYCLES
