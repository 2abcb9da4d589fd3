"""Keys a member lent us outside the log (issue 19: a device restored from a
backup older than a rotation; PROTOCOL §34).

They only open: records, and headers and bodies where the lender let us read.
With them a device takes what was written since its newest epoch, the
admin's key delivery among it, and reads it even when no admin is left to
deliver. They are never written with, never proved with and never stored: a
key a lying member lends opens only what that member sealed itself, in its
own log, which the ACL judges as its own words; and the real keys replace
them when they come. Kept apart per lender, so one liar cannot push out
another's honest keys.
"""

from __future__ import annotations

from collections.abc import Iterable

from threads_desktop.engine.core.ids import PeerId, ThreadId
from threads_desktop.engine.core.keys import ThreadKey

MAX_LENT_KEYS = 48  # per lender and thread, as many epochs as a key box holds
MAX_LENDERS = 8  # per thread; the one that lent longest ago goes first
MAX_LENT_THREADS = 4096


class LentKeys:
    """Per thread and lender, keys of epochs the profile does not hold."""

    def __init__(self) -> None:
        self._keys: dict[ThreadId, dict[PeerId, list[ThreadKey]]] = {}

    def lend(self, thread_id: ThreadId, lender: PeerId, keys: Iterable[ThreadKey], held_epochs: set[int]) -> bool:
        """Keep the keys of epochs not held, newest first and bounded (the
        lender's earlier loan is replaced); True if any was not lent before."""
        fresh = sorted((k for k in keys if k.epoch not in held_epochs), key=lambda k: k.epoch,
                       reverse=True)[:MAX_LENT_KEYS]
        lenders = self._keys.get(thread_id)
        if lenders is None:
            if not fresh or len(self._keys) >= MAX_LENT_THREADS:
                return False
            lenders = self._keys[thread_id] = {}
        known = {(k.epoch, k.follow, k.read) for loan in lenders.values() for k in loan}
        lenders.pop(lender, None)
        if fresh:
            lenders[lender] = fresh
            while len(lenders) > MAX_LENDERS:
                del lenders[next(iter(lenders))]
        return any((k.epoch, k.follow, k.read) not in known for k in fresh)

    def with_lent(self, thread_id: ThreadId, held: list[ThreadKey]) -> list[ThreadKey]:
        """`held`, then the lent keys of epochs still not held, newest first:
        held keys are tried first, so keys a liar lends cost honest records
        nothing."""
        lenders = self._keys.get(thread_id)
        if not lenders:
            return held
        epochs = {k.epoch for k in held}
        extra: dict[tuple[int, bytes, bytes | None], ThreadKey] = {}
        for lender, loan in list(lenders.items()):
            still = [k for k in loan if k.epoch not in epochs]
            if len(still) < len(loan):  # the real keys came: those lent are done with
                if still:
                    lenders[lender] = still
                else:
                    del lenders[lender]
            for key in still:
                extra.setdefault((key.epoch, key.follow, key.read), key)
        if not extra:
            return held
        return [*held, *sorted(extra.values(), key=lambda k: k.epoch, reverse=True)]

    def forget(self, thread_id: ThreadId) -> None:
        self._keys.pop(thread_id, None)
