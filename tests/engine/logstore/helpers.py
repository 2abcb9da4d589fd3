"""Shared set-up for log store tests: writers, readers and store snapshots."""

from __future__ import annotations

from threads_desktop.engine.core.ids import ThreadId
from threads_desktop.engine.core.types import ThreadKind
from threads_desktop.engine.logstore.envelopes import Envelope
from threads_desktop.engine.node import Node

FOUNDING = 2  # a new thread's first events: its ACL genesis, then its name and kind


def new_chat(node: Node, name: str = "chat") -> ThreadId:
    return node.create_thread(ThreadKind.CHAT, name).thread_id


def append_messages(node: Node, thread_id: ThreadId, count: int, start: int = 0) -> list[Envelope]:
    with node.database.write():
        return [node.store.append(thread_id, {"type": "chat.message", "text": f"message {i}"},
                                  hlc=1000 + i).envelope for i in range(start, start + count)]


def all_envelopes(node: Node, thread_id: ThreadId) -> list[Envelope]:
    log_id = node.store.own_log(thread_id)
    assert log_id is not None
    return [r.envelope for r in node.store.records_after(thread_id, log_id, 0, limit=1_000_000)]


def share(writer: Node, reader: Node, thread_id: ThreadId, *, follow_only: bool = False) -> None:
    """Give `reader` the thread's keys, as a join will (read, or follow only)."""
    key = writer.store.thread_keys(thread_id)[0]
    reader.store.create_thread(thread_id, key.follow_only() if follow_only else key)


def snapshot(node: Node) -> list[str]:
    """Everything in the store, to prove an operation changed nothing."""
    return list(node.database.connection.iterdump())


def writer_and_reader(writer: Node, reader: Node, messages: int) -> tuple[ThreadId, list[Envelope]]:
    """A chat of `writer` with `messages` messages (after its first event),
    whose keys `reader` holds; returns the thread and all its envelopes."""
    thread_id = new_chat(writer)
    append_messages(writer, thread_id, messages)
    share(writer, reader, thread_id)
    return thread_id, all_envelopes(writer, thread_id)
