from __future__ import annotations

import itertools
import os
from collections.abc import Callable

import pytest

from tests.engine.logstore.helpers import (
    FOUNDING,
    all_envelopes,
    append_messages,
    new_chat,
    share,
    snapshot,
    writer_and_reader,
)
from threads_desktop.engine.core.errors import (
    CodecError,
    ForkError,
    GapError,
    MissingKeyError,
    NotFoundError,
    ThreadsError,
)
from threads_desktop.engine.core.ids import ThreadId, ThreadVariant
from threads_desktop.engine.core.keys import ThreadKey
from threads_desktop.engine.logstore.envelopes import build_envelope, check_envelope
from threads_desktop.engine.logstore.store import IngestOutcome, NewEvent
from threads_desktop.engine.node import Node

OpenNode = Callable[[str], Node]


def test_appends_form_a_verified_chain_readable_after_any_seq(open_node: OpenNode) -> None:
    node = open_node("a")
    thread = new_chat(node)
    append_messages(node, thread, 20)
    log_id = node.store.own_log(thread)
    assert log_id is not None
    assert node.store.verify_log(thread, log_id) == FOUNDING + 20
    page = node.store.records_after(thread, log_id, 10, limit=5)
    assert [r.seq for r in page] == [11, 12, 13, 14, 15]
    for earlier, later in itertools.pairwise(page):
        assert check_envelope(thread, later.envelope, node.store.thread_keys(thread)).record.prev_cid == \
            earlier.record_cid
    payload = node.store.read_event(thread, page[0].envelope).payload
    assert payload == {"type": "chat.message", "text": f"message {10 - FOUNDING}"}  # seq 11


def test_a_reader_ingests_every_record_and_reads_the_same_events(open_node: OpenNode) -> None:
    writer, reader = open_node("writer"), open_node("reader")
    thread, envelopes = writer_and_reader(writer, reader, 50)
    assert reader.store.ingest_many(thread, envelopes) == [IngestOutcome.ADDED] * len(envelopes)
    log_id = writer.store.own_log(thread)
    assert log_id is not None
    assert reader.store.verify_log(thread, log_id) == FOUNDING + 50
    assert [r.envelope for r in reader.store.records_after(thread, log_id, 0, limit=100)] == envelopes
    assert [reader.store.read_event(thread, e).payload for e in envelopes] == \
        [writer.store.read_event(thread, e).payload for e in envelopes]


def test_ingesting_the_same_records_again_is_a_no_op(open_node: OpenNode) -> None:
    writer, reader = open_node("writer"), open_node("reader")
    thread, envelopes = writer_and_reader(writer, reader, 5)
    reader.store.ingest_many(thread, envelopes)
    before = snapshot(reader)
    assert reader.store.ingest_many(thread, envelopes) == [IngestOutcome.DUPLICATE] * (FOUNDING + 5)
    assert reader.store.ingest(thread, envelopes[2]) is IngestOutcome.DUPLICATE
    assert snapshot(reader) == before


def test_a_gap_is_refused_and_changes_nothing(open_node: OpenNode) -> None:
    writer, reader = open_node("writer"), open_node("reader")
    thread, envelopes = writer_and_reader(writer, reader, 5)
    reader.store.ingest_many(thread, envelopes[:2])
    before = snapshot(reader)
    with pytest.raises(GapError, match="held up to seq 2"):
        reader.store.ingest(thread, envelopes[4])
    assert snapshot(reader) == before


def test_a_fork_is_refused_and_changes_nothing(open_node: OpenNode) -> None:
    writer, reader = open_node("writer"), open_node("reader")
    thread, envelopes = writer_and_reader(writer, reader, 3)
    reader.store.ingest_many(thread, envelopes)
    # The log's owner signs a second, different record for seq 3.
    log_id = writer.store.own_log(thread)
    assert log_id is not None
    second = check_envelope(thread, envelopes[1], writer.store.thread_keys(thread))
    fork = build_envelope(thread_id=thread, key=writer.store.thread_keys(thread)[0],
                          log_key=writer.store._log_key(thread, log_id), prev_cid=second.record_cid, seq=3,
                          payload={"text": "other"}, hlc=1, deps=[], random_bytes=os.urandom)
    before = snapshot(reader)
    with pytest.raises(ForkError):
        reader.store.ingest(thread, fork.envelope)
    assert snapshot(reader) == before


def test_a_bad_record_in_a_page_is_refused_alone(open_node: OpenNode) -> None:
    writer, reader = open_node("writer"), open_node("reader")
    thread, envelopes = writer_and_reader(writer, reader, 60)
    damaged = envelopes[40]
    envelopes[40] = type(damaged)(damaged.record, damaged.event, damaged.header, damaged.body + b"\x00")
    outcomes = reader.store.ingest_many(thread, envelopes)
    assert outcomes[:40] == [IngestOutcome.ADDED] * 40
    assert isinstance(outcomes[40], ThreadsError)
    assert all(isinstance(o, GapError) for o in outcomes[41:])
    log_id = writer.store.own_log(thread)
    assert log_id is not None
    assert reader.store.verify_log(thread, log_id) == 40


def test_a_follower_verifies_and_walks_the_log_but_cannot_read_it(open_node: OpenNode) -> None:
    writer, follower = open_node("writer"), open_node("follower")
    thread = new_chat(writer)
    append_messages(writer, thread, 10)
    share(writer, follower, thread, follow_only=True)
    envelopes = all_envelopes(writer, thread)
    assert follower.store.ingest_many(thread, envelopes) == [IngestOutcome.ADDED] * (FOUNDING + 10)
    log_id = writer.store.own_log(thread)
    assert log_id is not None
    walked = list(follower.store.walk(thread, log_id))
    assert [r.seq for r in walked] == list(range(FOUNDING + 10, 0, -1))
    with pytest.raises(MissingKeyError):
        follower.store.read_event(thread, envelopes[3])
    follower.close()
    files = sorted(follower.profile.directory.glob("profile.sqlite3*"))
    assert files
    for path in files:
        assert b"message 3" not in path.read_bytes()


def test_operations_on_an_unknown_thread_are_refused(open_node: OpenNode) -> None:
    writer, other = open_node("writer"), open_node("other")
    thread = new_chat(writer)
    with pytest.raises(NotFoundError):
        other.store.ingest(thread, all_envelopes(writer, thread)[0])
    with pytest.raises(NotFoundError):
        other.store.thread_keys(thread)
    with pytest.raises(MissingKeyError):
        other.store.append(thread, {"text": "x"}, hlc=1)


def test_append_many_adds_all_events_or_none(open_node: OpenNode) -> None:
    node = open_node("a")
    thread = new_chat(node)
    before = snapshot(node)
    with pytest.raises(CodecError):
        node.store.append_many(thread, [NewEvent({"n": 1}, 1), NewEvent({"bad": {1, 2}}, 2), NewEvent({"n": 3}, 3)])
    assert snapshot(node) == before
    added = node.store.append_many(thread, [NewEvent({"n": i}, i) for i in range(3)])
    assert [a.seq for a in added] == [FOUNDING + 1, FOUNDING + 2, FOUNDING + 3]


def test_appends_continue_the_log_after_an_enclosing_transaction_rolls_back(open_node: OpenNode) -> None:
    node = open_node("a")
    thread = new_chat(node)
    with pytest.raises(RuntimeError), node.database.write():
        append_messages(node, thread, 5)  # moves the store's idea of our head to seq 6...
        raise RuntimeError("...and then the whole transaction is undone")
    appended = node.store.append(thread, {"text": "after"}, hlc=99)
    assert appended.seq == FOUNDING + 1
    log_id = node.store.own_log(thread)
    assert log_id is not None
    assert node.store.verify_log(thread, log_id) == FOUNDING + 1


def test_a_rolled_back_log_creation_leaves_no_cached_log_behind(open_node: OpenNode) -> None:
    # Found in review: caches filled inside a transaction that then rolled
    # back pointed appends at a reused row, i.e. at another peer's log.
    mine, theirs = open_node("mine"), open_node("theirs")
    their_thread = new_chat(theirs)
    joined = ThreadId.from_random(ThreadVariant.ACCESS_CONTROLLED, os.urandom(32))
    mine.store.create_thread(joined, ThreadKey(os.urandom(32), os.urandom(32)))
    with pytest.raises(RuntimeError), mine.database.write():
        mine.store.create_own_log(joined)
        mine.store.append(joined, {"type": "joined"}, hlc=1)
        raise RuntimeError("a later step fails")
    assert mine.store.own_log(joined) is None
    share(theirs, mine, their_thread)
    mine.store.ingest(their_thread, all_envelopes(theirs, their_thread)[0])  # takes the freed row
    mine.store.create_own_log(joined)
    assert mine.store.append(joined, {"text": "hi"}, hlc=2).seq == 1
    their_log = theirs.store.own_log(their_thread)
    my_log = mine.store.own_log(joined)
    assert their_log is not None and my_log is not None
    assert mine.store.verify_log(their_thread, their_log) == 1
    assert mine.store.verify_log(joined, my_log) == 1


def test_a_rolled_back_key_epoch_is_not_used(open_node: OpenNode) -> None:
    node = open_node("a")
    thread = new_chat(node)
    with pytest.raises(RuntimeError), node.database.write():
        node.store.add_thread_key(thread, ThreadKey(os.urandom(32), os.urandom(32), epoch=1))
        assert [k.epoch for k in node.store.thread_keys(thread)] == [1, 0]
        raise RuntimeError("the rotation fails half way")
    assert [k.epoch for k in node.store.thread_keys(thread)] == [0]
    appended = node.store.append(thread, {"text": "x"}, hlc=5)
    assert node.store.read_event(thread, appended.envelope).header.epoch == 0
