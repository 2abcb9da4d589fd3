"""Paging of records and a log's position (engine/net/paging.py): one rule
for both sides of a session."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from threads_desktop.engine.core.keys import SigningKey
from threads_desktop.engine.logstore.envelopes import Envelope
from threads_desktop.engine.logstore.store import LogHead, StoredRecord
from threads_desktop.engine.net import paging


def _record(seq: int, size: int) -> StoredRecord:
    return StoredRecord(seq, b"cid", Envelope(b"r" * size, b"", b"", b""))


@given(st.lists(st.integers(0, 3 * paging.PAGE_BYTES // 4), max_size=12), st.integers(1, 2 * paging.PAGE_BYTES))
def test_a_page_is_the_longest_prefix_within_the_budget_and_never_empty(sizes: list[int], budget: int) -> None:
    records = [_record(seq, size) for seq, size in enumerate(sizes, 1)]
    page = paging.record_page(iter(records), budget)
    assert page == records[:len(page)]
    assert bool(page) == bool(records)
    used = sum(sizes[:len(page)])
    assert used <= budget or len(page) == 1
    if len(page) < len(records):
        assert used + sizes[len(page)] > budget


def test_a_log_position_is_its_head_seq_or_zero() -> None:
    ours, theirs, absent = (SigningKey.generate().peer_id for _ in range(3))
    heads = [LogHead(ours, b"h", 7, True), LogHead(theirs, None, 0, False)]
    assert [paging.log_position(heads, log) for log in (ours, theirs, absent)] == [7, 0, 0]
