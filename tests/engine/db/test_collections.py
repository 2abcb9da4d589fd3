"""The collections API does what the paper's listings show: create, save (a
diff travels), find_one, a version per document, and subscriptions at thread,
collection and document level."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from tests.engine.eventstore.peers import envelopes_of, start_thread
from threads_desktop.engine.core.errors import NotFoundError, SchemaError
from threads_desktop.engine.core.types import ChangeSet
from threads_desktop.engine.db.collections import WriteBatch
from threads_desktop.engine.db.kv import KeyValueStore
from threads_desktop.engine.node import Node

OpenNode = Callable[[str], Node]


def _last_payload(node: Node, thread) -> object:  # type: ignore[no-untyped-def]
    return node.store.read_event(thread, envelopes_of(node, thread)[-1]).payload


def test_create_save_find_one_and_version(open_node: OpenNode) -> None:
    node = open_node("a")
    thread = start_thread(node)
    messages = node.collections(thread)["message"]
    doc_id = messages.create({"text": "This is Lucas."})
    message = messages.find_one({"text": "This is Lucas."})
    assert message is not None and message.id == doc_id and message.version == 1
    assert message.author == node.store.own_log(thread)

    messages.save(message, {**message.data, "text": "Actually, this is Fido."})
    # Only the diff and the document ID travel.
    assert _last_payload(node, thread) == {"type": "db", "ops": [
        {"op": "update", "c": "message", "id": doc_id, "set": {"text": "Actually, this is Fido."}}]}
    saved = messages.get(doc_id)
    assert saved.data == {"text": "Actually, this is Fido."} and saved.version == 2

    messages.delete(doc_id)
    assert messages.find_one_by_id(doc_id) is None
    with pytest.raises(NotFoundError):
        messages.get(doc_id)


def test_find_filters_orders_and_pages_on_indexed_fields(open_node: OpenNode) -> None:
    node = open_node("a")
    thread = start_thread(node)
    messages = node.collections(thread)["message"]
    first = messages.create({"text": "root"})
    writes = WriteBatch()
    replies = [messages.create({"text": f"reply {i}", "reply_to": first}, batch=writes) for i in range(5)]
    node.collections(thread).send(writes)  # five creates, one event
    assert [m.id for m in messages.find({"reply_to": first})] == replies
    assert [m.data["text"] for m in messages.find({"reply_to": first}, limit=2, offset=1)] == ["reply 1", "reply 2"]
    assert [m.id for m in messages.find({"reply_to": first}, order_by="reply_to", descending=True)] == \
        list(reversed(replies))
    assert messages.find({"text": "reply 3"})[0].id == replies[3]  # an unindexed field
    with pytest.raises(SchemaError):
        messages.find({"nope": 1})


def test_bad_values_are_refused_before_anything_is_sent(open_node: OpenNode) -> None:
    node = open_node("a")
    thread = start_thread(node)
    events_before = len(envelopes_of(node, thread))
    messages = node.collections(thread)["message"]
    with pytest.raises(SchemaError):
        messages.create({"text": 42})
    with pytest.raises(SchemaError):
        messages.create({"colour": "red"})
    assert len(envelopes_of(node, thread)) == events_before


def test_subscriptions_at_thread_collection_and_document_level(open_node: OpenNode) -> None:
    node = open_node("a")
    thread = start_thread(node)
    other = start_thread(node, name="Other")
    messages = node.collections(thread)["message"]
    doc_id = messages.create({"text": "watch me"})
    seen: dict[str, list[ChangeSet]] = {"thread": [], "collection": [], "document": [], "other": []}
    node.subscribe(seen["thread"].append, thread_id=thread)
    node.subscribe(seen["collection"].append, thread_id=thread, collection="message")
    node.subscribe(seen["document"].append, thread_id=thread, collection="message", doc_id=doc_id)
    node.subscribe(seen["other"].append, thread_id=other)
    messages.update(doc_id, {"text": "changed"})
    messages.create({"text": "another"})
    node.collections(thread)["kv"].create({"value": 1}, doc_id="k")
    assert len(seen["thread"]) == 3
    assert len(seen["collection"]) == 2
    assert len(seen["document"]) == 1
    assert seen["other"] == []


def test_the_key_value_store_puts_gets_and_deletes(open_node: OpenNode) -> None:
    node = open_node("a")
    thread = start_thread(node)
    kv = KeyValueStore(node.collections(thread)["kv"])
    kv.put("volume", 7)
    kv.put("volume", 8)
    kv.put("theme", {"dark": True})
    assert kv.get("volume") == 8 and kv.get("theme") == {"dark": True}
    kv.delete("volume")
    with pytest.raises(NotFoundError):
        kv.get("volume")


@pytest.mark.parametrize("descending", [False, True])
def test_ordered_ids_by_position_are_slices_of_the_whole_order(open_node: OpenNode, descending: bool) -> None:
    node = open_node("a")
    thread = start_thread(node)
    messages = node.collections(thread)["message"]
    root = messages.create({"text": "root"})
    writes = WriteBatch()
    for i in range(12):  # some with the ordering field (two per value: ties go by ID), some without
        messages.create({"text": f"m{i}", **({"reply_to": f"{root}-{i // 2}"} if i % 3 else {})}, batch=writes)
    node.collections(thread).send(writes)
    every = messages.ordered_ids("reply_to", descending=descending)
    assert len(every) == 13 and every[-5:] == sorted(every[-5:], reverse=descending)  # those without it last
    pages = [messages.ordered_ids("reply_to", descending=descending, limit=limit, offset=offset)
             for offset in range(0, 15) for limit in (1, 3, 5, 20)]
    assert pages == [every[offset:offset + limit] for offset in range(0, 15) for limit in (1, 3, 5, 20)]
