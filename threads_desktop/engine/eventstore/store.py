"""The event store: opened events in their total order, applied to the views
once their causal context is.

An event waits until its own log's previous event and every `(log, seq)` in
its deps are applied. Reducers are commutative (per-field last-writer-wins on
the event's stamp, deletes win, counts add), so the views depend only on which
events are applied, never on the order they arrived in.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from threads_desktop.engine.codec import cbor
from threads_desktop.engine.core.errors import InvalidInputError, MissingKeyError, StorageError, ThreadsError
from threads_desktop.engine.core.hlc import HybridClock
from threads_desktop.engine.core.ids import PeerId, ThreadId
from threads_desktop.engine.eventstore.stamps import stamp
from threads_desktop.engine.logstore.database import Database
from threads_desktop.engine.logstore.envelopes import Envelope, OpenedEvent
from threads_desktop.engine.logstore.store import AppendedRecord, LogStore

# OPAQUE: an event a follower cannot open (content); it settles its place in
# the log without reaching any view.
WAITING, APPLIED, REFUSED, OPAQUE = 0, 1, 2, 3
# What a waiting event waits for (`events.waits_for`): its log's previous
# event and its deps; a key that opens it; or, opaque to a follower, its
# log's previous event only.
FOR_DEPS, FOR_KEY, FOR_PLACE = 0, 1, 2


class _Refused(Exception):
    """An event of an optimistic batch was refused: apply the batch carefully."""

_UNREAD = object()  # a payload not read from the events table yet


@dataclass(frozen=True, slots=True)
class Event:
    thread_id: ThreadId
    log_id: PeerId
    seq: int
    stamp: bytes
    payload: Any
    deps: Mapping[bytes, int] = field(default_factory=dict)  # log ID bytes -> seq the writer had applied
    control: bool = False  # a membership event every member can open
    rights: Any = None  # the author's rights at the event's causal past (the gate's Rights), if gated


DocumentKey = tuple[ThreadId, str, str]  # thread, collection, document ID


@dataclass(slots=True)
class AppliedChanges:
    """What applying events changed in the views, gathered while they apply
    (the node publishes it as a core.types.ChangeSet)."""

    threads: set[ThreadId] = field(default_factory=set)
    documents: set[DocumentKey] = field(default_factory=set)  # every document touched
    created: set[DocumentKey] = field(default_factory=set)  # among them, those that came into being
    deleted: set[DocumentKey] = field(default_factory=set)  # among them, those gone
    # Threads whose membership may look different: a control event settled,
    # an event was refused, verdicts were replayed or a key opened events.
    membership: set[ThreadId] = field(default_factory=set)
    applied: int = 0  # events applied

    def document_created(self, key: DocumentKey) -> None:
        self.documents.add(key)
        self.created.add(key)
        self.deleted.discard(key)

    def document_deleted(self, key: DocumentKey) -> None:
        self.documents.add(key)
        self.deleted.add(key)
        self.created.discard(key)  # born and gone in one change: views had no row for it

    def merge(self, later: AppliedChanges) -> None:
        """Take what `later` changed in the views after these (its `applied`
        count is the caller's to add: a replay applies events again)."""
        self.threads |= later.threads
        self.documents |= later.documents
        self.membership |= later.membership
        self.created = (self.created - later.deleted) | later.created
        self.deleted = (self.deleted - later.created) | later.deleted


SNAPSHOT_EVERY = 1000
DIGEST_MODULUS = 1 << 256
PayloadOf = Callable[[bytes, int], Any]  # (log ID bytes, seq) -> the event's payload


class Reducer(Protocol):
    def reduce(self, event: Event, changes: AppliedChanges) -> None:
        """Apply one event to the views, inside a savepoint. Raise
        InvalidInputError to refuse it: the savepoint rolls back."""

    def save(self, thread_id: ThreadId) -> int:
        """Bring the thread's saved views up to date for the documents in
        `snapshot_dirty` (those touched since the last snapshot). Returns
        what that adds to the snapshot's digest, modulo 2^256."""

    def restore(self, thread_id: ThreadId, payload_of: PayloadOf) -> None:
        """Replace the thread's views with the saved ones; `payload_of(log,
        seq)` reads the payload of an applied event."""

    def drop_saved(self, thread_id: ThreadId) -> None:
        """Forget the thread's saved views."""

    def clear(self, thread_id: ThreadId) -> None:
        """Forget the thread's views."""


class Gate(Protocol):
    """Access control in front of the reducers (engine/acl/gate.py)."""

    def admit(self, event: Event) -> Event:
        """The event with its author's rights, or raise to refuse it. What
        it records about the thread's ACL stays even when it refuses."""

    def take_replay(self, thread_id: ThreadId) -> bool:
        """Have verdicts already given changed, so the thread must be replayed?"""

    def take_new_keys(self, thread_id: ThreadId) -> bool:
        """Did applying events bring us keys, so waiting events may open now?"""

    def early_keys(self, thread_id: ThreadId, waiting: Sequence[Event]) -> bool:
        """Control events wait behind events that no key opens: take keys
        they bring for us where valid at their causal past (everything in it
        applied, content, or control events of `waiting`, judged with them).
        True if that gave us keys."""


_MAX_SETTLE_ROUNDS = 8  # key arrivals and replays feeding each other; each round makes progress


class EventStore:
    def __init__(self, database: Database, logstore: LogStore, clock: HybridClock,
                 reducers: Sequence[Reducer], gate: Gate | None = None) -> None:
        self._db = database
        self._sql = database.connection
        self._logstore = logstore
        self._clock = clock
        self._reducers = list(reducers)
        self._gate = gate

    def add(self, thread_id: ThreadId, records: Sequence[tuple[PeerId, int, Envelope]],
            changes: AppliedChanges) -> None:
        """Open and store newly logged events, then apply every event that is
        ready. Call inside the transaction that logged them."""
        self._add(thread_id, [(*record, None) for record in records], changes)

    def add_own(self, thread_id: ThreadId, appended: Sequence[AppendedRecord], changes: AppliedChanges) -> None:
        """Store and apply events we just appended to our log: their events
        are the ones we sealed, so nothing is decrypted again."""
        self._add(thread_id, [(a.log_id, a.seq, a.envelope, a.sealed.opened()) for a in appended], changes)

    def _add(self, thread_id: ThreadId, records: Sequence[tuple[PeerId, int, Envelope, OpenedEvent | None]],
             changes: AppliedChanges) -> None:
        opened: dict[tuple[bytes, int], tuple[Any, dict[bytes, int]]] = {}
        self._sql.executemany(
            "INSERT OR IGNORE INTO events (thread_id, log_id, seq, stamp, deps, payload, waits_for, control)"
            " VALUES (?, ?, ?, ?, ?, ?, ?, ?)", [self._open(thread_id, *record, opened) for record in records])
        self._settle(thread_id, changes, opened)

    def _open(self, thread_id: ThreadId, log_id: PeerId, seq: int, envelope: Envelope, event: OpenedEvent | None,
              opened: dict[tuple[bytes, int], tuple[Any, dict[bytes, int]]] | None = None) -> tuple[Any, ...]:
        """The events row of a record (opened with the keys held, unless
        `event` says what it holds); what it decoded goes into `opened` too,
        so applying it right away needs no second decoding."""
        try:
            if event is None:
                event = self._logstore.read_event(thread_id, envelope)
        except MissingKeyError:
            # No read key at all: a follower. It keeps the event's place.
            return (thread_id.raw, log_id.raw, seq, stamp(0, log_id, seq), cbor.encode([]), None, FOR_PLACE, 0)
        except InvalidInputError:
            # Authentic (signed) but unreadable with the keys held now (a key
            # of a later epoch may still come): it waits, and its log with it.
            return (thread_id.raw, log_id.raw, seq, stamp(0, log_id, seq), cbor.encode([]), None, FOR_KEY, 0)
        header = event.header
        self._clock.observe(header.hlc)
        if opened is not None:
            opened[(log_id.raw, seq)] = (event.payload, {d.raw: s for d, s in header.deps})
        return (thread_id.raw, log_id.raw, seq, stamp(header.hlc, log_id, seq),
                cbor.encode([[d.raw, s] for d, s in header.deps]), cbor.encode(event.payload), FOR_DEPS,
                int(event.control))

    def _settle(self, thread_id: ThreadId, changes: AppliedChanges,
                opened: Mapping[tuple[bytes, int], tuple[Any, dict[bytes, int]]] | None = None) -> None:
        """Apply what is ready; then open what keys that arrived open, and
        replay the thread if access verdicts already given changed."""
        self._apply_ready(thread_id, changes, opened)
        for _ in range(_MAX_SETTLE_ROUNDS):
            if self._gate is None:
                return
            if self._gate.take_replay(thread_id):
                replayed = self.rebuild(thread_id, from_snapshot=False)
                changes.merge(replayed)
            elif self._gate.take_new_keys(thread_id) or self._early_keys(thread_id):
                self._reopen_unreadable(thread_id)
                self._apply_ready(thread_id, changes)
            else:
                return

    def _early_keys(self, thread_id: ThreadId) -> bool:
        """An admin may deliver keys after content sealed with them (a late
        joiner's link predates a rotation): the delivery then waits behind
        what it is needed to open. Offer such waiting control events to the gate."""
        assert self._gate is not None
        waiting = [Event(thread_id, PeerId(log_raw), seq, event_stamp, cbor.decode(payload_blob, max_size=1 << 22),
                         dict(cbor.decode(deps_blob, max_size=1 << 20)), control=True)
                   for log_raw, seq, event_stamp, deps_blob, payload_blob in self._sql.execute(
                       "SELECT log_id, seq, stamp, deps, payload FROM events INDEXED BY events_waiting"
                       " WHERE thread_id = ? AND state = 0"
                       " AND control = 1 AND payload IS NOT NULL", (thread_id.raw,)).fetchall()]
        return self._gate.early_keys(thread_id, waiting)

    def reopen(self, thread_id: ThreadId, changes: AppliedChanges) -> None:
        """Try again the events no key opened (call when a key arrives). If
        we could only follow the thread before, everything is opened again."""
        (opaque,) = self._sql.execute("SELECT count(*) FROM events WHERE thread_id = ? AND state = ?",
                                      (thread_id.raw, OPAQUE)).fetchone()
        changes.membership.add(thread_id)  # a key: what we may read (and do) may change
        if opaque and self._logstore.thread_keys(thread_id)[0].can_read:
            replayed = self.rebuild(thread_id, from_snapshot=False)
            changes.merge(replayed)
            return
        self._reopen_unreadable(thread_id)
        self._settle(thread_id, changes)

    def _reopen_unreadable(self, thread_id: ThreadId) -> None:
        rows = self._sql.execute(
            "SELECT log_id, seq FROM events INDEXED BY events_waiting"
            " WHERE thread_id = ? AND state = 0 AND waits_for = ?", (thread_id.raw, FOR_KEY)).fetchall()
        self._reload(thread_id, rows)

    def _reload(self, thread_id: ThreadId, rows: Sequence[tuple[bytes, int]]) -> None:
        """Open events again from their records."""
        for log_raw, seq in rows:
            [record] = self._logstore.records_after(thread_id, PeerId(log_raw), seq - 1, limit=1)
            row = self._open(thread_id, PeerId(log_raw), seq, record.envelope, None)
            self._sql.execute("UPDATE events SET stamp = ?, deps = ?, payload = ?, waits_for = ?, control = ?"
                              " WHERE thread_id = ? AND log_id = ? AND seq = ?",
                              (*row[3:], thread_id.raw, log_raw, seq))

    def frontier(self, thread_id: ThreadId) -> list[tuple[PeerId, int]]:
        """How far each log of the thread is applied: the deps of a new event."""
        return [(PeerId(log_id), seq) for log_id, seq in self._sql.execute(
            "SELECT log_id, seq FROM applied WHERE thread_id = ? ORDER BY log_id", (thread_id.raw,))]

    def refused(self, thread_id: ThreadId) -> list[tuple[PeerId, int, str]]:
        # The state written out, not bound: only then may SQLite use the
        # partial index of refused events instead of reading every event.
        return [(PeerId(log_id), seq, reason) for log_id, seq, reason in self._sql.execute(
            f"SELECT log_id, seq, refusal FROM events WHERE thread_id = ?"
            f" AND state = {REFUSED} ORDER BY stamp", (thread_id.raw,))]

    def refusal(self, thread_id: ThreadId, log_id: PeerId, first_seq: int, last_seq: int) -> str | None:
        """Why the first refused event of a run of one log was refused, if any was."""
        row = self._sql.execute(
            "SELECT refusal FROM events WHERE thread_id = ? AND log_id = ? AND seq BETWEEN ? AND ? AND state = ?"
            " ORDER BY seq LIMIT 1", (thread_id.raw, log_id.raw, first_seq, last_seq, REFUSED)).fetchone()
        return None if row is None else str(row[0])

    def waiting_count(self, thread_id: ThreadId) -> int:
        (count,) = self._sql.execute(
            "SELECT count(*) FROM events INDEXED BY events_waiting WHERE thread_id = ? AND state = 0",
            (thread_id.raw,)).fetchone()
        return int(count)

    def applied_count(self, thread_id: ThreadId) -> int:
        """Events applied or refused: each log applies in order, so the sum
        of how far each has come."""
        (count,) = self._sql.execute("SELECT COALESCE(SUM(seq), 0) FROM applied WHERE thread_id = ?",
                                     (thread_id.raw,)).fetchone()
        return int(count)

    # --- applying -------------------------------------------------------------

    def _apply_ready(self, thread_id: ThreadId, changes: AppliedChanges,
                     opened: Mapping[tuple[bytes, int], tuple[Any, dict[bytes, int]]] | None = None) -> None:
        """Apply every ready event. Optimistically all under one savepoint
        (refusals are rare); if an event is refused, that savepoint rolls back
        and the same events are applied again, each under its own."""
        these = AppliedChanges()
        try:
            with self._db.write():
                self._apply_passes(thread_id, these, opened or {}, careful=False)
        except _Refused:
            these = AppliedChanges()
            self._apply_passes(thread_id, these, opened or {}, careful=True)
        changes.merge(these)
        changes.applied += these.applied

    def _apply_passes(self, thread_id: ThreadId, changes: AppliedChanges,
                      opened: Mapping[tuple[bytes, int], tuple[Any, dict[bytes, int]]], *, careful: bool) -> None:
        applied = dict(self._sql.execute("SELECT log_id, seq FROM applied WHERE thread_id = ?", (thread_id.raw,)))
        count = self.applied_count(thread_id)
        settled: list[tuple[Any, ...]] = []
        marked: set[DocumentKey] = set()  # documents already in snapshot_dirty
        last_deps: dict[bytes, Mapping[bytes, int]] = {}  # per log, the deps of its last event settled here
        progress = True
        while progress:
            progress = False
            # Log by log in seq order, so one pass applies a whole run of a log
            # (reducers are commutative: the order of application is free).
            # Payloads are read only for events found ready. INDEXED BY: left
            # to itself, SQLite scans the thread's primary key (every event it
            # ever applied) instead of the partial index of waiting ones.
            waiting = self._sql.execute(
                "SELECT log_id, seq, stamp, deps, waits_for, control FROM events"
                " INDEXED BY events_waiting WHERE thread_id = ? AND state = 0 ORDER BY log_id, seq",
                (thread_id.raw,)).fetchall()
            for log_raw, seq, event_stamp, deps_blob, waits_for, control in waiting:
                if applied.get(log_raw, 0) != seq - 1:
                    continue  # its predecessor is not applied
                if waits_for == FOR_KEY:
                    continue  # no key opened it yet
                if waits_for == FOR_PLACE:
                    # A follower cannot see its deps: it keeps the log's order only.
                    settled.append((OPAQUE, None, thread_id.raw, log_raw, seq))
                    applied[log_raw] = seq
                    progress = True
                    continue
                payload, deps = opened.get((log_raw, seq)) or (_UNREAD, dict(cbor.decode(deps_blob, max_size=1 << 20)))
                if any(applied.get(dep_log, 0) < dep_seq for dep_log, dep_seq in deps.items()):
                    continue
                if payload is _UNREAD:
                    (payload_blob,) = self._sql.execute(
                        "SELECT payload FROM events WHERE thread_id = ? AND log_id = ? AND seq = ?",
                        (thread_id.raw, log_raw, seq)).fetchone()
                    payload = None if payload_blob is None else cbor.decode(payload_blob, max_size=1 << 22)
                event = Event(thread_id, PeerId(log_raw), seq, event_stamp, payload, deps, bool(control))
                refusal = self._deps_go_back(thread_id, log_raw, seq, deps, last_deps)
                last_deps[log_raw] = deps
                if careful:
                    state, reason = self._apply(event, refusal, changes)
                elif refusal is not None:
                    state, reason = REFUSED, refusal
                else:
                    try:
                        if self._gate is not None:
                            event = self._gate.admit(event)
                        for reducer in self._reducers:
                            reducer.reduce(event, changes)
                    except StorageError:
                        raise
                    except Exception as exc:
                        raise _Refused from exc
                    state, reason = APPLIED, None
                settled.append((state, reason, thread_id.raw, log_raw, seq))
                if control or state == REFUSED:
                    changes.membership.add(thread_id)
                applied[log_raw] = seq
                changes.applied += 1
                count += 1
                if count % SNAPSHOT_EVERY == 0:
                    self._record_applied(thread_id, settled, applied, changes, marked)
                    self.snapshot(thread_id)
                progress = True
        self._record_applied(thread_id, settled, applied, changes, marked)
        if changes.applied:
            changes.threads.add(thread_id)

    def _deps_go_back(self, thread_id: ThreadId, log_raw: bytes, seq: int, deps: Mapping[bytes, int],
                      last_deps: Mapping[bytes, Mapping[bytes, int]]) -> str | None:
        """A writer's deps only grow: an event claiming to have seen less than
        its log's previous event could pose as concurrent with what its writer
        had seen (a revocation, say), to escape it."""
        previous = last_deps.get(log_raw)
        if previous is None and seq > 1:
            # An opaque event (a follower's view) has no known deps: nothing to compare.
            row = self._sql.execute("SELECT deps FROM events WHERE thread_id = ? AND log_id = ? AND seq = ?",
                                    (thread_id.raw, log_raw, seq - 1)).fetchone()
            previous = {} if row is None else dict(cbor.decode(row[0], max_size=1 << 20))
        if previous and any(deps.get(log, 0) < other_seq for log, other_seq in previous.items()):
            return "its deps go back on what its log had already seen"
        return None

    def _record_applied(self, thread_id: ThreadId, settled: list[tuple[Any, ...]], applied: dict[bytes, int],
                        changes: AppliedChanges, marked: set[DocumentKey]) -> None:
        """Write down, in three statements, which events were settled, how far
        each log is now applied, and which documents the next snapshot saves."""
        fresh = changes.documents - marked
        self._sql.executemany("INSERT OR IGNORE INTO snapshot_dirty (thread_id, collection, id) VALUES (?, ?, ?)",
                              [(key[0].raw, key[1], key[2]) for key in fresh])
        marked |= fresh
        self._sql.executemany("UPDATE events SET state = ?, refusal = ?, waits_for = 0 WHERE thread_id = ?"
                              " AND log_id = ? AND seq = ?", settled)  # waits_for: nothing, once settled
        self._sql.executemany("INSERT INTO applied (thread_id, log_id, seq) VALUES (?, ?, ?)"
                              " ON CONFLICT (thread_id, log_id) DO UPDATE SET seq = excluded.seq",
                              [(thread_id.raw, log_raw, seq) for log_raw, seq in applied.items()])
        settled.clear()

    def _apply(self, event: Event, refusal: str | None, changes: AppliedChanges) -> tuple[int, str | None]:
        if refusal is not None:
            return REFUSED, refusal
        these = AppliedChanges()
        try:
            if self._gate is not None:
                event = self._gate.admit(event)  # outside the savepoint: the ACL history keeps the event
            with self._db.write():
                for reducer in self._reducers:
                    reducer.reduce(event, these)
        except StorageError:
            raise  # the disk, not the event: stop
        except Exception as exc:  # noqa: BLE001 - whatever a peer's event provokes refuses only that event
            return REFUSED, str(exc) if isinstance(exc, ThreadsError) else f"malformed: {exc!r}"
        changes.merge(these)
        return APPLIED, None

    # --- snapshots and compaction ---------------------------------------------------

    def snapshot(self, thread_id: ThreadId) -> int:
        """Save the thread's views with the frontier they hold (replacing the
        previous snapshot). Only documents touched since the previous one are
        saved again, so its cost follows what changed. The digest depends on
        the views only, so peers at the same frontier save the same one."""
        frontier = [[log_id.raw, seq] for log_id, seq in self.frontier(thread_id)]
        count = self.applied_count(thread_id)
        with self._db.write() as sql:
            digest = sum(reducer.save(thread_id) for reducer in self._reducers)
            sql.execute("DELETE FROM snapshot_dirty WHERE thread_id = ?", (thread_id.raw,))
            row = sql.execute("SELECT digest FROM snapshots WHERE thread_id = ?", (thread_id.raw,)).fetchone()
            if row is not None:
                digest += int.from_bytes(row[0], "big")
            sql.execute("INSERT OR REPLACE INTO snapshots (thread_id, applied_count, frontier, digest)"
                        " VALUES (?, ?, ?, ?)", (thread_id.raw, count, cbor.encode(frontier),
                                                 (digest % DIGEST_MODULUS).to_bytes(32, "big")))
        return count

    def latest_snapshot(self, thread_id: ThreadId) -> tuple[int, bytes, bytes] | None:
        """(applied count, frontier, digest of the views) of the thread's latest snapshot."""
        row = self._sql.execute("SELECT applied_count, frontier, digest FROM snapshots WHERE thread_id = ?",
                                (thread_id.raw,)).fetchone()
        return None if row is None else (row[0], row[1], row[2])

    def _drop_snapshot(self, thread_id: ThreadId) -> None:
        """The views are replayed from nothing: what was saved may not hold."""
        for reducer in self._reducers:
            reducer.drop_saved(thread_id)
        for table in ("snapshots", "snapshot_dirty"):
            self._sql.execute(f"DELETE FROM {table} WHERE thread_id = ?", (thread_id.raw,))

    def _payload(self, thread_id: ThreadId, log_raw: bytes, seq: int) -> Any:
        """An applied event's payload: from the events table, or opened again
        from its record once compaction dropped it there."""
        row = self._sql.execute("SELECT payload FROM events WHERE thread_id = ? AND log_id = ? AND seq = ?",
                                (thread_id.raw, log_raw, seq)).fetchone()
        if row is not None and row[0] is not None:
            return cbor.decode(row[0], max_size=1 << 22)
        records = self._logstore.records_after(thread_id, PeerId(log_raw), seq - 1, limit=1)
        if not records or records[0].seq != seq:
            raise StorageError("a snapshot names an event this profile no longer holds")
        return self._logstore.read_event(thread_id, records[0].envelope).payload

    def rebuild(self, thread_id: ThreadId, *, from_snapshot: bool) -> AppliedChanges:
        """Recompute the thread's views: from its latest snapshot plus the
        events after it, or by replaying every event (compacted payloads are
        opened again from the logs)."""
        changes = AppliedChanges()
        with self._db.write() as sql:
            snapshot = self.latest_snapshot(thread_id) if from_snapshot else None
            frontier = {} if snapshot is None else dict(cbor.decode(snapshot[1], max_size=1 << 24))
            if snapshot is None:
                for reducer in self._reducers:
                    reducer.clear(thread_id)
                self._drop_snapshot(thread_id)
            sql.execute("DELETE FROM applied WHERE thread_id = ?", (thread_id.raw,))
            # Events the snapshot covers keep their state; the others go back
            # to waiting (those still waiting keep what for).
            rows = sql.execute("SELECT log_id, seq FROM events WHERE thread_id = ? AND state != 0",
                               (thread_id.raw,)).fetchall()
            reset = [(thread_id.raw, log_raw, seq) for log_raw, seq in rows if seq > frontier.get(log_raw, 0)]
            sql.executemany("UPDATE events SET state = 0, refusal = NULL, waits_for = 0"
                            " WHERE thread_id = ? AND log_id = ? AND seq = ?", reset)
            if snapshot is not None:
                for reducer in self._reducers:
                    reducer.restore(thread_id, lambda log_raw, seq: self._payload(thread_id, log_raw, seq))
                sql.executemany("INSERT INTO applied (thread_id, log_id, seq) VALUES (?, ?, ?)",
                                [(thread_id.raw, log_raw, seq) for log_raw, seq in frontier.items()])
            # Compacted, opaque or unreadable events are opened again from their records.
            self._reload(thread_id, sql.execute(
                "SELECT log_id, seq FROM events INDEXED BY events_waiting"
                " WHERE thread_id = ? AND state = 0 AND payload IS NULL", (thread_id.raw,)).fetchall())
            self._apply_ready(thread_id, changes)
        changes.threads.add(thread_id)
        changes.membership.add(thread_id)  # verdicts may differ from before
        return changes

    def compact(self, thread_id: ThreadId) -> int:
        """Drop the payloads of events the latest snapshot covers (local only:
        the logs keep every record). Returns how many were dropped."""
        snapshot = self.latest_snapshot(thread_id)
        if snapshot is None:
            return 0
        dropped = 0
        with self._db.write() as sql:
            for log_raw, seq in cbor.decode(snapshot[1], max_size=1 << 24):
                dropped += sql.execute(
                    "UPDATE events SET payload = NULL WHERE thread_id = ? AND log_id = ? AND seq <= ?"
                    " AND payload IS NOT NULL", (thread_id.raw, log_raw, seq)).rowcount
        return dropped
