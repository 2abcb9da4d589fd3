from __future__ import annotations

import hashlib
import os
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

# Qt must never look for a screen in the tests.
os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

from tests.alone import alone, beside_others
from threads_desktop.engine.node import Node
from threads_desktop.engine.runtime import EngineRuntime


def deterministic_bytes(seed: bytes) -> Callable[[int], bytes]:
    """A reproducible stand-in for os.urandom (golden vectors, replays)."""
    counter = 0

    def random_bytes(n: int) -> bytes:
        nonlocal counter
        out = b""
        while len(out) < n:
            out += hashlib.sha256(seed + counter.to_bytes(8, "big")).digest()
            counter += 1
        return out[:n]

    return random_bytes


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """The tests marked `slow` first (in their order, then the rest in
    theirs): pytest-xdist hands tests out in this order, so the long ones
    start while the quick ones fill the other workers, instead of one long
    test starting last and keeping the run waiting for it alone. The order is
    the same on every worker, as xdist requires."""
    items.sort(key=lambda item: item.get_closest_marker("slow") is None)


@pytest.fixture(autouse=True)
def one_at_a_time_where_marked_alone(request: pytest.FixtureRequest,
                                     tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    """Under pytest-xdist, a test marked `alone` runs with no other test
    beside it (tests/alone.py says why and how); in one process, nothing to do."""
    if "PYTEST_XDIST_WORKER" not in os.environ:
        yield
        return
    shared = tmp_path_factory.getbasetemp().parent  # the run's folder; each worker's is in it
    with (alone if request.node.get_closest_marker("alone") else beside_others)(shared):
        yield


@pytest.fixture(autouse=True)
def private_user_settings(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """The user's app settings (AppSettings.user(): window size, last album,
    sort order, the name prompt) in a folder of each test's own: a test never
    reads what another left there, nor the developer's own settings."""
    from PySide6.QtCore import QSettings

    folder = tmp_path_factory.mktemp("user-settings")
    for settings_format in (QSettings.Format.NativeFormat, QSettings.Format.IniFormat):
        QSettings.setPath(settings_format, QSettings.Scope.UserScope, str(folder))
    yield folder


@pytest.fixture
def runtime(tmp_path: Path) -> Iterator[EngineRuntime]:
    """A profile opened on its own engine thread, as the app runs it."""
    engine = EngineRuntime(lambda: Node.open(tmp_path / "profile"))
    engine.start()
    yield engine
    engine.stop()


@pytest.fixture
def open_node(tmp_path: Path) -> Iterator[Callable[..., Node]]:
    """Opens real profiles (real SQLite files) under tmp_path; closes them after."""
    opened: list[Node] = []

    def factory(name: str = "profile", now_seconds: Callable[[], float] = time.time) -> Node:
        node = Node.open(tmp_path / name, now_seconds=now_seconds)
        opened.append(node)
        return node

    yield factory
    for node in opened:
        node.close()  # closing twice is harmless: a test may have closed it


@pytest.fixture
def node(open_node: Callable[..., Node]) -> Node:
    """One real profile, closed after the test."""
    return open_node()


@pytest.fixture
def two_app_engines(tmp_path: Path) -> Iterator[tuple[EngineRuntime, EngineRuntime]]:
    """Two profiles each on an engine thread with what the app runs beside it
    (network on 127.0.0.1, no LAN discovery; control socket)."""
    from threads_desktop.app import background_services
    from threads_desktop.cli.commands import forwarding_handler

    engines = [EngineRuntime(lambda name=name: Node.open(tmp_path / name),  # type: ignore[misc]
                             background_services(["/ip4/127.0.0.1/tcp/0"], lan_discovery=False,
                                                        commands=forwarding_handler)) for name in ("a", "b")]
    for engine in engines:
        engine.start()
    yield engines[0], engines[1]
    for engine in engines:
        engine.stop()
