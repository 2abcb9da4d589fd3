"""Any two peers holding the same records build byte-identical views,
whatever order the records arrived in."""

from __future__ import annotations

import random
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.engine.eventstore.peers import envelopes_of, join, start_thread, sync, view_dump
from threads_desktop.engine.core.errors import GapError
from threads_desktop.engine.core.ids import ThreadId
from threads_desktop.engine.logstore.envelopes import Envelope
from threads_desktop.engine.node import Node


@dataclass
class History:
    thread: ThreadId
    envelopes: list[Envelope] = field(repr=False)
    expected: list[tuple[object, ...]] = field(repr=False)
    writers: list[Node] = field(repr=False)


def _write_concurrently(a: Node, b: Node, c: Node, thread: ThreadId) -> None:
    """Three writers post, edit, react, comment and delete, partly offline."""
    chat_a, chat_b, chat_c = a.chat(thread), b.chat(thread), c.chat(thread)
    first = chat_a.post("hello everyone")
    for peer in (b, c):
        sync(a, peer, thread)
    # Offline, all at once: replies, edits and reactions to the same message.
    reply_b = chat_b.post("hi A", reply_to=first)
    chat_c.post("hey")
    chat_a.edit(first, "hello everyone!")
    chat_b.react(first, "👍")
    chat_c.react(first, "👍")
    chat_c.react(first, "🎉")
    a.directory.rename(thread, "Renamed by A")
    b.directory.rename(thread, "Renamed by B")  # concurrent: the later stamp wins everywhere
    sync(b, c, thread)
    chat_c.react(reply_b, "❤️")
    chat_c.react(first, "🎉", on=False)
    chat_b.delete(reply_b)                       # deleted while C reacts to it
    doomed = chat_a.post("typo")
    chat_a.delete(doomed)
    sync(c, a, thread)
    chat_a.post("after seeing C")
    chat_a.mark_read(first)


@pytest.fixture(scope="module")
def history(tmp_path_factory: pytest.TempPathFactory) -> Iterator[History]:
    root: Path = tmp_path_factory.mktemp("convergence")
    a, b, c = (Node.open(root / name) for name in "abc")
    thread = start_thread(a)
    join(a, b, thread)
    join(a, c, thread)
    _write_concurrently(a, b, c, thread)
    for source in (a, b, c):  # everyone gets everything
        for target in (a, b, c):
            if source is not target:
                sync(source, target, thread)
    envelopes = envelopes_of(a, thread)
    assert len({len(envelopes_of(n, thread)) for n in (a, b, c)}) == 1
    yield History(thread, envelopes, view_dump(a, thread), [a, b, c])
    for node in (a, b, c):
        node.close()


def test_the_writers_converge_to_identical_views(history: History) -> None:
    dumps = [view_dump(node, history.thread) for node in history.writers]
    assert dumps[0] == dumps[1] == dumps[2]
    summary = history.writers[0].get_thread(history.thread)
    assert summary.name in ("Renamed by A", "Renamed by B")
    messages = history.writers[1].chat(history.thread).history()
    assert [m.data.get("text") for m in messages] == ["hello everyone!", "hey", "after seeing C"]


def _deliver(reader: Node, thread: ThreadId, envelopes: list[Envelope]) -> None:
    """Deliver in the given order; what arrives before its log's predecessor
    is refused as a gap and fetched again later, as sync does."""
    pending = list(envelopes)
    while pending:
        retry = []
        for envelope, outcome in zip(pending, reader.receive(thread, pending), strict=True):
            if isinstance(outcome, GapError):
                retry.append(envelope)
            else:
                assert not isinstance(outcome, Exception), outcome
        assert len(retry) < len(pending)
        pending = retry


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(seed=st.integers(0, 2**32 - 1), one_by_one=st.booleans())
def test_every_arrival_order_builds_the_same_views(history: History, tmp_path_factory: pytest.TempPathFactory,
                                                   seed: int, one_by_one: bool) -> None:
    order = list(history.envelopes)
    random.Random(seed).shuffle(order)
    reader = Node.open(tmp_path_factory.mktemp("reader"))
    try:
        join(history.writers[0], reader, history.thread, write=False)
        if one_by_one:
            _deliver_one_by_one(reader, history.thread, order)
        else:
            _deliver(reader, history.thread, order)
        assert reader.events.waiting_count(history.thread) == 0
        assert view_dump(reader, history.thread) == history.expected
    finally:
        reader.close()


def _deliver_one_by_one(reader: Node, thread: ThreadId, order: list[Envelope]) -> None:
    """Each envelope alone; what came too early is held and offered again
    whenever something new got in."""
    held: list[Envelope] = []
    for envelope in order:
        held.append(envelope)
        progress = True
        while progress:
            progress = False
            for candidate in list(held):
                outcome = reader.receive(thread, [candidate])[0]
                if not isinstance(outcome, GapError):
                    assert not isinstance(outcome, Exception), outcome
                    held.remove(candidate)
                    progress = True
    assert held == []

