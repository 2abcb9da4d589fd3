"""Hybrid logical clock: wall-clock milliseconds with a logical counter.

Packed into one unsigned 64-bit integer (48 bits of milliseconds, 16 bits of
counter) so that events sort by a single integer field.
"""

from __future__ import annotations

from collections.abc import Callable

_COUNTER_BITS = 16
_COUNTER_MASK = (1 << _COUNTER_BITS) - 1
MAX_HLC = (1 << 64) - 1
# A peer's clock may run ahead of ours, but not by more than this: a stamp from
# further ahead (a broken clock, or a hostile peer pushing us towards MAX_HLC)
# moves our clock only this far.
MAX_DRIFT_MILLIS = 24 * 3600 * 1000


def pack(millis: int, counter: int) -> int:
    return (millis << _COUNTER_BITS) | counter


def unpack(hlc: int) -> tuple[int, int]:
    return hlc >> _COUNTER_BITS, hlc & _COUNTER_MASK


class HybridClock:
    """Issues strictly increasing timestamps that never run behind any timestamp
    observed from a peer, and stay close to the wall clock."""

    def __init__(self, now_millis: Callable[[], int], last: int = 0) -> None:
        """`last`: the latest stamp this profile has issued or seen, so a wall
        clock set back between runs cannot make new events sort before old ones."""
        self._now_millis = now_millis
        self._last = min(max(last, 0), MAX_HLC)

    @property
    def last(self) -> int:
        return self._last

    def tick(self) -> int:
        """A timestamp for a new local event."""
        wall = pack(self._now_millis(), 0)
        self._last = wall if wall > self._last else self._last + 1
        return self._last

    def observe(self, remote: int) -> None:
        """Move past a timestamp seen in a peer's event (up to the drift limit)."""
        limit = pack(self._now_millis() + MAX_DRIFT_MILLIS, 0)
        adopted = min(remote, limit)
        if 0 <= adopted <= MAX_HLC and adopted > self._last:
            self._last = adopted
