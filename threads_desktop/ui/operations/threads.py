"""Thread operations: which threads we are in, renaming, leaving, a join still waiting."""

from __future__ import annotations

from threads_desktop.engine.core.errors import NotFoundError
from threads_desktop.engine.core.ids import ThreadId
from threads_desktop.engine.node import Node


def already_in(node: Node, thread_id: ThreadId) -> bool:
    """Is this profile in the thread already (a member, or joining)?"""
    try:
        node.get_thread(thread_id)
    except NotFoundError:
        return False
    return True


def pending_join(node: Node, thread_id: ThreadId) -> tuple[bool, str | None]:
    """Is our join of the thread still waiting, and why it was refused if it was."""
    return node.membership.pending_join(thread_id)


def rename_thread(node: Node, thread_id: ThreadId, name: str) -> None:
    node.rename_thread(thread_id, name)


def leave_thread(node: Node, thread_id: ThreadId) -> None:
    node.leave_thread(thread_id)
