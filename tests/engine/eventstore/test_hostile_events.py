"""Events a member crafts around the API: each is refused the same way on
every peer, changes nothing, and never blocks the rest of the thread."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.engine.eventstore.peers import (
    envelopes_of,
    force_commit,
    join,
    message_id,
    start_thread,
    sync,
    view_dump,
)
from threads_desktop.engine.core.errors import SchemaError
from threads_desktop.engine.core.keys import ThreadKey
from threads_desktop.engine.db.documents import db_event
from threads_desktop.engine.node import Node

OpenNode = Callable[[str], Node]


def test_a_create_cannot_take_over_a_document_its_writer_has_seen(open_node: OpenNode) -> None:
    a, b = open_node("a"), open_node("b")
    thread = start_thread(a)
    join(a, b, thread)
    message = a.chat(thread).post("mine")
    sync(a, b, thread)
    force_commit(b, thread, [db_event({"op": "create", "c": "message", "id": message, "set": {"text": "B's now"}})])
    force_commit(b, thread, [db_event({"op": "delete", "c": "message", "id": message})])
    sync(b, a, thread)
    for node in (a, b):
        assert node.collections(thread)["message"].get(message).data == {"text": "mine"}
        reasons = [reason for _, _, reason in node.events.refused(thread)]
        assert reasons[0] == "a new message's ID must be made by its author's log"
        assert reasons[1].endswith(f"may not delete others' items in message/{message}")


def test_an_update_of_a_document_its_writer_never_saw_is_refused_in_every_order(open_node: OpenNode) -> None:
    a, b = open_node("a"), open_node("b")
    first, second = open_node("r1"), open_node("r2")
    thread = start_thread(a)
    join(a, b, thread)
    a.collections(thread)["kv"].create({"value": "from A"}, doc_id="k")
    force_commit(b, thread, [db_event({"op": "update", "c": "kv", "id": "k", "set": {"value": "from B"}})])
    for reader in (first, second):
        join(a, reader, thread, write=False)
    first.receive(thread, envelopes_of(a, thread))
    sync(b, first, thread)
    sync(b, second, thread)
    second.receive(thread, envelopes_of(a, thread))
    assert view_dump(first, thread) == view_dump(second, thread)
    assert first.collections(thread)["kv"].get("k").data == {"value": "from A"}


@pytest.mark.parametrize("op", [
    {"op": "create", "c": "photo", "id": "p", "set": {"thumbnail": b"x", "preview": {}, "original": {},
                                                     "width": 1, "height": 1, "taken_at": 2**63}},
    {"op": "update", "c": "message", "id": "m", "unset": [[1]]},
    {"op": "create", "c": "message", "id": "m2", "set": {"text": None, "photos": [1] * 21}},
    {"op": "create", "c": "nowhere", "id": "x", "set": {}},
    {"op": "teleport", "c": "message", "id": "m"},
])
def test_a_malformed_op_is_refused_and_the_log_goes_on(open_node: OpenNode, op: dict[str, object]) -> None:
    a, b = open_node("a"), open_node("b")
    thread = start_thread(a)
    join(a, b, thread)
    a.chat(thread).post("m")
    sync(a, b, thread)
    force_commit(b, thread, [db_event(op)])
    b.chat(thread).post("still here")
    sync(b, a, thread)
    for node in (a, b):
        assert len(node.events.refused(thread)) == 1
        assert [m.data.get("text") for m in node.chat(thread).history()] == ["m", "still here"]
        assert node.events.waiting_count(thread) == 0


def test_an_event_too_large_to_sync_is_refused_before_it_is_written(open_node: OpenNode) -> None:
    a = open_node("a")
    thread = start_thread(a)
    before = len(envelopes_of(a, thread))
    with pytest.raises(SchemaError, match="at most"):
        a.collections(thread)["kv"].create({"value": os.urandom(2_200_000)}, doc_id="big")
    assert len(envelopes_of(a, thread)) == before


def test_events_of_a_key_epoch_not_yet_held_wait_and_apply_when_it_comes(open_node: OpenNode) -> None:
    a, b = open_node("a"), open_node("b")
    thread = start_thread(a)
    join(a, b, thread)
    # A new read key (as when a reader is removed); records still open with
    # the follow key, headers only with the new read key.
    new_key = ThreadKey(a.store.thread_keys(thread)[0].follow, os.urandom(32), epoch=1)
    a.add_thread_key(thread, new_key)
    # Sealed with it on purpose: a writer picks only epochs a keys op made.
    a.commit(thread, [db_event({"op": "create", "c": "message", "id": message_id(a, thread, 1),
                                "set": {"text": "under the new key"}})], key=new_key)
    sync(a, b, thread)
    assert b.events.waiting_count(thread) == 1 and b.chat(thread).history() == []
    b.add_thread_key(thread, new_key)
    assert b.events.waiting_count(thread) == 0
    assert [m.data["text"] for m in b.chat(thread).history()] == ["under the new key"]
    assert view_dump(a, thread) == view_dump(b, thread)


def test_a_wall_clock_set_back_between_runs_does_not_undo_later_edits(tmp_path: Path) -> None:
    now = [2_000_000_000.0]
    node = Node.open(tmp_path / "p", now_seconds=lambda: now[0])
    thread = node.create_thread("chat", "c").thread_id  # type: ignore[arg-type]
    message = node.chat(thread).post("first")
    node.close()
    now[0] -= 120  # the clock is set back two minutes
    node = Node.open(tmp_path / "p", now_seconds=lambda: now[0])
    try:
        node.chat(thread).edit(message, "second")
        assert node.chat(thread).messages.get(message).data["text"] == "second"
    finally:
        node.close()


def test_concurrent_writes_that_add_up_to_a_large_document_agree_in_every_order(open_node: OpenNode) -> None:
    # Found in review: a size limit on the merged document refused whichever
    # of two concurrent creates arrived second, so peers diverged.
    a, b, x, y = open_node("a"), open_node("b"), open_node("x"), open_node("y")
    thread = start_thread(a)
    join(a, b, thread)

    def photo(**big: object) -> dict[str, object]:
        fields = {"thumbnail": b"t", "preview": {}, "original": {}, "width": 1, "height": 1, **big}
        return db_event({"op": "create", "c": "photo", "id": "p", "set": fields})

    # Neither has seen the other's create; A's comes later, so its preview wins
    # and B's GPS stays: together more than any one event may hold.
    force_commit(b, thread, [photo(gps={"lat": os.urandom(1_600_000)})])
    force_commit(a, thread, [photo(preview={"k": os.urandom(1_600_000)})])
    for reader in (x, y):
        join(a, reader, thread, write=False)
    sync(a, x, thread)
    sync(b, x, thread)
    sync(b, y, thread)
    sync(a, y, thread)
    assert view_dump(x, thread) == view_dump(y, thread)
    assert x.events.refused(thread) == y.events.refused(thread) == []
    assert set(x.collections(thread)["photo"].get("p").data) >= {"preview", "gps"}


def test_an_event_may_create_a_document_and_change_it_at_once(open_node: OpenNode) -> None:
    from threads_desktop.engine.db.collections import WriteBatch

    a = open_node("a")
    thread = start_thread(a)
    kv = a.collections(thread)["kv"]
    writes = WriteBatch()
    kv.create({"value": 1}, doc_id="k", batch=writes)
    kv.update("k", {"value": 2}, batch=writes)
    kv.create({"value": 1}, doc_id="k2", batch=writes)
    kv.delete("k2", batch=writes)
    a.collections(thread).send(writes)
    assert a.events.refused(thread) == []
    assert kv.get("k").data == {"value": 2} and kv.find_one_by_id("k2") is None
