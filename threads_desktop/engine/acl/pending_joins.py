"""The joiner's side of admissions (issue 16): the link kept as a pending
admission (no thread, no keys), the request sent to an admin, the keys taken
from its answer, and our bind written once the admit event reached us. An
admin's side is in answering.py; Membership delegates to both."""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Sequence
from typing import Any

from threads_desktop.engine.acl import admission, admitting
from threads_desktop.engine.acl.admission import MAX_JOINER_NAME, AdmissionAnswer, AdmissionRequest
from threads_desktop.engine.acl.control_ops import acl_payload, join_message, make_bind
from threads_desktop.engine.acl.device_book import DeviceBook
from threads_desktop.engine.acl.gate import AccessGate
from threads_desktop.engine.acl.keybox import open_key_box
from threads_desktop.engine.acl.links import InviteLink
from threads_desktop.engine.codec import cbor
from threads_desktop.engine.core.errors import InvalidInputError, NotFoundError, ThreadsError
from threads_desktop.engine.core.ids import ThreadId, ThreadVariant
from threads_desktop.engine.core.keys import Identity, SigningKey
from threads_desktop.engine.core.members import AdmissionStatus, JoinState, Role
from threads_desktop.engine.core.text import name_from_peer
from threads_desktop.engine.crypto.aead import RandomBytes
from threads_desktop.engine.crypto.vault import KeyVault
from threads_desktop.engine.logstore.addressbook import peer_of_address
from threads_desktop.engine.logstore.database import Database
from threads_desktop.engine.logstore.store import LogStore


class PendingJoins:
    """Membership's joiner side: the pending_admissions rows and who let us in."""

    def __init__(self, database: Database, store: LogStore, gate: AccessGate, identity: Identity, vault: KeyVault,
                 devices: DeviceBook, *, commit: Callable[[ThreadId, Sequence[Any]], None],
                 random_bytes: RandomBytes, now_ms: Callable[[], int]) -> None:
        self._db = database
        self._sql: sqlite3.Connection = database.connection
        self._store = store
        self._gate = gate
        self._identity = identity
        self._vault = vault
        self._devices = devices
        self._commit = commit
        self._random_bytes = random_bytes
        self._now_ms = now_ms
        # Per thread just let in: the admin whose answer was taken (kept in
        # memory: the window lasts until the first ACL event arrives).
        self._admitted_by: dict[ThreadId, str] = {}

    @property
    def device(self) -> str:
        return str(self._identity.peer_id)

    def join(self, link: InviteLink) -> ThreadId:
        """Keep the link as a pending admission: no thread and no keys until
        an admin admits us (admission_request, take_admission). A refused
        one is replaced by the new link."""
        thread_id = link.thread_id
        if thread_id.variant is not ThreadVariant.ACCESS_CONTROLLED:
            raise InvalidInputError("only access-controlled threads are joined with a link")
        invite_key = SigningKey.from_seed(link.invite_seed)
        log_seed = self._random_bytes(32)
        with self._db.write() as sql:
            pending = sql.execute("SELECT status FROM pending_admissions WHERE thread_id = ?",
                                  (thread_id.raw,)).fetchone()
            if sql.execute("SELECT 1 FROM threads WHERE id = ?", (thread_id.raw,)).fetchone() \
                    or (pending is not None and pending[0] != "refused"):
                raise ThreadsError(f"you are already in {link.name or 'this album or chat'}")
            sql.execute("DELETE FROM pending_admissions WHERE thread_id = ?", (thread_id.raw,))
            sql.execute(
                "INSERT INTO pending_admissions (thread_id, invite_key, wrapped_seed, wrapped_log_seed, role, name,"
                " inviter, addresses, status, reason, since_ms) VALUES (?, ?, ?, ?, ?, ?, ?, ?, 'waiting', NULL, ?)",
                (thread_id.raw, invite_key.peer_id.public_key,
                 self._vault.wrap(link.invite_seed, _seed_label(thread_id)),
                 self._vault.wrap(log_seed, _log_seed_label(thread_id)), link.role.label, link.name, link.inviter,
                 cbor.encode(list(link.addresses)), self._now_ms()))
        return thread_id

    def admission_request(self, thread_id: ThreadId, name: str | None = None) -> AdmissionRequest:
        """What to send an admin to be admitted with our pending link
        (`name`: our display name, for its person to see)."""
        row = self._sql.execute("SELECT invite_key, wrapped_seed, wrapped_log_seed FROM pending_admissions"
                                " WHERE thread_id = ?", (thread_id.raw,)).fetchone()
        if row is None:
            raise NotFoundError("no pending join for this album or chat")
        invite_public, wrapped_seed, wrapped_log = row
        invite_key = SigningKey.from_seed(self._vault.unwrap(wrapped_seed, _seed_label(thread_id)))
        log_id = SigningKey.from_seed(self._vault.unwrap(wrapped_log, _log_seed_label(thread_id))).peer_id
        me = self._identity.peer_id
        bind = make_bind(self._identity, thread_id, log_id)
        return AdmissionRequest(thread_id, invite_public, log_id, me, bind.exchange, bind.signature,
                                invite_key.sign(join_message(thread_id, invite_public, log_id, me)),
                                name_from_peer(name, MAX_JOINER_NAME) if name is not None else None,
                                self._devices.this_cert())

    def take_admission(self, thread_id: ThreadId, answer: AdmissionAnswer, from_peer: str | None = None) -> JoinState:
        """The joiner's side of an answer (from `from_peer`). ADMITTED: the
        keys in the box and our log; the thread is ours to sync (complete_join
        writes our bind once the admit event is here). UNKNOWN changes nothing."""
        with self._db.write() as sql:
            row = sql.execute("SELECT wrapped_log_seed, status FROM pending_admissions WHERE thread_id = ?",
                              (thread_id.raw,)).fetchone()
            if row is None:
                raise NotFoundError("no pending join for this album or chat")
            wrapped_log, status = row
            if status == "admitted" or answer.status is AdmissionStatus.UNKNOWN:
                pass  # admitted already (by another admin, say): a later answer changes nothing
            elif answer.status is AdmissionStatus.ADMITTED:
                assert answer.box is not None and answer.role is not None
                keys = open_key_box(self._identity, thread_id, answer.box)  # InvalidInputError: nothing taken
                if not sql.execute("SELECT 1 FROM threads WHERE id = ?", (thread_id.raw,)).fetchone():
                    newest, *older = sorted(keys, key=lambda key: key.epoch, reverse=True)
                    self._store.create_thread(thread_id, newest)
                    for key in older:
                        self._store.add_thread_key(thread_id, key)
                log_key = SigningKey.from_seed(self._vault.unwrap(wrapped_log, _log_seed_label(thread_id)))
                self._store.create_own_log(thread_id, log_key)
                self._set_join_status(thread_id, "admitted", None, answer.role)
                if from_peer is not None:
                    self._admitted_by[thread_id] = from_peer
            elif answer.status is AdmissionStatus.REFUSED:
                self._set_join_status(thread_id, "refused", answer.reason)
            else:
                self._set_join_status(thread_id, "waiting-approval", None)
        state = self.join_state(thread_id)
        assert state is not None
        return state

    def _set_join_status(self, thread_id: ThreadId, status: str, reason: str | None, role: Role | None = None) -> None:
        self._sql.execute("UPDATE pending_admissions SET status = ?, reason = ?, since_ms = ?,"
                          " role = COALESCE(?, role) WHERE thread_id = ?",
                          (status, reason, self._now_ms(), None if role is None else role.label, thread_id.raw))

    def complete_join(self, thread_id: ThreadId) -> str | None:
        """Once the admit event naming us is applied here, write our bind
        (our log's first event) and forget the pending admission. Returns
        why the admission was refused, if it was (an invite used up by a
        concurrent admission elsewhere, say)."""
        row = self._sql.execute("SELECT status, reason, invite_key FROM pending_admissions WHERE thread_id = ?",
                                (thread_id.raw,)).fetchone()
        if row is None or row[0] != "admitted":
            return None if row is None or row[0] != "refused" else str(row[1])
        own_log = self._store.own_log(thread_id)
        if own_log is None:
            return None
        verdict = admitting.admit_verdict(self._gate.evaluation(thread_id), row[2], self.device, own_log)
        if verdict is None:
            return None  # not here yet: sync brings it
        with self._db.write() as sql:
            if isinstance(verdict, str):
                self._set_join_status(thread_id, "refused", admission.refusal_reason(verdict))
                return admission.refusal_reason(verdict)
            if not any(event.log == own_log.raw for event in self._gate.evaluation(thread_id).events):
                self._commit(thread_id, [acl_payload(make_bind(self._identity, thread_id, own_log,
                                                               self._devices.this_cert()))])
            sql.execute("DELETE FROM pending_admissions WHERE thread_id = ?", (thread_id.raw,))
        self._admitted_by.pop(thread_id, None)  # the ACL is here: it decides from now on
        return None

    def join_state(self, thread_id: ThreadId) -> JoinState | None:
        row = self._sql.execute(f"SELECT {_JOIN_COLUMNS} FROM pending_admissions WHERE thread_id = ?",
                                (thread_id.raw,)).fetchone()
        return None if row is None else _join_state(row)

    def pending_joins(self) -> list[JoinState]:
        """Links we joined with and are not in yet, oldest first."""
        return [_join_state(row) for row in self._sql.execute(
            f"SELECT {_JOIN_COLUMNS} FROM pending_admissions ORDER BY since_ms, thread_id")]

    def pending_join(self, thread_id: ThreadId) -> tuple[bool, str | None]:
        """(still on our way in?, why the admission was refused)."""
        state = self.join_state(thread_id)
        if state is None:
            return False, None
        return state.status != "refused", state.reason

    def forget_join(self, thread_id: ThreadId) -> None:
        """Cancel a pending admission that is waiting or was refused."""
        with self._db.write() as sql:
            if not sql.execute("DELETE FROM pending_admissions WHERE thread_id = ? AND status != 'admitted'",
                               (thread_id.raw,)).rowcount:
                raise NotFoundError("no pending join to cancel for this album or chat")

    def admission_peers(self, thread_id: ThreadId) -> frozenset[str] | None:
        """The peers our pending admission came from; None when unknown."""
        state = self.join_state(thread_id)
        if state is None:
            return None
        named = {str(found) for found in map(peer_of_address, state.addresses) if found is not None}
        admitted_by = self._admitted_by.get(thread_id)
        if admitted_by is not None:
            named.add(admitted_by)
        return frozenset(named) or None


def _seed_label(thread_id: ThreadId) -> str:
    return f"invite-seed/{thread_id}"


def _log_seed_label(thread_id: ThreadId) -> str:
    return f"join-log-seed/{thread_id}"


_JOIN_COLUMNS = "thread_id, status, reason, name, inviter, role, addresses, since_ms"


def _join_state(row: tuple[Any, ...]) -> JoinState:
    thread_raw, status, reason, name, inviter, role, addresses, since_ms = row
    return JoinState(ThreadId(thread_raw), status, reason, name, inviter, Role.parse(role),
                     tuple(cbor.decode(addresses, max_size=1 << 16)), since_ms)
