"""The GUI's handle on the engine: awaitable calls and a Qt signal for the
change sets the engine pushes. Widgets never see the node or its database:
what runs on the engine thread is in ui/operations."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any, Concatenate, ParamSpec, TypeVar, overload

from PySide6.QtCore import QObject, Signal

from threads_desktop.engine.acl.links import InviteLink
from threads_desktop.engine.core.ids import ThreadId
from threads_desktop.engine.core.members import Role
from threads_desktop.engine.core.types import ChangeSet, IdentityCard, NetworkStatus, ThreadKind, ThreadSummary
from threads_desktop.engine.node import Node
from threads_desktop.engine.runtime import EngineRuntime
from threads_desktop.ui.operations import invites as invite_ops

T = TypeVar("T")
P = ParamSpec("P")


class EngineClient(QObject):
    changed = Signal(object)  # ChangeSet, on the GUI thread

    def __init__(self, runtime: EngineRuntime, loop: asyncio.AbstractEventLoop,
                 parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._runtime = runtime
        runtime.add_listener(loop, self._on_changes)

    def _on_changes(self, changes: ChangeSet) -> None:
        self.changed.emit(changes)

    @overload
    async def run(self, operation: Callable[Concatenate[Node, P], Awaitable[T]],
                  *args: P.args, **kwargs: P.kwargs) -> T: ...

    @overload
    async def run(self, operation: Callable[Concatenate[Node, P], T], *args: P.args, **kwargs: P.kwargs) -> T: ...

    async def run(self, operation: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        """Run `operation(node, *args, **kwargs)` on the engine thread and
        await its result: views pass the typed functions of ui/operations,
        the only UI code that touches the node."""
        return await self._runtime.call(operation, *args, **kwargs)

    async def identity(self) -> IdentityCard:
        return await self._runtime.call(Node.identity_card)

    async def list_threads(self) -> list[ThreadSummary]:
        return await self._runtime.call(Node.list_threads)

    async def create_thread(self, kind: ThreadKind, name: str) -> ThreadSummary:
        return await self._runtime.call(Node.create_thread, kind, name)

    async def network_status(self) -> NetworkStatus:
        return await self._runtime.call(Node.network_status)

    async def invite(self, thread_id: ThreadId, role: Role, expires_in: float | None,
                     uses: int = 1, approve: bool = False) -> tuple[str, bytes]:
        """A new invite link to the thread and its QR code (PNG)."""
        return await self._runtime.call(invite_ops.new_invite_link, thread_id, role, expires_in, uses, approve)

    async def join(self, link: InviteLink) -> ThreadId:
        return await self._runtime.call(Node.join, link)
