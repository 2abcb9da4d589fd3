"""An engine runtime that counts the calls the UI makes into it, to measure
how often views ask the engine again."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from threads_desktop.engine.runtime import EngineRuntime


class CountingRuntime(EngineRuntime):
    """The real engine thread, counting the calls the UI makes into it."""

    calls = 0

    async def call(self, fn: Any, *args: Any, **kwargs: Any) -> Any:
        self.calls += 1
        return await super().call(fn, *args, **kwargs)


class RecordingRuntime(CountingRuntime):
    """The real engine thread, recording which UI operations were called."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.operations: list[Callable[..., Any]] = []

    async def call(self, fn: Any, *args: Any, **kwargs: Any) -> Any:
        self.operations.append(fn)
        return await super().call(fn, *args, **kwargs)
