"""Waiting, in a benchmark, for a node to reach a state: what `bench sync`,
`bench album-join` and `bench hostile` time is how long a peer takes to get
there, so the wait wakes on the node's change sets, not on a sleep."""

from __future__ import annotations

from collections.abc import Callable

import trio

from threads_desktop.engine.core.types import ChangeSet
from threads_desktop.engine.node import Node

RECHECK_SECONDS = 0.05  # a condition that no change set announces (bytes of blocks on disk) is read this often


async def until(node: Node, condition: Callable[[], bool], seconds: float) -> bool:
    """Whether `condition()` became true within `seconds`, checked at once,
    after each change set the node publishes and every RECHECK_SECONDS."""
    changed = trio.Event()

    def on_change(_: ChangeSet) -> None:
        changed.set()

    unsubscribe = node.subscribe(on_change)
    try:
        with trio.move_on_after(seconds):
            while not condition():
                with trio.move_on_after(RECHECK_SECONDS):
                    await changed.wait()
                changed = trio.Event()
            return True
        return False
    finally:
        unsubscribe()


async def until_or_fail(node: Node, condition: Callable[[], bool], seconds: float) -> None:
    """As `until`, for a figure that cannot be had without it: raise
    trio.TooSlowError once `seconds` have passed."""
    if not await until(node, condition, seconds):
        raise trio.TooSlowError(f"the condition was not met within {seconds} s")
