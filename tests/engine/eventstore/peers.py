"""Several real profiles writing to one thread, and moving records between
them the way sync will (by log, oldest first)."""

from __future__ import annotations

from threads_desktop.engine.core.ids import ThreadId
from threads_desktop.engine.core.types import ThreadKind
from threads_desktop.engine.logstore.envelopes import Envelope
from threads_desktop.engine.node import Node


def start_thread(owner: Node, kind: ThreadKind = ThreadKind.CHAT, name: str = "Us") -> ThreadId:
    return owner.create_thread(kind, name).thread_id


def join(owner: Node, member: Node, thread_id: ThreadId, *, write: bool = True) -> None:
    """Give `member` the thread's keys and a log of its own, as a join will."""
    member.store.create_thread(thread_id, owner.store.thread_keys(thread_id)[0])
    if write:
        member.store.create_own_log(thread_id)


def envelopes_of(node: Node, thread_id: ThreadId) -> list[Envelope]:
    """Every record `node` holds in the thread, log by log, oldest first."""
    return [r.envelope for log in node.store.logs(thread_id)
            for r in node.store.records_after(thread_id, log.log_id, 0, limit=1_000_000)]


def sync(source: Node, target: Node, thread_id: ThreadId) -> None:
    target.receive(thread_id, envelopes_of(source, thread_id))


def view_dump(node: Node, thread_id: ThreadId) -> list[tuple[object, ...]]:
    """The thread's views, row by row, in a canonical order."""
    rows: list[tuple[object, ...]] = []
    for table, order in (("documents", "collection, id"), ("fields", "collection, id, field"),
                         ("document_authors", "collection, id, log_id"),
                         ("document_index", "collection, field, value, id")):
        rows += [(table, *row) for row in node.database.connection.execute(
            f"SELECT * FROM {table} WHERE thread_id = ? ORDER BY {order}", (thread_id.raw,))]
    return rows
