"""How the suite itself runs: `make test` spreads the test files over
pytest-xdist workers, one file on one worker, and the tests marked `slow`
are handed out first (tests/conftest.py)."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import tomllib
from pathlib import Path

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
