"""NetworkService's relaying: the relay service we offer while peers
outside reach us, and the relay client's reservations while they do not
(relay.py, relay_client.py, holepunch.py). A part of service.py's
NetworkService (a mixin: it reads the service's state).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import TYPE_CHECKING

import trio
from libp2p.abc import IHost
from libp2p.peer.id import ID

from threads_desktop.engine.core.errors import ThreadsError
from threads_desktop.engine.core.ids import PeerId
from threads_desktop.engine.logstore.addressbook import peer_of_address
from threads_desktop.engine.net import addresses as addressing
from threads_desktop.engine.net import budgets
from threads_desktop.engine.net import host as hosting
from threads_desktop.engine.net import relay as relaying
from threads_desktop.engine.net.admission import Admission
from threads_desktop.engine.net.holepunch import tcp_endpoint
from threads_desktop.engine.net.ports import ThreadStore
from threads_desktop.engine.net.reach import Reach
from threads_desktop.engine.net.relay import RelayLimits, RelayService
from threads_desktop.engine.net.relay_client import RelayClient

if TYPE_CHECKING:
    from threads_desktop.engine.core.ids import ThreadId

log = logging.getLogger(__name__)

CONFIGURED_RELAY_TTL = 7 * 24 * 3600.0  # renewed at every start and settings change


class RelayingParts:
    _threads: ThreadStore
    _host: IHost | None
    _me: PeerId
    _interfaces: list[addressing.Interface]
    _reach: Reach
    _reachable: Callable[[], bool]
    _relay_limits: RelayLimits | None
    _hole_punching: bool
    _nursery: trio.Nursery | None
    relay_service: RelayService | None
    relay_client: RelayClient | None
    budgets: budgets.Budgets
    admission: Admission

    if TYPE_CHECKING:
        def schedule(self, peer: PeerId, threads: set[ThreadId] | None = None, *, now: bool = False) -> None: ...
        def _direct_addresses(self) -> list[str]: ...


    def _start_relaying(self, host: IHost) -> None:
        self.relay_service = RelayService(host, admitted=self._reach.proven.__contains__, reachable=self._reachable,
                                          announce=self._direct_addresses, limits=self._relay_limits)
        self.relay_service.refresh()
        self.relay_client = RelayClient(host, self._me, candidates=self._relay_candidates,
                                        wanted=self._relays_wanted, on_change=self._relayed_changed,
                                        source=self._listen_source, member=self._relay_member,
                                        interfaces=lambda: self._interfaces, hole_punching=self._hole_punching,
                                        admission=self.admission, reachable=self._reachable)

    def _relay_member(self, peer: PeerId) -> bool:
        """Whether `peer` shares a thread with us (hole punching is only with those)."""
        return self.budgets.is_member(peer) or peer in self._reach.proven

    def _listen_source(self) -> tuple[str, int] | None:
        """Our IPv4 TCP listen (ip, port): relays are dialled and holes punched from it."""
        assert self._host is not None
        for address in hosting.listen_addresses(self._host):
            endpoint = tcp_endpoint(address)
            if endpoint is not None and address.startswith("/ip4/"):
                return endpoint
        return None

    def _use_configured_relays(self) -> None:
        """Relays the user named: where to dial them, and a session there so
        they see our proofs (they reserve only for peers that gave some)."""
        for address in self._threads.configured_relays():
            peer = peer_of_address(address)
            if peer is None or peer == self._me:
                continue
            try:
                self._threads.addresses.add(peer, [address], CONFIGURED_RELAY_TTL)
            except ThreadsError as exc:
                log.debug("ignoring the relay address %s: %s", address, exc)
                continue
            self.schedule(peer)

    def _reachable_now(self) -> bool:
        """Peers outside reach us: as the dial-back check last found; until
        it has an answer, a listen address on a public IP (a server)."""
        known = self._reach.current().reachable
        if known is not None:
            return known
        # What we listen on, not what peers report seeing (a NATed peer's agreed public address)
        return self._host is not None and relaying.has_public_address(
            addressing.expand(hosting.listen_addresses(self._host), self._interfaces))

    def _relays_wanted(self) -> bool:
        """Asked by the relay client every few seconds: whether to keep
        reservations (we are not reachable); and the moment to offer the
        relay service, or stop, as reachability changes."""
        if self.relay_service is not None:
            self.relay_service.refresh(self._nursery.start_soon if self._nursery is not None else None)
        return not self._reachable()

    def _relayed_addresses(self) -> list[str]:
        return self.relay_client.relayed_addresses() if self.relay_client is not None else []

    def _relayed_changed(self) -> None:
        self._threads.network_changed()

    def _relay_candidates(self) -> list[tuple[PeerId, list[str]]]:
        """Relays the user named, then peers of our threads we are connected
        to that offer relaying."""
        assert self._host is not None
        found: dict[PeerId, list[str]] = {}
        for address in self._threads.configured_relays():
            peer = peer_of_address(address)
            if peer is not None:
                found.setdefault(peer, []).append(address)
        store = self._host.get_peerstore()
        for peer in self._threads.peers.all_peers():
            if peer in found or not self._host.get_network().connections.get(ID(peer.raw)):
                continue
            try:
                protocols = store.get_protocols(ID(peer.raw))
            except Exception:  # noqa: BLE001 - the peerstore raises for a peer it has no data on
                protocols = []
            if not protocols and self.relay_client is not None:
                self.relay_client.look_again_soon()  # identify has not answered yet
            if relaying.HOP_PROTOCOL in protocols:
                found[peer] = self._threads.addresses.addresses(peer)
        return list(found.items())
