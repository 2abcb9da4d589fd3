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

from threads_desktop.engine.acl import admitting
from threads_desktop.engine.acl.admission import AdmissionAnswer, AdmissionRequest
from threads_desktop.engine.acl.answering import AdmissionAnswers
from threads_desktop.engine.acl.bundle_peers import BundlePeers
from threads_desktop.engine.acl.control_ops import (
    AclOp,
    Grant,
    Invite,
    Keys,
    Leave,
    Revoke,
    SetDefault,
    Uninvite,
    acl_payload,
)
from threads_desktop.engine.acl.device_book import DeviceBook
from threads_desktop.engine.acl.direct import DirectInvite, open_direct_invite, seal_direct_invite
from threads_desktop.engine.acl.gate import AccessGate
from threads_desktop.engine.acl.keybox import seal_key_box
from threads_desktop.engine.acl.links import InviteLink
from threads_desktop.engine.acl.pending_joins import PendingJoins
from threads_desktop.engine.acl.policy import Evaluation
from threads_desktop.engine.core.errors import AccessDeniedError, InvalidInputError, NotFoundError
from threads_desktop.engine.core.ids import PeerId, ThreadId, ThreadVariant
from threads_desktop.engine.core.keys import Identity, SigningKey, ThreadKey
from threads_desktop.engine.core.members import InviteState, JoinRequest, JoinState, Member, Role
from threads_desktop.engine.crypto.aead import RandomBytes
from threads_desktop.engine.crypto.vault import KeyVault
from threads_desktop.engine.eventstore.committer import Committer
from threads_desktop.engine.logstore.database import Database
from threads_desktop.engine.logstore.store import LogStore

MAX_WAITING_INVITES = 32
MAX_INVITE_LIFETIME_YEARS = 10
MAX_INVITE_LIFETIME_SECONDS = MAX_INVITE_LIFETIME_YEARS * 366 * 86400


class Membership:
    """Implements the committer's WritingKeyPolicy: it picks the key each
    of our events is sealed with."""

    def __init__(self, database: Database, store: LogStore, gate: AccessGate, identity: Identity,
                 vault: KeyVault, committer: Committer, new_epoch: Callable[[], int],
                 random_bytes: RandomBytes, now_seconds: Callable[[], float], devices: DeviceBook,
                 bundle_peers: BundlePeers) -> None:
        self._db = database
        self._devices = devices
        self._bundle_peers = bundle_peers
        self._sql: sqlite3.Connection = database.connection
        self._store = store
        self._gate = gate
        self._identity = identity
        self._vault = vault
        self._committer = committer
        self._new_epoch = new_epoch
        self._random_bytes = random_bytes
        self._now_seconds = now_seconds
        self._joins = PendingJoins(database, store, gate, identity, vault, devices, commit=self._commit,
                                   random_bytes=random_bytes, now_ms=self._now_ms)
        self._answers = AdmissionAnswers(database, store, gate, devices, commit=self._commit, clean_key=self._clean_key,
                                         heal=self.heal, admin_here=self._admin_here,
                                         require_admin=self._require_admin, now_ms=self._now_ms,
                                         removed=self._removed)

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
        """Keep the link as a pending admission (acl/pending_joins.py)."""
        return self._joins.join(link)

    def admission_request(self, thread_id: ThreadId, name: str | None = None) -> AdmissionRequest:
        """What to send an admin to be admitted with our pending link."""
        return self._joins.admission_request(thread_id, name)

    def answer_admission(self, request: AdmissionRequest, from_peer: str) -> AdmissionAnswer:
        """As an admin, judge a joiner's request (acl/answering.py)."""
        return self._answers.answer_admission(request, from_peer)

    def take_admission(self, thread_id: ThreadId, answer: AdmissionAnswer, from_peer: str | None = None) -> JoinState:
        """The joiner's side of an admin's answer (acl/pending_joins.py)."""
        return self._joins.take_admission(thread_id, answer, from_peer)

    def complete_join(self, thread_id: ThreadId) -> str | None:
        """Our bind once the admit event is here; why we were refused, if we were."""
        return self._joins.complete_join(thread_id)

    def join_state(self, thread_id: ThreadId) -> JoinState | None:
        return self._joins.join_state(thread_id)

    def pending_joins(self) -> list[JoinState]:
        """Links we joined with and are not in yet, oldest first."""
        return self._joins.pending_joins()

    def pending_join(self, thread_id: ThreadId) -> tuple[bool, str | None]:
        """(still on our way in?, why the admission was refused)."""
        return self._joins.pending_join(thread_id)

    def forget_join(self, thread_id: ThreadId) -> None:
        """Cancel a pending admission that is waiting or was refused."""
        self._joins.forget_join(thread_id)

    def join_requests(self, thread_id: ThreadId) -> list[JoinRequest]:
        """Joiners waiting for our person's approval, and refusals, oldest first."""
        return self._answers.join_requests(thread_id)

    def approve_join(self, thread_id: ThreadId, request_id: bytes) -> AdmissionAnswer:
        """Our person lets a waiting joiner in (acl/answering.py)."""
        return self._answers.approve_join(thread_id, request_id)

    def decline_join(self, thread_id: ThreadId, request_id: bytes) -> None:
        """Our person says no: the joiner is REFUSED ("declined") when it asks again."""
        self._answers.decline_join(thread_id, request_id)

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
        if self.heal(thread_id):  # once: a rotation that leaves no epoch clean must not repeat without end
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

    def _removed(self, evaluation: Evaluation, request: AdmissionRequest) -> bool:
        """Was the joining device removed by its person (in this thread, or
        as our device book recorded)?"""
        person = request.identity if request.cert is None else request.cert.person
        return evaluation.removals.is_removed(str(request.identity)) \
            or request.identity in self._devices.device_list(person).removed(person)

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
        old keys could otherwise fetch from it what was written since. A
        device just added or restored (it holds only its own bind) likewise
        syncs only with the peers its bundle named, and the device that sent
        it (review of issue 19, 9c)."""
        del proven_follow_key  # proving a key shows what one holds, not what one may
        evaluation = self._gate.evaluation(thread_id)
        if not evaluation.events or not evaluation.current().members():
            # No member known yet: a joiner admitted before any ACL event
            # reached it, or a new device of ours holding only its own bind.
            trusted = self._admission_peers(thread_id)
            # None: no admission or bundle to go by (a join restarted from an
            # offline link, which names nobody; a bundle of a version that
            # named no peer for the thread): whoever proves the keys.
            return trusted is None or peer in trusted
        person = self._person_of(evaluation, peer)
        # A removed device is nobody: not even the default role a thread
        # gives anyone holding its keys.
        return bool(person) and Role.FOLLOW in evaluation.current().roles(person)

    def lending_roles(self, thread_id: ThreadId, peer: str) -> frozenset[Role]:
        """The roles whose keys we may lend a peer (a device): those of its
        person if the ACL names that person (never on the strength of the
        thread's default role, which anyone holding a key gets) and the device
        is not removed; the same devices an admin seals key boxes to."""
        evaluation = self._gate.evaluation(thread_id)
        person = self._person_of(evaluation, peer) if evaluation.events else ""
        book = evaluation.current()
        if not person or person not in book.members():
            return frozenset()
        return book.roles(person)

    def _person_of(self, evaluation: Evaluation, peer: str) -> str:
        """The member a peer (a device) speaks for: its person, as the
        thread's bindings or a certificate we recorded say ("" if removed)."""
        if evaluation.removals.is_removed(peer):
            return ""
        device = PeerId.parse(peer)
        person = evaluation.removals.person_of(peer)
        if person == peer:
            recorded = self._devices.person_of(device)
            person = peer if recorded is None else str(recorded)
        # A removal our device book holds (a hello, another thread) counts at
        # once, before the thread shows it: a removal by any person the device
        # speaks for here (PROTOCOL §28's rule), as the thread will count it.
        removed_by = self._devices.removed_by(device)
        if removed_by and (person in removed_by or removed_by & evaluation.removals.persons_of(peer)):
            return ""
        return person

    def _admission_peers(self, thread_id: ThreadId) -> frozenset[str] | None:
        """The peers our pending admission came from, or else those the
        bundle that brought the thread named; None when unknown."""
        admission = self._joins.admission_peers(thread_id)
        return admission if admission is not None else self._bundle_peers.of(thread_id)

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
