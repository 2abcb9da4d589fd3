"""Our addresses and peers' addresses: what kind each is, which of ours a
remote peer may be told, the order to dial a peer's in, the public address
peers observe for us, and a watch on the machine's interfaces.

Multiaddrs are handled as text (`/ip4/1.2.3.4/tcp/4141/p2p/ID`): only the
host layer imports libp2p. Anything that does not parse is OTHER and is
never sent or dialled directly.

The loopback rule: a loopback address reaches only a peer on this machine,
so it is sent only to a peer whose own connection to us is over loopback
(two profiles on one machine), and in links only when we have nothing else
(a profile listening on 127.0.0.1 alone: its links are for this machine).
"""

from __future__ import annotations

import ipaddress
import logging
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from enum import IntEnum
from typing import Any

import trio

log = logging.getLogger(__name__)

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
Interface = ipaddress.IPv4Interface | ipaddress.IPv6Interface

OBSERVED_TTL_SECONDS = 1800.0  # an agreed public address is dropped unless observed again
OBSERVERS_TO_AGREE = 2  # distinct observer IPs that must report the same address of ours
MAX_OBSERVATIONS = 256  # anyone who connects may report: the table is bounded
INTERFACE_POLL_SECONDS = 5.0
MAX_INTERFACES = 64  # addresses read per poll (a machine with more is cut, not slowed)
MAX_SHARED = 8  # addresses told at once: an invite link (acl/links.MAX_ADDRESSES), a hello, a heads hint
RELAYED_KEPT = 2  # relayed ones a cut keeps: a NATed peer's only way in


class Scope(IntEnum):
    """What an address is, in the order a peer's addresses are best dialled
    (relayed last; the three before it are never sent or dialled)."""

    LOOPBACK = 0
    PRIVATE = 1  # a LAN (RFC 1918, ULA fc00::/7, CGNAT 100.64/10)
    PUBLIC = 2
    RELAYED = 3  # through a relay: /p2p-circuit
    WILDCARD = 4  # 0.0.0.0 or ::, a listen address, not a place
    LINK_LOCAL = 5  # 169.254/16, fe80::/10: needs an interface to mean anything
    OTHER = 6  # dns, another transport, or not a multiaddr at all


@dataclass(frozen=True)
class Endpoint:
    """The IP and TCP port of a direct address (`rest`: what follows, e.g. /p2p/ID)."""

    ip: IPAddress
    port: int
    rest: str


def endpoint(address: str) -> Endpoint | None:
    """/ip4|ip6/<ip>/tcp/<port>[...] as an Endpoint; None for anything else."""
    parts = address.split("/")
    if len(parts) < 5 or parts[0] != "" or parts[1] not in ("ip4", "ip6") or parts[3] != "tcp":
        return None
    try:
        ip = ipaddress.ip_address(parts[2])
        port = int(parts[4])
    except ValueError:
        return None
    if ip.version != (4 if parts[1] == "ip4" else 6) or not 0 <= port <= 65535 or parts[4] != str(port):
        return None
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    rest = "/".join(parts[5:])
    return Endpoint(ip, port, "/" + rest if rest else "")


def _ip_scope(ip: IPAddress) -> Scope:
    if ip.is_unspecified:
        return Scope.WILDCARD
    if ip.is_loopback:
        return Scope.LOOPBACK
    if ip.is_link_local:
        return Scope.LINK_LOCAL
    if ip.is_multicast or ip.is_reserved:
        return Scope.OTHER
    if any(ip in network for network in _PRIVATE):
        return Scope.PRIVATE
    return Scope.PUBLIC


# Networks that are someone's LAN. Not Python's is_private, which also
# counts the documentation ranges (203.0.113/24, 2001:db8::/32...): those
# stand for the internet in labs and examples, and are treated as public.
_PRIVATE = tuple(ipaddress.ip_network(n) for n in (
    "10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16",
    "100.64.0.0/10",  # carrier NAT: behind the provider's router, not reachable from outside
    "fc00::/7"))


def classify(address: str) -> Scope:
    if "p2p-circuit" in address.split("/"):
        return Scope.RELAYED
    found = endpoint(address)
    return Scope.OTHER if found is None else _ip_scope(found.ip)


def is_loopback(address: str) -> bool:
    return classify(address) is Scope.LOOPBACK


def is_loopback_ip(text: str | None) -> bool:
    """An IP as a socket gives it (None: unknown, so not loopback)."""
    try:
        return text is not None and ipaddress.ip_address(text.split("%", 1)[0]).is_loopback
    except ValueError:
        return False


def expand(listening: Iterable[str], interfaces: Sequence[Interface]) -> list[str]:
    """Our listen addresses with each wildcard spelled out as the interfaces'
    addresses of its family (link-local ones left out: useless to a peer)."""
    out: list[str] = []
    for address in listening:
        found = endpoint(address)
        if found is None or not found.ip.is_unspecified:
            out.append(address)
            continue
        for interface in interfaces:
            ip = interface.ip
            if ip.version == found.ip.version and _ip_scope(ip) in (Scope.LOOPBACK, Scope.PRIVATE, Scope.PUBLIC):
                out.append(_spell(ip, found.port, found.rest))
    return list(dict.fromkeys(out))


def _spell(ip: IPAddress, port: int, rest: str = "") -> str:
    return f"/ip{ip.version}/{ip}/tcp/{port}{rest}"


def shareable(addresses: Iterable[str], *, loopback: bool) -> list[str]:
    """What of these a remote peer may be told: never wildcard, link-local
    or unparsable addresses; loopback only if `loopback` (see the module's
    rule). Best first (LAN, public, relayed), otherwise in the given order."""
    keep = {Scope.PRIVATE, Scope.PUBLIC, Scope.RELAYED} | ({Scope.LOOPBACK} if loopback else set())
    unique = [a for a in dict.fromkeys(addresses) if classify(a) in keep]
    return sorted(unique, key=lambda a: _send_rank(classify(a)))


def _send_rank(scope: Scope) -> int:
    return {Scope.PRIVATE: 0, Scope.PUBLIC: 1, Scope.LOOPBACK: 2}.get(scope, 3)


def capped(addresses: Sequence[str], n: int, *, relayed: int = RELAYED_KEPT) -> list[str]:
    """At most `n` of these, in their order: the first `relayed` relayed
    ones always among them (they rank last, so a plain cut would drop them
    for a laptop with many direct addresses), the rest filled in order."""
    unique = list(dict.fromkeys(addresses))
    kept = set([a for a in unique if classify(a) is Scope.RELAYED][:max(0, min(relayed, n))])
    kept.update([a for a in unique if a not in kept][:max(0, n - len(kept))])
    return [a for a in unique if a in kept]


def for_links(ours: Sequence[str]) -> list[str]:
    """The addresses an invite link (or mDNS) carries: ours without
    loopback, unless loopback is all we have; at most MAX_SHARED."""
    wide = shareable(ours, loopback=False)
    return capped(wide if wide else shareable(ours, loopback=True), MAX_SHARED)


def for_peer(ours: Sequence[str], *, peer_over_loopback: bool) -> list[str]:
    """The addresses a hello or a heads hint tells a peer: loopback only to
    a peer that reached us (or that we reached) over loopback; at most MAX_SHARED."""
    return capped(shareable(ours, loopback=peer_over_loopback), MAX_SHARED)


def dial_order(addresses: Iterable[str], interfaces: Sequence[Interface]) -> list[str]:
    """A peer's addresses, best to dial first: loopback (this machine),
    the LAN we are on, other private networks, public IPv6, public IPv4,
    relayed. Wildcard, link-local and unparsable ones are dropped."""
    def rank(address: str) -> int:
        scope = classify(address)
        if scope is Scope.RELAYED:
            return 6
        found = endpoint(address)
        assert found is not None
        if scope is Scope.LOOPBACK:
            return 0
        if scope is Scope.PRIVATE:
            return 1 if any(found.ip in i.network for i in interfaces if i.version == found.ip.version) else 2
        return 3 if found.ip.version == 6 else 4

    keep = {Scope.LOOPBACK, Scope.PRIVATE, Scope.PUBLIC, Scope.RELAYED}
    return sorted((a for a in dict.fromkeys(addresses) if classify(a) in keep), key=rank)


# --- the public address peers observe -------------------------------------------------------


@dataclass
class _Observation:
    observers: dict[str, float]  # observer IP -> when it last reported


class ObservedAddresses:
    """The addresses peers report seeing us at (identify's observed_addr).
    A public one counts once OBSERVERS_TO_AGREE distinct observer IPs report
    it, and lapses OBSERVED_TTL_SECONDS after the last report. Bounded: a
    stranger can add reports, never grow the table past MAX_OBSERVATIONS."""

    def __init__(self, clock: Callable[[], float]) -> None:
        self._clock = clock
        self._seen: dict[IPAddress, _Observation] = {}
        self._ports: dict[tuple[IPAddress, int], set[str]] = {}

    def record(self, observer: str, observed: str) -> bool:
        """A report from the peer at IP `observer`; True if the agreed set changed."""
        found = endpoint(observed)
        try:
            observer_ip = ipaddress.ip_address(observer)
        except ValueError:
            return False
        if found is None or _ip_scope(found.ip) is not Scope.PUBLIC:
            return False  # private and loopback addresses of ours we know already
        before = self.agreed_ips()
        now = self._clock()
        self._expire(now)
        if found.ip not in self._seen and len(self._seen) >= MAX_OBSERVATIONS:
            return False
        entry = self._seen.setdefault(found.ip, _Observation({}))
        if str(observer_ip) not in entry.observers and len(entry.observers) >= MAX_OBSERVATIONS:
            return False
        entry.observers[str(observer_ip)] = now
        ports = self._ports.setdefault((found.ip, found.port), set())
        if len(ports) < OBSERVERS_TO_AGREE:
            ports.add(str(observer_ip))
        if len(self._ports) > MAX_OBSERVATIONS:
            self._ports.pop(next(iter(self._ports)))
        return self.agreed_ips() != before

    def _expire(self, now: float) -> None:
        for ip, entry in list(self._seen.items()):
            entry.observers = {o: t for o, t in entry.observers.items() if now - t <= OBSERVED_TTL_SECONDS}
            if not entry.observers:
                del self._seen[ip]
                for key in [k for k in self._ports if k[0] == ip]:
                    del self._ports[key]

    def agreed_ips(self) -> set[IPAddress]:
        self._expire(self._clock())
        return {ip for ip, e in self._seen.items() if len(e.observers) >= OBSERVERS_TO_AGREE}

    def addresses(self, listen_ports: Iterable[tuple[int, int]]) -> list[str]:
        """Our agreed public addresses: each agreed IP with our listen port
        of its family (right behind a port-preserving router or with none),
        and an observed IP:port itself when two observers saw that very port
        (a router that remaps the port). `listen_ports`: (IP version, port)."""
        agreed = self.agreed_ips()
        out = [_spell(ip, port) for ip in sorted(agreed, key=str) for version, port in listen_ports
               if ip.version == version]
        out += [_spell(ip, port) for (ip, port), seen in self._ports.items()
                if ip in agreed and len(seen) >= OBSERVERS_TO_AGREE]
        return list(dict.fromkeys(out))


# --- the machine's interfaces ---------------------------------------------------------------


def read_interfaces() -> list[Interface]:
    """The machine's IP addresses with their networks (blocking: a few ms;
    the watch runs it on a worker thread)."""
    import ifaddr  # a zeroconf dependency

    found: list[Interface] = []
    for adapter in ifaddr.get_adapters():
        for ip in adapter.ips:
            text = ip.ip if isinstance(ip.ip, str) else ip.ip[0]
            try:
                found.append(ipaddress.ip_interface(f"{text.split('%', 1)[0]}/{ip.network_prefix}"))
            except ValueError:
                continue
    return sorted(set(found), key=str)[:MAX_INTERFACES]


async def watch_interfaces(on_change: Callable[[list[Interface]], None],
                           read: Callable[[], list[Interface]] = read_interfaces,
                           every: float = INTERFACE_POLL_SECONDS, *, first: list[Interface] | None = None,
                           task_status: Any = trio.TASK_STATUS_IGNORED) -> None:
    """Poll the interfaces every `every` seconds (on a worker thread, each
    read bounded by the poll period) and call `on_change` with the new list
    whenever it differs; runs until cancelled."""
    current = first if first is not None else await trio.to_thread.run_sync(read)
    task_status.started(current)
    while True:
        await trio.sleep(every)
        with trio.move_on_after(max(every, 1.0) * 4):
            # mypy 1.x reads the TypeVarTuple signature without its keywords
            latest = await trio.to_thread.run_sync(read, abandon_on_cancel=True)  # type: ignore[call-arg]
            if latest != current:
                log.info("network interfaces changed: %s", [str(i) for i in latest])
                current = latest
                on_change(latest)
