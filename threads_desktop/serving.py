"""A served profile: the one place that puts together what runs beside a
node. The network (engine/networking.py builds it), its LAN discovery, and
the control socket through which CLI commands reach the process. The app,
`serve`, `sync` and the benchmarks all build it here, as trio tasks.

Modules (py-libp2p above all) are imported as the tasks start, on the
engine's thread: the app's GUI thread never pays for them.
"""

from __future__ import annotations

import gc
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import trio

from threads_desktop.freed_memory import keep_freed_memory
from threads_desktop.logs import quiet_libp2p

if TYPE_CHECKING:
    from threads_desktop.control_socket import Handler
    from threads_desktop.engine.node import Node
    from threads_desktop.engine.runtime import ServiceFactory

log = logging.getLogger(__name__)

ANY_FREE_PORT = ("/ip4/0.0.0.0/tcp/0",)


@dataclass(frozen=True)
class ServedProfile:
    listen: Sequence[str] | None = None  # where to listen; None: the usual port (DEFAULT_LISTEN)
    # Where instead if a port of `listen` is taken (by another profile's
    # app, say); None: nowhere else, the network fails to start.
    if_taken: Sequence[str] | None = None
    lan_discovery: bool = True
    pull_interval: float = 60.0
    gossip: bool = True  # False for one pass (sync): no mesh to join
    # The control socket's handler for the node; None: no control socket.
    commands: Callable[[Node], Handler] | None = None

    def services(self) -> list[ServiceFactory]:
        """The parts as EngineRuntime's services: each starts, fails and
        restarts on its own (the app goes on without a network it cannot
        have, and still takes commands)."""
        return [self.network, self.control] if self.commands is not None else [self.network]

    async def run(self, node: Node, *, task_status: Any = trio.TASK_STATUS_IGNORED) -> None:
        """Every part, until cancelled; started with the NetworkService once
        all of them are."""
        async with trio.open_nursery() as nursery:
            service = await nursery.start(self.network(node))
            if self.commands is not None:
                await nursery.start(self.control(node))
            # What opening the profile and starting the network built lives
            # as long as the process: the cyclic collector stops walking it
            # (on a photo transfer, collections were a tenth of the sender's
            # CPU, docs/BENCHMARKS.md transfer18d). Once per process; garbage
            # made later is collected as before. No collection first: the
            # app collects on its GUI thread only (ui/collector.py).
            if not gc.get_freeze_count():
                gc.freeze()
            task_status.started(service)

    def network(self, node: Node) -> Callable[..., Any]:
        """The task running the node's network; it starts with the service."""
        from threads_desktop.engine.networking import DEFAULT_LISTEN, connect_network, lan_discovery

        quiet_libp2p()  # its import (just now, by the network's) reset its logger
        choices = (self.listen or DEFAULT_LISTEN, *((self.if_taken,) if self.if_taken else ()))
        discovery = lan_discovery if self.lan_discovery else None

        async def run(task_status: Any = trio.TASK_STATUS_IGNORED) -> None:
            keep_freed_memory()  # the network's large buffers (photos) come back warm: freed_memory.py
            for addresses in choices:
                service = connect_network(node, listen=list(addresses), pull_interval=self.pull_interval,
                                          discovery=discovery, gossip=self.gossip)
                try:
                    await service.run(task_status=task_status)  # started with the service
                    return
                except OSError as exc:
                    if addresses is choices[-1]:
                        raise
                    log.info("cannot listen on %s (%s); trying %s", addresses, exc, choices[-1])
        return run

    def control(self, node: Node) -> Callable[..., Any]:
        """The task serving the profile's control socket."""
        from functools import partial

        from threads_desktop.control_socket import CONTROL_SOCKET_NAME, serve_control_socket

        assert self.commands is not None
        return partial(serve_control_socket, node.profile.directory / CONTROL_SOCKET_NAME, self.commands(node))

