"""Membership commands: invites and admissions, grants and revocations (with
key rotation), leaving, and who is in a thread. Each command is one control
event in our log; the gate judges it like any other, here and on every peer.

Joining by link: the joiner keeps the link as a pending admission (no keys),
asks an admin (admission_request, carried by engine/net/joining.py), the
admin judges the invite as the ACL stands and writes an admit event
(answer_admission), and the joiner takes the keys from the answer
(take_admission) and writes its bind once the admit event reached it
(complete_join)."""

from __future__ import annotations

import hashlib
import sqlite3
from collections.abc import Callable, Sequence
from typing import Any

from threads_desktop.engine.acl import admission, admitting
from threads_desktop.engine.acl.admission import MAX_JOINER_NAME, AdmissionAnswer, AdmissionRequest
from threads_desktop.engine.acl.control_ops import (
    AclOp,
    Admit,
    Grant,
    Invite,
    Keys,
    Leave,
    Revoke,
    SetDefault,
    Uninvite,
    acl_payload,
    join_message,
    make_bind,
)
from threads_desktop.engine.acl.device_book import DeviceBook
from threads_desktop.engine.acl.direct import DirectInvite, open_direct_invite, seal_direct_invite
from threads_desktop.engine.acl.gate import AccessGate
from threads_desktop.engine.acl.keybox import open_key_box, seal_key_box
from threads_desktop.engine.acl.links import InviteLink
from threads_desktop.engine.acl.policy import Evaluation
from threads_desktop.engine.codec import cbor
from threads_desktop.engine.core.errors import AccessDeniedError, InvalidInputError, NotFoundError, ThreadsError
from threads_desktop.engine.core.ids import PeerId, ThreadId, ThreadVariant
from threads_desktop.engine.core.keys import Identity, SigningKey, ThreadKey
from threads_desktop.engine.core.members import AdmissionStatus, InviteState, JoinRequest, JoinState, Member, Role
from threads_desktop.engine.core.text import name_from_peer
from threads_desktop.engine.crypto.aead import RandomBytes
from threads_desktop.engine.crypto.vault import KeyVault
from threads_desktop.engine.eventstore.committer import Committer
from threads_desktop.engine.logstore.addressbook import peer_of_address
from threads_desktop.engine.logstore.database import Database
from threads_desktop.engine.logstore.store import LogStore

MAX_WAITING_INVITES = 32
MAX_JOIN_REQUESTS = 64  # waiting or refused requests kept a thread
MAX_INVITE_LIFETIME_YEARS = 10
MAX_INVITE_LIFETIME_SECONDS = MAX_INVITE_LIFETIME_YEARS * 366 * 86400


class Membership:
    """Implements the committer's WritingKeyPolicy: it picks the key each
    of our events is sealed with."""

    def __init__(self, database: Database, store: LogStore, gate: AccessGate, identity: Identity,
                 vault: KeyVault, committer: Committer, new_epoch: Callable[[], int],
                 random_bytes: RandomBytes, now_seconds: Callable[[], float], devices: DeviceBook) -> None:
        self._db = database
        self._devices = devices
        self._sql: sqlite3.Connection = database.connection
        self._store = store
        self._gate = gate
        self._identity = identity
        self._vault = vault
        self._committer = committer
        self._new_epoch = new_epoch
        self._random_bytes = random_bytes
        self._now_seconds = now_seconds
        # Per thread just let in: the admin whose answer was taken (kept in
        # memory: the window lasts until the first ACL event arrives).
        self._admitted_by: dict[ThreadId, str] = {}

    def _commit(self, thread_id: ThreadId, payloads: Sequence[Any], key: ThreadKey | None = None) -> None:
        """Write control events, sealed with `key` (default: writing_key's choice)."""
        self._committer.commit(thread_id, payloads, control=True, key=key)

    @property
    def me(self) -> str:
        """Our person: the member roles, names and notices speak of."""
        return str(self._devices.person)

    @property
    def device(self) -> str:
        """This device: what binds our logs and holds key boxes."""
        return str(self._identity.peer_id)

    # --- invites and joins ----------------------------------------------------------------

    def invite(self, thread_id: ThreadId, role: Role, *, expires_in: float | None = None, uses: int = 1,
               name: str | None = None, addresses: Sequence[str] = (), inviter: str | None = None,
               approve_by_hand: bool = False) -> InviteLink:
        """An invite event in our log, and the link that carries its secret
        (with `inviter`, our display name, for the joiner to see). With
        `approve_by_hand`, every admin asks its person before admitting."""
        if role not in (Role.FOLLOW, Role.READ, Role.WRITE):
            raise InvalidInputError("an invite offers follow, read or write")
        if expires_in is not None and not 0 < expires_in <= MAX_INVITE_LIFETIME_SECONDS:
            raise InvalidInputError(f"an invite lasts at most {MAX_INVITE_LIFETIME_YEARS} years "
                                    "(or has no end at all)")
        self._require_admin(thread_id)
        invite_key = SigningKey.from_seed(self._random_bytes(32))
        keys = self._store.thread_keys(thread_id)
        clean = self._clean_key(thread_id)
        expires_ms = 0 if expires_in is None else int((self._now_seconds() + expires_in) * 1000)
        link = InviteLink(thread_id, role, invite_key.seed(), name=name, addresses=tuple(addresses), inviter=inviter,
                          approve=approve_by_hand)
        self._commit(thread_id, [acl_payload(Invite(invite_key.peer_id.public_key, role, expires_ms, uses,
                                                    keys[0].epoch if clean is None else clean.epoch,
                                                    approve_by_hand))])
        return link

    def invite_peer(self, thread_id: ThreadId, peer: str, exchange_key: bytes, role: Role, *,
                    expires_in: float | None = None, name: str | None = None,
                    addresses: Sequence[str] = ()) -> bytes:
        """A one-use invite for one known peer (found on the LAN, say): the
        link sealed to its X25519 key and signed by us. Returns the bytes to
        send it."""
        link = self.invite(thread_id, role, expires_in=expires_in, uses=1, name=name, addresses=addresses)
        return seal_direct_invite(self._identity, PeerId.parse(peer), exchange_key, link)

    def receive_invite(self, sealed: bytes) -> DirectInvite:
        """Keep an invite a peer sent us, for the user to accept or decline."""
        invite = open_direct_invite(self._identity, sealed)
        with self._db.write() as sql:
            # One waiting invite per sender and thread (a newer one replaces
            # it), and a bounded list: anyone may send us invites.
            sql.execute("DELETE FROM direct_invites WHERE sender = ? AND thread_id = ?",
                        (invite.sender, invite.link.thread_id.raw))
            sql.execute("INSERT OR IGNORE INTO direct_invites (id, sender, thread_id, sealed, received_at)"
                        " VALUES (?, ?, ?, ?, ?)", (_invite_id(sealed), invite.sender, invite.link.thread_id.raw,
                                                    sealed, int(self._now_seconds())))
            sql.execute("DELETE FROM direct_invites WHERE id NOT IN (SELECT id FROM direct_invites"
                        " ORDER BY received_at DESC, id LIMIT ?)", (MAX_WAITING_INVITES,))
        return invite

    def direct_invites(self) -> list[tuple[bytes, DirectInvite]]:
        """Invites waiting for an answer: (ID, invite), oldest first."""
        rows = self._sql.execute("SELECT id, sealed FROM direct_invites ORDER BY received_at, id").fetchall()
        return [(invite_id, open_direct_invite(self._identity, sealed)) for invite_id, sealed in rows]

    def accept_invite(self, invite_id: bytes) -> ThreadId:
        with self._db.write() as sql:
            row = sql.execute("SELECT sealed FROM direct_invites WHERE id = ?", (invite_id,)).fetchone()
            if row is None:
                raise NotFoundError("no such invite")
            thread_id = self.join(open_direct_invite(self._identity, row[0]).link)
            sql.execute("DELETE FROM direct_invites WHERE id = ?", (invite_id,))
        return thread_id

    def decline_invite(self, invite_id: bytes) -> None:
        with self._db.write() as sql:
            if not sql.execute("DELETE FROM direct_invites WHERE id = ?", (invite_id,)).rowcount:
                raise NotFoundError("no such invite")

    def revoke_invite(self, thread_id: ThreadId, invite_key: bytes) -> None:
        self._commit(thread_id, [acl_payload(Uninvite(invite_key))])

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

    def answer_admission(self, request: AdmissionRequest, from_peer: str) -> AdmissionAnswer:
        """As an admin, judge a joiner's request against the ACL as it stands
        and, if its invite still holds, write the admit event (in one write
        transaction). UNKNOWN reveals nothing: no such thread or invite
        here, a request that does not verify, or we are no admin."""
        del from_peer  # the request names and proves its joiner; where it came from changes nothing
        unknown = AdmissionAnswer(AdmissionStatus.UNKNOWN)
        thread_id = request.thread_id
        try:
            request.verify()
        except InvalidInputError:
            return unknown
        with self._db.write() as sql:
            if thread_id.variant is not ThreadVariant.ACCESS_CONTROLLED or not sql.execute(
                    "SELECT 1 FROM threads WHERE id = ?", (thread_id.raw,)).fetchone():
                return unknown
            evaluation = self._gate.evaluation(thread_id)
            book = evaluation.current()
            terms = book.invites.get(request.invite_key)
            if terms is None or not self._admin_here(evaluation) \
                    or not self._store.thread_keys(thread_id)[0].can_read:
                return unknown
            if admitting.admitted(evaluation, request.invite_key, str(request.identity)) \
                    and terms.role in book.roles(request.member) \
                    and not evaluation.removals.is_removed(str(request.identity)):
                # Asked again (an answer lost on the way): the same answer, but
                # only while it still holds the role; removed, demoted or gone,
                # its old link is judged like any other (refused).
                return self._admitted_answer(thread_id, request, terms.role)
            request_id = admission.request_id(request)
            recorded = sql.execute("SELECT status, reason FROM join_requests WHERE thread_id = ? AND request_id = ?",
                                   (thread_id.raw, request_id)).fetchone()
            reason = admitting.refusal(evaluation, request, terms, self._now_ms())
            if reason is None and request.cert is not None \
                    and request.identity in self._devices.device_list(request.cert.person).removed(request.cert.person):
                reason = "removed"  # a removal we saw elsewhere (a hello, a bundle), not in this thread yet
            if reason is None and recorded == ("refused", "declined"):
                reason = "declined"  # a person said no: asking again changes nothing
            if reason is not None:
                self._record_request(request, "refused", reason)
                return AdmissionAnswer(AdmissionStatus.REFUSED, reason=reason)
            if terms.approve:
                self._record_request(request, "waiting", None)
                return AdmissionAnswer(AdmissionStatus.WAITING_APPROVAL)
            return self._admit(request, terms.role)

    def _admit(self, request: AdmissionRequest, role: Role) -> AdmissionAnswer:
        """Write the admit event: the admit and the keys the role needs,
        sealed to the joiner. The gate judges it like any other event; a
        refusal (used up meanwhile, say) writes nothing."""
        thread_id = request.thread_id
        if self._clean_key(thread_id) is None:
            self.heal(thread_id)  # never hand out an epoch someone removed may hold
        clean = self._clean_key(thread_id)
        if clean is None:
            return AdmissionAnswer(AdmissionStatus.UNKNOWN)
        try:
            box = self._seal_for_role(thread_id, request.exchange, role)
        except InvalidInputError:
            return AdmissionAnswer(AdmissionStatus.UNKNOWN)  # an exchange key nothing can be sealed to
        admit = Admit(request.invite_key, request.log_id, request.identity, request.exchange, request.bind_sig,
                      request.sig, request.cert)
        try:
            self._commit(thread_id, [acl_payload(admit, Keys(clean.epoch, ((str(request.identity), box,
                                                                            role >= Role.READ),)))])
        except AccessDeniedError as exc:
            reason = admission.refusal_reason(str(exc))
            self._record_request(request, "refused", reason)
            return AdmissionAnswer(AdmissionStatus.REFUSED, reason=reason)
        self._sql.execute("DELETE FROM join_requests WHERE thread_id = ? AND request_id = ?",
                          (thread_id.raw, admission.request_id(request)))
        return AdmissionAnswer(AdmissionStatus.ADMITTED, box, role)

    def _admitted_answer(self, thread_id: ThreadId, request: AdmissionRequest, role: Role) -> AdmissionAnswer:
        try:
            return AdmissionAnswer(AdmissionStatus.ADMITTED, self._seal_for_role(thread_id, request.exchange, role),
                                   role)
        except InvalidInputError:
            return AdmissionAnswer(AdmissionStatus.UNKNOWN)

    def _seal_for_role(self, thread_id: ThreadId, exchange: bytes, role: Role) -> bytes:
        """Every epoch we hold (newest first), follow-only for a follower."""
        keys = [key for key in self._store.thread_keys(thread_id) if key.can_read]
        return seal_key_box(exchange, thread_id, keys if role >= Role.READ else [k.follow_only() for k in keys])

    def _record_request(self, request: AdmissionRequest, status: str, reason: str | None) -> None:
        """Keep a waiting or refused request for admins to see: one row per
        joiner and invite, at most MAX_JOIN_REQUESTS a thread (oldest go).
        Declines are bounded apart: a joiner a person said no to must not
        make room for itself with requests under fresh identities."""
        thread = request.thread_id.raw
        self._sql.execute(
            "INSERT INTO join_requests (thread_id, request_id, peer, name, invite_key, request, status, reason,"
            " at_ms) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT DO UPDATE SET name = COALESCE(excluded.name,"
            " name), request = excluded.request, status = excluded.status, reason = excluded.reason,"
            " at_ms = excluded.at_ms",
            (thread, admission.request_id(request), str(request.identity), request.name, request.invite_key,
             request.to_bytes(), status, reason, self._now_ms()))
        for declined in (True, False):
            self._sql.execute(
                "DELETE FROM join_requests WHERE thread_id = ? AND (reason IS 'declined') = ? AND request_id NOT IN"
                " (SELECT request_id FROM join_requests WHERE thread_id = ? AND (reason IS 'declined') = ?"
                " ORDER BY at_ms DESC, request_id LIMIT ?)", (thread, declined, thread, declined, MAX_JOIN_REQUESTS))

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

    def join_requests(self, thread_id: ThreadId) -> list[JoinRequest]:
        """Joiners waiting for our person's approval, and refusals, oldest first."""
        return [JoinRequest(request_id, peer, name, invite_key, status, reason, at_ms)
                for request_id, peer, name, invite_key, status, reason, at_ms in self._sql.execute(
                    "SELECT request_id, peer, name, invite_key, status, reason, at_ms FROM join_requests"
                    " WHERE thread_id = ? ORDER BY at_ms, request_id", (thread_id.raw,))]

    def approve_join(self, thread_id: ThreadId, request_id: bytes) -> AdmissionAnswer:
        """Our person lets a waiting joiner in: the admit is written now, and
        the joiner is ADMITTED when it asks again. REFUSED if the invite no
        longer holds (used up, expired, revoked meanwhile)."""
        with self._db.write() as sql:
            row = sql.execute("SELECT request, status FROM join_requests WHERE thread_id = ? AND request_id = ?",
                              (thread_id.raw, request_id)).fetchone()
            if row is None or row[1] != "waiting":
                raise NotFoundError("nobody is waiting with that request")
            self._require_admin(thread_id)
            request = AdmissionRequest.from_bytes(row[0])
            evaluation = self._gate.evaluation(thread_id)
            terms = evaluation.current().invites.get(request.invite_key)
            if terms is None:
                raise NotFoundError("that invite is not in this album or chat")
            reason = admitting.refusal(evaluation, request, terms, self._now_ms())
            if reason is not None:
                self._record_request(request, "refused", reason)
                return AdmissionAnswer(AdmissionStatus.REFUSED, reason=reason)
            return self._admit(request, terms.role)

    def decline_join(self, thread_id: ThreadId, request_id: bytes) -> None:
        """Our person says no: the joiner is REFUSED ("declined") when it asks again."""
        with self._db.write() as sql:
            if not sql.execute("UPDATE join_requests SET status = 'refused', reason = 'declined', at_ms = ?"
                               " WHERE thread_id = ? AND request_id = ? AND status = 'waiting'",
                               (self._now_ms(), thread_id.raw, request_id)).rowcount:
                raise NotFoundError("nobody is waiting with that request")

    def reset_links(self, thread_id: ThreadId) -> int:
        """Revoke every invite still open, in one event; how many there were."""
        self._require_admin(thread_id)
        now = self._now_ms()
        open_keys = [i.key for i in self.invites(thread_id)
                     if not i.revoked and i.used < i.uses and not (i.expires_ms and i.expires_ms < now)]
        if open_keys:
            self._commit(thread_id, [acl_payload(*(Uninvite(key) for key in open_keys))])
        return len(open_keys)

    def leave(self, thread_id: ThreadId) -> None:
        """Take every role from ourselves (AccessDeniedError for the last
        admin while others remain). Admins rotate the keys when they see it."""
        self._commit(thread_id, [acl_payload(Leave())])

    def _now_ms(self) -> int:
        return int(self._now_seconds() * 1000)

    # --- roles ------------------------------------------------------------------------------

    def grant(self, thread_id: ThreadId, peer: str, role: Role, entity: str | None = None) -> None:
        """Give a role (and the ones below it); a member who gains read gets
        the read keys in the same event."""
        peer = str(PeerId.parse(peer))
        ops: list[AclOp] = [Grant(peer, role, entity)]
        book = self._gate.evaluation(thread_id).current()
        if entity is None and role >= Role.READ and Role.READ not in book.roles(peer):
            ops += self._boxes(thread_id, {peer: True})
        self._commit(thread_id, [acl_payload(*ops)])

    def revoke(self, thread_id: ThreadId, peer: str, role: Role, entity: str | None = None) -> None:
        """Take a role (and the ones above it) away. Taking read or follow
        rotates the thread's keys: a new epoch, sealed to every member who
        keeps the role, so the member removed cannot open what comes next."""
        peer = str(PeerId.parse(peer))
        if peer == self.me:  # the ACL refuses it; say why in a person's words
            raise InvalidInputError("you cannot take roles from yourself; to stop taking part, leave the "
                                    "album or chat")
        ops: list[AclOp] = [Revoke(peer, role, entity)]
        if entity is None and role <= Role.READ:
            ops += self._rotation(thread_id, peer, role)
        if entity is None and role <= Role.FOLLOW:
            # The removed member may have seen the links still out: with one,
            # it could come back under a new identity.
            ops += [Uninvite(i.key) for i in self.invites(thread_id) if not i.revoked and i.used < i.uses]
        self._commit(thread_id, [acl_payload(*ops)])

    def _rotation(self, thread_id: ThreadId, removed: str | None = None, role: Role = Role.READ) -> list[Keys]:
        """A keys op for a new epoch, sealed to every member who keeps read
        (with the read key) or follow (without it)."""
        # Keep the follow key of the newest clean epoch (followers need no new
        # one); never that of an unclean epoch, which someone removed may hold.
        current = self._clean_key(thread_id)
        keep_follow = current is not None and role > Role.FOLLOW
        new_key = ThreadKey(current.follow if keep_follow and current is not None else self._random_bytes(32),
                            self._random_bytes(32), self._new_epoch())
        book = self._gate.evaluation(thread_id).current()
        keep = {member: Role.READ in book.roles(member) for member in book.members()
                if member != removed and Role.FOLLOW in book.roles(member)}
        if removed is not None and role == Role.READ:
            keep[removed] = False  # still a follower: the new follow key, no read key
        return self._boxes(thread_id, keep, new_key)

    def _clean_key(self, thread_id: ThreadId) -> ThreadKey | None:
        """The newest epoch with read keys that only current readers may hold."""
        evaluation = self._gate.evaluation(thread_id)
        return next((key for key in self._store.thread_keys(thread_id)
                     if key.can_read and evaluation.clean(key.epoch)), None)

    def writing_key(self, thread_id: ThreadId, *, content: bool) -> ThreadKey | None:
        """The key to seal our next event with: the newest epoch that only
        current readers may hold. None: the newest (not access-controlled, or
        a control event when no epoch is clean). AccessDeniedError for content
        when no epoch is clean and we cannot rotate."""
        if thread_id.variant is not ThreadVariant.ACCESS_CONTROLLED:
            return None
        clean = self._clean_key(thread_id)
        if clean is not None:
            return clean
        if not content or not any(key.can_read for key in self._store.thread_keys(thread_id)):
            return None  # a follower's control event, or MissingKeyError when writing content
        if self.heal(thread_id):  # once: an epoch a rotation leaves unclean stays so (no loop of rotations)
            clean = self._clean_key(thread_id)
            if clean is not None:
                return clean
        raise AccessDeniedError("every key epoch may be known to a removed member; an admin must rotate the keys")

    def heal(self, thread_id: ThreadId) -> bool:
        """As an admin, rotate the keys when no epoch we hold is clean
        (concurrent removals, or keys planted by an admin removed meanwhile).
        True if it wrote."""
        evaluation = self._gate.evaluation(thread_id)
        if not self._admin_here(evaluation) or not self._store.thread_keys(thread_id)[0].can_read:
            return False
        if any(key.can_read and evaluation.clean(key.epoch) for key in self._store.thread_keys(thread_id)):
            return False
        self._commit(thread_id, [acl_payload(*self._rotation(thread_id))])
        return True

    def set_default(self, thread_id: ThreadId, role: Role, entity: str | None = None) -> None:
        """The role of anyone the ACL does not name (on the thread, or on one entity)."""
        self._commit(thread_id, [acl_payload(SetDefault(role, entity))])

    def deliver_missing_keys(self, thread_id: ThreadId) -> bool:
        """As an admin, send the current keys to members who lack them (they
        joined with a link made before a rotation). True if it wrote."""
        evaluation = self._gate.evaluation(thread_id)
        book = evaluation.current()
        if not self._admin_here(evaluation):
            return False
        clean = self._clean_key(thread_id)
        if clean is None:
            return False  # nothing safe to hand out: heal first
        newest = clean.epoch
        held = evaluation.key_holdings()  # by device
        removed = evaluation.removals.removed_devices()
        missing = {}
        for binding in evaluation.bindings.values():
            roles = book.roles(binding.member)
            if binding.device == self.device or binding.device in removed or Role.FOLLOW not in roles:
                continue
            if held.get(binding.device, (-1, False)) < (newest, Role.READ in roles):
                missing[binding.device] = Role.READ in roles
        if not missing:
            return False
        # Seal each delivery with the newest epoch its recipients hold (a
        # follow-key rotation may have come after their link), so they can
        # open the record that carries their keys.
        by_epoch: dict[int, dict[str, bool]] = {}
        keys = {key.epoch: key for key in self._store.thread_keys(thread_id)}
        for member, with_read in missing.items():
            epoch = held.get(member, (0, False))[0]
            by_epoch.setdefault(epoch if epoch in keys else newest, {})[member] = with_read
        for epoch, recipients in sorted(by_epoch.items()):
            ops = self._boxes(thread_id, recipients, devices=True)
            if ops:
                self._commit(thread_id, [acl_payload(*ops)], keys[epoch])
        return True

    def _boxes(self, thread_id: ThreadId, recipients: dict[str, bool], new_key: ThreadKey | None = None, *,
               devices: bool = False) -> list[Keys]:
        """One keys op: for each member (with read keys or not), every epoch,
        sealed to each of its devices not removed (`devices`: the recipients
        are devices, not members)."""
        evaluation = self._gate.evaluation(thread_id)
        removed = evaluation.removals.removed_devices()
        exchange: dict[str, list[tuple[str, bytes]]] = {}
        for b in evaluation.bindings.values():
            if b.device not in removed:
                exchange.setdefault(b.device if devices else b.member, []).append((b.device, b.exchange))
        held = self._store.thread_keys(thread_id)
        keys = ([new_key] if new_key is not None else []) + [k for k in held if k.can_read]
        # The op is labelled with the epoch it makes, or the newest clean one it
        # hands out; never an epoch someone removed may hold.
        label = new_key if new_key is not None else self._clean_key(thread_id)
        if label is None:
            return []
        if new_key is not None:
            recipients = {**recipients, self.me: True}
        boxes = []
        for member, with_read in sorted(recipients.items()):
            # Not joined yet: no key to seal to; it gets keys once it joins.
            for device, device_exchange in sorted(set(exchange.get(member, ()))):
                given = keys if with_read else [k.follow_only() for k in keys]
                try:
                    box = seal_key_box(device_exchange, thread_id, given)
                except InvalidInputError:
                    continue  # a key nothing can be sealed to (e.g. a low-order point): that device gets none
                boxes.append((device, box, with_read))
        return [Keys(label.epoch, tuple(boxes))] if boxes else []

    # --- reading -------------------------------------------------------------------------

    def members(self, thread_id: ThreadId) -> list[Member]:
        evaluation = self._gate.evaluation(thread_id)
        book = evaluation.current()
        bound = {b.member for b in evaluation.bindings.values()}
        return [Member(peer, tuple(sorted(book.roles(peer))), book.is_admin(peer), peer == self.me, peer in bound)
                for peer in sorted(book.members() | bound)]

    def acl_document(self, thread_id: ThreadId) -> dict[str, Any]:
        """The thread ACL as the paper lists it: `_id`, `default`, `peers`."""
        return self._gate.evaluation(thread_id).current().thread.to_document(str(thread_id))

    def is_admin(self, thread_id: ThreadId) -> bool:
        """May we invite, admit and change roles in the thread?"""
        return self._admin_here(self._gate.evaluation(thread_id))

    def roles(self, thread_id: ThreadId, peer: str | None = None) -> frozenset[Role]:
        """A member's roles (default: ours; none on a device its person removed)."""
        evaluation = self._gate.evaluation(thread_id)
        if peer is None and evaluation.removals.is_removed(self.device):
            return frozenset()
        return evaluation.current().roles(peer or self.me)

    def _admin_here(self, evaluation: Evaluation) -> bool:
        """Is our person an admin, and this device still one of its devices?"""
        return evaluation.current().is_admin(self.me) and not evaluation.removals.is_removed(self.device)

    def may_sync(self, thread_id: ThreadId, peer: str, proven_follow_key: bytes) -> bool:
        """Whether a peer (that proved it holds a follow key of the thread)
        may sync it with us: members with follow only. A joiner is admitted
        before it fetches anything, so a stranger holding an old key (a
        member removed, back under a new identity) gets nothing. Until the
        first ACL event reaches a joiner just admitted, it knows no member:
        it syncs only with the peers its admission came from (the admin that
        let it in, the peers the link named), as a removed member holding
        old keys could otherwise fetch from it what was written since."""
        del proven_follow_key  # proving a key shows what one holds, not what one may
        evaluation = self._gate.evaluation(thread_id)
        if not evaluation.events or not evaluation.current().members():
            # No member known yet: a joiner admitted before any ACL event
            # reached it, or a new device of ours holding only its own bind.
            trusted = self._admission_peers(thread_id)
            # None: no admission to go by (a new device, or a join restarted
            # from an offline link, which names nobody): whoever proves the keys.
            return trusted is None or peer in trusted
        return Role.FOLLOW in evaluation.current().roles(self._person_of(evaluation, peer))

    def _person_of(self, evaluation: Evaluation, peer: str) -> str:
        """The member a peer (a device) speaks for: its person, as the
        thread's bindings or a certificate we recorded say ("" if removed)."""
        if evaluation.removals.is_removed(peer):
            return ""
        person = evaluation.removals.person_of(peer)
        if person == peer:
            recorded = self._devices.person_of(PeerId.parse(peer))
            person = peer if recorded is None else str(recorded)
        return person

    def _admission_peers(self, thread_id: ThreadId) -> frozenset[str] | None:
        """The peers our pending admission came from; None when unknown."""
        state = self.join_state(thread_id)
        if state is None:
            return None
        named = {str(found) for found in map(peer_of_address, state.addresses) if found is not None}
        admitted_by = self._admitted_by.get(thread_id)
        if admitted_by is not None:
            named.add(admitted_by)
        return frozenset(named) or None

    def invites(self, thread_id: ThreadId) -> list[InviteState]:
        evaluation = self._gate.evaluation(thread_id)
        book = evaluation.current()
        return [InviteState(key, terms.role, terms.expires_ms, terms.uses, admitting.uses(evaluation, key),
                            key in book.uninvited, terms.inviter, terms.approve)
                for key, terms in sorted(book.invites.items())]

    def _require_admin(self, thread_id: ThreadId) -> None:
        if not self._admin_here(self._gate.evaluation(thread_id)):
            raise AccessDeniedError("only the thread's admins can invite or change roles")


def _invite_id(sealed: bytes) -> bytes:
    return hashlib.sha256(sealed).digest()[:16]


def _seed_label(thread_id: ThreadId) -> str:
    return f"invite-seed/{thread_id}"


def _log_seed_label(thread_id: ThreadId) -> str:
    return f"join-log-seed/{thread_id}"


_JOIN_COLUMNS = "thread_id, status, reason, name, inviter, role, addresses, since_ms"


def _join_state(row: tuple[Any, ...]) -> JoinState:
    thread_raw, status, reason, name, inviter, role, addresses, since_ms = row
    return JoinState(ThreadId(thread_raw), status, reason, name, inviter, Role.parse(role),
                     tuple(cbor.decode(addresses, max_size=1 << 16)), since_ms)
