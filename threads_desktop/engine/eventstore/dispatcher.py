"""One path for every event: local commands and records from peers are
logged, opened, ordered and reduced into the views in one transaction."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from threads_desktop.engine.core.errors import (
    AccessDeniedError,
    DecryptionError,
    GapError,
    MissingKeyError,
    ThreadsError,
)
from threads_desktop.engine.core.hlc import HybridClock
from threads_desktop.engine.core.ids import ThreadId
from threads_desktop.engine.core.keys import ThreadKey
from threads_desktop.engine.eventstore.store import AppliedChanges, EventStore
from threads_desktop.engine.logstore.database import Database
from threads_desktop.engine.logstore.envelopes import DecodedEnvelope, Envelope
from threads_desktop.engine.logstore.store import IngestOutcome, LogStore, NewEvent

_KEY_ROUNDS = 4  # rotations inside one page, each unlocking the next


class Dispatcher:
    def __init__(self, database: Database, logstore: LogStore, events: EventStore, clock: HybridClock) -> None:
        self._db = database
        self._logstore = logstore
        self._events = events
        self._clock = clock

    def commit(self, thread_id: ThreadId, payloads: Sequence[Any], changes: AppliedChanges, *,
               control: bool = False, key: ThreadKey | None = None) -> None:
        """Write events to our log, each after everything we have applied. If
        one would be refused (the ACL does not allow it), nothing is written
        and AccessDeniedError says why: our log never keeps what peers refuse."""
        own_log = self._logstore.own_log(thread_id)
        if own_log is None:
            raise MissingKeyError("this profile cannot write to that thread")
        with self._db.write():
            deps = tuple((log_id, seq) for log_id, seq in self._events.frontier(thread_id) if log_id != own_log)
            appended = self._logstore.append_many(
                thread_id, [NewEvent(payload, self._clock.tick(), deps, control) for payload in payloads], key)
            these = AppliedChanges()
            self._events.add_own(thread_id, appended, these)
            refusal = self._events.refusal(thread_id, own_log, appended[0].seq, appended[-1].seq) \
                if appended else None
            if refusal is not None:
                raise AccessDeniedError(refusal)
        changes.merge(these)
        changes.applied += these.applied

    def receive(self, thread_id: ThreadId, envelopes: Sequence[Envelope],
                changes: AppliedChanges) -> list[IngestOutcome | ThreadsError]:
        """Take records from a peer: refused ones change nothing, the others
        are logged and applied as soon as their causal context is."""
        held_keys = len(self._logstore.thread_keys(thread_id))
        with self._db.write():
            outcomes = self._ingest(thread_id, envelopes, changes)
            # A page may bring a key rotation and, after it, records sealed
            # with the new keys: once the keys are taken, try those again
            # (and what followed them in their logs).
            for _ in range(_KEY_ROUNDS):
                retry = [i for i, outcome in enumerate(outcomes) if isinstance(outcome, (DecryptionError, GapError))]
                keys = len(self._logstore.thread_keys(thread_id))
                if not retry or keys == held_keys:
                    break
                held_keys = keys
                for i, outcome in zip(retry, self._ingest(thread_id, [envelopes[i] for i in retry], changes),
                                      strict=True):
                    outcomes[i] = outcome
        return outcomes

    def _ingest(self, thread_id: ThreadId, envelopes: Sequence[Envelope],
                changes: AppliedChanges) -> list[IngestOutcome | ThreadsError]:
        added: list[DecodedEnvelope] = []
        outcomes = self._logstore.ingest_many(thread_id, envelopes, added)
        self._events.add(thread_id, [(d.log_id, d.record.seq, d.envelope) for d in added], changes)
        return outcomes
