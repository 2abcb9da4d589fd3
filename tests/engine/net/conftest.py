"""Tests that build network namespaces (threads_desktop/bench/netns.py and
lab.py) skip with the reason where namespaces cannot be made; under CI (as
root, with the tools installed by scripts/install-system-deps.sh) that is a
failure, never a quiet skip."""

from __future__ import annotations

import os
from collections.abc import Generator
from typing import Any

import pytest

from threads_desktop.bench.netns import LabUnavailable


def _skip_or_fail(exc: LabUnavailable) -> None:
    if os.environ.get("CI"):
        pytest.fail(str(exc))
    pytest.skip(str(exc))


@pytest.hookimpl(wrapper=True)
def pytest_runtest_setup(item: pytest.Item) -> Generator[None, Any, Any]:
    try:
        return (yield)
    except LabUnavailable as exc:
        _skip_or_fail(exc)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_call(item: pytest.Item) -> Generator[None, Any, Any]:
    try:
        return (yield)
    except LabUnavailable as exc:
        _skip_or_fail(exc)
