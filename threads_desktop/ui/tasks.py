"""The coroutines a widget starts: kept until they end (asyncio holds only
weak references to tasks), cancelled together when the widget goes, and
their errors handed to the widget, never lost and never raised into Qt."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Coroutine
from typing import Any


class Tasks:
    def __init__(self, on_error: Callable[[BaseException], None]) -> None:
        self._on_error = on_error
        self._running: set[asyncio.Task[Any]] = set()
        self._closed = False

    def spawn(self, work: Coroutine[Any, Any, Any]) -> None:
        if self._closed:  # the widget is going: start nothing that would outlive it
            work.close()
            return
        task = asyncio.ensure_future(work)
        self._running.add(task)
        task.add_done_callback(self._finished)

    def _finished(self, task: asyncio.Task[Any]) -> None:
        self._running.discard(task)
        if task.cancelled() or self._closed:
            return
        error = task.exception()
        if error is not None:
            self._on_error(error)

    def cancel_all(self, *, close: bool = False) -> None:
        """Cancel what runs; with `close`, refuse new work too."""
        self._closed = self._closed or close
        for task in list(self._running):
            task.cancel()

    def __len__(self) -> int:
        return len(self._running)
