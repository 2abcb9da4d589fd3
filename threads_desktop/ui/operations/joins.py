"""Joins by link as the window shows them: the joins of ours not let in yet
(and forgetting one), and for an admin the people waiting to be let in,
approving or declining them. Each runs on the engine thread through
`EngineClient.run`."""

from __future__ import annotations

from threads_desktop.engine.core.ids import ThreadId
from threads_desktop.engine.core.members import JoinRequest, JoinState
from threads_desktop.engine.node import Node


def pending_joins(node: Node) -> list[JoinState]:
    """Our joins still waiting, or refused (a thread let in is listed as a thread)."""
    return [join for join in node.pending_joins() if join.status != "admitted"]


def forget_join(node: Node, thread_id: ThreadId) -> None:
    """Remove a waiting or refused join from the list (the link is not used again)."""
    node.membership.forget_join(thread_id)


def join_requests(node: Node, thread_id: ThreadId) -> list[JoinRequest]:
    """Who asked us to let them in: waiting for approval, or refused and why."""
    return node.membership.join_requests(thread_id)


def approve_join(node: Node, thread_id: ThreadId, request_id: bytes) -> None:
    node.approve_join(thread_id, request_id)


def decline_join(node: Node, thread_id: ThreadId, request_id: bytes) -> None:
    node.decline_join(thread_id, request_id)


def asking_to_join(node: Node, thread_ids: list[ThreadId]) -> dict[ThreadId, list[str]]:
    """Per thread, the names (as they gave them, else None) of the people
    waiting for this device's person to approve them; only admins' devices
    hold such requests."""
    asking: dict[ThreadId, list[str]] = {}
    for thread_id in thread_ids:
        waiting = [r.name or "" for r in node.membership.join_requests(thread_id) if r.status == "waiting"]
        if waiting:
            asking[thread_id] = waiting
    return asking
