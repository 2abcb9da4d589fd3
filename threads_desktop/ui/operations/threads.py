"""Thread operations: which threads we are in, renaming, leaving, a join still waiting."""

from __future__ import annotations

from threads_desktop.engine.core.errors import NotFoundError
from threads_desktop.engine.core.ids import ThreadId
from threads_desktop.engine.core.types import ThreadSummary
from threads_desktop.engine.node import Node


def already_in(node: Node, thread_id: ThreadId) -> str | None:
    """Is this profile in the thread already: "member", "joining" (a link
    joined with, not let in yet), or None (also when a join was refused: a
    new link may replace it)."""
    try:
        node.get_thread(thread_id)
    except NotFoundError:
        state = node.join_state(thread_id)
        return "joining" if state is not None and state.status != "refused" else None
    return "member"


def summaries(node: Node, thread_ids: list[ThreadId]) -> list[ThreadSummary]:
    """The summaries of these threads (those the profile still holds), for a
    list that refreshes only what a change set named."""
    found = []
    for thread_id in thread_ids:
        try:
            found.append(node.get_thread(thread_id))
        except NotFoundError:
            continue  # left meanwhile: its removal is a change set of its own
    return found


def pending_join(node: Node, thread_id: ThreadId) -> tuple[bool, str | None]:
    """Is our join of the thread still waiting, and why it was refused if it was."""
    return node.membership.pending_join(thread_id)


def rename_thread(node: Node, thread_id: ThreadId, name: str) -> None:
    node.rename_thread(thread_id, name)


def leave_thread(node: Node, thread_id: ThreadId) -> None:
    node.leave_thread(thread_id)
