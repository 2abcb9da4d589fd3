"""What the chat, the album's activity and the removal banner ask of the
engine: membership notices with names, and whether we were removed. Run on
the engine thread through `EngineClient.run`; plain values only."""

from __future__ import annotations

from dataclasses import dataclass

from threads_desktop.engine.acl.notices import Removal, ThreadNotices
from threads_desktop.engine.core.ids import ThreadId
from threads_desktop.engine.node import Node


@dataclass(frozen=True, slots=True)
class RemovalNotice:
    """Our removal as the banner tells it: by whom (their name, if they gave one)."""

    removal: Removal
    by_name: str | None
    thread_name: str | None


def load_notices(node: Node, thread_id: ThreadId) -> ThreadNotices:
    return node.membership_notices(thread_id)


def load_removal(node: Node, thread_id: ThreadId) -> RemovalNotice | None:
    removal = node.removal(thread_id)
    if removal is None:
        return None
    names = node.membership_notices(thread_id).names
    return RemovalNotice(removal, names.get(removal.by), node.get_thread(thread_id).name)


def remove_from_device(node: Node, thread_id: ThreadId) -> None:
    """After a removal: delete what this device kept of the thread, at once."""
    node.leave_thread(thread_id)
