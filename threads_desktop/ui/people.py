"""How people are named on screen: the name a member gives itself, else
one short form of its ID, the same in every view (the member list, chat
bubbles, comments, invites, the join dialog)."""

from __future__ import annotations

from threads_desktop.engine.core.ids import ThreadId
from threads_desktop.engine.node import Node

_SHORT_ID_LENGTH = 6  # the end of the ID: every Ed25519 peer ID starts alike ("12D3KooW")


def short_id(peer_id: str) -> str:
    """`…x7Ka9q`: enough to tell people apart at a glance."""
    return f"…{peer_id[-_SHORT_ID_LENGTH:]}" if len(peer_id) > _SHORT_ID_LENGTH + 1 else peer_id


def person(name: str | None, peer_id: str) -> str:
    return name or short_id(peer_id)


def author_labels(node: Node, thread_id: ThreadId) -> dict[str, str]:
    """Author (its log ID in the thread) -> how to show it: the name its
    member gives itself, else the short form of the member's ID (not of the
    log's, which differs per thread and would not match anywhere else).
    Runs on the engine thread."""
    named = node.member_names(thread_id)
    labels = {log: person(named.get(member), member) for log, member in node.author_members(thread_id).items()}
    labels.update(node.author_names(thread_id))
    return labels
