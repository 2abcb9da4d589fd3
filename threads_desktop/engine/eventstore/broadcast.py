"""Change sets to subscribers, at three levels: a whole thread, one
collection of it, or one document."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from threads_desktop.engine.core.ids import ThreadId
from threads_desktop.engine.core.types import ChangeSet
from threads_desktop.engine.eventstore.store import AppliedChanges

Listener = Callable[[ChangeSet], None]


@dataclass(frozen=True, slots=True)
class _Subscription:
    listener: Listener
    thread_id: ThreadId | None
    collection: str | None
    doc_id: str | None

    def wants(self, changes: ChangeSet) -> bool:
        if self.thread_id is None:
            return True
        if self.thread_id in changes.threads_removed:
            return True  # whatever was watched in it is gone
        if self.collection is None:
            return self.thread_id in changes.threads_added | changes.threads_updated | changes.membership | \
                changes.joins
        return any(t == self.thread_id and c == self.collection and (self.doc_id is None or d == self.doc_id)
                   for t, c, d, *_field in (*changes.documents, *changes.blobs))


class Broadcaster:
    def __init__(self) -> None:
        self._subscriptions: list[_Subscription] = []

    def subscribe(self, listener: Listener, *, thread_id: ThreadId | None = None,
                  collection: str | None = None, doc_id: str | None = None) -> Callable[[], None]:
        """Call `listener` for every change set that touches what is named
        (nothing named: every change). Returns the way to unsubscribe."""
        if doc_id is not None and collection is None:
            raise ValueError("a document subscription names its collection")
        subscription = _Subscription(listener, thread_id, collection, doc_id)
        self._subscriptions.append(subscription)
        return lambda: self._subscriptions.remove(subscription)

    def publish(self, changes: ChangeSet) -> None:
        if not (changes.threads_added or changes.threads_updated or changes.threads_removed or changes.documents
                or changes.blobs or changes.membership or changes.invites or changes.network or changes.joins
                or changes.devices):  # the person's devices changed (issue 19): Settings > Devices, the banner
            return
        for subscription in list(self._subscriptions):
            if subscription.wants(changes):
                subscription.listener(changes)


def change_set(changes: AppliedChanges, *, threads_added: frozenset[ThreadId] = frozenset(),
               threads_updated: frozenset[ThreadId] = frozenset()) -> ChangeSet:
    """What listeners hear of applied changes (engine/node.py publishes it)."""
    return ChangeSet(threads_added=threads_added, threads_updated=threads_updated,
                     documents=frozenset(changes.documents), documents_created=frozenset(changes.created),
                     documents_deleted=frozenset(changes.deleted), membership=frozenset(changes.membership))
