from __future__ import annotations

from collections.abc import Callable

from tests.engine.eventstore.peers import (
    envelopes_of,
    force_commit,
    join,
    message_id,
    start_thread,
    sync,
    view_dump,
)
from threads_desktop.engine.db.documents import db_event
from threads_desktop.engine.eventstore.store import SNAPSHOT_EVERY
from threads_desktop.engine.node import Node

OpenNode = Callable[[str], Node]


def test_an_event_waits_for_its_causal_context(open_node: OpenNode) -> None:
    a, b, reader = open_node("a"), open_node("b"), open_node("reader")
    thread = start_thread(a)
    join(a, b, thread)
    join(a, reader, thread, write=False)
    first = a.chat(thread).post("question?")
    sync(a, b, thread)
    b.chat(thread).post("answer", reply_to=first)  # depends on A's message
    b_log = b.store.own_log(thread)
    assert b_log is not None
    reader.receive(thread, [r.envelope for r in b.store.records_after(thread, b_log, 0)])
    assert reader.events.waiting_count(thread) == 1
    assert reader.collections(thread)["message"].count() == 0
    reader.receive(thread, envelopes_of(a, thread))
    assert reader.events.waiting_count(thread) == 0
    assert [m.data["text"] for m in reader.collections(thread)["message"].find()] == ["question?", "answer"]


def test_a_change_the_model_forbids_is_refused_everywhere_with_its_reason(open_node: OpenNode) -> None:
    a, b, reader = open_node("a"), open_node("b"), open_node("reader")
    thread = start_thread(a)
    join(a, b, thread)
    message = a.chat(thread).post("mine")
    sync(a, b, thread)
    # B goes around the API and edits A's message.
    force_commit(b, thread, [db_event({"op": "update", "c": "message", "id": message, "set": {"text": "hacked"}})])
    join(a, reader, thread, write=False)
    for node in (a, reader):
        sync(b, node, thread)
    for node in (a, b, reader):
        assert node.collections(thread)["message"].get(message).data["text"] == "mine"
        [(log_id, _seq, reason)] = node.events.refused(thread)
        assert log_id == b.store.own_log(thread) and "only the author" in reason


def test_snapshot_plus_tail_equals_full_replay_and_compaction_changes_no_view(open_node: OpenNode) -> None:
    a = open_node("a")
    thread = start_thread(a)
    chat = a.chat(thread)
    ids = [message_id(a, thread, i) for i in range(SNAPSHOT_EVERY + 20)]
    a.commit(thread, [db_event({"op": "create", "c": "message", "id": ids[i], "set": {"text": f"n{i}"}})
                      for i in range(SNAPSHOT_EVERY + 20)])  # crosses the snapshot point
    chat.edit(ids[3], "edited after the snapshot")
    chat.delete(ids[4])
    snapshot = a.events.latest_snapshot(thread)
    assert snapshot is not None and snapshot[0] == SNAPSHOT_EVERY
    expected = view_dump(a, thread)

    a.events.rebuild(thread, from_snapshot=False)
    assert view_dump(a, thread) == expected
    a.events.rebuild(thread, from_snapshot=True)
    assert view_dump(a, thread) == expected

    assert a.events.compact(thread) == SNAPSHOT_EVERY
    assert view_dump(a, thread) == expected
    a.events.rebuild(thread, from_snapshot=True)
    assert view_dump(a, thread) == expected
    # A full replay opens the compacted events again from the logs.
    a.events.rebuild(thread, from_snapshot=False)
    assert view_dump(a, thread) == expected


def test_peers_at_the_same_frontier_save_the_same_snapshot(open_node: OpenNode) -> None:
    a, b = open_node("a"), open_node("b")
    thread = start_thread(a)
    join(a, b, thread)
    a.chat(thread).post("one")
    sync(a, b, thread)
    b.chat(thread).post("two")
    sync(b, a, thread)
    a.events.snapshot(thread)
    b.events.snapshot(thread)
    assert a.events.latest_snapshot(thread) == b.events.latest_snapshot(thread)


def test_a_log_whose_clock_runs_backwards_applies_in_a_few_passes(open_node: OpenNode) -> None:
    from threads_desktop.engine.logstore.store import NewEvent

    writer, reader = open_node("w"), open_node("r")
    thread = start_thread(writer)
    join(writer, reader, thread, write=False)  # the writer admits with its own log applied
    writer.store.append_many(thread, [NewEvent(db_event({"op": "create", "c": "message",
                                                         "id": message_id(writer, thread, i),
                                                         "set": {"text": "x"}}), 10_000_000 - i)
                                      for i in range(300)])
    scans: list[str] = []
    reader.database.connection.set_trace_callback(
        lambda sql: scans.append(sql) if "state = 0 ORDER BY" in sql else None)
    reader.receive(thread, envelopes_of(writer, thread))
    reader.database.connection.set_trace_callback(None)
    assert reader.events.waiting_count(thread) == 0
    assert reader.collections(thread)["message"].count() == 300
    assert len(scans) <= 3  # not one pass per event
