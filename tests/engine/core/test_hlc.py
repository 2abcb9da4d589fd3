from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from threads_desktop.engine.core.hlc import MAX_DRIFT_MILLIS, MAX_HLC, HybridClock, pack, unpack


def test_ticks_increase_even_when_the_wall_clock_stands_still_or_goes_back() -> None:
    wall = iter([1000, 1000, 1000, 999, 1001])
    clock = HybridClock(lambda: next(wall))
    stamps = [clock.tick() for _ in range(5)]
    assert stamps == sorted(set(stamps))
    assert unpack(stamps[0]) == (1000, 0)
    assert unpack(stamps[2]) == (1000, 2)
    assert unpack(stamps[4]) == (1001, 0)


def test_a_tick_after_observing_a_remote_stamp_comes_after_it() -> None:
    clock = HybridClock(lambda: 5)
    remote = pack(9000, 7)
    clock.observe(remote)
    assert clock.tick() > remote


@given(st.lists(st.one_of(st.tuples(st.just("tick"), st.integers(0, 2**40)),
                          st.tuples(st.just("observe"), st.integers(0, 2**56))), max_size=50))
def test_issued_stamps_are_strictly_increasing(steps: list[tuple[str, int]]) -> None:
    now = [0]
    clock = HybridClock(lambda: now[0])
    issued: list[int] = []
    for op, value in steps:
        if op == "tick":
            now[0] = value
            issued.append(clock.tick())
        else:
            clock.observe(value)
            if issued:
                assert clock.tick() > issued[-1]
    assert issued == sorted(set(issued))


def test_a_stamp_from_far_in_the_future_moves_the_clock_only_up_to_the_drift_limit() -> None:
    clock = HybridClock(lambda: 1_000)
    clock.observe(MAX_HLC)  # a hostile peer
    stamp = clock.tick()
    assert stamp <= pack(1_000 + MAX_DRIFT_MILLIS, 1) < MAX_HLC
