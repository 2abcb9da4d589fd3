"""Invites: the direct invites waiting for an answer, accepting, declining, inviting someone nearby."""

from __future__ import annotations

import time

from threads_desktop.engine.acl.links import qr_png_bytes
from threads_desktop.engine.core.errors import ThreadsError
from threads_desktop.engine.core.ids import ThreadId
from threads_desktop.engine.core.members import Role
from threads_desktop.engine.node import Node
from threads_desktop.ui.models.invitation_model import Invitation


def new_invite_link(node: Node, thread_id: ThreadId, role: Role, expires_in: float | None,
                    uses: int = 1, approve: bool = False) -> tuple[str, bytes]:
    """A new invite link to the thread (`uses` people may join with it; with
    `approve`, an admin's person approves each) and its QR code (PNG)."""
    text = node.invite(thread_id, role, expires_in=expires_in, uses=uses, approve_by_hand=approve).to_uri()
    return text, qr_png_bytes(text)


def open_links(node: Node, thread_id: ThreadId) -> int:
    """How many invite links of the thread still let someone in: not
    revoked, uses left, not expired."""
    return len(_open_invite_keys(node, thread_id))


def reset_links(node: Node, thread_id: ThreadId) -> int:
    """Revoke every open invite link of the thread (one event); how many that was."""
    return node.membership.reset_links(thread_id)


def _open_invite_keys(node: Node, thread_id: ThreadId) -> list[bytes]:
    now_ms = int(time.time() * 1000)  # as the invite dialog's expiry choice counts: the wall clock
    return [i.key for i in node.membership.invites(thread_id)
            if not i.revoked and i.used < i.uses and (i.expires_ms == 0 or i.expires_ms > now_ms)]


async def invite_nearby(node: Node, thread_id: ThreadId, peer_id: str, role: Role, expires_in: float | None) -> None:
    await node.invite_nearby(thread_id, peer_id, role, expires_in=expires_in)


def load_invitations(node: Node) -> list[Invitation]:
    """The waiting direct invites, each with the name its sender gives itself
    where we know it (nearby, or in a thread we already share)."""
    waiting = node.membership.direct_invites()
    if not waiting:
        return []
    names = {peer.peer_id: peer.display_name for peer in node.nearby_peers() if peer.display_name}
    unnamed = {invite.sender for _, invite in waiting} - names.keys()
    for summary in node.list_threads() if unnamed else []:
        try:
            known = node.member_names(summary.thread_id)
        except ThreadsError:  # a thread we only back up: no names to read
            continue
        names |= {peer: known[peer] for peer in unnamed & known.keys()}
    return [Invitation(invite_id, invite.sender, names.get(invite.sender), str(invite.link.thread_id),
                       invite.link.name, invite.link.role) for invite_id, invite in waiting]


def accept_invite(node: Node, invite_id: bytes) -> ThreadId:
    return node.accept_invite(invite_id)


def decline_invite(node: Node, invite_id: bytes) -> None:
    node.decline_invite(invite_id)
