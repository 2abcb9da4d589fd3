"""How people are named on screen: the name a member gives itself, else
one short form of its ID, the same in every view (the member list, chat
bubbles, comments, invites, the join dialog)."""

from __future__ import annotations

_SHORT_ID_LENGTH = 6  # the end of the ID: every Ed25519 peer ID starts alike ("12D3KooW")


def short_id(peer_id: str) -> str:
    """`…x7Ka9q`: enough to tell people apart at a glance."""
    return f"…{peer_id[-_SHORT_ID_LENGTH:]}" if len(peer_id) > _SHORT_ID_LENGTH + 1 else peer_id


def person(name: str | None, peer_id: str) -> str:
    return name or short_id(peer_id)


