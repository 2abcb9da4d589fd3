"""Who this profile shares something with, and how each is connected now:
the facts behind the Devices view and `threads-desktop peers`.

Plain functions over what the network and the peer book already know (no
libp2p here: host.py reads the connections). The network builds `PeerLink`s
for the peers connected now (put in every NetworkStatus it publishes); the
node adds the peer book's other peers, names and when each was last met
(`devices`). Open to the node (it imports no other part of engine/net).
"""

from __future__ import annotations

import ipaddress
import itertools
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import replace

from threads_desktop.engine.core.errors import InvalidIdError
from threads_desktop.engine.core.ids import PeerId, ThreadId
from threads_desktop.engine.core.types import Connection, Device, PeerLink, ThreadKind, ThreadSync

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


def devices(*, me: PeerId, shared: Mapping[PeerId, Iterable[ThreadId]], links: Iterable[PeerLink],
            names: Mapping[PeerId, str], threads: Mapping[ThreadId, tuple[str | None, ThreadKind | None]],
            last_seen: Mapping[PeerId, float]) -> list[Device]:
    """Every peer we share a thread with (the peer book's, and those proving
    one in a session now): connected ones first, then by name. `threads`
    holds the threads we hold (name, kind): a thread not in it is left out."""
    live: dict[PeerId, PeerLink] = {}
    for connected in links:
        try:
            live[PeerId.parse(connected.peer_id)] = connected
        except InvalidIdError:
            continue
    out: list[Device] = []
    for peer in set(shared) | set(live):
        if peer == me:
            continue
        link = live.get(peer)
        progress = {t.thread_id: t for t in (link.threads if link else ())}
        thread_ids = dict.fromkeys([*shared.get(peer, ()), *progress])
        rows = tuple(replace(progress.get(t, ThreadSync(t)), name=threads[t][0], kind=threads[t][1])
                     for t in thread_ids if t in threads)
        if not rows:
            continue  # connected, but shares nothing with us (a stranger, or a thread we left)
        rows = tuple(sorted(rows, key=lambda r: ((r.name or "").casefold(), str(r.thread_id))))
        connection = link.connection if link else Connection.OFFLINE
        out.append(Device(str(peer), names.get(peer), connection,
                          None if link else last_seen.get(peer), rows))
    out.sort(key=lambda d: (d.connection is Connection.OFFLINE, d.name is None, (d.name or "").casefold(),
                            d.peer_id))
    return out
