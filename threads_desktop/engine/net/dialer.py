"""Dialling a peer at all its known addresses, ranked and raced.

Attempts start in rank order (addresses.dial_order: this machine, our LAN,
other private networks, public IPv6, public IPv4, relayed), each one
HEAD_START after the one before or as soon as it fails, whichever comes
first (happy eyeballs). The first connection wins and the other attempts
are cancelled; each attempt is bounded by ATTEMPT_SECONDS. A peer with an
unreachable first address therefore costs a quarter second, not a TCP
timeout.

Relayed addresses are dialled by a callable the relay part gives
(`dial_relayed`); without one they are skipped. The dialer knows no libp2p:
`dial_direct` (host.dial_address) does the connecting.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Sequence

import trio

from threads_desktop.engine.core.errors import PeerError, ThreadsError
from threads_desktop.engine.core.ids import PeerId
from threads_desktop.engine.net.addresses import Interface, Scope, capped, classify, dial_order

log = logging.getLogger(__name__)

HEAD_START = 0.25
ATTEMPT_SECONDS = 5.0
MAX_ATTEMPTS = 16  # addresses tried per dial (a peer may list many; the best come first)

DialDirect = Callable[[PeerId, str], Awaitable[None]]  # host.dial_address, bound to the host
DialRelayed = Callable[[str], Awaitable[None]]  # the address ends in /p2p-circuit/p2p/<peer>


class Dialer:
    """Races the dials of one peer's addresses. `interfaces` gives the
    machine's current interfaces (for "same LAN")."""

    def __init__(self, dial_direct: DialDirect, interfaces: Callable[[], Sequence[Interface]], *,
                 dial_relayed: DialRelayed | None = None, head_start: float = HEAD_START,
                 attempt_seconds: float = ATTEMPT_SECONDS) -> None:
        self._dial_direct = dial_direct
        self._dial_relayed = dial_relayed
        self._interfaces = interfaces
        self._head_start = head_start
        self._attempt_seconds = attempt_seconds

    def order(self, addresses: Sequence[str]) -> list[str]:
        """The addresses we would try, in order."""
        ranked = dial_order(addresses, self._interfaces())
        if self._dial_relayed is None:
            ranked = [a for a in ranked if classify(a) is not Scope.RELAYED]
        return capped(ranked, MAX_ATTEMPTS)  # relayed ones kept: a NATed peer's only way in

    async def dial(self, peer: PeerId, addresses: Sequence[str]) -> str:
        """Connect to the peer at one of `addresses`; the address that worked.
        PeerError (naming each failure) if none did."""
        ranked = self.order(addresses)
        if not ranked:
            raise PeerError("no address to dial")
        failures: list[str] = []
        won: list[str] = []

        async with trio.open_nursery() as nursery:
            for address in ranked:
                failed = trio.Event()
                nursery.start_soon(self._attempt, peer, address, failed, failures, won, nursery.cancel_scope)
                with trio.move_on_after(self._head_start):
                    await failed.wait()
        if won:
            return won[0]
        raise PeerError("; ".join(failures))

    async def _attempt(self, peer: PeerId, address: str, failed: trio.Event, failures: list[str],
                       won: list[str], race: trio.CancelScope) -> None:
        try:
            with trio.fail_after(self._attempt_seconds):
                if classify(address) is Scope.RELAYED:
                    assert self._dial_relayed is not None
                    await self._dial_relayed(address)
                else:
                    await self._dial_direct(peer, address)
        except (ThreadsError, OSError, trio.TooSlowError) as exc:
            failures.append(f"{address}: {exc or 'timed out'}")
            log.debug("dial %s failed: %s", address, exc)
            failed.set()
            return
        won.append(address)
        race.cancel()  # the others lose
