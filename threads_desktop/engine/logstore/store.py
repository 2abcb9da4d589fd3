"""The log store: threads, their keys, logs and records on SQLite.

Every write runs in one transaction (a savepoint when nested), so a refused
record or a crash leaves the store exactly as it was before.
"""

from __future__ import annotations

import enum
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import Executor
from dataclasses import dataclass
from typing import Any

from threads_desktop.engine.core.errors import (
    ForkError,
    GapError,
    IntegrityError,
    InvalidInputError,
    LogError,
    MissingKeyError,
    NotFoundError,
    StorageError,
    ThreadsError,
)
from threads_desktop.engine.core.ids import PeerId, ThreadId
from threads_desktop.engine.core.keys import SigningKey, ThreadKey
from threads_desktop.engine.crypto.aead import RandomBytes
from threads_desktop.engine.crypto.vault import KeyVault
from threads_desktop.engine.logstore.database import Database
from threads_desktop.engine.logstore.envelopes import (
    DecodedEnvelope,
    Envelope,
    OpenedEvent,
    SealedEvent,
    build_envelope,
    check_envelope,
    decode_envelope,
    open_event,
    verify_signature,
)
from threads_desktop.engine.logstore.lent_keys import LentKeys

# Below this many records a batch is verified on the calling thread: handing
# work to the pool costs more than it saves.
_PARALLEL_VERIFY_MIN = 32
# What refuses one record of a page; anything else (a failing disk) stops it.
_REFUSALS = (InvalidInputError, LogError)


class IngestOutcome(enum.Enum):
    ADDED = "added"
    DUPLICATE = "duplicate"


@dataclass(frozen=True, slots=True)
class AppendedRecord:
    log_id: PeerId
    seq: int
    record_cid: bytes
    envelope: Envelope
    sealed: SealedEvent  # what it holds, as sealed: applying it needs no decrypting


@dataclass(frozen=True, slots=True)
class NewEvent:
    """An event to append: its payload, HLC timestamp and causal context."""

    payload: Any
    hlc: int
    deps: tuple[tuple[PeerId, int], ...] = ()
    control: bool = False  # header sealed with the follow key (membership, keys)


@dataclass(frozen=True, slots=True)
class LogHead:
    log_id: PeerId
    head: bytes | None
    seq: int
    writable: bool


@dataclass(frozen=True, slots=True)
class StoredRecord:
    seq: int
    record_cid: bytes
    envelope: Envelope


@dataclass(slots=True)
class _Position:
    """Where a log stands: its row, head and seq."""

    row: int | None
    head: bytes | None
    seq: int


class LogStore:
    def __init__(
        self,
        database: Database,
        vault: KeyVault,
        *,
        random_bytes: RandomBytes,
        now_seconds: Callable[[], float],
        verify_pool: Executor | None = None,
    ) -> None:
        self._db = database
        self._sql = database.connection
        self._vault = vault
        self._random_bytes = random_bytes
        self._now_seconds = now_seconds
        self._verify_pool = verify_pool
        # Unwrapped keys stay in memory only; the file holds them wrapped.
        self._keys: dict[ThreadId, list[ThreadKey]] = {}
        self._log_keys: dict[tuple[ThreadId, PeerId], SigningKey] = {}
        self._own_logs: dict[ThreadId, PeerId] = {}
        # Where our own logs stand, so an append needs no read; each append's
        # conditional UPDATE proves the cache right or sends us to the file.
        self._own_positions: dict[ThreadId, _Position] = {}
        self._lent = LentKeys()
        # A rollback may undo what the caches were filled from.
        database.on_rollback(self._forget_cached)

    def _forget_cached(self) -> None:
        self._keys.clear()
        self._log_keys.clear()
        self._own_logs.clear()
        self._own_positions.clear()

    def forget_thread(self, thread_id: ThreadId) -> None:
        """Drop what is cached of one thread (its rows are gone: leaving);
        the other threads' caches stay warm."""
        self._keys.pop(thread_id, None)
        self._own_logs.pop(thread_id, None)
        self._own_positions.pop(thread_id, None)
        self._lent.forget(thread_id)
        for key in [k for k in self._log_keys if k[0] == thread_id]:
            del self._log_keys[key]

    # --- threads and the key book ------------------------------------------

    def create_thread(self, thread_id: ThreadId, key: ThreadKey) -> None:
        with self._db.write() as sql:
            if sql.execute("SELECT 1 FROM threads WHERE id = ?", (thread_id.raw,)).fetchone():
                raise ThreadsError(f"thread {thread_id} already exists in this profile")
            sql.execute("INSERT INTO threads (id, variant, created_at) VALUES (?, ?, ?)",
                        (thread_id.raw, int(thread_id.variant), int(self._now_seconds())))
            self._insert_key(thread_id, key)

    def add_thread_key(self, thread_id: ThreadId, key: ThreadKey) -> None:
        """Store another epoch of the thread's keys (rotation, or a join)."""
        with self._db.write():
            self._require_thread(thread_id)
            self._insert_key(thread_id, key)

    def put_thread_key(self, thread_id: ThreadId, key: ThreadKey) -> None:
        """Store a key of an epoch, replacing a follow-only key of that epoch
        (a follower promoted to reader)."""
        with self._db.write() as sql:
            self._require_thread(thread_id)
            sql.execute("DELETE FROM thread_keys WHERE thread_id = ? AND epoch = ?", (thread_id.raw, key.epoch))
            self._insert_key(thread_id, key)

    def _insert_key(self, thread_id: ThreadId, key: ThreadKey) -> None:
        wrapped = self._vault.wrap(key.to_bytes(), _key_label(thread_id, key.epoch))
        self._sql.execute(
            "INSERT INTO thread_keys (thread_id, epoch, can_read, wrapped_key) VALUES (?, ?, ?, ?)",
            (thread_id.raw, key.epoch, int(key.can_read), wrapped))
        self._keys.pop(thread_id, None)

    def thread_keys(self, thread_id: ThreadId) -> list[ThreadKey]:
        """The thread's keys, newest epoch first."""
        keys = self._keys.get(thread_id)
        if keys is None:
            rows = self._sql.execute(
                "SELECT epoch, wrapped_key FROM thread_keys WHERE thread_id = ? ORDER BY epoch DESC",
                (thread_id.raw,)).fetchall()
            if not rows:
                raise NotFoundError(f"thread {thread_id} is not in this profile")
            keys = [ThreadKey.from_bytes(self._vault.unwrap(wrapped, _key_label(thread_id, epoch)), epoch)
                    for epoch, wrapped in rows]
            self._keys[thread_id] = keys
        return keys

    def lend_keys(self, thread_id: ThreadId, lender: PeerId, keys: Sequence[ThreadKey]) -> bool:
        """Keys a member lent us (logstore/lent_keys.py): they open records,
        and events where they hold a read key, until the real keys arrive.
        True if any is new."""
        held = {k.epoch for k in self.thread_keys(thread_id)} if keys else set()
        return self._lent.lend(thread_id, lender, keys, held)

    def _opening_keys(self, thread_id: ThreadId) -> list[ThreadKey]:
        return self._lent.with_lent(thread_id, self.thread_keys(thread_id))

    def _require_thread(self, thread_id: ThreadId) -> None:
        if not self._sql.execute("SELECT 1 FROM threads WHERE id = ?", (thread_id.raw,)).fetchone():
            raise NotFoundError(f"thread {thread_id} is not in this profile")

    # --- logs ------------------------------------------------------------------

    def create_own_log(self, thread_id: ThreadId, log_key: SigningKey | None = None) -> PeerId:
        """Our log in the thread (one per thread and identity); made once.
        `log_key`: the key chosen before (a joiner names its log when it
        asks to be admitted, before the thread is here)."""
        existing = self.own_log(thread_id)
        if existing is not None:
            return existing
        log_key = log_key or SigningKey.generate()
        with self._db.write() as sql:
            self._require_thread(thread_id)
            sql.execute(
                "INSERT INTO logs (thread_id, log_id, wrapped_private_key) VALUES (?, ?, ?)",
                (thread_id.raw, log_key.peer_id.raw,
                 self._vault.wrap(log_key.seed(), _log_label(thread_id, log_key.peer_id))))
        self._log_keys[(thread_id, log_key.peer_id)] = log_key
        return log_key.peer_id

    def own_log(self, thread_id: ThreadId) -> PeerId | None:
        cached = self._own_logs.get(thread_id)
        if cached is not None:
            return cached
        row = self._sql.execute(
            "SELECT log_id FROM logs WHERE thread_id = ? AND wrapped_private_key IS NOT NULL",
            (thread_id.raw,)).fetchone()
        if row is None:
            return None
        self._own_logs[thread_id] = PeerId(row[0])
        return self._own_logs[thread_id]

    def logs(self, thread_id: ThreadId) -> list[LogHead]:
        return [LogHead(PeerId(log_id), head, seq, bool(writable)) for log_id, head, seq, writable in
                self._sql.execute(
                    "SELECT log_id, head, seq, wrapped_private_key IS NOT NULL FROM logs"
                    " WHERE thread_id = ? ORDER BY log_id", (thread_id.raw,))]

    def _log_key(self, thread_id: ThreadId, log_id: PeerId) -> SigningKey:
        cached = self._log_keys.get((thread_id, log_id))
        if cached is not None:
            return cached
        row = self._sql.execute(
            "SELECT wrapped_private_key FROM logs WHERE thread_id = ? AND log_id = ?",
            (thread_id.raw, log_id.raw)).fetchone()
        if row is None or row[0] is None:
            raise MissingKeyError(f"this profile does not write log {log_id}")
        key = SigningKey.from_seed(self._vault.unwrap(row[0], _log_label(thread_id, log_id)))
        if key.peer_id != log_id:
            raise IntegrityError(f"the stored key of log {log_id} is not that log's key")
        self._log_keys[(thread_id, log_id)] = key
        return key

    def _position(self, thread_id: ThreadId, log_id: PeerId) -> _Position:
        row = self._sql.execute("SELECT id, head, seq FROM logs WHERE thread_id = ? AND log_id = ?",
                                (thread_id.raw, log_id.raw)).fetchone()
        return _Position(*row) if row else _Position(None, None, 0)

    # --- append and ingest ----------------------------------------------------

    def append(
        self, thread_id: ThreadId, payload: Any, *, hlc: int,
        deps: Sequence[tuple[PeerId, int]] = (),
    ) -> AppendedRecord:
        """Add one event to our log in the thread."""
        return self.append_many(thread_id, [NewEvent(payload, hlc, tuple(deps))])[0]

    def append_many(self, thread_id: ThreadId, events: Sequence[NewEvent],
                    key: ThreadKey | None = None) -> list[AppendedRecord]:
        """Add events to our log in the thread, in order, in one transaction
        (a savepoint inside an enclosing one): all of them or none. Sealed
        with `key`, by default the newest epoch held."""
        log_id = self.own_log(thread_id)
        if log_id is None:
            raise MissingKeyError(f"this profile has no log in thread {thread_id}")
        if not events:
            return []
        key = key or self.thread_keys(thread_id)[0]
        log_key = self._log_key(thread_id, log_id)

        def build_from(position: _Position) -> list[DecodedEnvelope]:
            built: list[DecodedEnvelope] = []
            head, seq = position.head, position.seq
            for event in events:
                seq += 1
                envelope = build_envelope(
                    thread_id=thread_id, key=key, log_key=log_key, prev_cid=head, seq=seq,
                    payload=event.payload, hlc=event.hlc, deps=event.deps, random_bytes=self._random_bytes,
                    control=event.control)
                built.append(envelope)
                head = envelope.record_cid
            return built

        with self._db.write():
            position = self._own_positions.get(thread_id) or self._position(thread_id, log_id)
            built = build_from(position)
            if not self._insert(position, built):
                # The cached position went stale (an enclosing transaction
                # rolled back): build again where the file really stands.
                position = self._position(thread_id, log_id)
                built = build_from(position)
                if not self._insert(position, built):
                    raise IntegrityError(f"log {log_id} changed while appending to it")
        self._own_positions[thread_id] = position
        return [AppendedRecord(log_id, b.record.seq, b.record_cid, b.envelope, _sealed(b)) for b in built]

    def ingest(self, thread_id: ThreadId, envelope: Envelope) -> IngestOutcome:
        """Store a record received from a peer, after checking everything.

        Idempotent. A gap (earlier records missing) or a fork (a different
        record at a position we hold) is refused and changes nothing.
        """
        outcome = self.ingest_many(thread_id, [envelope])[0]
        if isinstance(outcome, ThreadsError):
            raise outcome
        return outcome

    def ingest_many(
        self, thread_id: ThreadId, envelopes: Sequence[Envelope],
        added: list[DecodedEnvelope] | None = None,
    ) -> list[IngestOutcome | ThreadsError]:
        """Ingest a page of envelopes in one transaction, in order.

        Each gets its own outcome: a bad one is refused alone (its savepoint
        rolls back) and the good ones are kept. The records added are also
        appended to `added`, when given.
        """
        keys = self._opening_keys(thread_id)
        positions: dict[PeerId, _Position] = {}
        results: list[IngestOutcome | ThreadsError | DecodedEnvelope] = []
        for envelope in envelopes:
            try:
                decoded = decode_envelope(envelope, keys)
                position = positions.get(decoded.log_id)
                if position is None:
                    position = positions[decoded.log_id] = self._position(thread_id, decoded.log_id)
                # Positions we already hold are settled without a signature check.
                if decoded.record.seq <= position.seq:
                    results.append(self._settle_held(position, decoded))
                else:
                    results.append(decoded)
            except _REFUSALS as exc:
                results.append(exc)
        pending = [r for r in results if isinstance(r, DecodedEnvelope)]
        failures = dict(zip(map(id, pending), self._verify_all(thread_id, pending), strict=True))
        outcomes: list[IngestOutcome | ThreadsError] = []
        with self._db.write():
            for result in results:
                if not isinstance(result, DecodedEnvelope):
                    outcomes.append(result)
                    continue
                try:
                    failure = failures[id(result)]
                    if failure is not None:
                        raise failure
                    outcome = self._store(thread_id, positions[result.log_id], result)
                    outcomes.append(outcome)
                    if added is not None and outcome is IngestOutcome.ADDED:
                        added.append(result)
                except _REFUSALS as exc:
                    outcomes.append(exc)
        return outcomes

    def _verify_all(self, thread_id: ThreadId, pending: list[DecodedEnvelope]) -> list[ThreadsError | None]:
        def verify(decoded: DecodedEnvelope) -> ThreadsError | None:
            try:
                verify_signature(thread_id, decoded)
            except _REFUSALS as exc:
                return exc
            return None

        # cryptography releases the GIL while verifying, so a pool of threads
        # uses every core for the dominant cost of ingest.
        if self._verify_pool is None or len(pending) < _PARALLEL_VERIFY_MIN:
            return [verify(decoded) for decoded in pending]
        return list(self._verify_pool.map(verify, pending, chunksize=16))

    def _settle_held(self, position: _Position, decoded: DecodedEnvelope) -> IngestOutcome:
        row = self._sql.execute("SELECT cid FROM records WHERE log = ? AND seq = ?",
                                (position.row, decoded.record.seq)).fetchone()
        if row is not None and row[0] == decoded.record_cid:
            return IngestOutcome.DUPLICATE
        raise ForkError(f"log {decoded.log_id} already has a different record at seq {decoded.record.seq}")

    def _store(self, thread_id: ThreadId, position: _Position, decoded: DecodedEnvelope) -> IngestOutcome:
        record = decoded.record
        if record.seq <= position.seq:  # an earlier envelope of this page added it
            return self._settle_held(position, decoded)
        if record.seq > position.seq + 1:
            raise GapError(f"log {record.log_id} is held up to seq {position.seq}; got seq {record.seq}")
        if record.prev_cid != position.head:
            raise ForkError(f"record {record.seq} of log {record.log_id} does not follow our head")
        # No savepoint: every refusal above comes before the first write, and a
        # record's CID covers its log and seq, so it cannot be held elsewhere.
        if position.row is None:
            cursor = self._sql.execute("INSERT INTO logs (thread_id, log_id) VALUES (?, ?)",
                                       (thread_id.raw, record.log_id.raw))
            position.row = cursor.lastrowid
        if not self._insert(position, [decoded]):  # cannot miss: `position` was read in this transaction
            raise StorageError(f"log {record.log_id} moved while ingesting")
        self._own_positions.pop(thread_id, None)
        return IngestOutcome.ADDED

    def _insert(self, position: _Position, chain: Sequence[DecodedEnvelope]) -> bool:
        """Write records that continue the log from `position`, and move its
        head to the last, if the log still stands at `position` (then
        `position` moves on too). Call inside a write transaction."""
        last = chain[-1]
        moved = self._sql.execute(
            "UPDATE logs SET head = ?, seq = ? WHERE id = ? AND log_id = ? AND seq = ? AND head IS ?",
            (last.record_cid, last.record.seq, position.row, last.log_id.raw, position.seq,
             position.head)).rowcount
        if moved != 1:
            return False
        self._sql.executemany(
            "INSERT INTO records (log, seq, cid, record, event, header, body) VALUES (?, ?, ?, ?, ?, ?, ?)",
            [(position.row, d.record.seq, d.record_cid, *d.envelope.blocks()) for d in chain])
        position.head, position.seq = last.record_cid, last.record.seq
        return True

    # --- reads -----------------------------------------------------------------

    def records_after(self, thread_id: ThreadId, log_id: PeerId, after_seq: int,
                      limit: int = 256) -> list[StoredRecord]:
        """The records of a log after `after_seq`, oldest first."""
        position = self._position(thread_id, log_id)
        rows = self._sql.execute(
            "SELECT seq, cid, record, event, header, body FROM records"
            " WHERE log = ? AND seq > ? ORDER BY seq LIMIT ?",
            (position.row, after_seq, limit)).fetchall()
        return [StoredRecord(seq, cid, Envelope(rec, ev, hdr, body)) for seq, cid, rec, ev, hdr, body in rows]

    def walk(self, thread_id: ThreadId, log_id: PeerId) -> Iterator[StoredRecord]:
        """Follow a log from its head back to its first record, checking every
        block, signature and link on the way (raises on the first bad one)."""
        keys = self.thread_keys(thread_id)
        position = self._position(thread_id, log_id)
        if position.row is None:
            raise NotFoundError(f"log {log_id} is not in thread {thread_id}")
        expected_cid, seq = position.head, position.seq
        while seq > 0:
            row = self._sql.execute("SELECT record, event, header, body FROM records WHERE log = ? AND seq = ?",
                                    (position.row, seq)).fetchone()
            if row is None:
                raise IntegrityError(f"log {log_id} is missing its record {seq}")
            checked = check_envelope(thread_id, Envelope(*row), keys)
            if (checked.record_cid != expected_cid or checked.log_id != log_id
                    or checked.record.seq != seq):
                raise IntegrityError(f"log {log_id} breaks its chain at seq {seq}")
            yield StoredRecord(seq, checked.record_cid, checked.envelope)
            expected_cid, seq = checked.record.prev_cid, seq - 1
        if expected_cid is not None:
            raise IntegrityError(f"log {log_id} links past its first record")

    def verify_log(self, thread_id: ThreadId, log_id: PeerId) -> int:
        """Walk the whole log; returns how many records verified."""
        return sum(1 for _ in self.walk(thread_id, log_id))

    def read_event(self, thread_id: ThreadId, envelope: Envelope) -> OpenedEvent:
        """Decrypt an event's header and body (needs a read key)."""
        held = self.thread_keys(thread_id)
        try:
            return open_event(envelope.header, envelope.body, held)
        except ThreadsError as held_says:
            keys = self._lent.with_lent(thread_id, held)
            if keys is held:
                raise
            try:  # held keys first: what members lend costs honest events nothing
                return open_event(envelope.header, envelope.body, keys)
            except ThreadsError:
                # What the held keys alone say: a follower lent a made-up read
                # key still keeps a content event's place (MissingKeyError),
                # rather than wait for a key that never comes.
                raise held_says from None


def _sealed(built: DecodedEnvelope) -> SealedEvent:
    assert built.sealed is not None  # build_envelope always says what it sealed
    return built.sealed


def _key_label(thread_id: ThreadId, epoch: int) -> str:
    return f"thread-key/{thread_id}/{epoch}"


def _log_label(thread_id: ThreadId, log_id: PeerId) -> str:
    return f"log-key/{thread_id}/{log_id}"
