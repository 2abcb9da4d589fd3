"""Membership commands: invites and joins, grants and revocations (with key
rotation), and who is in a thread. Each command is one control event in our
log; the gate judges it like any other, here and on every peer."""

from __future__ import annotations

import hashlib
import sqlite3
from collections.abc import Callable, Sequence
from typing import Any

from threads_desktop.engine.acl.control_ops import (
    AclOp,
    Grant,
    Invite,
    Join,
    Keys,
    Revoke,
    SetDefault,
    Uninvite,
    acl_payload,
    join_message,
    make_bind,
)
from threads_desktop.engine.acl.direct import DirectInvite, open_direct_invite, seal_direct_invite
from threads_desktop.engine.acl.gate import AccessGate
from threads_desktop.engine.acl.keybox import seal_key_box
from threads_desktop.engine.acl.links import InviteLink
from threads_desktop.engine.core.errors import AccessDeniedError, InvalidInputError, NotFoundError, ThreadsError
from threads_desktop.engine.core.ids import PeerId, ThreadId, ThreadVariant
from threads_desktop.engine.core.keys import Identity, SigningKey, ThreadKey
from threads_desktop.engine.core.members import InviteState, Member, Role
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
                 random_bytes: RandomBytes, now_seconds: Callable[[], float]) -> None:
        self._db = database
        self._sql: sqlite3.Connection = database.connection
        self._store = store
        self._gate = gate
        self._identity = identity
        self._vault = vault
        self._committer = committer
        self._new_epoch = new_epoch
        self._random_bytes = random_bytes
        self._now_seconds = now_seconds

    def _commit(self, thread_id: ThreadId, payloads: Sequence[Any], key: ThreadKey | None = None) -> None:
        """Write control events, sealed with `key` (default: writing_key's choice)."""
        self._committer.commit(thread_id, payloads, control=True, key=key)

    @property
    def me(self) -> str:
        return str(self._identity.peer_id)

    # --- invites and joins ----------------------------------------------------------------

    def invite(self, thread_id: ThreadId, role: Role, *, expires_in: float | None = None, uses: int = 1,
               name: str | None = None, addresses: Sequence[str] = (), inviter: str | None = None) -> InviteLink:
        """An invite event in our log, and the link that carries its secret
        (with `inviter`, our display name, for the joiner to see)."""
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
        link = InviteLink(thread_id, role, invite_key.seed(), name=name,
                          addresses=tuple(addresses), inviter=inviter)
        self._commit(thread_id, [acl_payload(Invite(invite_key.peer_id.public_key, role, expires_ms, uses,
                                                    keys[0].epoch if clean is None else clean.epoch))])
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
        """Take the link's keys and start our log. The join event itself is
        written once the invite event has reached us (`complete_join`)."""
        thread_id = link.thread_id
        if thread_id.variant is not ThreadVariant.ACCESS_CONTROLLED:
            raise InvalidInputError("only access-controlled threads are joined with a link")
        invite_key = SigningKey.from_seed(link.invite_seed)
        with self._db.write() as sql:
            if sql.execute("SELECT 1 FROM threads WHERE id = ?", (thread_id.raw,)).fetchone():
                raise ThreadsError(f"this profile is already in thread {thread_id}")
            newest, *older = link.keys
            self._store.create_thread(thread_id, newest)
            for key in older:
                self._store.add_thread_key(thread_id, key)
            self._store.create_own_log(thread_id)
            sql.execute("INSERT INTO pending_joins (thread_id, invite_key, wrapped_seed) VALUES (?, ?, ?)",
                        (thread_id.raw, invite_key.peer_id.public_key,
                         self._vault.wrap(link.invite_seed, _seed_label(thread_id))))
        return thread_id

    def complete_join(self, thread_id: ThreadId) -> str | None:
        """Write our join once we hold the invite event. Returns why the join
        was refused, if it was (expired, used up, revoked)."""
        row = self._sql.execute("SELECT invite_key, wrapped_seed, failure FROM pending_joins WHERE thread_id = ?",
                                (thread_id.raw,)).fetchone()
        if row is None or row[2] is not None:
            return None if row is None else str(row[2])
        invite_public, wrapped, _failure = row
        if invite_public not in self._gate.evaluation(thread_id).current().invites:
            return None  # not here yet: sync brings it
        seed = self._vault.unwrap(wrapped, _seed_label(thread_id))
        own_log = self._store.create_own_log(thread_id)
        signature = SigningKey.from_seed(seed).sign(join_message(thread_id, invite_public, own_log,
                                                                 self._identity.peer_id))
        try:
            self._commit(thread_id, [acl_payload(make_bind(self._identity, thread_id, own_log),
                                                 Join(invite_public, signature))])
        except AccessDeniedError as exc:
            with self._db.write() as sql:
                sql.execute("UPDATE pending_joins SET failure = ? WHERE thread_id = ?", (str(exc), thread_id.raw))
            return str(exc)
        with self._db.write() as sql:
            sql.execute("DELETE FROM pending_joins WHERE thread_id = ?", (thread_id.raw,))
        return None

    def pending_join(self, thread_id: ThreadId) -> tuple[bool, str | None]:
        """(still waiting to join?, why the join was refused)."""
        row = self._sql.execute("SELECT failure FROM pending_joins WHERE thread_id = ?",
                                (thread_id.raw,)).fetchone()
        return (row is not None and row[0] is None), (None if row is None else row[0])

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
            # Links still out carry the old follow key, which opens nothing
            # written from now on, and the removed member may have seen them.
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
        if self.heal(thread_id):
            return self.writing_key(thread_id, content=True)
        raise AccessDeniedError("every key epoch may be known to a removed member; an admin must rotate the keys")

    def heal(self, thread_id: ThreadId) -> bool:
        """As an admin, rotate the keys when no epoch we hold is clean
        (concurrent removals, or keys planted by an admin removed meanwhile).
        True if it wrote."""
        evaluation = self._gate.evaluation(thread_id)
        if not evaluation.current().is_admin(self.me) or not self._store.thread_keys(thread_id)[0].can_read:
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
        if not book.is_admin(self.me):
            return False
        clean = self._clean_key(thread_id)
        if clean is None:
            return False  # nothing safe to hand out: heal first
        newest = clean.epoch
        held = evaluation.key_holdings()
        bound = {b.member for b in evaluation.bindings.values()}
        missing = {}
        for member in book.members() & bound - {self.me}:
            roles = book.roles(member)
            if Role.FOLLOW in roles and held.get(member, (-1, False)) < (newest, Role.READ in roles):
                missing[member] = Role.READ in roles
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
            ops = self._boxes(thread_id, recipients)
            if ops:
                self._commit(thread_id, [acl_payload(*ops)], keys[epoch])
        return True

    def _boxes(self, thread_id: ThreadId, recipients: dict[str, bool], new_key: ThreadKey | None = None) -> list[Keys]:
        """One keys op: for each member (with read keys or not), every epoch."""
        exchange = {b.member: b.exchange for b in self._gate.evaluation(thread_id).bindings.values()}
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
            if member not in exchange:
                continue  # not joined yet: no key to seal to; it gets keys once it joins
            given = keys if with_read else [k.follow_only() for k in keys]
            try:
                box = seal_key_box(exchange[member], thread_id, given)
            except InvalidInputError:
                continue  # a key nothing can be sealed to (e.g. a low-order point): that member gets none
            boxes.append((member, box, with_read))
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

    def roles(self, thread_id: ThreadId, peer: str | None = None) -> frozenset[Role]:
        return self._gate.evaluation(thread_id).current().roles(peer or self.me)

    def may_sync(self, thread_id: ThreadId, peer: str, proven_follow_key: bytes) -> bool:
        """Whether a peer that proved it holds `proven_follow_key` may fetch
        the thread's records: a member with follow; or someone we do not know
        yet (a joiner fetching the invite its join needs), but only with the
        follow key a link made now carries, since an older one may be held by
        a member removed since (revoking follow rotates it), back under a new
        identity. A member who lost follow is refused whatever keys it holds."""
        evaluation = self._gate.evaluation(thread_id)
        book = evaluation.current()
        if Role.FOLLOW in book.roles(peer):
            return True
        if peer in book.members() or any(b.member == peer for b in evaluation.bindings.values()):
            return False
        current = self.writing_key(thread_id, content=False) or self._store.thread_keys(thread_id)[0]
        return proven_follow_key == current.follow

    def invites(self, thread_id: ThreadId) -> list[InviteState]:
        evaluation = self._gate.evaluation(thread_id)
        book = evaluation.current()
        used: dict[bytes, int] = {}
        for i, event in enumerate(evaluation.events):
            for op in event.ops:
                if isinstance(op, Join) and evaluation.final.valid[i]:
                    used[op.invite] = used.get(op.invite, 0) + 1
        return [InviteState(key, terms.role, terms.expires_ms, terms.uses, used.get(key, 0), key in book.uninvited,
                            terms.inviter) for key, terms in sorted(book.invites.items())]

    def _require_admin(self, thread_id: ThreadId) -> None:
        if not self._gate.evaluation(thread_id).current().is_admin(self.me):
            raise AccessDeniedError("only the thread's admins can invite or change roles")


def _invite_id(sealed: bytes) -> bytes:
    return hashlib.sha256(sealed).digest()[:16]


def _seed_label(thread_id: ThreadId) -> str:
    return f"invite-seed/{thread_id}"
