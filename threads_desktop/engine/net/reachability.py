"""Whether this peer can be reached from outside, and at which address.

Two signals: the address a peer sees us connect from (behind NAT if it is
not one of our own), and a dial-back (dialback.py): a peer that shares a
thread dials us over a fresh connection at the addresses we name. We name
the UPnP mapping first (if any), then where we listen; if none answers, our
listen ports at the IP the peer sees (a port-preserving NAT with a port
forwarded by hand). The answer is `Reachability`, read through
`ReachabilityChecker.current()`: the relay service runs only when reachable,
unreachable peers reserve relays, and a public address a peer reached us at
is advertised (never before: a mapping that does not work is not spread).

A peer only tells us how it reaches us: one that sees us at a private
address (our LAN's, loopback, carrier-grade NAT) proves only that its
network reaches us: reachability stays unknown. Peers are asked in the
order the caller gives, until one outside answers.
"""

from __future__ import annotations

import ipaddress
import logging
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass

import trio

from threads_desktop.engine.core.errors import ThreadsError
from threads_desktop.engine.core.ids import PeerId
from threads_desktop.engine.net.dialback import MAX_ADDRESSES, REACHED, DialBackAnswer, TcpAddress
from threads_desktop.engine.net.host import NETWORK_ERRORS

log = logging.getLogger(__name__)

MAX_PEERS_ASKED = 3  # per check: the first that answers decides
PROVEN_SECONDS = 3600.0  # a peer that proved a shared thread may ask a dial-back this long
MAX_PROVEN = 1024


@dataclass(frozen=True, slots=True)
class Reachability:
    reachable: bool | None = None  # from outside our network; None: not known (yet, or only LAN peers answered)
    since: float | None = None  # wall time `reachable` took its value
    address: str | None = None  # where a peer reached us (/ipX/IP/tcp/PORT), when reachable
    behind_nat: bool | None = None  # peers see us at an IP that is not ours
    observed: str | None = None  # the address the last peer asked saw us connect from


# Where an answering peer that sees us proves only a private network reaches
# us: RFC 1918, carrier-grade NAT, loopback, link-local, unique local IPv6.
_PRIVATE = tuple(ipaddress.ip_network(n) for n in (
    "10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "100.64.0.0/10", "127.0.0.0/8", "169.254.0.0/16",
    "::1/128", "fe80::/10", "fc00::/7"))


def is_private(address: TcpAddress) -> bool:
    """Seen at this address, we are seen from inside a private network."""
    return any(address.ip in network for network in _PRIVATE)


class ProvenPeers:
    """Peers that proved a shared thread in a session lately: the only ones
    whose dial-back requests we serve and whom we ask. Bounded."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._seen: dict[PeerId, float] = {}
        self.arrived = trio.Event()  # set when a peer new to the record is noted

    def note(self, peer: PeerId) -> None:
        new = peer not in self
        self._seen.pop(peer, None)
        self._seen[peer] = self._clock()  # newest last
        while len(self._seen) > MAX_PROVEN:
            del self._seen[next(iter(self._seen))]
        if new:  # not on every pass of a session: a check may start
            self.arrived.set()

    def __contains__(self, peer: object) -> bool:
        seen = self._seen.get(peer) if isinstance(peer, PeerId) else None
        return seen is not None and self._clock() - seen <= PROVEN_SECONDS

    def recent(self) -> list[PeerId]:
        """Newest first."""
        now = self._clock()
        return [p for p, t in reversed(self._seen.items()) if now - t <= PROVEN_SECONDS]


Ask = Callable[[PeerId, Sequence[TcpAddress]], Awaitable[DialBackAnswer]]


class ReachabilityChecker:
    """Asks peers to dial us back and keeps the answer.

    `candidates()` are the addresses to test first (UPnP mapping, then our
    listen addresses); `listen_ports()` the TCP ports we listen on;
    `local_ips()` our interfaces' IPs; `on_change` hears of a new answer."""

    def __init__(self, *, ask: Ask, candidates: Callable[[], list[TcpAddress]],
                 listen_ports: Callable[[], list[int]], local_ips: Callable[[], set[str]],
                 on_change: Callable[[Reachability], None], clock: Callable[[], float] = time.time) -> None:
        self._ask = ask
        self._candidates = candidates
        self._listen_ports = listen_ports
        self._local_ips = local_ips
        self._on_change = on_change
        self._clock = clock
        self._state = Reachability()

    def current(self) -> Reachability:
        return self._state

    async def check(self, peers: Sequence[PeerId]) -> Reachability:
        """Ask the first peers in turn until one outside our network answers
        (a peer that sees us at a private address proves only that the LAN
        reaches us: then reachable stays None, `observed` says a peer
        answered); the state is unchanged if nobody answers."""
        on_lan: tuple[TcpAddress | None, TcpAddress] | None = None  # reached on the LAN is not from outside
        for peer in list(peers)[:MAX_PEERS_ASKED]:
            try:
                reached, observed = await self._check_with(peer)
            except (ThreadsError, trio.TooSlowError, *NETWORK_ERRORS) as exc:
                log.debug("dial-back by %s failed: %s", peer, exc)
                continue
            if not is_private(observed):
                self._update(reached, observed, outside=True)
                return self._state
            on_lan = (reached, observed)
        if on_lan is not None:
            self._update(*on_lan, outside=False)
        return self._state

    async def _check_with(self, peer: PeerId) -> tuple[TcpAddress | None, TcpAddress]:
        first = list(dict.fromkeys(self._candidates()))[:MAX_ADDRESSES]
        if not first:
            raise ThreadsError("no address to be dialled back at")
        answer = await self._ask(peer, first)
        observed = answer.observed
        for address, result in zip(first, answer.results, strict=True):
            if result == REACHED:
                return address, observed
        # A port forwarded by hand, or a router that keeps our port: our
        # listen ports at the IP the peer sees.
        second = [a for a in (TcpAddress(observed.ip, p) for p in self._listen_ports())
                  if a not in first][:MAX_ADDRESSES]
        if second:
            answer = await self._ask(peer, second)
            observed = answer.observed
            for address, result in zip(second, answer.results, strict=True):
                if result == REACHED:
                    return address, observed
        return None, observed

    def _update(self, reached: TcpAddress | None, observed: TcpAddress, *, outside: bool) -> None:
        """A peer outside answered (`outside`), or only peers on our LAN:
        what they reach says nothing of the outside (reachable stays unknown)."""
        behind_nat = str(observed.ip) not in self._local_ips()
        reachable = reached is not None if outside else None
        reached = reached if outside else None
        old = self._state
        since = old.since if old.reachable == reachable and old.since is not None else self._clock()
        self._state = Reachability(reachable, since, str(reached) if reached else None, behind_nat, str(observed))
        if (old.reachable, old.address, old.behind_nat) != (reachable, self._state.address, behind_nat):
            log.info("reachability: %s", self._state)
            self._on_change(self._state)

    def forget(self) -> None:
        """The network changed under us (a setting, a mapping): unknown again."""
        if self._state != Reachability():
            self._state = Reachability()
            self._on_change(self._state)
