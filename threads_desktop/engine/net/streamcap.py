"""A cap on inbound streams, of every protocol, per connection and in all.

Our own protocols bound their sessions (server.MAX_SESSIONS_PER_PEER,
budgets.py), but py-libp2p serves others on every connection (identify,
ping, gossipsub, and our dial-back) with no cap of their own: a peer could
open streams until memory ran out, each with a task and a yamux receive
window. py-libp2p's resource manager capped them at 10,000 in all (one
queue for everyone); it is off behind our admission (host.build_host), so
this takes its place, per connection first so one peer cannot take all.
See docs/LIBP2P-NOTES.md, "hostile".
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import Any

from libp2p.abc import INetStream, INetwork

from threads_desktop.engine.net.budgets import Limits

log = logging.getLogger(__name__)


class StreamCap:
    """Counts the inbound streams open on each connection; a stream beyond
    a cap is reset before any protocol is negotiated on it."""

    def __init__(self, limits: Limits | None = None) -> None:
        self.limits = limits or Limits()
        self._open: dict[object, int] = {}  # connection -> its inbound streams open
        self.total = 0
        self.refused = 0

    def install(self, network: INetwork) -> None:
        """Wrap the swarm's handler of new inbound streams (every protocol
        goes through it: libp2p/network/connection/swarm_connection.py:309)."""
        swarm: Any = network  # a Swarm: its handler is not part of INetwork
        swarm.set_stream_handler(self._wrap(swarm.common_stream_handler))

    def _wrap(self, inner: Callable[[INetStream], Awaitable[None]]) -> Callable[[INetStream], Awaitable[None]]:
        async def handle(stream: INetStream) -> None:
            connection: object = stream.muxed_conn
            held = self._open.get(connection, 0)
            if held >= self.limits.streams_per_connection or self.total >= self.limits.streams:
                self.refused += 1
                log.debug("stream refused: %d open on its connection, %d in all", held, self.total)
                try:
                    await stream.reset()
                except Exception:  # noqa: BLE001 - already gone: nothing to release
                    pass
                return
            self._open[connection] = held + 1
            self.total += 1
            try:
                await inner(stream)
            finally:
                self.total -= 1
                left = self._open[connection] - 1
                if left:
                    self._open[connection] = left
                else:
                    del self._open[connection]

        return handle
