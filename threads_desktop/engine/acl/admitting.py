"""What an ACL history says about admissions: how many uses of an invite
hold, whether a joiner is in, and why an invite would admit nobody now.
Pure functions of an Evaluation (and our clock), shared by the admin's and
the joiner's side of Membership."""

from __future__ import annotations

from typing import Literal

from threads_desktop.engine.acl.admission import AdmissionRequest
from threads_desktop.engine.acl.book import InviteTerms
from threads_desktop.engine.acl.control_ops import Admit, Revoke
from threads_desktop.engine.acl.policy import Evaluation, in_past
from threads_desktop.engine.core.ids import PeerId
from threads_desktop.engine.core.members import Role


def refusal(evaluation: Evaluation, request: AdmissionRequest, terms: InviteTerms, now_ms: int) -> str | None:
    """Why the invite no longer admits anyone (or this joiner), by our clock;
    None if it admits it."""
    book = evaluation.current()
    if request.invite_key in book.uninvited or not book.is_admin(terms.inviter):
        return "revoked"
    if evaluation.removals.is_removed(str(request.identity)):
        return "removed"  # a device its person removed: for good, whatever invite it kept
    # The person, not the device: another device of a removed person asks too.
    if removed_before(evaluation, request.member, terms):
        return "removed"
    if terms.expires_ms and now_ms > terms.expires_ms:
        return "expired"
    if uses(evaluation, request.invite_key) >= terms.uses:
        return "used-up"
    return None


def uses(evaluation: Evaluation, invite: bytes) -> int:
    """How many of the invite's uses are taken, as the policy counts them:
    an admit refused in the end (its author demoted concurrently, say) still
    took one, so a new admit would be refused as used up."""
    return evaluation.uses_taken(invite)


def admitted(evaluation: Evaluation, invite: bytes, identity: str) -> bool:
    """Does an admit of `identity` with this invite hold?"""
    return any(evaluation.final.valid[i] for i, event in enumerate(evaluation.events)
               for op in event.ops if isinstance(op, Admit) and op.invite == invite and str(op.identity) == identity)


def admit_verdict(evaluation: Evaluation, invite: bytes, identity: str, log: PeerId) -> Literal[True] | str | None:
    """True if an admit of us (this invite, our log) holds here; else the
    policy's reason one was refused; None if none is here yet."""
    reason: str | None = None
    for i, event in enumerate(evaluation.events):
        for op in event.ops:
            if isinstance(op, Admit) and op.invite == invite and str(op.identity) == identity and op.log == log:
                if evaluation.final.valid[i]:
                    return True
                reason = evaluation.final.reasons[i] or reason
    return reason


def removed_before(evaluation: Evaluation, identity: str, terms: InviteTerms) -> bool:
    """Was the joiner removed by an admin, and is still out, and was the
    invite made without knowing it? (An invite made after the removal was
    the admins' choice; a member who left may come back with any link.)"""
    if Role.FOLLOW in evaluation.current().roles(identity):
        return False
    made = next((event for event in evaluation.events if event.stamp == terms.origin[0]), None)
    for i, event in enumerate(evaluation.events):
        removes = evaluation.final.valid[i] and any(
            isinstance(op, Revoke) and op.peer == identity and op.entity is None and op.role <= Role.FOLLOW
            for op in event.ops)
        if removes and (made is None or not in_past(event.log, event.seq, made.deps, made.log, made.seq)):
            return True
    return False
