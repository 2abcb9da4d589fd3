"""What each stateful part forgets of a thread when the profile leaves it.

A part that keeps something per thread (rows, caches, pending network work)
registers its `forget(thread_id)` here, in the one wiring place (Node.open,
engine/networking.py); leaving calls them all. Nobody reaches into another
part's state to clear it.
"""

from __future__ import annotations

from collections.abc import Callable

from threads_desktop.engine.core.ids import ThreadId

Forget = Callable[[ThreadId], None]


class ThreadForgetters:
    """The registered `forget(thread_id)`s, called in registration order."""

    def __init__(self) -> None:
        self._forgetters: list[Forget] = []

    def register(self, forget: Forget) -> Callable[[], None]:
        """Add one; returns what takes it back."""
        self._forgetters.append(forget)
        return lambda: self._forgetters.remove(forget)

    def forget(self, thread_id: ThreadId) -> None:
        for forget in list(self._forgetters):
            forget(thread_id)

    def __len__(self) -> int:
        return len(self._forgetters)
