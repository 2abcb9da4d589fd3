"""Reach from outside for one NetworkService: the UPnP mapping (upnp.py),
the dial-back protocol (dialback.py) and the reachability answer
(reachability.py), behind a few hooks the service calls.

The service notes peers that proved a shared thread (`proven`), serves
`/threads/dialback/1.0.0` with `serve`, runs `run` in its nursery once
online, adds `advertised()` to its addresses and calls `settings_changed`.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Sequence

import trio

from threads_desktop.engine.core.errors import InvalidInputError, ProtocolError
from threads_desktop.engine.core.ids import PeerId
from threads_desktop.engine.net import dialback
from threads_desktop.engine.net.dialback import DialBackAnswer, DialBackServer, TcpAddress
from threads_desktop.engine.net.host import Libp2pStream
from threads_desktop.engine.net.reachability import ProvenPeers, Reachability, ReachabilityChecker
from threads_desktop.engine.net.upnp import Gateway, MiniupnpcGateway, PortMapper, PortMapping

log = logging.getLogger(__name__)

RECHECK_SECONDS = 1800.0  # an answer holds this long; a new mapping asks again at once
RETRY_SECONDS = 120.0  # nobody answered: ask again this much later
NEW_PEER_PAUSE_SECONDS = 10.0  # at least this long between checks a new peer starts

OpenStream = Callable[[PeerId, str], Awaitable[Libp2pStream]]


class Reach:
    def __init__(self, *, me: PeerId, open_stream: OpenStream, upnp_enabled: Callable[[], bool],
                 local_ips: Callable[[], list[str]], on_change: Callable[[], None],
                 discover_gateway: Callable[[], Gateway | None] = MiniupnpcGateway.discover) -> None:
        self._me = me
        self._open_stream = open_stream
        self._upnp_enabled = upnp_enabled
        self._local_ips = local_ips
        self._on_change = on_change
        self._discover_gateway = discover_gateway
        self.proven = ProvenPeers()
        self._server = DialBackServer(proven=self.proven.__contains__, dial=dialback.noise_dial)
        self._listening: list[TcpAddress] = []
        self._mapper: PortMapper | None = None
        self._recheck = trio.Event()
        self._checker = ReachabilityChecker(
            ask=self._ask, candidates=self._candidates, listen_ports=self._listen_ports,
            local_ips=lambda: set(self._local_ips()), on_change=self._reachability_changed)

    # --- hooks for the service ------------------------------------------------------------------

    def current(self) -> Reachability:
        """Whether peers outside reach us (for the relay and the status)."""
        return self._checker.current()

    def advertised(self) -> list[str]:
        """Where a peer reached us from outside, if that is not where we
        listen (a UPnP mapping, a forwarded port): to add to our addresses."""
        state = self._checker.current()
        if not state.reachable or state.address is None or parse(state.address) in self._listening:
            return []
        return [f"{state.address}/p2p/{self._me}"]

    def mapping(self) -> PortMapping | None:
        return self._mapper.mapping if self._mapper is not None else None

    async def serve(self, stream: Libp2pStream) -> None:
        await self._server.serve(stream)

    def settings_changed(self) -> None:
        if self._mapper is not None:
            self._mapper.settings_changed()

    async def run(self, listen_addresses: Sequence[str]) -> None:
        """Map a port and check reachability until cancelled; `listen_addresses`
        are ours (expanded, with /p2p). A loopback listener maps nothing: it
        is not reachable from outside, and UPnP's discovery would go out."""
        self._listening = _parsed(listen_addresses)
        self._checker.forget()  # a restart may be on another network: no answer carried over
        ports = [a.port for a in self._listening if a.ip.version == 4 and not a.ip.is_loopback]
        async with trio.open_nursery() as nursery:
            if ports:
                self._mapper = PortMapper(internal_port=ports[0], enabled=self._upnp_enabled,
                                          on_change=self._mapping_changed, discover=self._discover_gateway)
                nursery.start_soon(self._mapper.run)
            nursery.start_soon(self._check_loop)

    def network_changed(self, listen_addresses: Sequence[str]) -> None:
        """Another network (a laptop moved from home to a cafe): the old
        answer, mapping and router no longer hold; ask again now."""
        self._listening = _parsed(listen_addresses)
        if self._mapper is not None:
            self._mapper.network_changed()
        self._checker.forget()
        self._recheck.set()

    # --- inside ---------------------------------------------------------------------------------

    async def _check_loop(self) -> None:
        while True:
            self.proven.arrived = trio.Event()
            peers = self.proven.recent()
            if not peers:
                await self.proven.arrived.wait()
                continue
            self._recheck, self.proven.arrived = trio.Event(), trio.Event()
            try:
                state = await self._checker.check(peers)
            except Exception:  # our bug must not take the network down: log it, try later
                log.exception("the reachability check hit a bug")
                state = self._checker.current()
            await self._until_recheck(state)

    async def _until_recheck(self, state: Reachability) -> None:
        """A new or lost mapping asks again at once. Unless reachable, so
        does a peer newly proven (after a pause): it may be the peer
        outside that was missing. Otherwise the answer stands a while."""
        async with trio.open_nursery() as nursery:
            async def after(event: trio.Event, pause: float) -> None:
                await trio.sleep(pause)
                await event.wait()
                nursery.cancel_scope.cancel()

            nursery.start_soon(after, self._recheck, 0.0)
            if not state.reachable:
                nursery.start_soon(after, self.proven.arrived, NEW_PEER_PAUSE_SECONDS)
            await trio.sleep(RETRY_SECONDS if state.observed is None else RECHECK_SECONDS)  # None: nobody answered
            nursery.cancel_scope.cancel()

    async def _ask(self, peer: PeerId, addresses: Sequence[TcpAddress]) -> DialBackAnswer:
        stream = await self._open_stream(peer, dialback.PROTOCOL_ID)
        try:
            return await dialback.ask(stream, addresses)
        finally:
            await stream.close()

    def _candidates(self) -> list[TcpAddress]:
        mapping = self.mapping()
        mapped = parse(mapping.address) if mapping is not None else None
        # Loopback last: only a peer on this machine can reach it.
        listening = sorted(self._listening, key=lambda a: a.ip.is_loopback)
        return ([mapped] if mapped is not None else []) + listening

    def _listen_ports(self) -> list[int]:
        return sorted({a.port for a in self._listening})

    def _mapping_changed(self, mapping: PortMapping | None) -> None:
        state = self._checker.current()
        if mapping is None and state.address is not None and state.address not in (
                str(a) for a in self._listening):
            self._checker.forget()  # what was reached may have been the mapping
        self._recheck.set()
        self._on_change()

    def _reachability_changed(self, _state: Reachability) -> None:
        self._on_change()


def _parsed(listen_addresses: Sequence[str]) -> list[TcpAddress]:
    return [a for a in (parse(t.split("/p2p/", 1)[0]) for t in listen_addresses) if a]


def parse(text: str) -> TcpAddress | None:
    """An /ip4|ip6/IP/tcp/PORT address, or None for anything else."""
    try:
        return dialback.parse_address(text)
    except (ProtocolError, InvalidInputError, ValueError):
        return None

