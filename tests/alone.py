"""Tests marked `alone` run with no other test beside them when the suite
runs on pytest-xdist workers (`make test`): they check that something is
served in time under a load they make themselves, and on a 2-core machine
another worker's test is load they did not make.

Two lock files in the run's temporary folder, which the workers share
(flock(2)): a test holds `running` shared, an `alone` test holds it
exclusive. Everyone passes `turnstile` first, and an `alone` test keeps it
while it waits for `running`: flock favours no waiter, so without it the
other workers could keep `running` shared between them for good. A wait is
bounded by the test's timeout (pytest-timeout covers the fixtures)."""

from __future__ import annotations

import fcntl
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path


@contextmanager
def _locked(path: Path, operation: int) -> Iterator[None]:
    with path.open("a") as file:
        fcntl.flock(file, operation)
        try:
            yield
        finally:
            fcntl.flock(file, fcntl.LOCK_UN)


@contextmanager
def beside_others(folder: Path) -> Iterator[None]:
    """While a test runs beside the other workers' tests."""
    with _locked(folder / "turnstile.lock", fcntl.LOCK_EX):
        pass
    with _locked(folder / "running.lock", fcntl.LOCK_SH):
        yield


@contextmanager
def alone(folder: Path) -> Iterator[None]:
    """While an `alone` test runs: no other worker's test runs."""
    with _locked(folder / "turnstile.lock", fcntl.LOCK_EX), _locked(folder / "running.lock", fcntl.LOCK_EX):
        yield
