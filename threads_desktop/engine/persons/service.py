"""`Persons` (node.persons): this profile's person and its devices.

A device is an installation's own identity; the person is the key the ACL,
names and notices speak of (acl/devices.py, acl/device_rules.py). The
person key is on every device of the person, so any of them can add a
device (issue_cert) or remove one (remove_device). The flows that carry a
certificate and the person's threads to a new device (a device link, a
backup) are engine/persons/bundle.py and backup.py; they end in `adopt`
and `add_thread`.
"""

from __future__ import annotations

import logging
import unicodedata
from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import datetime

from threads_desktop.engine.acl.bundle_peers import BundlePeers
from threads_desktop.engine.acl.control_ops import Admit, Bind, Undevice, acl_payload, make_bind
from threads_desktop.engine.acl.device_book import DeviceBook
from threads_desktop.engine.acl.devices import (
    MAX_DEVICE_NAME,
    MAX_DEVICES,
    DeviceCert,
    DeviceItem,
    DeviceRemoval,
    issue_cert,
    sign_removal,
)
from threads_desktop.engine.acl.gate import AccessGate
from threads_desktop.engine.acl.membership import Membership
from threads_desktop.engine.core import text
from threads_desktop.engine.core.errors import ConflictError, InvalidInputError, NotFoundError, ThreadsError
from threads_desktop.engine.core.ids import PeerId, ThreadId, ThreadVariant
from threads_desktop.engine.core.keys import Identity, ThreadKey
from threads_desktop.engine.core.types import ChangeSet, Connection, PeerLink, PersonDevice, ThreadKind
from threads_desktop.engine.eventstore.committer import Committer
from threads_desktop.engine.logstore import local_settings
from threads_desktop.engine.logstore.database import Database
from threads_desktop.engine.logstore.store import LogStore
from threads_desktop.engine.persons.carrying import RemovalCarrier

log = logging.getLogger(__name__)

MAX_THREAD_NAME = 120  # as engine/threads.py's MAX_NAME_LENGTH (a sibling layer: not imported)


class Persons:
    def __init__(self, database: Database, store: LogStore, gate: AccessGate, identity: Identity,
                 book: DeviceBook, committer: Committer, membership: Membership, bundle_peers: BundlePeers, *,
                 thread_ids: Callable[[], Iterable[ThreadId]], display_name: Callable[[], str],
                 links: Callable[[], Iterable[PeerLink]], last_seen: Callable[[], Mapping[PeerId, float]],
                 now_seconds: Callable[[], float], publish: Callable[[ChangeSet], None]) -> None:
        """`thread_ids`: the threads this profile holds (but those it
        leaves); `links` and `last_seen`: who is connected now, and when we
        last met each peer (the network's and the peer book's)."""
        self._db = database
        self._store = store
        self._gate = gate
        self._identity = identity
        self._book = book
        self._committer = committer
        self._membership = membership
        self._bundle_peers = bundle_peers
        self._thread_ids = thread_ids
        self._display_name = display_name
        self._links = links
        self._last_seen = last_seen
        self._now_seconds = now_seconds
        self._publish = publish
        self._carrier = RemovalCarrier(store, gate, book, committer, membership, thread_ids=thread_ids,
                                       publish=publish)

    @property
    def person_id(self) -> str:
        return str(self._book.person)

    @property
    def this_device(self) -> str:
        return str(self._identity.peer_id)

    @property
    def book(self) -> DeviceBook:
        """Every certificate and removal seen (for bundles and hellos)."""
        return self._book

    def person_seed(self) -> bytes:
        """The person key's seed, for a new device's bundle or a backup only."""
        return self._book.person_key().seed()

    def this_cert(self) -> DeviceCert | None:
        """This device's certificate (None: the person's first device)."""
        return self._book.this_cert()

    def devices(self) -> list[PersonDevice]:
        """The person's devices, oldest first, then those removed."""
        person = self._book.person
        listing = self._book.device_list(person)
        names = {c.device: c for c in listing.certs if c.person == person}
        links = {link.peer_id: link.connection for link in self._links()}
        seen = self._last_seen()
        current = listing.devices(person)
        removed = sorted(listing.removed(person) - set(current), key=lambda d: d.raw)

        def row(device: PeerId, is_removed: bool) -> PersonDevice:
            cert = names.get(device)
            this = device == self._identity.peer_id
            return PersonDevice(str(device), cert.name if cert else None, this, is_removed,
                                cert.added_ms if cert else None,
                                Connection.OFFLINE if this else links.get(str(device), Connection.OFFLINE),
                                seen.get(device))

        return [row(d, False) for d in current] + [row(d, True) for d in removed]

    def issue_cert(self, device: PeerId, name: str) -> DeviceCert:
        """Certify `device` as one of the person's, named `name` (a new
        device's first step: the device link flow sends it there)."""
        cleaned = clean_device_name(name)
        if device in self._book.device_list().removed(self._book.person):
            raise InvalidInputError("that device was removed: it cannot be added again")
        cert = issue_cert(self._book.person_key(), device, cleaned, self._now_ms())
        if cert not in self._book.record([cert]):  # the book is full: a link spent for nothing otherwise
            raise InvalidInputError(f"a person has at most {MAX_DEVICES} devices, removed ones included")
        self._publish(ChangeSet(devices=True))
        return cert

    def record(self, items: Iterable[DeviceItem]) -> list[DeviceItem]:
        """Keep certificates and removals seen elsewhere (a hello, a bundle);
        those that do not verify are left out. Returns those kept."""
        kept: list[DeviceItem] = []
        for item in items:
            try:
                kept += self._book.record([item])
            except InvalidInputError as exc:
                log.info("a device certificate or removal left out: %s", exc)
        if kept:
            self._publish(ChangeSet(devices=True))
        if any(isinstance(item, DeviceRemoval) for item in kept):
            self._carrier.carry()  # a device removed: every thread we hold where it is bound hears of it
        return kept

    def carry_removals(self, thread_id: ThreadId) -> None:
        """After a thread changed: keep the removals it counts (any person's)
        and carry them into our other threads; and carry the removals we
        know into it, for a device bound there since (persons/carrying.py)."""
        self.record(self._carrier.learn(thread_id))
        self._carrier.carry([thread_id])

    def adopt(self, person_seed: bytes, cert: DeviceCert, known: Sequence[DeviceCert | DeviceRemoval]) -> None:
        """Become a device of `cert`'s person (the person key is `person_seed`).
        Only into a profile that holds no album or chat yet."""
        sql = self._db.connection
        if sql.execute("SELECT 1 FROM threads LIMIT 1").fetchone() \
                or sql.execute("SELECT 1 FROM pending_admissions LIMIT 1").fetchone():
            raise ConflictError("this profile already has albums or chats")
        with self._db.write():
            self._book.become(person_seed, cert)
            self.record(known)
        self._publish(ChangeSet(devices=True))

    def add_thread(self, thread_id: ThreadId, kind: ThreadKind | None, name: str | None,
                   keys: Sequence[ThreadKey], peers: Iterable[PeerId] = ()) -> None:
        """Hold a thread of the person that this device does not hold yet:
        its keys and our log, whose first event binds it with our
        certificate; sync brings the rest. `kind` and `name` are the
        bundle's hints, shown until the thread's own data arrives (as a join
        shows the link's name): an album restored is listed as one at once.
        `peers`: those the bundle named for it (and the device that sent
        it), the only ones it syncs with until it knows a member."""
        if not keys:
            raise InvalidInputError("a thread comes with its keys")
        if self._store_holds(thread_id):
            raise ConflictError("this device holds that album or chat already")
        cert = self._book.this_cert()
        if cert is None and self._book.person != self._identity.peer_id:
            raise InvalidInputError("this device has no certificate of its person")
        newest, *older = sorted(keys, key=lambda key: key.epoch, reverse=True)
        hint_name = _hint_name(name)
        with self._db.write():
            local_settings.store_thread_hint(self._db, str(thread_id), None if kind is None else ThreadKind(kind).value,
                                             hint_name)
            self._store.create_thread(thread_id, newest)
            for key in older:
                self._store.add_thread_key(thread_id, key)
            log_id = self._store.create_own_log(thread_id)
            self._bundle_peers.name(thread_id, peers)
            if thread_id.variant is ThreadVariant.ACCESS_CONTROLLED:
                self._committer.commit(thread_id, [acl_payload(make_bind(self._identity, thread_id, log_id, cert))],
                                       control=True)
        self._publish(ChangeSet(threads_added=frozenset({thread_id})))  # the network syncs it from now on

    def remove_device(self, device_id: str) -> None:
        """Remove another device of the person, for good: an `Undevice` in
        every thread we hold, and new keys where we are an admin (elsewhere
        an admin's node rotates when it sees it: Node.receive heals)."""
        device = PeerId.parse(device_id)
        if device == self._identity.peer_id:
            raise InvalidInputError("remove this device from another one")
        person = self._book.person
        if device not in self._book.device_list(person).devices(person):
            raise NotFoundError("that is not a device of yours (or it was removed already)")
        removal = sign_removal(self._book.person_key(), device, self._now_ms())
        self._book.record([removal])
        written = set()
        for thread_id in list(self._thread_ids()):
            if thread_id.variant is not ThreadVariant.ACCESS_CONTROLLED or self._store.own_log(thread_id) is None:
                continue
            try:
                with self._committer.batched():
                    self._committer.commit(thread_id, [acl_payload(Undevice(removal))], control=True)
                    self._membership.heal(thread_id)  # as an admin: new keys the removed device lacks
                written.add(thread_id)
            except ThreadsError as exc:  # one thread failing leaves the others removed
                log.info("could not write the removal of a device into %s: %s", thread_id, exc)
        # Named as updated, as any write is: the network pushes and gossips
        # the removal at once (a friend heals without waiting for a pull).
        self._publish(ChangeSet(threads_updated=frozenset(written), membership=frozenset(written), devices=True))

    def learn_from(self, thread_id: ThreadId) -> None:
        """Keep what a thread shows of our person's devices: certificates of
        devices another of ours added (so `devices` lists them here too), and
        removals (so this device learns that it was removed: removed_notice).
        Cheap when nothing is new: the thread's events are read only then."""
        if thread_id.variant is not ThreadVariant.ACCESS_CONTROLLED:
            return
        evaluation = self._gate.evaluation(thread_id)
        person = self._book.person
        me = str(person)
        bound = {b.identity for b in evaluation.bindings.values() if b.member == me and b.identity != person}
        removed = evaluation.removals.removed_devices(me)
        if not bound and not removed:
            return
        listing = self._book.device_list(person)
        new_devices = bound - {c.device for c in listing.certs}
        known_removed = listing.removed(person)
        if not new_devices and removed <= {str(d) for d in known_removed}:
            return
        found: list[DeviceItem] = []
        for event in evaluation.events:
            for op in event.ops:
                if isinstance(op, Undevice) and op.removal.person == person \
                        and str(op.removal.device) in removed and op.removal.device not in known_removed:
                    found.append(op.removal)
                elif isinstance(op, (Bind, Admit)) and op.cert is not None and op.cert.person == person \
                        and op.cert.device in new_devices:
                    found.append(op.cert)
        if found:
            self.record(found)

    def removed_notice(self) -> str | None:
        """What to tell the person on a device another of its devices
        removed; None while this device is one of theirs."""
        when = self._book.removed_by_ms()
        if when is None:
            for thread_id in list(self._thread_ids()):
                self.learn_from(thread_id)
            when = self._book.removed_by_ms()
        if when is None:
            return None
        day = datetime.fromtimestamp(when / 1000)
        whose = f"{self._display_name()}'s" if self._display_name() else "your"
        return f"Removed from {whose} devices on {day.day} {day:%b}"

    def _store_holds(self, thread_id: ThreadId) -> bool:
        return self._db.connection.execute("SELECT 1 FROM threads WHERE id = ?", (thread_id.raw,)).fetchone() \
            is not None

    def _now_ms(self) -> int:
        return int(self._now_seconds() * 1000)


def _hint_name(name: str | None) -> str | None:
    """A bundle's name of a thread, cleaned as a thread's name is; None if it is none."""
    if not isinstance(name, str):
        return None
    cleaned = unicodedata.normalize("NFC", " ".join(name.split()))
    # A hint: one that would not do as a thread's name is dropped, never a reason to refuse the thread.
    return cleaned if cleaned and len(cleaned) <= MAX_THREAD_NAME and not text.has_hidden(cleaned) else None


def clean_device_name(name: str) -> str:
    """A device's name as certified: as a display name is (NFC, trimmed,
    single spaces, at most 64 characters, nothing hidden)."""
    if not isinstance(name, str):
        raise InvalidInputError("a device's name is text")
    cleaned = unicodedata.normalize("NFC", " ".join(name.split()))
    if len(cleaned) > MAX_DEVICE_NAME:
        raise InvalidInputError(f"a device's name has at most {MAX_DEVICE_NAME} characters")
    if text.has_hidden(cleaned):
        raise InvalidInputError("a device's name cannot hold control or invisible characters")
    return cleaned
