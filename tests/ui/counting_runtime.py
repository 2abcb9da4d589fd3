"""An engine runtime that counts the calls the UI makes into it, to measure
how often views ask the engine again."""

from __future__ import annotations

from typing import Any

from threads_desktop.engine.runtime import EngineRuntime


class CountingRuntime(EngineRuntime):
    """The real engine thread, counting the calls the UI makes into it."""

    calls = 0

    async def call(self, fn: Any, *args: Any, **kwargs: Any) -> Any:  # type: ignore[override]
        self.calls += 1
        return await super().call(fn, *args, **kwargs)
