"""Waiting on engine work from a Qt test."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable
from typing import TypeVar

T = TypeVar("T")


def wait_for(qtbot, work: Awaitable[T], timeout: int = 20_000) -> T:  # type: ignore[no-untyped-def]
    """Run `work` on the qasync loop while pytest-qt spins Qt; its result."""
    task = asyncio.ensure_future(work)
    qtbot.waitUntil(task.done, timeout=timeout)
    return task.result()
