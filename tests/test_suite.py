"""How the suite itself runs: `make test` spreads the test files over
pytest-xdist workers, one file on one worker, and the tests marked `slow`
are handed out first (tests/conftest.py); a test marked `alone` runs with
no other test beside it (tests/alone.py)."""

from __future__ import annotations

import fcntl
import os
import re
import subprocess
import sys
import threading
import time
import tomllib
from collections.abc import Callable
from contextlib import AbstractContextManager
from pathlib import Path

from tests.alone import alone, beside_others

ROOT = Path(__file__).parents[1]


def _collected(*args: str) -> list[str]:
    result = subprocess.run([sys.executable, "-m", "pytest", "--collect-only", "-q", "-p", "no:cacheprovider", *args],
                            cwd=ROOT, capture_output=True, text=True, timeout=120,
                            env={**os.environ, "PYTHONPATH": str(ROOT)})
    assert result.returncode == 0, result.stdout + result.stderr
    return [line for line in result.stdout.splitlines() if "::" in line]


def test_make_test_runs_the_files_on_parallel_workers_each_file_on_one_worker() -> None:
    dry_run = subprocess.run(["make", "-n", "test"], cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert dry_run.returncode == 0, dry_run.stderr
    [pytest_command] = [line for line in dry_run.stdout.replace("\\\n", " ").splitlines() if " -m pytest" in line]
    workers = re.search(r" -n (\d+)", pytest_command)
    assert workers is not None and int(workers.group(1)) >= 2, pytest_command
    # One file on one worker: the bundle's tests build dist/ once, never two at a time.
    assert "--dist loadfile" in pytest_command
    test_extra = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["optional-dependencies"]["test"]
    assert any(requirement.startswith("pytest-xdist") for requirement in test_extra)


def test_the_slow_tests_are_collected_first_and_the_rest_keep_their_order() -> None:
    files = ["tests/test_resources.py", "tests/test_lint.py"]  # the slow one in the second file
    slow, quick = _collected("-m", "slow", *files), _collected("-m", "not slow", *files)
    assert slow and quick
    assert _collected(*files) == slow + quick


def _eventually(check: Callable[[], bool], seconds: float = 10.0) -> bool:
    deadline, tick = time.monotonic() + seconds, threading.Event()
    while not check():
        if time.monotonic() > deadline:
            return False
        tick.wait(0.01)
    return True


def _taken(path: Path) -> bool:
    with path.open("a") as file:
        try:
            fcntl.flock(file, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return True
        fcntl.flock(file, fcntl.LOCK_UN)
        return False


def test_an_alone_test_waits_for_the_running_tests_and_tests_that_come_after_it_wait_for_it(tmp_path: Path) -> None:
    events: list[str] = []
    first_may_end, alone_may_end = threading.Event(), threading.Event()

    def run(name: str, lock: Callable[[Path], AbstractContextManager[None]], may_end: threading.Event) -> None:
        with lock(tmp_path):
            events.append(f"{name} runs")
            may_end.wait(10)
            events.append(f"{name} ends")

    first = threading.Thread(target=run, args=("first", beside_others, first_may_end))
    first.start()
    assert _eventually(lambda: events == ["first runs"])
    waiting = threading.Thread(target=run, args=("alone", alone, alone_may_end))
    waiting.start()
    assert _eventually(lambda: _taken(tmp_path / "turnstile.lock"))  # held while it waits for the first
    at_once = threading.Event()
    at_once.set()
    later = threading.Thread(target=run, args=("later", beside_others, at_once))
    later.start()
    assert not _eventually(lambda: len(events) > 1, seconds=0.5)  # neither the alone one nor the later one runs
    first_may_end.set()
    assert _eventually(lambda: events[-1] == "alone runs")
    assert not _eventually(lambda: "later runs" in events, seconds=0.5)  # not beside the alone one
    alone_may_end.set()
    for thread in (first, waiting, later):
        thread.join(10)
    assert events == ["first runs", "first ends", "alone runs", "alone ends", "later runs", "later ends"]
