"""Membership as the thread tells it: who joined (and through whose invite),
who was added, removed or given another role, who left; and whether we
ourselves were removed. Read from finally-valid ACL events only, so every
member of a thread tells the same story, at the time each event was written.

Only the thread's own roles count as role changes; admin rights given or
taken, the thread's default role and the roles set on one document are told
apart (`_rights_notices`).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Literal

from threads_desktop.engine.acl.book import AclBook
from threads_desktop.engine.acl.control_ops import (
    ACL_ENTITY,
    Admit,
    Bind,
    Grant,
    Join,
    Leave,
    Revoke,
    SetDefault,
    Undevice,
)
from threads_desktop.engine.acl.policy import AclEvent, Evaluation
from threads_desktop.engine.core.hlc import unpack
from threads_desktop.engine.core.members import Role

NoticeKind = Literal["joined", "added", "removed", "left", "role-changed",
                     "admin-given", "admin-taken", "default-changed", "document-role",
                     "device-added", "device-removed"]


@dataclass(frozen=True, slots=True)
class MembershipNotice:
    kind: NoticeKind
    actor: str | None  # who did it: the admin (for a join, who admitted); None: the subject itself
    subject: str  # the member it happened to
    role: Role | None  # the role the subject holds after it (None: removed, left)
    at_ms: int  # the writer's wall clock, from the event's HLC
    by_invite_of: str | None = None  # for "joined": who made the invite
    stamp: bytes = b""  # the event's stamp: the thread's total order, as messages are ordered
    # "document-role": the document (`collection/id`) whose role was set; the subject is
    # "" there, and for "default-changed", when it is everyone the ACL does not name.
    # "device-added", "device-removed": the device's name, as its certificate gives it (None: unnamed).
    entity: str | None = None


@dataclass(frozen=True, slots=True)
class Removal:
    """We lost the right to write (or everything): who did it, when, and the role left to us."""

    by: str
    at_ms: int
    role_left: Role | None


@dataclass(frozen=True, slots=True)
class ThreadNotices:
    """A thread's notices as a node hands them out: with the name each
    member named in them gives itself there (those who gave one), and who we are."""

    notices: tuple[MembershipNotice, ...]
    names: dict[str, str]
    me: str


def membership_notices(evaluation: Evaluation) -> list[MembershipNotice]:
    """Every membership change, oldest first (by the events' stamps)."""
    told = [notice for notice, _before in _changes(evaluation)] + list(_rights_notices(evaluation)) \
        + list(_device_notices(evaluation))
    return sorted(told, key=lambda notice: notice.stamp)  # stable: one event's notices keep their order


def removal(evaluation: Evaluation, me: str) -> Removal | None:
    """Whether someone took `me`'s right to write (or every right) and did not
    give it back: the latest such change, unless a later one let us in again
    or gave us more. None when we never had more than we hold now, or when
    we left ourselves."""
    left_to_me = role_of(evaluation.current(), me)
    if left_to_me is not None and left_to_me >= Role.WRITE:
        return None
    latest: MembershipNotice | None = None
    for notice, before in sorted(_changes(evaluation), key=lambda c: c[0].stamp):
        if notice.subject == me:  # lowered: the latest removal; let in again or given more: none
            lowered = before is not None and (notice.role is None or notice.role < before)
            latest = notice if lowered else None
    if latest is None or latest.kind == "left" or latest.actor in (None, me):
        return None
    return Removal(latest.actor, latest.at_ms, left_to_me)


def role_of(book: AclBook, peer: str) -> Role | None:
    """The highest role a member holds on the thread; None for someone who is
    no member (a default role given to anyone makes nobody a member)."""
    if peer not in book.thread.members():
        return None
    return max(book.thread.roles(peer), default=None)


def _changes(evaluation: Evaluation) -> Iterator[tuple[MembershipNotice, Role | None]]:
    """Each notice with the subject's role before it."""
    for i, event in enumerate(evaluation.events):
        author = evaluation.identity_of(event.log)
        if not evaluation.final.valid[i] or author is None:
            continue
        before = evaluation.state_before(event.log, event.seq, event.deps)
        after = evaluation.final.after[i]
        for subject, how in _subjects(event, author):
            was, now = role_of(before, subject), role_of(after, subject)
            notice = _notice(event, author, subject, how, before, was, now)
            if notice is not None:
                yield notice, was


_How = tuple[str, bytes | None]  # "admit" | "join" | "leave" | "change", and the invite a way in used


def _subjects(event: AclEvent, author: str) -> Iterator[tuple[str, _How]]:
    """The members an event's ops name, once each, with how they were named."""
    seen: set[str] = set()
    how: _How
    for op in event.ops:
        if isinstance(op, (Grant, Revoke)) and op.entity is None:
            named, how = op.peer, ("change", None)
        elif isinstance(op, Admit):  # an admin let a joiner in
            # A device of a person (issue 19): the person was let in (the
            # certificate held, or the admit would not be valid).
            named, how = str(op.identity if op.cert is None else op.cert.person), ("admit", op.invite)
        elif isinstance(op, Join):  # the old way in: the joiner's own event
            named, how = author, ("join", op.invite)
        elif isinstance(op, Leave):
            named, how = author, ("leave", None)
        else:
            continue
        if named not in seen:
            seen.add(named)
            yield named, how


def _notice(event: AclEvent, author: str, subject: str, how: _How, before: AclBook,
            was: Role | None, now: Role | None) -> MembershipNotice | None:
    at_ms = unpack(event.hlc)[0]
    way, invite = how
    if invite is not None and now is not None:
        terms = before.invites.get(invite)
        return MembershipNotice("joined", author if way == "admit" else None, subject, now, at_ms,
                                None if terms is None else terms.inviter, event.stamp)
    if was == now:
        return None
    if now is None:
        kind: NoticeKind = "left" if way == "leave" or author == subject else "removed"
        return MembershipNotice(kind, None if kind == "left" else author, subject, None, at_ms, stamp=event.stamp)
    if was is None:
        return MembershipNotice("added", author, subject, now, at_ms, stamp=event.stamp)
    return MembershipNotice("role-changed", author, subject, now, at_ms, stamp=event.stamp)


# --- admin rights, the default role, roles on one document (notices2) -------------------------

_RoleSet = tuple[bool, Role | None]  # whether a document has roles of its own, and the one set there


def _rights_notices(evaluation: Evaluation) -> Iterator[MembershipNotice]:
    """From each finally-valid event that grants, revokes or sets a default:
    who became or stopped being an admin, the thread's new default role, and
    the roles set on one document (what was set there; the thread role
    still bounds it). Not for members without a thread role after it: their
    removal or leave is the notice."""
    for i, event in enumerate(evaluation.events):
        author = evaluation.identity_of(event.log)
        ops = [op for op in event.ops if isinstance(op, (Grant, Revoke, SetDefault))]
        if not evaluation.final.valid[i] or author is None or not ops:
            continue
        before = evaluation.state_before(event.log, event.seq, event.deps)
        after = evaluation.final.after[i]

        def notice(kind: NoticeKind, subject: str, role: Role | None, entity: str | None = None,
                   event: AclEvent = event, author: str = author) -> MembershipNotice:
            return MembershipNotice(kind, author, subject, role, unpack(event.hlc)[0], stamp=event.stamp,
                                    entity=entity)

        for peer in _admin_subjects(ops, before, after):
            was, now = before.is_admin(peer), after.is_admin(peer)
            if was != now and role_of(after, peer) is not None:
                yield notice("admin-given" if now else "admin-taken", peer, role_of(after, peer))
        told: set[tuple[str, str | None]] = set()
        for op in ops:
            subject = "" if isinstance(op, SetDefault) else op.peer  # "": anyone not named
            if op.entity == ACL_ENTITY or (subject, op.entity) in told \
                    or (subject and role_of(after, subject) is None):
                continue
            told.add((subject, op.entity))
            if op.entity is None:
                if not subject and before.thread.default_role() != after.thread.default_role():
                    yield notice("default-changed", "", after.thread.default_role())
                continue
            was_set, now_set = _document_role(before, op.entity, subject), _document_role(after, op.entity, subject)
            if was_set != now_set:
                yield notice("document-role", subject, now_set[1], op.entity)


def _admin_subjects(ops: list[Grant | Revoke | SetDefault], before: AclBook, after: AclBook) -> list[str]:
    """The members whose admin rights an event may change: those its grants
    and revokes of the thread or the ACL entity name, and every member when
    it sets the ACL entity's default (a document's roles make no admin)."""
    named = [op.peer for op in ops if isinstance(op, (Grant, Revoke)) and op.entity in (None, ACL_ENTITY)]
    if any(isinstance(op, SetDefault) and op.entity == ACL_ENTITY for op in ops):
        named += sorted(before.members() | after.members())
    return list(dict.fromkeys(named))


def _document_role(book: AclBook, entity: str, subject: str) -> _RoleSet:
    """The role set on a document for a member ("": for anyone it does not
    name; None: no role at all), and whether it has roles of its own."""
    state = book.entities.get(entity)
    if state is None or not (state.peers or state.default):
        return False, None  # the thread's roles hold there
    if not subject:
        return True, state.default_role()
    return True, max(state.roles(subject), default=None)


# --- a person's devices (issue 19) ----------------------------------------------------------


def _device_notices(evaluation: Evaluation) -> Iterator[MembershipNotice]:
    """A member's device added (a log bound with a certificate after the
    person's first log here, by the events' stamps, so every member tells
    the same whatever order it applied them in) or removed (a removal that
    counts). Members hear of it: a device they never met now speaks, or stops
    speaking, for that person."""
    # Members now (a device binds before it syncs: its past may not hold the
    # admit yet), so a made-up person's devices are told nothing.
    members = evaluation.current().thread.members()
    names: dict[str, str] = {}  # device -> the name its certificate gives it
    binds: list[tuple[bytes, str, str | None, int]] = []  # stamp, person, its certificate's name, time
    removals: list[tuple[bytes, str, str, int]] = []  # stamp, person, device, time
    for i, event in enumerate(evaluation.events):
        if not evaluation.final.valid[i]:
            continue
        at_ms = unpack(event.hlc)[0]
        for op in event.ops:
            if isinstance(op, Bind):
                name = None if op.cert is None else op.cert.name
                if name is not None:
                    names[str(op.identity)] = name
                binds.append((event.stamp, str(op.identity if op.cert is None else op.cert.person), name, at_ms))
            elif isinstance(op, Undevice) and str(op.removal.device) in evaluation.removals.removes(event.log,
                                                                                                     event.seq):
                removals.append((event.stamp, str(op.removal.person), str(op.removal.device), at_ms))
    bound: set[str] = set()
    for stamp, person, name, at_ms in sorted(binds):
        if name is not None and person in bound and person in members:
            yield MembershipNotice("device-added", None, person, None, at_ms, stamp=stamp, entity=name)
        bound.add(person)
    told: set[str] = set()
    for stamp, person, device, at_ms in sorted(removals):
        if device not in told and person in members:
            told.add(device)
            yield MembershipNotice("device-removed", None, person, None, at_ms, stamp=stamp, entity=names.get(device))
