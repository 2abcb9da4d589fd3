"""The client side of circuit relay v2 (relay.py is the relay side).

While we are not reachable, keep reservations on up to MAX_RELAYS relays
(relays the user named, then reachable peers of our threads), each with its
own loop: reserve, renew before expiry, back off on failure, reserve again
when the connection returns (py-libp2p's refresh loop busy-loops then stops,
and its discovery waits 300 s: docs/LIBP2P-NOTES.md). Relays are dialled
from our listen port, and where they see us is what hole punching tells
the other side (holepunch.py). Also: our relayed addresses, dialling a
relayed address, and accepting relayed connections from our relays.
"""

from __future__ import annotations

import contextlib
import itertools
import logging
import random
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import multiaddr
import trio
from libp2p.abc import IHost, INetConn, INetStream
from libp2p.connection_types import ConnectionType
from libp2p.network.connection.raw_connection import RawConnection
from libp2p.peer.id import ID
from libp2p.relay.circuit_v2.pb.circuit_pb2 import HopMessage, StopMessage
from libp2p.relay.circuit_v2.pb.circuit_pb2 import PeerId as CircuitPeer
from libp2p.relay.circuit_v2.protocol_buffer import StatusCode

from threads_desktop.engine.core.errors import PeerError, ProtocolError, error_text
from threads_desktop.engine.core.ids import PeerId
from threads_desktop.engine.net.addresses import Interface
from threads_desktop.engine.net.admission import Admission
from threads_desktop.engine.net.holepunch import HolePuncher, Source, local_endpoint, observed_address
from threads_desktop.engine.net.host import NETWORK_ERRORS, dial_address
from threads_desktop.engine.net.relay import (
    HOP_PROTOCOL,
    MAX_RESERVATION_ADDRESSES,
    MESSAGE_SECONDS,
    STOP_PROTOCOL,
    WIRE_ERRORS,
    RelayRefused,
    is_relayed,
    over_loopback,
    parse_hop_status,
    parse_stop_connect,
    read_message,
    relay_addresses_for,
    relayed_connection,
    remote_of,
    reset,
    write_message,
)

log = logging.getLogger(__name__)


@dataclass
class _Held:
    """A reservation we hold on a relay."""

    expires: float
    addresses: tuple[str, ...]  # our relayed addresses through it
    # The connection it was made over: the relay keeps it only while that
    # connection lives (a restarted relay has forgotten it).
    over: object = None


@dataclass
class _Keeper:
    relay: PeerId
    wake: trio.Event = field(default_factory=trio.Event)
    failures: int = 0


RelayCandidates = Callable[[], list[tuple[PeerId, list[str]]]]

MAX_RELAYS = 2  # reservations kept at once
RENEW_FRACTION = 0.75  # of the reservation's life, then renew
MIN_RENEW_SECONDS = 1.0
MAX_BACKOFF_SECONDS = 300.0
MAX_SOURCE_DIALS = 4  # addresses tried from the listen port, one after another
SOURCE_DIAL_SECONDS = 3.0
RESCAN_SECONDS = 5.0
SOON_SECONDS = 0.5  # how often to look for relays (and at the connection to ours)
MAX_OBSERVERS = 8  # relays whose view of our listen port is kept, newest first


class RelayClient:
    """Keeps reservations on up to MAX_RELAYS relays while we are not
    reachable, answers relayed connections from them, and dials relayed
    addresses. `candidates()` lists relays in order of preference (with
    their direct addresses); `on_change()` hears when our relayed addresses
    changed."""

    def __init__(self, host: IHost, me: PeerId, *, candidates: RelayCandidates, wanted: Callable[[], bool],
                 on_change: Callable[[], None], source: Callable[[], Source | None] = lambda: None,
                 member: Callable[[PeerId], bool] = lambda _: False,
                 interfaces: Callable[[], Sequence[Interface]] = list,
                 hole_punching: bool = True, clock: Callable[[], float] = time.time,
                 admission: Admission | None = None, reachable: Callable[[], bool] = lambda: False) -> None:
        self._host = host
        self._admission = admission or Admission()  # the service's, which its TCP connections meet too
        self._source = source  # our TCP listen (ip, port): relays are dialled from it
        self.observed: dict[PeerId, str] = {}  # where relays see our listen-port connections
        # Hole punching only with members (`member`): a stranger's DCUtR
        # could otherwise make us dial anything (holepunch.py).
        self.puncher = HolePuncher(host, observed=self.observed_addresses, source=source, member=member,
                                   interfaces=interfaces, reachable=reachable) if hole_punching else None
        self._nursery: trio.Nursery | None = None
        self._me = me
        self._candidates = candidates
        self._wanted = wanted
        self._on_change = on_change
        self._clock = clock
        self.held: dict[PeerId, _Held] = {}
        self._keepers: dict[PeerId, _Keeper] = {}
        self._rescan = trio.Event()
        self._soon = False

    def observed_addresses(self) -> list[str]:
        """Where relays see our listen port, the newest report first."""
        return list(dict.fromkeys(reversed(self.observed.values())))

    def forget_observed(self) -> None:
        """The network changed: what relays saw is stale."""
        self.observed.clear()

    def relayed_addresses(self) -> list[str]:
        return [a for held in self.held.values() for a in held.addresses]

    def wake(self, peer: PeerId | None = None) -> None:
        """Look again now: settings changed, or a session with `peer` (a
        relay we may now be admitted by) just began."""
        keeper = self._keepers.get(peer) if peer is not None else None
        if keeper is not None:
            keeper.wake.set()
        self._rescan.set()

    def look_again_soon(self) -> None:
        """A candidate may show up in a moment (a new connection not yet identified)."""
        self._soon = True

    async def run(self) -> None:
        self._host.set_stream_handler(STOP_PROTOCOL, self._handle_stop)
        async with trio.open_nursery() as nursery:
            self._nursery = nursery
            if self.puncher is not None:
                self.puncher.start(nursery)
            for _ in itertools.count():  # until cancelled; each turn waits
                self._rescan = trio.Event()
                self._soon = False
                if self._wanted():
                    for relay, addresses in self._candidates()[:MAX_RELAYS * 4]:
                        active = sum(1 for k in self._keepers.values() if k.failures == 0)
                        if relay != self._me and relay not in self._keepers and active < MAX_RELAYS:
                            keeper = self._keepers[relay] = _Keeper(relay)
                            nursery.start_soon(self._keep, keeper, addresses)
                with trio.move_on_after(SOON_SECONDS if self._soon else RESCAN_SECONDS):
                    await self._rescan.wait()

    def _connected(self, peer: PeerId) -> bool:
        return any(not getattr(c, "is_closed", False) for c in self._host.get_network().get_connections(ID(peer.raw)))

    def via_relay(self, peer: PeerId) -> bool:
        """Whether we are connected to `peer` only through relays."""
        connections = self._host.get_network().get_connections(ID(peer.raw))
        return bool(connections) and all(relayed_connection(c) for c in connections)

    def directly(self, peer: PeerId) -> bool:
        """Whether we have a direct connection to `peer`."""
        return any(not relayed_connection(c) for c in self._host.get_network().get_connections(ID(peer.raw)))

    async def _keep(self, keeper: _Keeper, addresses: list[str]) -> None:
        """One relay's reservation: make it, renew it before it runs out,
        make it again when the connection returns; back off on failure.
        Ends (and lets another relay be tried) when no longer wanted, or
        after failing while other relays are available."""
        relay = keeper.relay
        try:
            while self._wanted():
                keeper.wake = trio.Event()
                try:
                    held = await self.reserve(relay, addresses)
                except (PeerError, *WIRE_ERRORS) as exc:
                    self._drop(relay)
                    keeper.failures += 1
                    log.info("relay: no reservation on %s (%d): %s", relay, keeper.failures, exc)
                    candidates = [peer for peer, _ in self._candidates()]
                    if relay not in candidates or (keeper.failures >= 3 and len(candidates) > MAX_RELAYS):
                        return  # asked again once it is a candidate again; or another relay gets the slot
                    delay = min(MAX_BACKOFF_SECONDS, 2.0 ** keeper.failures) * random.uniform(0.5, 1.0)
                    with trio.move_on_after(delay):
                        await keeper.wake.wait()
                    continue
                keeper.failures = 0
                changed = self.held.get(relay, _Held(0, ())).addresses != held.addresses
                self.held[relay] = held
                if changed:
                    self._on_change()
                renew_at = self._clock() + max(MIN_RENEW_SECONDS, (held.expires - self._clock()) * RENEW_FRACTION)
                # Until renewal, watch the connection it was made over: a
                # relay that went away (restarted, say) is asked again as
                # soon as it is back. Being connected is not enough: we may
                # already be connected again, to the restarted relay, that
                # holds no reservation for us.
                while self._clock() < renew_at and self._still_over(relay, held):
                    with trio.move_on_after(min(RESCAN_SECONDS, max(0.0, renew_at - self._clock()))):
                        await keeper.wake.wait()
                        keeper.wake = trio.Event()
                if not self._still_over(relay, held):
                    log.info("relay: the connection to %s that held our reservation is gone", relay)
                    self._drop(relay)
        finally:
            self._drop(relay)
            del self._keepers[relay]
            self._rescan.set()

    def _still_over(self, relay: PeerId, held: _Held) -> bool:
        """Whether the connection `held` was made over is still open."""
        return any(c.muxed_conn is held.over and not getattr(c, "is_closed", False)
                   for c in self._host.get_network().get_connections(ID(relay.raw)))

    async def _close_silent(self, peer: PeerId, connections: Sequence[INetConn]) -> None:
        """Close the connections to `peer` that did not answer (and only
        those: a new one may have come meanwhile). After a peer restarts,
        py-libp2p may keep the dead connection and open streams on it that
        never answer (docs/LIBP2P-NOTES.md); closed, the next attempt dials."""
        current = self._host.get_network().connections.get(ID(peer.raw)) or []
        for connection in connections:
            if connection in (current if isinstance(current, list) else [current]):
                with trio.move_on_after(MESSAGE_SECONDS), contextlib.suppress(*NETWORK_ERRORS):
                    await connection.close()

    def _drop(self, relay: PeerId) -> None:
        self.observed.pop(relay, None)  # seen anew on the next connection
        if self.held.pop(relay, None) is not None:
            self._on_change()

    async def reserve(self, relay: PeerId, addresses: Sequence[str]) -> _Held:
        """Ask `relay` for a reservation (connecting first if need be)."""
        try:
            await self.connect_directly(relay, addresses, from_listen_port=True, relay=True)
            connections = list(self._host.get_network().connections.get(ID(relay.raw)) or [])
            try:
                with trio.fail_after(MESSAGE_SECONDS):
                    stream = await self._host.new_stream(ID(relay.raw), [HOP_PROTOCOL])
            except trio.TooSlowError:
                await self._close_silent(relay, connections)
                raise
        except (*NETWORK_ERRORS, trio.TooSlowError) as exc:
            raise PeerError(f"cannot ask {relay} for a reservation: {error_text(exc)}") from exc
        try:
            await write_message(stream, HopMessage(type=HopMessage.RESERVE))
            answer = parse_hop_status(await read_message(stream), relay)
        finally:
            await reset(stream)
        if answer.status != StatusCode.OK:
            raise RelayRefused(answer.status)
        if answer.expires <= self._clock():
            raise ProtocolError("the relay's reservation has already expired")
        # Only public addresses (loopback ones if we reach the relay over
        # loopback): relay.relay_addresses_for, on either side.
        loopback = any(over_loopback(c.muxed_conn) for c in connections)
        relay_addresses = relay_addresses_for(
            list(answer.relay_addresses) or [a for a in addresses if a.endswith(f"/p2p/{relay}")], loopback=loopback)
        mine = tuple(f"{a}/p2p-circuit/p2p/{self._me}" for a in relay_addresses[:MAX_RESERVATION_ADDRESSES])
        return _Held(float(answer.expires), mine, over=stream.muxed_conn)

    async def connect_directly(self, peer: PeerId, addresses: Sequence[str], *,
                               from_listen_port: bool = False, relay: bool = False) -> None:
        """Connect to `peer` at its direct (not relayed) addresses, if not
        connected. `from_listen_port`: from our listen port (as the service
        dials every peer while we are not reachable), and learn where the
        peer sees that connection: what hole punching tells the other side.
        A connection from another port is left alone (closing it would cut
        what runs on it); if the listen port cannot be used (the same
        connection closed moments ago, say), from any port. Only a `relay`'s
        view is recorded (any other peer could say anything)."""
        source = self._source() if from_listen_port else None
        if self._connected(peer):
            if source is not None and relay and peer not in self.observed:
                await self._observe(peer, source)
            return
        direct = []
        for text in addresses:
            if is_relayed(text):
                continue
            try:
                address = multiaddr.Multiaddr(text)
                if text.endswith(f"/p2p/{peer}"):
                    address = address.decapsulate(multiaddr.Multiaddr(f"/p2p/{peer}"))
                direct.append(address)
            except Exception:  # noqa: BLE001 - a bad address is skipped
                continue
        if not direct:
            raise PeerError(f"no direct address for {peer}")
        if source is not None:
            for address in direct[:MAX_SOURCE_DIALS]:
                try:
                    with trio.fail_after(SOURCE_DIAL_SECONDS):
                        await self._host.get_network().dial_addr(address, ID(peer.raw), source)
                except (*NETWORK_ERRORS, trio.TooSlowError) as exc:
                    log.debug("dial of %s at %s from our listen port failed: %s", peer, address, exc)
                    continue
                if relay:
                    await self._observe(peer, source)
                return
        # Each address by itself (not host.connect: it dials one address of the
        # whole peerstore and then refuses the peer for 60 s, blocking the
        # dial-back check's streams too; docs/LIBP2P-NOTES.md "fix-reach").
        failures: list[str] = []
        with trio.fail_after(MESSAGE_SECONDS):
            for address in direct[:MAX_SOURCE_DIALS]:
                try:
                    await dial_address(self._host, peer, str(address))
                    return
                except PeerError as exc:
                    failures.append(str(exc))
        raise PeerError("; ".join(failures))

    def _from_port(self, peer: PeerId, port: int) -> bool:
        return any((local_endpoint(c) or ("", 0))[1] == port
                   for c in self._host.get_network().get_connections(ID(peer.raw)))

    async def _observe(self, peer: PeerId, source: Source) -> None:
        if not self._from_port(peer, source[1]):
            return
        seen = await observed_address(self._host, ID(peer.raw))
        connections = self._host.get_network().get_connections(ID(peer.raw))
        loopback = any(over_loopback(c.muxed_conn) for c in connections)
        if seen is None or not relay_addresses_for([seen], loopback=loopback):
            return  # public only (loopback from a relay on this machine): never a LAN a stranger names
        self.observed.pop(peer, None)
        self.observed[peer] = seen  # newest last in the dict, first in observed_addresses()
        while len(self.observed) > MAX_OBSERVERS:
            del self.observed[next(iter(self.observed))]

    async def dial_relayed(self, address: str) -> None:
        """Connect to the peer a `/.../p2p/RELAY/p2p-circuit/p2p/PEER`
        address names, through that relay (PeerError if it cannot be done).
        py-libp2p's swarm drops such addresses, and its relay transport
        also reserves for the dialler: this asks only for the circuit."""
        relay_part, marker, target_text = address.partition("/p2p-circuit/p2p/")
        relay_text = relay_part.rpartition("/p2p/")[2]
        try:
            target, relay = PeerId.parse(target_text), PeerId.parse(relay_text)
            multiaddr.Multiaddr(address)
        except Exception as exc:
            raise PeerError("not a relayed address") from exc
        if not marker or target == self._me:
            raise PeerError("not a relayed address")
        if self._connected(target):
            return
        try:
            await self.connect_directly(relay, [relay_part], from_listen_port=True, relay=True)
            with trio.fail_after(MESSAGE_SECONDS):
                stream = await self._host.new_stream(ID(relay.raw), [HOP_PROTOCOL])
        except (*NETWORK_ERRORS, trio.TooSlowError) as exc:
            raise PeerError(f"cannot reach the relay {relay}: {error_text(exc)}") from exc
        try:
            await write_message(stream, HopMessage(type=HopMessage.CONNECT, peer=CircuitPeer(id=target.raw)))
            answer = parse_hop_status(await read_message(stream), relay)
            if answer.status != StatusCode.OK:
                raise RelayRefused(answer.status)
            circuit = multiaddr.Multiaddr(f"/p2p/{relay}/p2p-circuit/p2p/{target}")
            raw = RawConnection(stream=stream, initiator=True, connection_type=ConnectionType.RELAYED,
                                addresses=[circuit])
            await self._host.upgrade_outbound_connection(raw, ID(target.raw))
        except PeerError:
            await reset(stream)
            raise
        except WIRE_ERRORS as exc:
            await reset(stream)
            raise PeerError(f"cannot reach {target} through {relay}: {error_text(exc)}") from exc
        except BaseException:
            # Cancelled (the dialer's race was won elsewhere): the relay and
            # the target must not keep the circuit open (review finding 9).
            with trio.CancelScope(shield=True):
                await reset(stream)
            raise

    async def _handle_stop(self, stream: INetStream) -> None:
        """A relay we hold a reservation on brings a connection."""
        relay = remote_of(stream)
        try:
            if relay not in self.held:
                await write_message(stream, StopMessage(type=StopMessage.STATUS,
                                                 status=int(StatusCode.PERMISSION_DENIED)))  # type: ignore[arg-type]
                await reset(stream)
                return
            caller = parse_stop_connect(await read_message(stream))
            await write_message(stream, StopMessage(type=StopMessage.STATUS, status=int(StatusCode.OK)))  # type: ignore[arg-type]
            circuit = multiaddr.Multiaddr(f"/p2p/{relay}/p2p-circuit/p2p/{caller}")
            # Through our admission like a TCP connection (strangers17): a
            # place, the handshake timeout, strangers' share and their turn.
            muxed = await self._admission.upgrade_relayed(stream, relay, circuit,
                                                          self._host.upgrade_inbound_connection)
            if muxed is None:
                await reset(stream)
                return
            if self.puncher is not None and self._nursery is not None:
                # Spec: the side the relayed connection came to starts DCUtR.
                self._nursery.start_soon(self.puncher.punch, caller)
            await self._admission.keep(muxed, trio.sleep_forever)  # counted until it closes
        except WIRE_ERRORS as exc:
            log.debug("relayed connection from %s refused: %s", relay, exc)
            await reset(stream)
