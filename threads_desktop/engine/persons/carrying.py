"""Device removals carried into every thread (issue 19 review finding 4).

`Persons.remove_device` writes its `Undevice` into the threads the removing
device holds. A thread the removed device joined later, which that device
never held, would never hear of it. So every node carries what it learns:

- `learn(thread)`: a removal a thread counts (of any person) is kept in the
  device book, as a hello's removals are (networking.NodeThreads);
- `carry(threads)`: into each thread we hold where a device the book says
  removed is bound, under the person that removed it, and the removal does
  not count yet, we write the `Undevice` (any member's log may carry one:
  the person's signature is its authority, PROTOCOL §28), then heal where
  we are an admin, so the keys rotate and the device reads nothing new.

Bounded: the book keeps at most MAX_DEVICES removals a person (4096 rows in
all), and a thread gets at most MAX_DEVICES removals in one carry; a thread
that counts a removal already, or carries it without counting it (a person
past MAX_DEVICES removed devices there), gets nothing (idempotent).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable

from threads_desktop.engine.acl.control_ops import Undevice, acl_payload
from threads_desktop.engine.acl.device_book import DeviceBook
from threads_desktop.engine.acl.devices import MAX_DEVICES, DeviceRemoval
from threads_desktop.engine.acl.gate import AccessGate
from threads_desktop.engine.acl.membership import Membership
from threads_desktop.engine.core.errors import ThreadsError
from threads_desktop.engine.core.ids import PeerId, ThreadId, ThreadVariant
from threads_desktop.engine.core.types import ChangeSet
from threads_desktop.engine.eventstore.committer import Committer
from threads_desktop.engine.logstore.store import LogStore

log = logging.getLogger(__name__)


class RemovalCarrier:
    def __init__(self, store: LogStore, gate: AccessGate, book: DeviceBook, committer: Committer,
                 membership: Membership, *, thread_ids: Callable[[], Iterable[ThreadId]],
                 publish: Callable[[ChangeSet], None]) -> None:
        self._store = store
        self._gate = gate
        self._book = book
        self._committer = committer
        self._membership = membership
        self._thread_ids = thread_ids
        self._publish = publish

    def learn(self, thread_id: ThreadId) -> list[DeviceRemoval]:
        """The removals the thread counts that the device book lacks (any
        person's: a removal counts only where its person is bound). Cheap
        when nothing is new: the thread's events are read only then."""
        if thread_id.variant is not ThreadVariant.ACCESS_CONTROLLED:
            return []
        removals = self._gate.evaluation(thread_id).removals
        missing: set[tuple[str, str]] = set()
        for device in removals.removed_devices():
            known = self._book.removed_by(PeerId.parse(device))
            missing |= {(person, device) for person in removals.removed_by(device) - known}
        if not missing:
            return []
        found: dict[tuple[str, str], DeviceRemoval] = {}
        for event in self._gate.evaluation(thread_id).events:
            for op in event.ops:
                if isinstance(op, Undevice):
                    pair = (str(op.removal.person), str(op.removal.device))
                    if pair in missing:
                        found.setdefault(pair, op.removal)
        return list(found.values())

    def carry(self, thread_ids: Iterable[ThreadId] | None = None) -> frozenset[ThreadId]:
        """Write, into each thread (default: every thread we hold), the
        recorded removals of devices bound there that it does not count
        yet; heal where we are an admin. Returns the threads written to
        (named as updated, so the network pushes them at once)."""
        written = set()
        for thread_id in list(self._thread_ids() if thread_ids is None else thread_ids):
            found = self._pending(thread_id)
            if not found:
                continue
            try:
                with self._committer.batched():
                    self._committer.commit(thread_id, [acl_payload(*(Undevice(r) for r in found))], control=True)
                    self._membership.heal(thread_id)
                written.add(thread_id)
            except ThreadsError as exc:  # a thread we may not write to: the others still get it
                log.info("could not carry a device removal into %s: %s", thread_id, exc)
        if written:
            self._publish(ChangeSet(threads_updated=frozenset(written), membership=frozenset(written)))
        return frozenset(written)

    def _pending(self, thread_id: ThreadId) -> list[DeviceRemoval]:
        """Recorded removals of devices bound in the thread, by a person they
        are bound under, that the thread does not count yet."""
        if thread_id.variant is not ThreadVariant.ACCESS_CONTROLLED or self._store.own_log(thread_id) is None:
            return []
        evaluation = self._gate.evaluation(thread_id)
        removals = evaluation.removals
        if removals.is_removed(str(self._book.device)):
            return []  # we are out of it: nothing we write counts
        found: list[DeviceRemoval] = []
        for device in sorted({binding.device for binding in evaluation.bindings.values()}):
            recorded = self._book.removals_of(PeerId.parse(device))
            if not recorded:
                continue
            persons, counted = removals.persons_of(device), removals.removed_by(device)
            found += [removal for person, removal in sorted(recorded.items(), key=lambda item: str(item[0]))
                      if str(person) in persons and str(person) not in counted]
        if found:  # one the thread carries but does not count (past its bound) is not written again
            carried = {(op.removal.person, op.removal.device) for event in evaluation.events for op in event.ops
                       if isinstance(op, Undevice)}
            found = [removal for removal in found if (removal.person, removal.device) not in carried]
        return found[:MAX_DEVICES]
