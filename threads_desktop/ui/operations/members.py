"""What the members dialog asks of the engine: one snapshot to show, and the
changes it makes. Each function runs on the engine thread through
`EngineClient.run(fn, *args)`, so it may use the Node freely and returns
plain values only."""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from threads_desktop.engine.core.ids import ThreadId
from threads_desktop.engine.core.members import InviteState, JoinRequest, Member, Role
from threads_desktop.engine.node import Node
from threads_desktop.ui.people import person

# A libp2p Ed25519 peer ID as the engine writes it in refusal reasons.
PEER_ID_PATTERN = re.compile(r"12D3KooW[1-9A-HJ-NP-Za-km-z]{44}")


@dataclass(frozen=True, slots=True)
class Refusal:
    """An event the ACL refused: who wrote it (when the reason names them),
    the log and position it sits at, and why."""

    author: str | None
    log: str
    seq: int
    reason: str


@dataclass(frozen=True, slots=True)
class MembersSnapshot:
    me: str
    admin: bool  # may I edit the ACL?
    members: tuple[Member, ...]
    invites: tuple[InviteState, ...]
    default_role: Role
    refusals: tuple[Refusal, ...]  # only gathered for admins: nobody else can act on them
    names: dict[str, str]  # peer ID -> the name that member gives itself
    requests: tuple[JoinRequest, ...] = ()  # who asked to be let in (admins only): waiting, or refused
    # person -> the names of their devices writing here (issue 19), not removed ones
    devices: dict[str, tuple[str, ...]] = field(default_factory=dict)


def load_members(node: Node, thread_id: ThreadId) -> MembersSnapshot:
    membership = node.membership
    members = membership.members(thread_id)
    admin = any(m.is_me and m.admin for m in members)
    refusals: tuple[Refusal, ...] = ()
    requests: tuple[JoinRequest, ...] = ()
    if admin:
        refusals = tuple(Refusal(_author_in(reason), str(log), seq, reason)
                         for log, seq, reason in node.events.refused(thread_id))
        requests = tuple(membership.join_requests(thread_id))
    return MembersSnapshot(
        me=membership.me, admin=admin, members=tuple(members), invites=tuple(membership.invites(thread_id)),
        default_role=Role.parse(membership.acl_document(thread_id)["default"]), refusals=refusals,
        names=node.member_names(thread_id), requests=requests, devices=person_devices(node, thread_id))


def _author_in(reason: str) -> str | None:
    # The engine does not expose which member a log is bound to; the
    # access refusals ("<peer> may not write in this thread") start with it.
    match = PEER_ID_PATTERN.match(reason)
    return match.group(0) if match else None


def set_member_role(node: Node, thread_id: ThreadId, peer: str, role: Role) -> None:
    """Leave `peer` with exactly `role` and the roles below it. Revoking
    takes a role and those above it; granting gives it and those below, so
    at most one of each. NO_ACCESS removes the member (revoking follow
    rotates the thread's keys and withdraws open invites)."""
    membership = node.membership
    held = membership.roles(thread_id, peer)
    if any(r > role for r in held):
        membership.revoke(thread_id, peer, Role(role + 1))
    if role > Role.NO_ACCESS and not all(r in held for r in Role if Role.NO_ACCESS < r <= role):
        membership.grant(thread_id, peer, role)


def remove_member(node: Node, thread_id: ThreadId, peer: str) -> None:
    node.membership.revoke(thread_id, peer, Role.FOLLOW)


def set_default_role(node: Node, thread_id: ThreadId, role: Role) -> None:
    node.membership.set_default(thread_id, role)


def revoke_invite(node: Node, thread_id: ThreadId, invite_key: bytes) -> None:
    node.membership.revoke_invite(thread_id, invite_key)


def author_labels(node: Node, thread_id: ThreadId) -> dict[str, str]:
    """Author (its log ID in the thread) -> how to show it: the name its
    member gives itself, else the short form of the member's ID (not of the
    log's, which differs per thread and would not match anywhere else).
    Runs on the engine thread."""
    named = node.member_names(thread_id)
    labels = {log: person(named.get(member), member) for log, member in node.author_members(thread_id).items()}
    labels.update(node.author_names(thread_id))
    return labels


def person_devices(node: Node, thread_id: ThreadId) -> dict[str, tuple[str, ...]]:
    """Person -> the names of their devices that write in the thread (not
    removed): a first device ("" : it has no certificate, so no name) first,
    then by name."""
    found: dict[str, set[tuple[str, str]]] = {}
    for author in node.author_devices(thread_id).values():
        if not author.removed:
            found.setdefault(author.person, set()).add((author.name or "", author.device))
    return {who: tuple(name for name, _device in sorted(devices)) for who, devices in found.items()}


def author_device_names(node: Node, thread_id: ThreadId) -> dict[str, str]:
    """Author (log ID) -> its device's name ("" for an unnamed first
    device), only for persons writing in the thread from more than one device."""
    authors = node.author_devices(thread_id)
    count: dict[str, int] = {}
    for author in authors.values():
        count[author.person] = count.get(author.person, 0) + 1
    return {log: author.name or "" for log, author in authors.items() if count[author.person] > 1}
