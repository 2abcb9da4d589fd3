"""Real peers in one trio run: each a profile on disk and a NetworkService
listening on 127.0.0.1, talking over real libp2p connections."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path

import trio

from threads_desktop.engine.core.errors import NotFoundError
from threads_desktop.engine.core.types import ChangeSet
from threads_desktop.engine.net.budgets import Limits
from threads_desktop.engine.net.client import Progress
from threads_desktop.engine.net.service import NetworkService
from threads_desktop.engine.networking import connect_network
from threads_desktop.engine.node import Node

WAIT_SECONDS = 20.0


@dataclass
class Running:
    node: Node
    service: NetworkService

    @property
    def listen(self) -> str:
        """The address it listens on, without /p2p (to listen there again)."""
        return self.service.addresses()[0].rsplit("/p2p/", 1)[0]


@asynccontextmanager
async def running_peers(tmp_path: Path, *names: str, pull_interval: float = 3600.0,
                        listen: dict[str, str] | None = None, limits: Limits | None = None,
                        ) -> AsyncIterator[dict[str, Running]]:
    """Start peers; `listen` fixes some addresses (a restart keeps its port,
    as a real peer on its usual port does)."""
    nodes = {name: Node.open(tmp_path / name) for name in names}
    try:
        async with trio.open_nursery() as nursery:
            peers = {}
            for name, node in nodes.items():
                address = (listen or {}).get(name, "/ip4/127.0.0.1/tcp/0")
                service = connect_network(node, listen=[address], pull_interval=pull_interval, limits=limits)
                await nursery.start(service.run)
                peers[name] = Running(node, service)
            yield peers
            nursery.cancel_scope.cancel()
    finally:
        for node in nodes.values():
            node.close()


@asynccontextmanager
async def serving(node: Node, listen: str = "/ip4/127.0.0.1/tcp/0",
                  on_progress: Callable[[Progress], None] | None = None) -> AsyncIterator[NetworkService]:
    """One peer online for the block's duration (offline after it)."""
    async with trio.open_nursery() as nursery:
        service = connect_network(node, listen=[listen], pull_interval=3600.0, on_progress=on_progress)
        await nursery.start(service.run)
        yield service
        nursery.cancel_scope.cancel()


async def wait_until(node: Node, condition: Callable[[], bool], timeout: float = WAIT_SECONDS) -> None:
    """Wait for `condition`, checked after each change the node publishes
    (and every 0.1 s, for what publishes nothing, like a blob block)."""
    changed = trio.Event()

    def on_change(_: ChangeSet) -> None:
        changed.set()

    unsubscribe = node.subscribe(on_change)
    try:
        with trio.fail_after(timeout):
            while not _holds(condition):
                with trio.move_on_after(0.1):
                    await changed.wait()
                changed = trio.Event()
    finally:
        unsubscribe()


def _holds(condition: Callable[[], bool]) -> bool:
    """A joiner holds no thread until an admin admits it (issue 16): a
    condition that reads the thread is not met before."""
    try:
        return condition()
    except NotFoundError:
        return False
