"""Who may do what in a thread, as every layer and the UI name it: a role,
a member as listed, an invite as it stands, a join on its way in."""

from __future__ import annotations

import enum
from dataclasses import dataclass
from typing import Any

from threads_desktop.engine.core.errors import SchemaError
from threads_desktop.engine.core.ids import ThreadId


class Role(enum.IntEnum):
    """Ordered by privilege; each implies the ones below it in practice."""

    NO_ACCESS = 0
    FOLLOW = 1
    READ = 2
    WRITE = 3
    DELETE = 4

    @property
    def label(self) -> str:
        return self.name.lower().replace("_", "-")

    @classmethod
    def parse(cls, label: Any) -> Role:
        for role in cls:
            if role.label == label:
                return role
        raise SchemaError(f"unknown role {label!r}")


@dataclass(frozen=True, slots=True)
class Member:
    peer_id: str
    roles: tuple[Role, ...]
    admin: bool
    is_me: bool
    joined: bool  # has a log bound in the thread

    def to_json(self) -> dict[str, object]:
        return {"peer": self.peer_id, "roles": [r.label for r in self.roles], "admin": self.admin,
                "me": self.is_me, "joined": self.joined}


@dataclass(frozen=True, slots=True)
class InviteState:
    key: bytes
    role: Role
    expires_ms: int
    uses: int
    used: int
    revoked: bool
    inviter: str
    approve: bool = False  # every admin asks its user before admitting with it


class AdmissionStatus(enum.Enum):
    """An admin's answer to a joiner (engine/acl/admission.py)."""

    ADMITTED = "admitted"
    WAITING_APPROVAL = "waiting-approval"  # the invite asks an admin's user first: ask again later
    REFUSED = "refused"  # with a reason: the link is spent, or the user said no
    UNKNOWN = "unknown"  # no such thread or invite here, or we are no admin: ask someone else


# Why an admission was refused, as machine words (the UI words them).
REFUSAL_REASONS = ("used-up", "expired", "revoked", "declined", "removed")
JOIN_STATUSES = ("waiting", "waiting-approval", "admitted", "refused")


@dataclass(frozen=True, slots=True)
class JoinState:
    """A link we joined with, until its admission is complete (our bind
    written) or we forget it."""

    thread_id: ThreadId
    status: str  # one of JOIN_STATUSES
    reason: str | None  # one of REFUSAL_REASONS when refused
    name: str | None  # the thread's name as the link gave it
    inviter: str | None  # the inviter's display name as the link gave it
    role: Role
    addresses: tuple[str, ...]  # where the link said members may be found
    since_ms: int  # when the status last changed


@dataclass(frozen=True, slots=True)
class JoinRequest:
    """Someone who asked us (an admin) to be admitted and is waiting for a
    person to approve, or was refused."""

    request_id: bytes
    peer: str
    name: str | None  # the name the joiner gave (cleaned)
    invite_key: bytes
    status: str  # "waiting" | "refused"
    reason: str | None
    at_ms: int
