"""The whole access state of a thread at one point of its history: the thread
ACL, the entity ACLs (the ACL's own entity, and documents narrowed one by
one), and the invites. Every part merges like a CRDT, so the state at an
event's causal past is the merge of what each log had contributed by then.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from threads_desktop.engine.acl.control_ops import ACL_ENTITY
from threads_desktop.engine.acl.crdt import AclState
from threads_desktop.engine.core.members import Role


@dataclass(frozen=True, slots=True)
class InviteTerms:
    role: Role
    expires_ms: int
    uses: int
    epoch: int
    inviter: str
    origin: tuple[bytes, int]  # stamp and op index: two invites with one key resolve to the earliest
    approve: bool = False  # admins ask their user before admitting with it


@dataclass(frozen=True)
class AclBook:
    thread: AclState = field(default_factory=AclState)
    entities: Mapping[str, AclState] = field(default_factory=dict)
    invites: Mapping[bytes, InviteTerms] = field(default_factory=dict)
    uninvited: frozenset[bytes] = frozenset()

    def merge(self, other: AclBook) -> AclBook:
        if other is EMPTY or other is self:
            return self
        if self is EMPTY:
            return other
        entities = dict(self.entities)
        for name, state in other.entities.items():
            entities[name] = entities[name].merge(state) if name in entities else state
        invites = dict(self.invites)
        for key, terms in other.invites.items():
            if key not in invites or terms.origin < invites[key].origin:
                invites[key] = terms
        return AclBook(self.thread.merge(other.thread), entities, invites, self.uninvited | other.uninvited)

    def with_entity(self, entity: str | None, state: AclState) -> AclBook:
        if entity is None:
            return AclBook(state, self.entities, self.invites, self.uninvited)
        return AclBook(self.thread, {**self.entities, entity: state}, self.invites, self.uninvited)

    def entity(self, entity: str | None) -> AclState:
        return self.thread if entity is None else self.entities.get(entity, AclState())

    def roles(self, peer: str, entity: str | None = None) -> frozenset[Role]:
        """A member's roles on the thread, narrowed by the entity's own ACL
        when it has one."""
        roles = self.thread.roles(peer)
        narrowing = self.entities.get(entity) if entity is not None else None
        if narrowing is not None and (narrowing.peers or narrowing.default):
            roles &= narrowing.roles(peer)
        return roles

    def was_revoked(self, peer: str, role: Role, entity: str | None = None) -> bool:
        """Whether `role` was taken from the member on the thread, or on the
        entity's own ACL, rather than never given."""
        narrowing = self.entities.get(entity) if entity is not None else None
        return self.thread.was_revoked(peer, role) or (narrowing is not None and narrowing.was_revoked(peer, role))

    def is_admin(self, peer: str) -> bool:
        """May edit the ACL: write on the ACL's own entity (and still on the thread)."""
        return Role.WRITE in self.roles(peer, ACL_ENTITY)

    def members(self) -> frozenset[str]:
        return self.thread.members()


EMPTY = AclBook()


def merge_books(books: Iterable[AclBook]) -> AclBook:
    result = EMPTY
    for book in books:
        result = result.merge(book)
    return result
