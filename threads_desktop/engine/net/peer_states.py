"""How each connected peer is reached and how far each thread is in step
with it: the network's part of the Devices view and `threads-desktop peers`.

Plain functions over what the network already knows (no libp2p here:
host.py reads the connections). The network builds `PeerLink`s for the
peers connected now and puts them in every NetworkStatus it publishes; the
node adds the peer book's other peers, names and when each was last met
(engine/core/devices.py).
"""

from __future__ import annotations

import ipaddress
import itertools
import time
from collections.abc import Callable, Mapping

from threads_desktop.engine.core.ids import PeerId, ThreadId
from threads_desktop.engine.core.types import Connection, ThreadSync

_NETWORKS_REFRESH_SECONDS = 10.0  # interfaces change rarely; a status is built up to 4 times a second
Network = ipaddress.IPv4Network | ipaddress.IPv6Network


def interface_networks() -> list[Network]:
    """The subnets of this machine's interfaces (loopback included)."""
    import ifaddr  # a zeroconf dependency; imported when first asked, not at import time

    found: list[Network] = []
    for adapter in ifaddr.get_adapters():
        for ip in adapter.ips:
            address = ip.ip if isinstance(ip.ip, str) else ip.ip[0]  # IPv6 comes as (address, flow, scope)
            try:
                found.append(ipaddress.ip_network(f"{address.split('%')[0]}/{ip.network_prefix}", strict=False))
            except ValueError:
                continue
    return found


class LocalNetworks:
    """Whether an IP address is on one of our subnets; the interfaces are
    read again at most every 10 seconds (a laptop moves between networks)."""

    def __init__(self, read: Callable[[], list[Network]] = interface_networks,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self._read = read
        self._clock = clock
        self._networks: list[Network] = []
        self._read_at: float | None = None

    def contains(self, ip: str) -> bool:
        try:
            address = ipaddress.ip_address(ip.split("%")[0])
        except ValueError:
            return False
        if address.is_loopback or address.is_link_local:
            return True  # never routed: the peer is on this machine or this link
        now = self._clock()
        if self._read_at is None or now - self._read_at >= _NETWORKS_REFRESH_SECONDS:
            self._networks, self._read_at = self._read(), now
        return any(address.version == net.version and address in net for net in self._networks)


def classify(remote: str, *, local: LocalNetworks, nearby: bool) -> Connection:
    """How a live connection reaches a peer, from its remote multiaddr:
    through a relay (/p2p-circuit in it), on our network (an address on our
    subnets, or a peer LAN discovery found), else over the internet."""
    parts = remote.split("/")
    if "p2p-circuit" in parts:
        return Connection.RELAY
    if nearby:
        return Connection.SAME_NETWORK
    for protocol, value in itertools.pairwise(parts):
        if protocol in ("ip4", "ip6"):
            return Connection.SAME_NETWORK if local.contains(value) else Connection.INTERNET
    return Connection.INTERNET  # a DNS name or a transport we do not read: beyond our subnets as far as we know


def thread_sync(thread_id: ThreadId, *, ours: Mapping[PeerId, int], theirs: Mapping[PeerId, int] | None,
                same_edge: bool, transfer: tuple[int, int] | None) -> ThreadSync:
    """One thread's progress with one peer: equal edges are in sync; else the
    records each side lacks by the heads it last told us (None: not compared
    in this session yet); a transfer under way, in bytes."""
    done, total = transfer or (0, 0)
    if same_edge:
        return ThreadSync(thread_id, compared=True, done=done, total=total)
    if theirs is None:
        return ThreadSync(thread_id, done=done, total=total)
    we_lack = sum(max(0, seq - ours.get(log, 0)) for log, seq in theirs.items())
    they_lack = sum(max(0, seq - theirs.get(log, 0)) for log, seq in ours.items())
    return ThreadSync(thread_id, compared=True, we_lack=we_lack, they_lack=they_lack, done=done, total=total)
