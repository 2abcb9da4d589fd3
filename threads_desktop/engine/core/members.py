"""Who may do what in a thread, as every layer and the UI name it: a role,
a member as listed, an invite as it stands."""

from __future__ import annotations

import enum
from dataclasses import dataclass
from typing import Any

from threads_desktop.engine.core.errors import SchemaError


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
