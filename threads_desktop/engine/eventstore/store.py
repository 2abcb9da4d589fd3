"""The event store: opened events in their total order, applied to the views
once their causal context is.

An event waits until its own log's previous event and every `(log, seq)` in
its deps are applied. Reducers are commutative (per-field last-writer-wins on
the event's stamp, deletes win, counts add), so the views depend only on which
events are applied, never on the order they arrived in.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from threads_desktop.engine.codec import cbor
from threads_desktop.engine.core.errors import InvalidInputError, MissingKeyError
from threads_desktop.engine.core.hlc import HybridClock
from threads_desktop.engine.core.ids import PeerId, ThreadId
from threads_desktop.engine.eventstore.stamps import stamp
from threads_desktop.engine.logstore.database import Database
from threads_desktop.engine.logstore.envelopes import Envelope
from threads_desktop.engine.logstore.store import LogStore

WAITING, APPLIED, REFUSED = 0, 1, 2


@dataclass(frozen=True, slots=True)
class Event:
    thread_id: ThreadId
    log_id: PeerId
    seq: int
    stamp: bytes
    payload: Any


@dataclass(slots=True)
class Changes:
    """What applying events changed, for the change sets the UI gets."""

    threads: set[ThreadId] = field(default_factory=set)
    documents: set[tuple[ThreadId, str, str]] = field(default_factory=set)
    applied: int = 0


SNAPSHOT_EVERY = 1000


class Reducer(Protocol):
    def reduce(self, event: Event, changes: Changes) -> None:
        """Apply one event to the views, inside a savepoint. Raise
        InvalidInputError to refuse it: the savepoint rolls back."""

    def export_state(self, thread_id: ThreadId) -> Any:
        """The thread's views as plain values (for a snapshot)."""

    def import_state(self, thread_id: ThreadId, state: Any) -> None:
        """Replace the thread's views with exported ones."""

    def clear(self, thread_id: ThreadId) -> None:
        """Forget the thread's views."""


class EventStore:
    def __init__(self, database: Database, logstore: LogStore, clock: HybridClock,
                 reducers: Sequence[Reducer]) -> None:
        self._db = database
        self._sql = database.connection
        self._logstore = logstore
        self._clock = clock
        self._reducers = list(reducers)

    def add(self, thread_id: ThreadId, records: Sequence[tuple[PeerId, int, Envelope]], changes: Changes) -> None:
        """Open and store newly logged events, then apply every event that is
        ready. Call inside the transaction that logged them."""
        if not self._logstore.thread_keys(thread_id)[0].can_read:
            return  # a follower keeps the logs only
        rows: list[tuple[Any, ...]] = []
        for log_id, seq, envelope in records:
            try:
                opened = self._logstore.read_event(thread_id, envelope)
            except (InvalidInputError, MissingKeyError) as exc:
                # Authentic (signed) but unreadable: kept in its log, refused here.
                rows.append((thread_id.raw, log_id.raw, seq, stamp(0, log_id, seq), cbor.encode([]), None,
                             f"unreadable: {exc}"))
                continue
            header = opened.header
            self._clock.observe(header.hlc)
            rows.append((thread_id.raw, log_id.raw, seq, stamp(header.hlc, log_id, seq),
                         cbor.encode([[d.raw, s] for d, s in header.deps]), cbor.encode(opened.payload), None))
        self._sql.executemany(
            "INSERT OR IGNORE INTO events (thread_id, log_id, seq, stamp, deps, payload, refusal)"
            " VALUES (?, ?, ?, ?, ?, ?, ?)", rows)
        self._apply_ready(thread_id, changes)

    def frontier(self, thread_id: ThreadId) -> list[tuple[PeerId, int]]:
        """How far each log of the thread is applied: the deps of a new event."""
        return [(PeerId(log_id), seq) for log_id, seq in self._sql.execute(
            "SELECT log_id, seq FROM applied WHERE thread_id = ? ORDER BY log_id", (thread_id.raw,))]

    def refused(self, thread_id: ThreadId) -> list[tuple[PeerId, int, str]]:
        return [(PeerId(log_id), seq, reason) for log_id, seq, reason in self._sql.execute(
            "SELECT log_id, seq, refusal FROM events WHERE thread_id = ? AND state = ? ORDER BY stamp",
            (thread_id.raw, REFUSED))]

    def waiting_count(self, thread_id: ThreadId) -> int:
        (count,) = self._sql.execute("SELECT count(*) FROM events WHERE thread_id = ? AND state = 0",
                                     (thread_id.raw,)).fetchone()
        return int(count)

    def applied_count(self, thread_id: ThreadId) -> int:
        """Events applied or refused: each log applies in order, so the sum
        of how far each has come."""
        (count,) = self._sql.execute("SELECT COALESCE(SUM(seq), 0) FROM applied WHERE thread_id = ?",
                                     (thread_id.raw,)).fetchone()
        return int(count)

    # --- applying -------------------------------------------------------------

    def _apply_ready(self, thread_id: ThreadId, changes: Changes) -> None:
        applied = dict(self._sql.execute("SELECT log_id, seq FROM applied WHERE thread_id = ?", (thread_id.raw,)))
        count = self.applied_count(thread_id)
        settled: list[tuple[Any, ...]] = []
        progress = True
        while progress:
            progress = False
            # A literal 0, so SQLite can use the partial index of waiting events.
            waiting = self._sql.execute(
                "SELECT log_id, seq, stamp, deps, payload, refusal FROM events WHERE thread_id = ? AND state = 0"
                " ORDER BY stamp", (thread_id.raw,)).fetchall()
            for log_raw, seq, event_stamp, deps_blob, payload_blob, refusal in waiting:
                if applied.get(log_raw, 0) != seq - 1:
                    continue
                deps = cbor.decode(deps_blob, max_size=1 << 20)
                if any(applied.get(dep_log, 0) < dep_seq for dep_log, dep_seq in deps):
                    continue
                event = Event(thread_id, PeerId(log_raw), seq, event_stamp,
                              None if payload_blob is None else cbor.decode(payload_blob, max_size=1 << 22))
                state, reason = self._apply(event, refusal, changes)
                settled.append((state, reason, thread_id.raw, log_raw, seq))
                applied[log_raw] = seq
                changes.applied += 1
                count += 1
                if count % SNAPSHOT_EVERY == 0:
                    self._record_applied(thread_id, settled, applied)
                    self.snapshot(thread_id)
                progress = True
        self._record_applied(thread_id, settled, applied)
        if changes.applied:
            changes.threads.add(thread_id)

    def _record_applied(self, thread_id: ThreadId, settled: list[tuple[Any, ...]], applied: dict[bytes, int]) -> None:
        """Write down, in two statements, which events were settled and how far
        each log is now applied."""
        self._sql.executemany("UPDATE events SET state = ?, refusal = ? WHERE thread_id = ? AND log_id = ?"
                              " AND seq = ?", settled)
        self._sql.executemany("INSERT INTO applied (thread_id, log_id, seq) VALUES (?, ?, ?)"
                              " ON CONFLICT (thread_id, log_id) DO UPDATE SET seq = excluded.seq",
                              [(thread_id.raw, log_raw, seq) for log_raw, seq in applied.items()])
        settled.clear()

    def _apply(self, event: Event, refusal: str | None, changes: Changes) -> tuple[int, str | None]:
        if refusal is not None:
            return REFUSED, refusal
        try:
            with self._db.write():
                for reducer in self._reducers:
                    reducer.reduce(event, changes)
        except InvalidInputError as exc:
            return REFUSED, str(exc)
        return APPLIED, None

    # --- snapshots and compaction ---------------------------------------------------

    def snapshot(self, thread_id: ThreadId) -> int:
        """Save the thread's views with the frontier they hold (replacing the
        previous snapshot). The state depends on the frontier only, so peers
        at the same frontier save the same bytes."""
        frontier = [[log_id.raw, seq] for log_id, seq in self.frontier(thread_id)]
        state = cbor.encode([reducer.export_state(thread_id) for reducer in self._reducers])
        count = self.applied_count(thread_id)
        with self._db.write() as sql:
            sql.execute("DELETE FROM snapshots WHERE thread_id = ?", (thread_id.raw,))
            sql.execute("INSERT INTO snapshots (thread_id, applied_count, frontier, state) VALUES (?, ?, ?, ?)",
                        (thread_id.raw, count, cbor.encode(frontier), state))
        return count

    def latest_snapshot(self, thread_id: ThreadId) -> tuple[int, bytes, bytes] | None:
        row = self._sql.execute("SELECT applied_count, frontier, state FROM snapshots WHERE thread_id = ?",
                                (thread_id.raw,)).fetchone()
        return None if row is None else (row[0], row[1], row[2])

    def rebuild(self, thread_id: ThreadId, *, from_snapshot: bool) -> Changes:
        """Recompute the thread's views: from its latest snapshot plus the
        events after it, or by replaying every event (needs no compaction)."""
        changes = Changes()
        with self._db.write() as sql:
            snapshot = self.latest_snapshot(thread_id) if from_snapshot else None
            for reducer in self._reducers:
                reducer.clear(thread_id)
            sql.execute("DELETE FROM applied WHERE thread_id = ?", (thread_id.raw,))
            sql.execute("UPDATE events SET state = ? WHERE thread_id = ? AND state = ?",
                        (WAITING, thread_id.raw, APPLIED))
            sql.execute("UPDATE events SET state = ? WHERE thread_id = ? AND state = ? AND refusal LIKE"
                        " 'unreadable:%'", (WAITING, thread_id.raw, REFUSED))
            sql.execute("UPDATE events SET state = ?, refusal = NULL WHERE thread_id = ? AND state = ?",
                        (WAITING, thread_id.raw, REFUSED))
            if snapshot is not None:
                _, frontier_blob, state_blob = snapshot
                frontier = cbor.decode(frontier_blob, max_size=1 << 24)
                for reducer, state in zip(self._reducers, cbor.decode(state_blob, max_size=1 << 34), strict=True):
                    reducer.import_state(thread_id, state)
                for log_raw, seq in frontier:
                    sql.execute("INSERT INTO applied (thread_id, log_id, seq) VALUES (?, ?, ?)",
                                (thread_id.raw, log_raw, seq))
                    sql.execute("UPDATE events SET state = ? WHERE thread_id = ? AND log_id = ? AND seq <= ?",
                                (APPLIED, thread_id.raw, log_raw, seq))
            missing = sql.execute("SELECT count(*) FROM events WHERE thread_id = ? AND state = ? AND payload IS NULL"
                                  " AND refusal IS NULL", (thread_id.raw, WAITING)).fetchone()[0]
            if missing:
                raise InvalidInputError("compacted events can only be rebuilt from their snapshot")
            self._apply_ready(thread_id, changes)
        changes.threads.add(thread_id)
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
