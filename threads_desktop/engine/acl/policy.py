"""Which ACL events hold, and what anyone may do at any point of a thread's
history. Pure: the same set of ACL events gives the same answers on every
peer, whatever order they arrived in.

An event is judged at its causal past (its own log before it, plus its deps).
Two layers keep that well founded:

1. *Causal*: an ACL event holds if its author had the right in the state
   merged from the causally-valid ACL events of its past.
2. *Final*: the same, over finally-valid events, and additionally
   - remove wins: an event that adds rights (grant, default, invite) or
     writes content is refused when a causally-valid revocation of a right
     it needs is concurrent with it; revocations themselves are judged at
     their past only, so two admins who remove each other both end removed
     (leaving is a revocation too: of every role, by a member of itself);
   - an invite admits the first `uses` causally-valid admits and joins
     (the old way in), by stamp; an admit or join concurrent with the
     invite's revocation, or with its author's or its admitter's loss of
     the right to edit the ACL, is refused.

Layer 2 looks only at layer-1 answers of concurrent events, and at layer-2
answers of its own past, so nothing depends on itself.
"""

from __future__ import annotations

import bisect
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field

from threads_desktop.engine.acl import device_rules
from threads_desktop.engine.acl.book import EMPTY, AclBook, InviteTerms, merge_books
from threads_desktop.engine.acl.control_ops import (
    ACL_ENTITY,
    REVOCATIONS,
    AclOp,
    Admit,
    Bind,
    Genesis,
    Grant,
    Invite,
    Join,
    Keys,
    Leave,
    Revoke,
    SetDefault,
    Undevice,
    Uninvite,
    binding_message,
    is_founder,
    join_message,
    roles_from,
    roles_up_to,
    verify,
)
from threads_desktop.engine.acl.crdt import AclState, Dot
from threads_desktop.engine.core.errors import InvalidInputError
from threads_desktop.engine.core.ids import PeerId, ThreadId
from threads_desktop.engine.core.members import Role


@dataclass(frozen=True, slots=True)
class AclEvent:
    """A control event as the policy sees it."""

    log: bytes
    seq: int
    stamp: bytes
    hlc: int
    deps: Mapping[bytes, int]
    ops: tuple[AclOp, ...]


@dataclass(frozen=True, slots=True)
class Binding:
    """A log's device (`identity`, whose exchange key boxes are sealed to)
    and its member: the device's person (itself, for a first device)."""

    identity: PeerId
    exchange: bytes
    person: PeerId | None = None  # a certified device's person
    member: str = field(init=False)  # the person's text, made once (base58 is slow)
    device: str = field(init=False)  # the identity's text

    def __post_init__(self) -> None:
        object.__setattr__(self, "device", str(self.identity))
        object.__setattr__(self, "member", self.device if self.person is None else str(self.person))


def in_past(log: bytes, seq: int, deps: Mapping[bytes, int], of_log: bytes, of_seq: int) -> bool:
    """Is (log, seq) in the causal past of the event (of_log, of_seq, deps)?"""
    if log == of_log:
        return seq < of_seq
    return deps.get(log, 0) >= seq


def concurrent(a: AclEvent, b_log: bytes, b_seq: int, b_deps: Mapping[bytes, int]) -> bool:
    return not in_past(a.log, a.seq, b_deps, b_log, b_seq) and not in_past(b_log, b_seq, a.deps, a.log, a.seq) \
        and (a.log, a.seq) != (b_log, b_seq)


@dataclass
class _Layer:
    valid: list[bool] = field(default_factory=list)
    reasons: list[str | None] = field(default_factory=list)
    after: list[AclBook] = field(default_factory=list)  # state including the event (if valid)
    memo: dict[tuple[int, ...], AclBook] = field(default_factory=dict)


class Evaluation:
    """Every ACL event of a thread judged; events must come in an order that
    respects causality (the order they were applied in)."""

    def __init__(self, thread_id: ThreadId, events: Sequence[AclEvent]) -> None:
        self.thread_id = thread_id
        self.events = list(events)
        self.index = {(e.log, e.seq): i for i, e in enumerate(self.events)}
        self._by_log: dict[bytes, list[int]] = {}
        for i, event in enumerate(self.events):
            self._by_log.setdefault(event.log, []).append(i)
        self._seqs = {log: [self.events[i].seq for i in idx] for log, idx in self._by_log.items()}
        self.bindings = self._bindings()
        self.removals = device_rules.Removals(self.events, self.bindings)
        self._knowledge: list[tuple[frozenset[int], str, bool]] = []
        self._epochs_after: list[frozenset[int]] = []  # epochs made in each event's past and by it
        self.causal = _Layer()
        self.final = _Layer()
        for i in range(len(self.events)):
            self._judge(i, self.causal, final=False)
        self._revocations = [i for i, e in enumerate(self.events)
                             if self.causal.valid[i] and any(isinstance(op, REVOCATIONS) for op in e.ops)]
        self._admitted = self._admitted_joins()
        for i in range(len(self.events)):
            self._judge(i, self.final, final=True)

    def extend(self, event: AclEvent) -> bool:
        """Judge one more event, after everything judged so far. Only an event
        that revokes, admits or joins can change earlier verdicts (remove
        wins, uses) or bind a log; for those, False: judge the whole history
        again."""
        if any(isinstance(op, (*REVOCATIONS, Join, Admit)) for op in event.ops):
            return False
        binding = _binding(self.thread_id, event)
        if binding is not None and any(b.device == binding.device for b in self.bindings.values()):
            # A device's second binding changes whose removals count for its
            # earlier events: judge everything again (as every peer would).
            return False
        i = len(self.events)
        self.events.append(event)
        self.index[(event.log, event.seq)] = i
        self._by_log.setdefault(event.log, []).append(i)
        self._seqs.setdefault(event.log, []).append(event.seq)
        if binding is not None:
            self.bindings[event.log] = binding
            self.removals = device_rules.Removals(self.events, self.bindings)
        self._judge(i, self.causal, final=False)
        self._judge(i, self.final, final=True)
        return True

    # --- queries ------------------------------------------------------------------------

    def state_before(self, log: bytes, seq: int, deps: Mapping[bytes, int]) -> AclBook:
        """The final state at the causal past of an event."""
        return self._state(self.final, self._maxima(log, seq, deps))

    def current(self) -> AclBook:
        """The final state over every known ACL event."""
        return self._state(self.final, tuple(idx[-1] for idx in self._by_log.values()))

    def uses_taken(self, invite: bytes) -> int:
        """How many of the invite's uses are taken: the admits and joins the
        verdict counts (causally valid, the first `uses` by stamp), whether
        or not each holds in the end."""
        return len(self._admitted.get(invite, ()))

    def identity_of(self, log: bytes) -> str | None:
        binding = self.bindings.get(log)
        return None if binding is None else binding.member

    def device_of(self, log: bytes) -> str | None:
        binding = self.bindings.get(log)
        return None if binding is None else binding.device

    def revoked_concurrently(self, log: bytes, seq: int, deps: Mapping[bytes, int], peer: str,
                             entities: Iterable[str | None], role: Role) -> bool:
        """Does a causally-valid revocation, concurrent with the event, take
        away `role` (or one below it) from `peer` on one of `entities`?"""
        wanted = set(entities)
        for i in self._revocations:
            event = self.events[i]
            if not concurrent(event, log, seq, deps):
                continue
            for op in event.ops:
                if isinstance(op, Revoke) and op.peer == peer and op.entity in wanted and op.role <= role:
                    return True
                if isinstance(op, Leave) and None in wanted and self.identity_of(event.log) == peer:
                    return True  # leaving takes every role on the thread
        return False

    def key_knowledge(self) -> list[tuple[frozenset[int], str, bool]]:
        """Who may hold which epochs' keys: (epochs, member, with read keys?).
        A key box or a link can only carry epochs its sealer could know: those
        made in its causal past (and the box's own new epoch). Kept up to date
        as events are added."""
        by_origin = {e.stamp: i for i, e in enumerate(self.events)}
        for i in range(len(self._epochs_after), len(self.events)):
            event = self.events[i]
            before = frozenset({0}).union(*(self._epochs_after[m]
                                            for m in self._maxima(event.log, event.seq, event.deps)))
            made = {op.epoch for op in event.ops if isinstance(op, Keys)} if self.causal.valid[i] else set()
            self._epochs_after.append(before | made)
            author = self.device_of(event.log)  # keys are held by devices
            if not self.causal.valid[i] or author is None:
                continue
            for op in event.ops:
                if isinstance(op, Genesis):
                    self._knowledge.append((frozenset({0}), author, True))
                elif isinstance(op, Keys):
                    carried = before | {op.epoch}
                    self._knowledge.append((carried, author, True))
                    self._knowledge += [(carried, peer, with_read) for peer, _box, with_read in op.boxes]
                elif isinstance(op, Undevice) and self.removals.is_removed(str(op.removal.device)):
                    # A device gets keys outside the ACL too (when added): once
                    # removed, it may hold every epoch made before.
                    self._knowledge.append((before, str(op.removal.device), True))
                elif isinstance(op, Join) and self.final.valid[i]:
                    terms = self.causal.after[i].invites.get(op.invite)
                    origin = None if terms is None else by_origin.get(terms.origin[0])
                    if terms is not None and origin is not None:
                        self._knowledge.append((self._epochs_after[origin], author, terms.role >= Role.READ))
        return self._knowledge

    def epochs_known_at(self, log: bytes, seq: int) -> frozenset[int]:
        """The epochs an ACL event could rightly hand out: those made in its
        causal past and by itself. A box holding any other is a smuggled key."""
        self.key_knowledge()
        return self._epochs_after[self.index[(log, seq)]]

    def key_holdings(self) -> dict[str, tuple[int, bool]]:
        """For each member, the newest epoch it may hold and whether with read keys."""
        held: dict[str, tuple[int, bool]] = {}
        for epochs, peer, with_read in self.key_knowledge():
            held[peer] = max(held.get(peer, (-1, False)), (max(epochs), with_read))
        return held

    def clean(self, epoch: int) -> bool:
        """Does every member who may hold this epoch's read key still hold
        the read role? Only such an epoch is safe to write with: after
        concurrent removals, or keys planted by an admin removed meanwhile,
        the newest epoch may be known to someone removed."""
        knowledge = self.key_knowledge()
        if epoch != 0 and not any(epoch in epochs for epochs, _peer, _read in knowledge):
            return False  # no valid event made this epoch: whoever gave it to us is no admin
        readers = self.current()
        persons = self.removals.persons_of  # a device bound under several: a reader through any of them
        return all(any(Role.READ in readers.roles(p) for p in persons(device)) and not self.removals.is_removed(device)
                   for epochs, device, with_read in knowledge if with_read and epoch in epochs)

    # --- judging ------------------------------------------------------------------------

    def _maxima(self, log: bytes, seq: int, deps: Mapping[bytes, int]) -> tuple[int, ...]:
        """For each log, its latest ACL event in the past of (log, seq, deps)."""
        found = []
        for other, seqs in self._seqs.items():
            limit = seq - 1 if other == log else deps.get(other, 0)
            position = bisect.bisect_right(seqs, limit)
            if position:
                found.append(self._by_log[other][position - 1])
        return tuple(sorted(found))

    def _state(self, layer: _Layer, maxima: tuple[int, ...]) -> AclBook:
        state = layer.memo.get(maxima)
        if state is None:
            state = layer.memo[maxima] = merge_books(layer.after[i] for i in maxima)
        return state

    def _judge(self, i: int, layer: _Layer, *, final: bool) -> None:
        event = self.events[i]
        before = self._state(layer, self._maxima(event.log, event.seq, event.deps))
        try:
            delta = self._check(i, event, before, final=final)
        except InvalidInputError as exc:
            layer.valid.append(False)
            layer.reasons.append(str(exc))
            layer.after.append(before)
            return
        layer.valid.append(True)
        layer.reasons.append(None)
        layer.after.append(before.merge(delta))

    def _check(self, i: int, event: AclEvent, before: AclBook, *, final: bool) -> AclBook:
        binding = self.bindings.get(event.log)
        if binding is None:
            raise InvalidInputError("the log is not bound to a member (its first event must bind it)")
        author = binding.member
        if self.removals.refuses(event.log, event.seq, event.deps):
            raise InvalidInputError("written by a device its person removed")
        running, delta = before, EMPTY
        for index, op in enumerate(event.ops):
            step = self._op(event, index, op, author, running, final=final)
            running, delta = running.merge(step), delta.merge(step)
        if sum(isinstance(op, Admit) for op in event.ops) > 1:
            raise InvalidInputError("an event admits one joiner")
        adds = any(isinstance(op, (Grant, SetDefault, Invite, Admit)) for op in event.ops) or (
            any(isinstance(op, Keys) for op in event.ops) and not any(isinstance(op, Revoke) for op in event.ops))
        if final and adds \
                and self.revoked_concurrently(event.log, event.seq, event.deps, author, (None, ACL_ENTITY),
                                              Role.WRITE):
            raise InvalidInputError("concurrent with the revocation of its author's right to edit the ACL")
        return delta

    def _op(self, event: AclEvent, index: int, op: AclOp, author: str, state: AclBook, *,
            final: bool) -> AclBook:
        if isinstance(op, Bind):
            if event.seq != 1 or index != 0:
                raise InvalidInputError("only a log's first event binds it, in its first op")
            return EMPTY
        if event.seq == 1 and index == 0:
            raise InvalidInputError("a log's first event binds it to a member")
        if isinstance(op, Genesis):
            if event.seq != 1 or not is_founder(self.thread_id, PeerId.parse(author), op.nonce):
                raise InvalidInputError("only the thread's founder starts its ACL")
            if state.thread.context or state.entities or state.invites:
                # Once: a founder removed later cannot start over in a new log.
                raise InvalidInputError("the thread's ACL has started already")
            thread = _grant(state.thread, author, Role.DELETE, event, index)
            book = state.with_entity(None, thread)
            return EMPTY.with_entity(None, thread).with_entity(
                ACL_ENTITY, _grant(book.entity(ACL_ENTITY), author, Role.WRITE, event, index))
        if isinstance(op, Join):
            return self._join(event, index, op, author, state, final=final)
        if isinstance(op, Leave):
            return self._leave(event, index, author, state, final=final)
        if isinstance(op, Undevice):
            op.removal.verify()  # its authority: the person key, whoever's log carries it
            return EMPTY
        if not state.is_admin(author):
            raise InvalidInputError(f"{author} may not edit the ACL")
        if isinstance(op, Grant):
            return EMPTY.with_entity(op.entity, _grant(state.entity(op.entity), op.peer, op.role, event, index))
        if isinstance(op, Revoke):
            entity = state.entity(op.entity)
            delta = AclState()
            for role in roles_from(op.role):
                delta = delta.merge(entity.revoke(op.peer, role, _dot(event, index, role)))
            return EMPTY.with_entity(op.entity, delta)
        if isinstance(op, SetDefault):
            return EMPTY.with_entity(op.entity, state.entity(op.entity).set_default(op.role, _dot(event, index, 255)))
        if isinstance(op, Invite):
            if op.key in state.invites:
                raise InvalidInputError("that invite key is taken")
            return AclBook(invites={op.key: InviteTerms(op.role, op.expires_ms, op.uses, op.epoch, author,
                                                        (event.stamp, index), op.approve)})
        if isinstance(op, Uninvite):
            if op.key not in state.invites:
                raise InvalidInputError("no such invite to revoke")
            return AclBook(uninvited=frozenset({op.key}))
        if isinstance(op, Admit):
            return self._admit(event, index, op, state, final=final)
        assert isinstance(op, Keys)
        return EMPTY

    def _join(self, event: AclEvent, index: int, op: Join, author: str, state: AclBook, *,
              final: bool) -> AclBook:
        """The old way in (links that carried keys): the joiner's own event.
        Nothing writes it any more; histories that hold it are judged as before."""
        terms = self._open_invite(op.invite, state, "join")
        verify(op.invite, op.signature, join_message(self.thread_id, op.invite, PeerId(event.log),
                                                     PeerId.parse(author)), "join")
        self._spend(event, op.invite, terms, final=final)
        return EMPTY.with_entity(None, _grant(state.thread, author, terms.role, event, index))

    def _admit(self, event: AclEvent, index: int, op: Admit, state: AclBook, *, final: bool) -> AclBook:
        """An admin (checked by the caller) lets a joiner in: the joiner
        signed with the invite key, and bound its log and exchange key."""
        terms = self._open_invite(op.invite, state, "admit")
        verify(op.invite, op.signature, join_message(self.thread_id, op.invite, op.log, op.identity), "join")
        verify(op.identity.public_key, op.bind_signature,
               binding_message(self.thread_id, op.log, op.identity, op.exchange), "binding")
        person = device_rules.certified_person(op.identity, op.cert)  # the role is the person's
        if self.removals.removed_after(str(op.identity), event.log, event.seq, event.deps):
            raise InvalidInputError("admits a device its person removed")
        self._spend(event, op.invite, terms, final=final)
        return EMPTY.with_entity(None, _grant(state.thread, str(person), terms.role, event, index))

    def _open_invite(self, invite: bytes, state: AclBook, what: str) -> InviteTerms:
        terms = state.invites.get(invite)
        if terms is None:
            raise InvalidInputError(f"the {what} names an invite its author had not seen")
        if invite in state.uninvited:
            raise InvalidInputError("the invite was revoked")
        if not state.is_admin(terms.inviter):
            # An admin removed (or no longer reading) cannot let anyone in
            # through a link it made before.
            raise InvalidInputError("the invite's author is no longer an admin")
        return terms

    def _spend(self, event: AclEvent, invite: bytes, terms: InviteTerms, *, final: bool) -> None:
        """Refuse a use of the invite at `event` that is too late, or (final
        layer) beyond its uses or concurrent with a revocation (remove wins)."""
        if terms.expires_ms and event.hlc >> 16 > terms.expires_ms:
            raise InvalidInputError("the invite had expired")
        if any(self.events[i].hlc > event.hlc for i in self._maxima(event.log, event.seq, event.deps)):
            raise InvalidInputError("a use of an invite cannot be stamped before what it had seen")
        if not final:
            return
        if (event.log, event.seq) not in self._admitted.get(invite, ()):
            raise InvalidInputError("the invite was used up")
        for i in self._revocations:
            if concurrent(self.events[i], event.log, event.seq, event.deps) and any(
                    isinstance(o, Uninvite) and o.key == invite for o in self.events[i].ops):
                raise InvalidInputError("concurrent with the invite's revocation")
        if self.revoked_concurrently(event.log, event.seq, event.deps, terms.inviter, (None, ACL_ENTITY),
                                     Role.WRITE):
            raise InvalidInputError("concurrent with the revocation of the invite's author")

    def _leave(self, event: AclEvent, index: int, author: str, state: AclBook, *, final: bool) -> AclBook:
        """A member takes every role from itself; the last admin stays while
        anyone else does, so the thread is never left without one (final
        layer: nor by admins leaving concurrently)."""
        if Role.FOLLOW not in state.roles(author):
            raise InvalidInputError("only a member can leave")
        others = [m for m in state.members() if m != author and Role.FOLLOW in state.roles(m)]
        if state.is_admin(author) and others and not any(state.is_admin(m) for m in others):
            raise InvalidInputError("the last admin cannot leave while others remain: make someone else an "
                                    "admin first")
        if final and state.is_admin(author) and self._last_admins_leaving(event, state, others):
            raise InvalidInputError("the other admins left at the same time: the last to leave stays an admin")
        thread = state.thread
        delta = AclState()
        for role in roles_from(Role.FOLLOW):
            delta = delta.merge(thread.revoke(author, role, _dot(event, index, role)))
        return EMPTY.with_entity(None, delta)

    def _last_admins_leaving(self, event: AclEvent, state: AclBook, others: list[str]) -> bool:
        """Would this admin's leave, with the other admins' leaves concurrent
        with it, leave members without an admin? Then the one stamped last
        is refused (the same on every peer), so one admin stays."""
        stamps: list[bytes] = []
        leaving: set[str] = set()
        for i in self._revocations:
            other = self.events[i]
            who = self.identity_of(other.log)
            if who in others and state.is_admin(who) and any(isinstance(op, Leave) for op in other.ops) \
                    and concurrent(other, event.log, event.seq, event.deps):
                leaving.add(who)
                stamps.append(other.stamp)
        staying = [m for m in others if m not in leaving]
        return bool(leaving) and bool(staying) and not any(state.is_admin(m) for m in staying) \
            and all(event.stamp > stamp for stamp in stamps)

    def _admitted_joins(self) -> dict[bytes, set[tuple[bytes, int]]]:
        """Per invite, the causally-valid admits and joins it lets in: the
        first `uses` by stamp."""
        joins: dict[bytes, list[tuple[bytes, bytes, int]]] = {}
        uses: dict[bytes, int] = {}
        for i, event in enumerate(self.events):
            if not self.causal.valid[i]:
                continue
            for op in event.ops:
                if isinstance(op, (Join, Admit)):
                    joins.setdefault(op.invite, []).append((event.stamp, event.log, event.seq))
                    terms = self.causal.after[i].invites.get(op.invite)
                    if terms is not None:
                        uses[op.invite] = terms.uses
        return {key: {(log, seq) for _stamp, log, seq in sorted(found)[:uses.get(key, 0)]}
                for key, found in joins.items()}

    def _bindings(self) -> dict[bytes, Binding]:
        """Each log's member: bound by its own first event, or else by an
        admit naming it (the joiner signed that binding too), so keys can be
        sealed to a joiner before its first event arrives."""
        bindings = {event.log: binding for event in self.events
                    if (binding := _binding(self.thread_id, event)) is not None}
        for event in self.events:
            for op in event.ops:
                if isinstance(op, Admit) and op.log.raw not in bindings:
                    try:
                        verify(op.identity.public_key, op.bind_signature,
                               binding_message(self.thread_id, op.log, op.identity, op.exchange), "binding")
                        person = device_rules.certified_person(op.identity, op.cert)
                    except InvalidInputError:
                        continue
                    bindings[op.log.raw] = Binding(op.identity, op.exchange, _person(op.identity, person))
        return bindings


def _binding(thread_id: ThreadId, event: AclEvent) -> Binding | None:
    """The member a log's first event binds it to, if it does so validly."""
    if event.seq != 1 or not event.ops or not isinstance(event.ops[0], Bind):
        return None
    bind = event.ops[0]
    try:
        verify(bind.identity.public_key, bind.signature,
               binding_message(thread_id, PeerId(event.log), bind.identity, bind.exchange), "binding")
        person = device_rules.certified_person(bind.identity, bind.cert)
    except InvalidInputError:
        return None
    return Binding(bind.identity, bind.exchange, _person(bind.identity, person))


def _person(device: PeerId, person: PeerId) -> PeerId | None:
    return None if person == device else person


def _dot(event: AclEvent, index: int, tag: int) -> Dot:
    """Unique per event, op and role: dots must never repeat within a state."""
    return event.log + bytes([index, tag]), event.seq


def _grant(state: AclState, peer: str, role: Role, event: AclEvent, index: int) -> AclState:
    delta = AclState()
    for granted in roles_up_to(role):
        delta = delta.merge(state.grant(peer, granted, _dot(event, index, granted)))
    return delta
