"""What decided that a peer may not sync a thread, and how much of the
thread it may still be served so that it learns it.

A member whose follow was revoked, one that left, or a joiner whose join
lost the race for an invite's last use is refused sync. Its own app can
only learn why from the signed events that decided it: a notice from a
peer could be forged, an event its own store judges cannot. So a peer that
proves the thread but is refused is served those events and their causal
past, and nothing else (engine/net/server.py): the *cap*, per log the last
seq it may fetch. Everything in the cap was written before the verdict,
while the peer still belonged (or, for a joiner, while it was let in), so
it learns nothing it was not entitled to; nothing written after the
verdict, even in the remover's own log, is in it.

Pure: the same evaluation gives the same answer on every peer.
"""

from __future__ import annotations

from collections.abc import Callable

from threads_desktop.engine.acl import device_rules
from threads_desktop.engine.acl.control_ops import Admit, Grant, Join, Leave, Revoke, Uninvite
from threads_desktop.engine.acl.policy import Evaluation, in_past
from threads_desktop.engine.core.errors import InvalidInputError
from threads_desktop.engine.core.ids import PeerId, ThreadId
from threads_desktop.engine.core.members import Role


def deciding_events(evaluation: Evaluation, peer: str) -> list[tuple[PeerId, int]]:
    """The ACL events (log, seq) that decided `peer` holds no follow: the
    valid revocations of its follow on the thread and its own valid Leave;
    for an admission of its that was refused (an admit naming it, or its
    old-style join), every admit, join and revocation of that invite (its
    app judges the same race). Empty for a peer that holds follow, or that
    the ACL never named: a stranger is told nothing. `peer` is a device:
    roles, leaves and admits are its person's."""
    person = evaluation.removals.person_of(peer)
    if Role.FOLLOW in evaluation.current().roles(person):
        return []
    own_logs = {log for log, binding in evaluation.bindings.items() if binding.member == person}
    lost_invites: set[bytes] = set()
    found: list[int] = []
    gains: list[int] = []  # events that let the peer in (again)
    for i, event in enumerate(evaluation.events):
        valid = evaluation.final.valid[i]
        for op in event.ops:
            if valid and (_removes(op, person) or (isinstance(op, Leave) and event.log in own_logs)):
                found.append(i)
            elif valid and _lets_in(op, peer, person, event.log in own_logs):
                gains.append(i)
            elif not valid and ((isinstance(op, Join) and event.log in own_logs)
                                or (isinstance(op, Admit) and _admits(op, peer, person))):
                lost_invites.add(op.invite)
    if lost_invites:
        for i, event in enumerate(evaluation.events):
            if evaluation.causal.valid[i] and any(
                    isinstance(op, (Join, Admit, Uninvite)) and _invite_of(op) in lost_invites for op in event.ops):
                found.append(i)
    # Only what decided it, not what came after: a revocation from before it
    # was let in again decides nothing now, and a later one (a second revoke,
    # an invite revoked weeks later) would widen the cap to what was written
    # since. So the earliest deciding events: none has another in its past.
    found = [i for i in set(found) if not any(_before(evaluation, i, g) for g in gains)]
    found = [i for i in found if not any(j != i and _before(evaluation, j, i) for j in found)]
    return [(PeerId(evaluation.events[i].log), evaluation.events[i].seq) for i in sorted(found)]


def _before(evaluation: Evaluation, i: int, j: int) -> bool:
    """Is event i in the causal past of event j?"""
    a, b = evaluation.events[i], evaluation.events[j]
    return in_past(a.log, a.seq, b.deps, b.log, b.seq)


def _lets_in(op: object, peer: str, person: str, own_log: bool) -> bool:
    """An op that gives the peer's person follow on the thread (or more)."""
    if isinstance(op, Admit):
        return _admits(op, peer, person)
    if isinstance(op, Grant):
        return op.peer == person and op.entity is None
    return isinstance(op, Join) and own_log


def _admits(op: Admit, peer: str, person: str) -> bool:
    """Does the admit name this device, or its person (a certified device)?"""
    if str(op.identity) == peer:
        return True
    try:
        return str(device_rules.certified_person(op.identity, op.cert)) == person
    except InvalidInputError:
        return False  # a certificate that does not hold names nobody


def sync_cap(evaluation: Evaluation, peer: str) -> dict[PeerId, int]:
    """Per log, the last seq `peer` may be served: the deciding events and
    their causal past (an event's deps name how far it had seen every other
    log). Empty: nothing to tell it."""
    cap: dict[bytes, int] = {}
    for log, seq in deciding_events(evaluation, peer):
        event = evaluation.events[evaluation.index[(log.raw, seq)]]
        cap[log.raw] = max(cap.get(log.raw, 0), seq)
        for other, seen in event.deps.items():
            if seen > cap.get(other, 0):
                cap[other] = seen
    return {PeerId(log): seq for log, seq in cap.items() if seq > 0}


def _removes(op: object, peer: str) -> bool:
    """A revocation of the peer's follow on the thread (and so of every role)."""
    return isinstance(op, Revoke) and op.peer == peer and op.entity is None and op.role <= Role.FOLLOW


def _invite_of(op: Join | Admit | Uninvite) -> bytes:
    return op.key if isinstance(op, Uninvite) else op.invite


MAX_CACHED_CAPS = 256  # peers' caps kept a thread (only peers proving the thread's keys ask)


class SyncCaps:
    """`sync_cap` kept per (thread, ACL version, peer): a refused peer asks
    on every hello and fetch, and the answer changes only with the ACL. A
    new ACL event (the evaluation grew) drops the thread's caps. `compute`
    is `sync_cap` (tests count its calls)."""

    def __init__(self, compute: Callable[[Evaluation, str], dict[PeerId, int]] = sync_cap) -> None:
        self._compute = compute
        self._caps: dict[ThreadId, tuple[tuple[int, bytes, int], dict[str, dict[PeerId, int]]]] = {}

    def cap(self, thread_id: ThreadId, evaluation: Evaluation, peer: str) -> dict[PeerId, int]:
        last = evaluation.events[-1] if evaluation.events else None
        version = (len(evaluation.events), last.log if last else b"", last.seq if last else 0)
        known = self._caps.get(thread_id)
        if known is None or known[0] != version or (len(known[1]) >= MAX_CACHED_CAPS and peer not in known[1]):
            known = self._caps[thread_id] = (version, {})
        caps = known[1]
        if peer not in caps:
            caps[peer] = self._compute(evaluation, peer)
        return dict(caps[peer])
