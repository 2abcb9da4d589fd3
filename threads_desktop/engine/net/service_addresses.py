"""NetworkService's addresses and reach from outside: what we tell peers
(our listen addresses spelled out, the public one peers agree on, a UPnP
mapping reached from outside, relayed ones) and the hooks of reach.py.
A part of service.py's NetworkService (a mixin: it reads the service's state).
"""

from __future__ import annotations

import logging
import time
from functools import partial
from typing import TYPE_CHECKING

import trio
from libp2p.abc import IHost

from threads_desktop.engine.core.ids import PeerId, ThreadId
from threads_desktop.engine.net import addresses as addressing
from threads_desktop.engine.net import budgets
from threads_desktop.engine.net import host as hosting
from threads_desktop.engine.net.ports import ThreadStore
from threads_desktop.engine.net.reach import Reach
from threads_desktop.engine.net.reachability import Reachability
from threads_desktop.engine.net.relay_client import RelayClient
from threads_desktop.engine.net.upnp import PortMapping

if TYPE_CHECKING:
    from threads_desktop.engine.net.service_state import Discovery, PeerLinkState

log = logging.getLogger(__name__)

CONNECT_TIMEOUT = 10.0


class AddressParts:
    _threads: ThreadStore
    _host: IHost | None
    _me: PeerId
    _online: bool
    _interfaces: list[addressing.Interface]
    _observed: addressing.ObservedAddresses
    _reach: Reach
    _discovery: Discovery | None
    _nursery: trio.Nursery | None
    _links: dict[PeerId, PeerLinkState]
    relay_client: RelayClient | None
    budgets: budgets.Budgets

    if TYPE_CHECKING:
        def schedule(self, peer: PeerId, threads: set[ThreadId] | None = None, *, now: bool = False) -> None: ...
        def _relayed_addresses(self) -> list[str]: ...

    def addresses(self) -> list[str]:
        """Every address of ours, each ending in /p2p/<our ID>: directly
        (_direct_addresses), then through the relays we hold reservations
        on. Not all of them may be told to every peer (addresses.py:
        for_links, for_peer)."""
        return self._direct_addresses() + self._relayed_addresses()

    def _direct_addresses(self) -> list[str]:
        """Where we listen: wildcard listen addresses spelled out per
        interface (IPv6 too), the public address peers agree they see us
        at, the one a peer reached us at from outside; loopback last."""
        if self._host is None:
            return []
        listening = hosting.listen_addresses(self._host)
        ports = [(4 if a.startswith("/ip4/") else 6, e.port) for a in listening
                 if (e := addressing.endpoint(a)) is not None]
        suffix = f"/p2p/{self._me}"
        out = addressing.expand(listening, self._interfaces)
        out += [a + suffix for a in self._observed.addresses(ports)]
        out += self._reach.advertised()  # a public address a peer reached us at
        return sorted(dict.fromkeys(out), key=addressing.is_loopback)

    @property
    def online(self) -> bool:
        """Listening (between start and stop)."""
        return self._online

    def listen_addresses(self) -> list[str]:
        """Where peers reach us, as links, identify and mDNS say ([] offline):
        never wildcard or link-local, loopback only if we have nothing else."""
        return addressing.for_links(self.addresses()) if self._online else []

    def _addresses_for(self, peer: PeerId) -> list[str]:
        """Ours as a hello or heads hint tells this peer (loopback only if
        it is connected to us over loopback: then it is on this machine)."""
        assert self._host is not None
        over_loopback = addressing.is_loopback_ip(hosting.connection_ip(self._host, peer))
        return addressing.for_peer(self.addresses(), peer_over_loopback=over_loopback)

    def _local_ipv4(self) -> list[str]:
        """Our IPv4 addresses (is a dial-back's observed IP one of ours?), from
        the interfaces the watch reads on a worker thread: ifaddr blocks."""
        found = {str(i.ip) for i in self._interfaces if i.version == 4 and not i.ip.is_link_local}
        return sorted(found, key=lambda a: (a.startswith("127."), a))

    def _observed_by(self, peer: PeerId, observer: str, observed: str) -> None:
        """Identify told us where a peer sees us: two agreeing members make
        it ours (strangers are not heard: they could steer what we advertise)."""
        if not self.budgets.is_member(peer):
            return
        if self._observed.record(observer, observed):
            log.info("peers agree we are reachable at %s", self._observed.addresses([]) or "no public address")
            self._addresses_changed()

    def _interfaces_changed(self, interfaces: list[addressing.Interface]) -> None:
        self._interfaces = interfaces
        self._forget_network()
        self._addresses_changed()

    def _forget_network(self) -> None:
        """Another network: what peers and routers told us of the old one
        (the agreed public address, reachability, the mapping, where relays
        see us) no longer holds; the reachability check asks again now."""
        self._observed = addressing.ObservedAddresses(time.monotonic)
        if self.relay_client is not None:
            self.relay_client.forget_observed()
        if self._host is not None:
            self._reach.network_changed(self._direct_addresses())

    def _addresses_changed(self) -> None:
        """Our addresses moved (another network, an agreed public address):
        tell listeners and announce the new ones on the LAN."""
        self._threads.network_changed()
        discovery, nursery = self._discovery, self._nursery
        if discovery is not None and nursery is not None:
            nursery.start_soon(partial(trio.to_thread.run_sync, discovery.update_addresses, self.listen_addresses()))
        # Connections made over the old network are dead or soon will be:
        # every peer gets a pass (which reconnects) now, not at its backoff.
        for peer in list(self._links):
            self.schedule(peer, now=True)

    # --- reach from outside (reach.py) -------------------------------------------------------------

    def reachability(self) -> Reachability:
        """Whether peers outside reach us (the relay runs only when they do)."""
        return self._reach.current()

    def port_mapping(self) -> PortMapping | None:
        """The port the router maps to us by UPnP, if any (advertised only once reached)."""
        return self._reach.mapping()

    def _reach_changed(self) -> None:
        """A port mapping or the reachability answer changed: our addresses may have."""
        if self._online:
            self._addresses_changed()

    async def _open_stream_to(self, peer: PeerId, protocol: str) -> hosting.Libp2pStream:
        assert self._host is not None
        with trio.fail_after(CONNECT_TIMEOUT):
            return await hosting.open_stream(self._host, peer, self._threads.addresses.addresses(peer), protocol)
