"""The ACL as a delta-state CRDT (DESIGN §5, the paper's ACL listing): an
observed-remove map from a member's peer ID to a remove-wins observed-remove
set of roles, and a default role.

Every change is tagged with a dot, `(replica, counter)`: in a thread, an
event's log ID and position, so dots never repeat. A state is a dot store
plus the causal context (every dot it has seen). Merging two states keeps an
entry both hold, and an entry one holds that the other has not seen; so a
change removes exactly what its writer had seen (observed-remove), and merge
is commutative, associative and idempotent.

Remove wins: a role is held only while all of its surviving entries are
grants, so a grant concurrent with a revoke of the same role leaves it
revoked. Concurrent defaults resolve to the least privileged one.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from threads_desktop.engine.core.errors import SchemaError
from threads_desktop.engine.core.ids import PeerId
from threads_desktop.engine.core.members import Role

Dot = tuple[bytes, int]


@dataclass(frozen=True)
class AclState:
    """`peers`: peer ID -> role -> {dot: granted?}; `default`: {dot: role};
    `context`: every dot this state has seen."""

    peers: Mapping[str, Mapping[Role, Mapping[Dot, bool]]] = field(default_factory=dict)
    default: Mapping[Dot, Role] = field(default_factory=dict)
    context: frozenset[Dot] = frozenset()
    # Which member an entry's dot belongs to (may name dots no longer held):
    # lets a merge with a small delta touch only the members it concerns.
    _owners: dict[Dot, str] | None = field(default=None, compare=False, repr=False)

    def _dot_owners(self) -> dict[Dot, str]:
        if self._owners is None:
            object.__setattr__(self, "_owners", {d: peer for peer, roles in self.peers.items()
                                                 for entries in roles.values() for d in entries})
        assert self._owners is not None
        return self._owners

    # --- reading ----------------------------------------------------------------------

    def roles(self, peer_id: str) -> frozenset[Role]:
        """The roles a member holds (remove wins), else the default role."""
        held = frozenset(role for role, entries in self.peers.get(peer_id, {}).items()
                         if entries and all(entries.values()))
        if held or peer_id in self.members():
            return held
        return frozenset({self.default_role()}) - {Role.NO_ACCESS}

    def members(self) -> frozenset[str]:
        return frozenset(peer for peer, roles in self.peers.items() if any(roles.values()))

    def was_revoked(self, peer_id: str, role: Role) -> bool:
        """Whether `role` was taken from the member (a revocation not granted
        again since), as opposed to never given."""
        return not all(self.peers.get(peer_id, {}).get(role, {}).values())

    def default_role(self) -> Role:
        return min(self.default.values(), default=Role.NO_ACCESS)

    def to_document(self, doc_id: str) -> dict[str, Any]:
        """The ACL as the paper lists it: `_id`, `default`, `peers`."""
        return {
            "_id": doc_id,
            "default": self.default_role().label,
            "peers": {peer: [role.label for role in sorted(self.roles(peer))] for peer in sorted(self.members())},
        }

    # --- changing (each returns the delta; merge it to apply) -----------------------------

    def grant(self, peer_id: str, role: Role, dot: Dot) -> AclState:
        return self._set_role(peer_id, role, dot, granted=True)

    def revoke(self, peer_id: str, role: Role, dot: Dot) -> AclState:
        return self._set_role(peer_id, role, dot, granted=False)

    def remove_member(self, peer_id: str) -> AclState:
        """Forget every role entry of a member this state has seen."""
        seen = {d for entries in self.peers.get(peer_id, {}).values() for d in entries}
        return AclState(context=frozenset(seen))

    def set_default(self, role: Role, dot: Dot) -> AclState:
        return AclState(default={dot: role}, context=frozenset({dot, *self.default}))

    def _set_role(self, peer_id: str, role: Role, dot: Dot, *, granted: bool) -> AclState:
        seen = set(self.peers.get(peer_id, {}).get(role, {}))
        return AclState(peers={peer_id: {role: {dot: granted}}}, context=frozenset({dot, *seen}))

    # --- merging ----------------------------------------------------------------------

    def merge(self, other: AclState) -> AclState:
        # Only members the smaller side names, or whose entries it has seen,
        # can change; the larger side's other members are kept as they are.
        small, large = (self, other) if len(self.context) <= len(other.context) else (other, self)
        owners = large._dot_owners()
        touched = set(small.peers) | {owners[d] for d in small.context if d in owners}
        peers: dict[str, Mapping[Role, Mapping[Dot, bool]]] = dict(large.peers)
        merged_owners = dict(owners)
        for peer in touched:
            mine, theirs = self.peers.get(peer, {}), other.peers.get(peer, {})
            roles = {}
            for role in set(mine) | set(theirs):
                entries = _merge_entries(mine.get(role, {}), self.context, theirs.get(role, {}), other.context)
                if entries:
                    roles[role] = entries
                    merged_owners.update(dict.fromkeys(entries, peer))
            if roles:
                peers[peer] = roles
            else:
                peers.pop(peer, None)
        default = _merge_entries(self.default, self.context, other.default, other.context)
        return AclState(peers, default, self.context | other.context, merged_owners)

    # --- the wire (an ACL change travels as a delta in an event) ---------------------------

    def to_value(self) -> dict[str, Any]:
        return {
            "peers": {peer: {role.label: [[d[0], d[1], granted] for d, granted in sorted(entries.items())]
                             for role, entries in sorted(roles.items())} for peer, roles in sorted(self.peers.items())},
            "default": [[d[0], d[1], role.label] for d, role in sorted(self.default.items())],
            "context": [[d[0], d[1]] for d in sorted(self.context)],
        }

    @classmethod
    def from_value(cls, value: Any) -> AclState:
        """Strictly read a delta from a peer."""
        if not isinstance(value, dict) or set(value) != {"peers", "default", "context"}:
            raise SchemaError("an ACL delta has peers, default and context")
        peers_value, default_value, context_value = value["peers"], value["default"], value["context"]
        if not isinstance(peers_value, dict) or not isinstance(default_value, list) \
                or not isinstance(context_value, list) or len(context_value) > 10_000:
            raise SchemaError("malformed ACL delta")
        context = frozenset(_dot(item) for item in context_value)
        peers: dict[str, dict[Role, dict[Dot, bool]]] = {}
        for peer, roles_value in peers_value.items():
            PeerId.parse(peer)  # raises InvalidIdError, an InvalidInputError like SchemaError
            if not isinstance(roles_value, dict):
                raise SchemaError("malformed ACL delta")
            peers[peer] = {Role.parse(label): _entries(items, context, bool) for label, items in roles_value.items()}
        default: dict[Dot, Role] = {}
        for item in default_value:
            if not isinstance(item, list) or len(item) != 3:
                raise SchemaError("malformed ACL default entry")
            dot = _dot(item[:2])
            if dot not in context:
                raise SchemaError("an ACL entry's dot must be in the delta's context")
            default[dot] = Role.parse(item[2])
        return cls(peers, default, context)


def _merge_entries(mine: Mapping[Dot, Any], my_context: frozenset[Dot], theirs: Mapping[Dot, Any],
                   their_context: frozenset[Dot]) -> dict[Dot, Any]:
    merged = {d: v for d, v in mine.items() if d in theirs or d not in their_context}
    merged.update({d: v for d, v in theirs.items() if d not in my_context})
    return merged


def _dot(item: Any) -> Dot:
    if not isinstance(item, list) or len(item) != 2 or not isinstance(item[0], bytes) or len(item[0]) > 64 \
            or type(item[1]) is not int or not 0 <= item[1] < 1 << 63:
        raise SchemaError("a dot is [replica bytes, counter]")
    return item[0], item[1]


def _entries(items: Any, context: frozenset[Dot], kind: type) -> dict[Dot, Any]:
    if not isinstance(items, list):
        raise SchemaError("malformed ACL entries")
    entries = {}
    for item in items:
        if not isinstance(item, list) or len(item) != 3 or not isinstance(item[2], kind):
            raise SchemaError("malformed ACL entry")
        dot = _dot(item[:2])
        if dot not in context:
            raise SchemaError("an ACL entry's dot must be in the delta's context")
        entries[dot] = item[2]
    return entries


def merge_all(states: Iterable[AclState]) -> AclState:
    result = AclState()
    for state in states:
        result = result.merge(state)
    return result
