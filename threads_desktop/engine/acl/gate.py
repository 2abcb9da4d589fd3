"""The event store's gate: every event of an access-controlled thread passes
here before any reducer sees it.

- A control event is recorded (it is part of the thread's ACL history
  whatever its verdict), judged by the policy, and its key boxes for us are
  opened as soon as it is causally valid.
- A content event gets the rights of its author at its causal past; the
  reducers ask them (write to change anything, delete to delete another
  member's item, narrowed by a document's own ACL).
- A new ACL event can change verdicts already given (a late revocation
  concurrent with applied events, a join with an earlier stamp using up an
  invite). The gate notices and asks the event store to replay the thread.
"""

from __future__ import annotations

import heapq
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any

from threads_desktop.engine.acl.book import AclBook
from threads_desktop.engine.acl.control_ops import (
    REVOCATIONS,
    AclOp,
    Keys,
    Leave,
    Revoke,
    is_acl_payload,
    parse_acl_payload,
)
from threads_desktop.engine.acl.keybox import open_key_box
from threads_desktop.engine.acl.policy import AclEvent, Evaluation, concurrent
from threads_desktop.engine.codec import cbor
from threads_desktop.engine.core.errors import AccessDeniedError, InvalidInputError
from threads_desktop.engine.core.ids import ThreadId, ThreadVariant
from threads_desktop.engine.core.keys import Identity
from threads_desktop.engine.core.members import Role
from threads_desktop.engine.eventstore.stamps import stamp_hlc
from threads_desktop.engine.eventstore.store import APPLIED, Event
from threads_desktop.engine.logstore.database import Database
from threads_desktop.engine.logstore.store import LogStore


@dataclass(frozen=True)
class Rights:
    """What the author of one event may do, judged at its causal past."""

    identity: str
    book: AclBook
    _event: Event
    _evaluation: Evaluation

    def require(self, role: Role, entity: str | None = None) -> None:
        if role not in self.book.roles(self.identity, entity):
            where = "this thread" if entity is None else entity
            # Said apart so a person is told their role was changed only when it was.
            taken = ": that right was revoked" if self.book.was_revoked(self.identity, role, entity) else ""
            raise AccessDeniedError(f"{self.identity} may not {_VERBS[role]} in {where}{taken}")
        event = self._event
        if self._evaluation.revoked_concurrently(event.log_id.raw, event.seq, event.deps, self.identity,
                                                 {None, entity}, role):
            raise AccessDeniedError(f"{self.identity}'s right to {_VERBS[role]} was revoked concurrently")

    def may(self, role: Role, entity: str | None = None) -> bool:
        try:
            self.require(role, entity)
        except AccessDeniedError:
            return False
        return True

    def same_member(self, log_raw: bytes) -> bool:
        return self._evaluation.identity_of(log_raw) == self.identity


MAX_EARLY_PAST = 256  # waiting ACL events judged early together (rotations behind content)
_VERBS = {Role.FOLLOW: "follow", Role.READ: "read", Role.WRITE: "write", Role.DELETE: "delete others' items",
          Role.NO_ACCESS: "do anything"}


class AccessGate:
    def __init__(self, database: Database, logstore: LogStore, identity: Identity,
                 readers_may_write: Callable[[Any], bool] = lambda _payload: False) -> None:
        """`readers_may_write`: content a member who may only read may still
        write (its own display name); the reducer checks each op further."""
        self._readers_may_write = readers_may_write
        self._db = database
        self._sql = database.connection
        self._logstore = logstore
        self._identity = identity
        self._evaluations: dict[ThreadId, Evaluation] = {}
        self._replay: set[ThreadId] = set()
        self._new_keys: set[ThreadId] = set()
        # What early_keys last judged, per thread: nothing new, no judgement.
        self._early_judged: dict[ThreadId, tuple[int, tuple[tuple[bytes, int], ...]]] = {}
        database.on_rollback(self._evaluations.clear)
        database.on_rollback(self._early_judged.clear)

    # --- the event store's side -----------------------------------------------------------

    def admit(self, event: Event) -> Event:
        """The event with its author's rights, or AccessDeniedError."""
        if event.thread_id.variant is not ThreadVariant.ACCESS_CONTROLLED:
            return event
        if event.control:
            self._admit_control(event)
            return event
        if is_acl_payload(event.payload):
            raise AccessDeniedError("ACL changes travel in control events")
        evaluation = self.evaluation(event.thread_id)
        identity = evaluation.identity_of(event.log_id.raw)
        if identity is None:
            raise AccessDeniedError("the log is not bound to a member")
        if evaluation.removals.refuses(event.log_id.raw, event.seq, event.deps):
            raise AccessDeniedError("written by a device its person removed")
        rights = Rights(identity, evaluation.state_before(event.log_id.raw, event.seq, event.deps), event,
                        evaluation)
        rights.require(Role.READ if self._readers_may_write(event.payload) else Role.WRITE)
        return replace(event, rights=rights)

    def early_keys(self, thread_id: ThreadId, waiting: Sequence[Event]) -> bool:
        """Keys sealed to us that wait behind events they are needed to open
        (PROTOCOL §10e, §34). `waiting`: the thread's control events that
        wait. A box is taken if its event is valid at its causal past, all of
        which we hold: applied, content (read or not: it holds no ACL change),
        or waiting control events, judged with it in causal order; and only
        epochs we do not hold, so nothing can replace a key. One judgement
        for them all, and none again while nothing changed."""
        if thread_id.variant is not ThreadVariant.ACCESS_CONTROLLED:
            return False
        me = str(self._identity.peer_id)
        parsed: list[tuple[Event, tuple[AclOp, ...]]] = []
        for event in waiting:
            if not is_acl_payload(event.payload):
                continue  # a control event of no ACL: it changes no verdict
            try:
                parsed.append((event, tuple(parse_acl_payload(event.payload))))
            except InvalidInputError:
                continue  # refused when its turn comes: it changes nothing
        if not any(_boxes_for(ops, me) for _event, ops in parsed):
            return False
        # Records come in chain order, each with its events row: a log's rows
        # run from 1 to its head, so an event's past is here when its deps
        # are within the heads.
        heads = dict(self._sql.execute(
            "SELECT log_id, max(seq) FROM events WHERE thread_id = ? GROUP BY log_id", (thread_id.raw,)))
        here = [(e, ops) for e, ops in parsed if all(heads.get(log, 0) >= seq for log, seq in e.deps.items())]
        ordered = _causal_order(here)
        applied = self.evaluation(thread_id).events
        judged_key = (len(applied), tuple((e.log_id.raw, e.seq) for e, _ops in ordered or ()))
        if ordered is None or self._early_judged.get(thread_id) == judged_key:
            return False
        self._early_judged[thread_id] = judged_key
        candidates = [AclEvent(e.log_id.raw, e.seq, e.stamp, stamp_hlc(e.stamp), e.deps, ops) for e, ops in ordered]
        judged = Evaluation(thread_id, [*applied, *candidates])
        took = False
        for position, candidate in enumerate(candidates, start=len(applied)):
            if _boxes_for(candidate.ops, me) and judged.causal.valid[position]:
                allowed = judged.epochs_known_at(candidate.log, candidate.seq)
                took = self._adopt_keys(thread_id, candidate.ops, allowed, only_new_epochs=True) or took
        return took

    def take_replay(self, thread_id: ThreadId) -> bool:
        """Did verdicts already given change? Then the thread must be replayed."""
        if thread_id in self._replay:
            self._replay.discard(thread_id)
            return True
        return False

    def take_new_keys(self, thread_id: ThreadId) -> bool:
        if thread_id in self._new_keys:
            self._new_keys.discard(thread_id)
            return True
        return False

    def forget_thread(self, thread_id: ThreadId) -> None:
        """Drop the thread's evaluation and pending flags (its rows are
        gone: leaving)."""
        self._evaluations.pop(thread_id, None)
        self._early_judged.pop(thread_id, None)
        self._replay.discard(thread_id)
        self._new_keys.discard(thread_id)

    # --- control events -------------------------------------------------------------------

    def _admit_control(self, event: Event) -> None:
        ops = tuple(parse_acl_payload(event.payload))  # SchemaError: refused, nothing recorded
        acl_event = AclEvent(event.log_id.raw, event.seq, event.stamp, stamp_hlc(event.stamp), event.deps, ops)
        with self._db.write() as sql:
            inserted = sql.execute(
                "INSERT OR IGNORE INTO acl_events (thread_id, log_id, seq, position, stamp, deps, payload)"
                " VALUES (?, ?, ?, (SELECT COALESCE(MAX(position), 0) + 1 FROM acl_events WHERE thread_id = ?),"
                " ?, ?, ?)", (event.thread_id.raw, event.log_id.raw, event.seq, event.thread_id.raw, event.stamp,
                              cbor.encode(sorted([k, v] for k, v in event.deps.items())),
                              cbor.encode(event.payload))).rowcount
            cached = self._evaluations.get(event.thread_id)
            extended = bool(inserted) and cached is not None and cached.extend(acl_event)
            if inserted and not extended:
                self._evaluations.pop(event.thread_id, None)
            evaluation = self.evaluation(event.thread_id)
            index = evaluation.index[(event.log_id.raw, event.seq)]
            if extended:  # earlier verdicts stand: only this one is new
                sql.execute("UPDATE acl_events SET verdict = ? WHERE thread_id = ? AND log_id = ? AND seq = ?",
                            (int(evaluation.final.valid[index]), event.thread_id.raw, event.log_id.raw, event.seq))
            else:
                self._note_changed_verdicts(event.thread_id, evaluation)
            if inserted and evaluation.causal.valid[index]:
                self._adopt_keys(event.thread_id, ops, evaluation.epochs_known_at(event.log_id.raw, event.seq))
                if any(isinstance(op, REVOCATIONS) for op in ops):
                    self._check_applied_against(event.thread_id, evaluation, acl_event)
        reason = evaluation.final.reasons[index]
        if reason is not None:
            raise AccessDeniedError(reason)

    def _note_changed_verdicts(self, thread_id: ThreadId, evaluation: Evaluation) -> None:
        rows = self._sql.execute("SELECT log_id, seq, verdict FROM acl_events WHERE thread_id = ?",
                                 (thread_id.raw,)).fetchall()
        changed = []
        for log_raw, seq, verdict in rows:
            valid = int(evaluation.final.valid[evaluation.index[(log_raw, seq)]])
            if verdict != valid:
                changed.append((valid, thread_id.raw, log_raw, seq))
                if verdict is not None:
                    self._replay.add(thread_id)
        self._sql.executemany("UPDATE acl_events SET verdict = ? WHERE thread_id = ? AND log_id = ? AND seq = ?",
                              changed)

    def _check_applied_against(self, thread_id: ThreadId, evaluation: Evaluation, revocation: AclEvent) -> None:
        """A revocation arriving after events concurrent with it were applied:
        remove wins, so those must be judged again."""
        revoked = {op.peer for op in revocation.ops if isinstance(op, Revoke)}
        if any(isinstance(op, Leave) for op in revocation.ops):
            revoked.add(evaluation.identity_of(revocation.log) or "")
        # Only removals that count: one the thread ignores (a forged one) must
        # not cost every peer a rebuild. Their devices' events are refused
        # exactly when `refuses` says so.
        devices = evaluation.removals.removes(revocation.log, revocation.seq)
        logs = [(log, binding.member in revoked) for log, binding in evaluation.bindings.items()
                if binding.member in revoked or binding.device in devices]
        for log_raw, by_role in logs:
            after = revocation.seq if log_raw == revocation.log else revocation.deps.get(log_raw, 0)
            for seq, deps_blob in self._sql.execute(
                    "SELECT seq, deps FROM events WHERE thread_id = ? AND log_id = ? AND seq > ? AND state = ?"
                    " AND control = 0", (thread_id.raw, log_raw, after, APPLIED)):
                deps = dict(cbor.decode(deps_blob, max_size=1 << 20))
                if evaluation.removals.refuses(log_raw, seq, deps) \
                        or (by_role and concurrent(revocation, log_raw, seq, deps)):
                    self._replay.add(thread_id)
                    return

    def _adopt_keys(self, thread_id: ThreadId, ops: Iterable[Any], allowed: frozenset[int], *,
                    only_new_epochs: bool = False) -> bool:
        """Take the keys of boxes sealed to us, of the epochs `allowed` only."""
        me = str(self._identity.peer_id)
        held = {key.epoch: key for key in self._logstore.thread_keys(thread_id)}
        could_read = any(key.can_read for key in held.values())
        took = False
        for op in ops:
            if not isinstance(op, Keys):
                continue
            for peer, box, _with_read in op.boxes:
                if peer != me:
                    continue
                try:
                    keys = open_key_box(self._identity, thread_id, box)
                except InvalidInputError:
                    continue  # a box we cannot open gives nothing; the event still counts
                for key in keys:
                    if key.epoch not in allowed:
                        continue  # an epoch no valid event made: smuggled in under another number
                    known = held.get(key.epoch)
                    if known is None or (key.can_read and not known.can_read and known.follow == key.follow
                                         and not only_new_epochs):
                        self._logstore.put_thread_key(thread_id, key)
                        held[key.epoch] = key
                        self._new_keys.add(thread_id)
                        took = True
        if not could_read and any(key.can_read for key in held.values()):
            self._replay.add(thread_id)  # what we could only follow, we can now read: open it all
        return took

    # --- reading ------------------------------------------------------------------------

    def evaluation(self, thread_id: ThreadId) -> Evaluation:
        cached = self._evaluations.get(thread_id)
        if cached is None:
            events = []
            for log_raw, seq, stamp, deps_blob, payload_blob in self._sql.execute(
                    "SELECT log_id, seq, stamp, deps, payload FROM acl_events WHERE thread_id = ? ORDER BY position",
                    (thread_id.raw,)):
                deps: Mapping[bytes, int] = dict(cbor.decode(deps_blob, max_size=1 << 20))
                try:
                    ops = tuple(parse_acl_payload(cbor.decode(payload_blob, max_size=1 << 22)))
                except InvalidInputError:
                    ops = ()
                events.append(AclEvent(log_raw, seq, stamp, stamp_hlc(stamp), deps, ops))
            cached = self._evaluations[thread_id] = Evaluation(thread_id, events)
        return cached


def _boxes_for(ops: Iterable[AclOp], me: str) -> bool:
    return any(isinstance(op, Keys) and any(peer == me for peer, _b, _r in op.boxes) for op in ops)


def _causal_order(events: list[tuple[Event, tuple[AclOp, ...]]]) -> list[tuple[Event, tuple[AclOp, ...]]] | None:
    """The events in an order that respects causality (their deps, not their
    stamps: a writer may stamp against it; stamps only break ties); None past
    MAX_EARLY_PAST, or for a cycle (which honest deps never make)."""
    if len(events) > MAX_EARLY_PAST:
        return None

    def before(a: Event, b: Event) -> bool:
        if a.log_id == b.log_id:
            return a.seq < b.seq
        return a.seq <= b.deps.get(a.log_id.raw, 0)

    waiting_on = [0] * len(events)
    after: list[list[int]] = [[] for _ in events]
    for i, (a, _ops) in enumerate(events):
        for j, (b, _o) in enumerate(events):
            if i != j and before(a, b):
                waiting_on[j] += 1
                after[i].append(j)
    ready = [(e.stamp, i) for i, (e, _ops) in enumerate(events) if not waiting_on[i]]
    heapq.heapify(ready)
    ordered = []
    while ready:
        _stamp, i = heapq.heappop(ready)
        ordered.append(events[i])
        for j in after[i]:
            waiting_on[j] -= 1
            if not waiting_on[j]:
                heapq.heappush(ready, (events[j][0].stamp, j))
    return ordered if len(ordered) == len(events) else None
