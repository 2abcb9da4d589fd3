"""One load from the engine at a time, for a view that shows a list the
engine computes: asks made while a load runs are folded into one more load
after it, so what is shown is never older than the last ask, and a burst of
change sets costs at most two calls."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Generic, TypeVar

from threads_desktop.engine.core.errors import ThreadsError

T = TypeVar("T")


class CoalescingLoad(Generic[T]):
    """`fetch` asks the engine; `show` puts the answer in the model, unless
    `alive` says the widget or model went away during the call; `loaded`
    runs once the newest answer is shown; `failed` gets the engine's error
    (the engine stopped, say) and ends the load."""

    def __init__(self, fetch: Callable[[], Awaitable[T]], show: Callable[[T], None], *,
                 alive: Callable[[], bool], loaded: Callable[[], None],
                 failed: Callable[[ThreadsError], None] | None = None) -> None:
        self._fetch = fetch
        self._show = show
        self._alive = alive
        self._loaded = loaded
        self._failed = failed
        self._task: asyncio.Task[None] | None = None
        self._again = False

    @property
    def busy(self) -> bool:
        """A load is under way: its answer may be from before what the caller just heard."""
        return self._task is not None and not self._task.done()

    def refresh(self) -> None:
        """Load now, or once more after the load under way."""
        if self.busy:
            self._again = True
            return
        self._task = asyncio.ensure_future(self._run())

    async def _run(self) -> None:
        while True:
            self._again = False
            try:
                answer = await self._fetch()
            except ThreadsError as exc:
                if self._failed is not None and self._alive():
                    self._failed(exc)
                return
            if not self._alive():
                return
            self._show(answer)
            if not self._again:
                break
        self._loaded()
