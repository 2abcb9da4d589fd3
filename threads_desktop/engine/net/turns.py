"""Members first on the engine's one trio thread.

trio has no priorities: every runnable task gets its turn, so under attack
an honest member's round trip waits behind hundreds of strangers' tasks
(their stream negotiations, the bytes of their stalled messages, each
decrypted). While a member's request is being answered, or our own pass
with a member runs (and for a short grace after, so the member's next
request finds the thread free), reads of strangers' connections wait:
what they send stays in the kernel's buffers, and their tasks leave the
run queue. A stranger waits at most `stranger_read_wait_seconds` per read,
so strangers (a joiner not admitted yet among them) still get a few reads
a second while members are busy, and all of them once members are done.
Connections still in their handshake are not held (admission.py bounds
them); a stranger is anyone `budgets.Budgets.is_member` does not know.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager

import trio

from threads_desktop.engine.net.budgets import Limits


class MembersFirst:
    """Says when members are being served; strangers' reads wait for it (`strangers_turn`)."""

    def __init__(self, limits: Limits | None = None, clock: Callable[[], float] = time.monotonic) -> None:
        self.limits = limits or Limits()
        self._clock = clock
        self._serving = 0
        self._quiet_until = 0.0  # members' work ended; strangers wait until this too
        self._quiet = trio.Event()
        self._quiet.set()
        self.waited = 0  # strangers' reads that waited for members (figures, tests)

    @property
    def busy(self) -> bool:
        return self._serving > 0 or self._clock() < self._quiet_until

    @contextmanager
    def serving(self) -> Iterator[None]:
        """Around a member's request (answer and reply), or our own pass with a member."""
        if not self._serving:
            self._quiet = trio.Event()
        self._serving += 1
        try:
            yield
        finally:
            self._serving -= 1
            if not self._serving:
                self._quiet_until = self._clock() + self.limits.members_first_grace_seconds
                self._quiet.set()

    async def strangers_turn(self) -> None:
        """Returns at once unless members are being served; then once they
        are done, or after `stranger_read_wait_seconds` at most."""
        if not self.busy:
            return
        self.waited += 1
        with trio.move_on_after(self.limits.stranger_read_wait_seconds):
            while self.busy:
                if self._serving:
                    await self._quiet.wait()
                else:
                    await trio.sleep(max(0.0, self._quiet_until - self._clock()))
