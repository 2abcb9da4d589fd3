"""Circuit relay v2 (libp2p's relay protocol) with our admission and limits.

The relay side (hop) runs on a peer others can reach. It gives reservations
only to peers that proved a thread we share in a session (`admitted`), and
opens circuits only towards peers holding a reservation here, so a friend
holding nothing but an invite link reaches the inviter through the
inviter's relay, while a stranger can neither reserve nor reach anyone who
has not asked to be reachable here. Everything is bounded: reservations
and circuits per peer and in total, bytes and seconds per circuit.

The client side keeps reservations on reachable peers of our threads (and
relays the user named) with its own loop, knows our relayed addresses, and
dials relayed addresses. py-libp2p's own handler, discovery and refresh
loop are not used (docs/LIBP2P-NOTES.md, "reach-relay"): only its wire
messages. Everything runs on the engine's trio thread.
"""

from __future__ import annotations

import contextlib
import ipaddress
import itertools
import logging
import random
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import multiaddr
import trio
from google.protobuf.message import DecodeError
from libp2p.abc import IHost, INetConn, INetStream
from libp2p.connection_types import ConnectionType
from libp2p.network.connection.raw_connection import RawConnection
from libp2p.peer.id import ID
from libp2p.peer.peerinfo import PeerInfo
from libp2p.relay.circuit_v2.pb.circuit_pb2 import HopMessage, Limit, StopMessage
from libp2p.relay.circuit_v2.pb.circuit_pb2 import PeerId as CircuitPeer
from libp2p.relay.circuit_v2.pb.circuit_pb2 import Reservation as WireReservation
from libp2p.relay.circuit_v2.protocol import PROTOCOL_ID as HOP_PROTOCOL
from libp2p.relay.circuit_v2.protocol import STOP_PROTOCOL_ID as STOP_PROTOCOL
from libp2p.relay.circuit_v2.protocol_buffer import StatusCode
from libp2p.utils.varint import encode_varint_prefixed, read_varint_prefixed_bytes_limited

from threads_desktop.engine.core.errors import InvalidIdError, PeerError, ProtocolError
from threads_desktop.engine.core.ids import PeerId
from threads_desktop.engine.net.holepunch import HolePuncher, Source, local_endpoint, observed_address
from threads_desktop.engine.net.host import NETWORK_ERRORS

log = logging.getLogger(__name__)

__all__ = ["HOP_PROTOCOL", "STOP_PROTOCOL", "ProvenPeers", "RelayClient", "RelayLimits", "RelayRefused",
           "RelayService", "has_public_address", "is_relayed", "parse_hop_request", "parse_hop_status",
           "parse_stop_connect"]

MAX_MESSAGE = 4096  # a hop/stop message is a peer ID, a few addresses and limits
MAX_RESERVATION_ADDRESSES = 8
MESSAGE_SECONDS = 10.0  # to read or write one control message
PUMP_CHUNK = 64 * 1024
MAX_READING_PER_PEER = 4
MAX_READING = 64
# The errors varint reading and protobuf parsing raise on bad bytes.
WIRE_ERRORS = (*NETWORK_ERRORS, ProtocolError, DecodeError, ValueError, trio.TooSlowError)


@dataclass(frozen=True)
class RelayLimits:
    """What one relay gives, per peer and in total."""

    max_reservations: int = 64
    reservation_seconds: int = 3600
    max_circuits: int = 32
    max_circuits_per_peer: int = 4  # as source or as destination
    circuit_bytes: int = 512 * 1024 * 1024  # both directions together
    circuit_seconds: int = 3600  # hole punching usually upgrades long before


class ProvenPeers:
    """Peers that proved a thread we share in a session lately: the relay's
    admission. Bounded: the oldest proofs are forgotten first."""

    def __init__(self, *, capacity: int = 1024, seconds: float = 3600.0,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self._proofs: dict[PeerId, float] = {}
        self._capacity = capacity
        self._seconds = seconds
        self._clock = clock

    def add(self, peer: PeerId) -> None:
        self._proofs.pop(peer, None)  # re-inserted last: dicts keep insertion order
        self._proofs[peer] = self._clock()
        while len(self._proofs) > self._capacity:
            del self._proofs[next(iter(self._proofs))]

    def __contains__(self, peer: object) -> bool:
        proved = self._proofs.get(peer) if isinstance(peer, PeerId) else None
        return proved is not None and self._clock() - proved <= self._seconds

    def clear(self) -> None:
        self._proofs.clear()


# --- the wire ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class HopRequest:
    reserve: bool  # else connect
    target: PeerId | None  # the peer to connect to


def parse_hop_request(data: bytes) -> HopRequest:
    """A RESERVE or CONNECT from a peer; ProtocolError for anything else."""
    message = HopMessage()
    try:
        message.ParseFromString(data)
    except (DecodeError, ValueError, RuntimeError) as exc:
        raise ProtocolError("not a relay message") from exc
    if message.type == HopMessage.RESERVE:
        return HopRequest(True, None)
    if message.type != HopMessage.CONNECT:
        raise ProtocolError("a relay request is RESERVE or CONNECT")
    return HopRequest(False, _peer_of(message.peer.id if message.HasField("peer") else b""))


@dataclass(frozen=True)
class HopStatus:
    status: int
    expires: int = 0  # reservation expiry (unix seconds)
    relay_addresses: tuple[str, ...] = ()


def parse_hop_status(data: bytes, relay: PeerId) -> HopStatus:
    """A relay's answer; its addresses must end in /p2p/<relay> and be plain."""
    message = HopMessage()
    try:
        message.ParseFromString(data)
    except (DecodeError, ValueError, RuntimeError) as exc:
        raise ProtocolError("not a relay message") from exc
    if message.type != HopMessage.STATUS:
        raise ProtocolError("expected a relay status")
    addresses: list[str] = []
    if message.HasField("reservation"):
        for raw in list(message.reservation.addrs)[:MAX_RESERVATION_ADDRESSES]:
            try:
                address = str(multiaddr.Multiaddr(bytes(raw)))
            except Exception:  # noqa: BLE001 - the parser raises several types; a bad one is skipped
                continue
            if address.endswith(f"/p2p/{relay}") and "/p2p-circuit" not in address:
                addresses.append(address)
    expires = message.reservation.expire if message.HasField("reservation") else 0
    return HopStatus(int(message.status), int(expires), tuple(addresses))


def parse_stop_connect(data: bytes) -> PeerId:
    """The peer a relay says is calling; ProtocolError for anything else."""
    message = StopMessage()
    try:
        message.ParseFromString(data)
    except (DecodeError, ValueError, RuntimeError) as exc:
        raise ProtocolError("not a relay message") from exc
    if message.type != StopMessage.CONNECT or not message.HasField("peer"):
        raise ProtocolError("expected a relayed connection")
    return _peer_of(message.peer.id)


def _peer_of(raw: bytes) -> PeerId:
    try:
        return PeerId(bytes(raw))
    except (InvalidIdError, ValueError) as exc:
        raise ProtocolError("not a peer ID") from exc


async def _read(stream: INetStream) -> bytes:
    with trio.fail_after(MESSAGE_SECONDS):
        return await read_varint_prefixed_bytes_limited(stream, MAX_MESSAGE)


async def _write(stream: INetStream, message: HopMessage | StopMessage) -> None:
    with trio.fail_after(MESSAGE_SECONDS):
        await stream.write(encode_varint_prefixed(message.SerializeToString()))


async def _reset(stream: INetStream) -> None:
    try:
        await stream.reset()
    except NETWORK_ERRORS:
        pass


def _remote(stream: INetStream) -> PeerId:
    return PeerId(stream.muxed_conn.peer_id.to_bytes())


def _over_relay(stream: INetStream) -> bool:
    """Whether the stream runs over a relayed connection (no relaying on those)."""
    getter = getattr(stream.muxed_conn, "get_transport_addresses", None)
    try:
        addresses = getter() if callable(getter) else []
    except Exception:  # noqa: BLE001 - unknown counts as direct
        return False
    return any("/p2p-circuit" in str(a) for a in addresses or [])


def _relayed_connection(connection: INetConn) -> bool:
    getter = getattr(connection.muxed_conn, "get_transport_addresses", None)
    try:
        return callable(getter) and any(is_relayed(str(a)) for a in getter() or [])
    except Exception:  # noqa: BLE001 - unknown counts as direct
        return False


def _loopback(address: str) -> bool:
    return address.startswith(("/ip4/127.", "/ip6/::1/"))


def is_relayed(address: str) -> bool:
    return "/p2p-circuit" in address


def has_public_address(addresses: Sequence[str]) -> bool:
    """Whether we listen on a globally routable IP (a follower on a server):
    the guess of reachability until a dial-back check says better."""
    for address in addresses:
        parts = address.split("/")
        if len(parts) > 2 and parts[1] in ("ip4", "ip6") and not is_relayed(address):
            try:
                if ipaddress.ip_address(parts[2]).is_global:
                    return True
            except ValueError:
                continue
    return False


# --- the relay (hop) -----------------------------------------------------------------------------


class RelayService:
    """The hop side: admission, reservations, circuits and their limits."""

    def __init__(self, host: IHost, *, admitted: Callable[[PeerId], bool], reachable: Callable[[], bool],
                 announce: Callable[[], list[str]], limits: RelayLimits | None = None,
                 clock: Callable[[], float] = time.time) -> None:
        self._host = host
        self._admitted = admitted
        self._reachable = reachable
        self._announce = announce
        self.limits = limits or RelayLimits()
        self._clock = clock
        self.reservations: dict[PeerId, float] = {}  # expiry, wall seconds
        self.circuits: dict[PeerId, int] = {}  # open circuits per source and per destination
        self.open_circuits = 0
        self.relayed_bytes = 0
        self._serving = False
        self._reading: dict[PeerId, int] = {}  # hop requests being read, per peer

    def refresh(self) -> None:
        """Offer the hop protocol while reachable, and only then (identify
        tells peers what we offer, so they ask only relays)."""
        serving = self._reachable()
        if serving and not self._serving:
            self._host.set_stream_handler(HOP_PROTOCOL, self._handle)
        elif self._serving and not serving:
            self._host.remove_stream_handler(HOP_PROTOCOL)
            self.reservations.clear()
        self._serving = serving

    def _connected(self, peer: PeerId) -> bool:
        return bool(self._host.get_network().connections.get(ID(peer.raw)))

    def _prune(self) -> None:
        # A reservation lasts while its holder stays connected: a peer that
        # went away does not keep its slot (py-libp2p's does).
        now = self._clock()
        self.reservations = {p: e for p, e in self.reservations.items() if e > now and self._connected(p)}

    async def _handle(self, stream: INetStream) -> None:
        # Requests still being read are bounded per peer and in total (a
        # stream is cheap to open, and each waits up to MESSAGE_SECONDS).
        remote = _remote(stream)
        if self._reading.get(remote, 0) >= MAX_READING_PER_PEER or sum(self._reading.values()) >= MAX_READING:
            await _reset(stream)
            return
        self._reading[remote] = self._reading.get(remote, 0) + 1
        try:
            request = parse_hop_request(await _read(stream))
        except WIRE_ERRORS as exc:
            log.debug("bad relay request: %s", exc)
            await _reset(stream)
            return
        finally:
            self._reading[remote] -= 1
            if not self._reading[remote]:
                del self._reading[remote]
        try:
            if _over_relay(stream) or not self._reachable():
                await self._status(stream, StatusCode.PERMISSION_DENIED)
            elif request.reserve:
                await self._reserve(stream, _remote(stream))
            elif request.target is not None:
                await self._connect(stream, _remote(stream), request.target)
        except WIRE_ERRORS as exc:
            log.debug("relay request ended: %s", exc)
            await _reset(stream)

    async def _status(self, stream: INetStream, code: StatusCode, **fields: object) -> None:
        await _write(stream, HopMessage(type=HopMessage.STATUS, status=int(code), **fields))  # type: ignore[arg-type]
        await stream.close()

    async def _reserve(self, stream: INetStream, peer: PeerId) -> None:
        if not self._admitted(peer):
            log.info("relay: refused a reservation to %s (no thread proved)", peer)
            await self._status(stream, StatusCode.PERMISSION_DENIED)
            return
        self._prune()
        if peer not in self.reservations and len(self.reservations) >= self.limits.max_reservations:
            await self._status(stream, StatusCode.RESERVATION_REFUSED)
            return
        expires = int(self._clock() + self.limits.reservation_seconds)
        self.reservations[peer] = expires
        me = self._host.get_id()
        mine = [a for a in self._announce() if a.endswith(f"/p2p/{me}") and not is_relayed(a)]
        # Loopback means nothing to another machine: only if there is nothing else (tests).
        mine = [a for a in mine if not _loopback(a)] or mine
        addresses = [multiaddr.Multiaddr(a).to_bytes() for a in mine[:MAX_RESERVATION_ADDRESSES]]
        reservation = WireReservation(expire=expires, addrs=addresses)
        await self._status(stream, StatusCode.OK, reservation=reservation, limit=self._limit())

    def _limit(self) -> Limit:
        return Limit(duration=self.limits.circuit_seconds, data=self.limits.circuit_bytes)

    async def _connect(self, stream: INetStream, source: PeerId, target: PeerId) -> None:
        self._prune()
        if target not in self.reservations:
            await self._status(stream, StatusCode.NO_RESERVATION)
            return
        per_peer = self.limits.max_circuits_per_peer
        if self.open_circuits >= self.limits.max_circuits or self.circuits.get(source, 0) >= per_peer or \
                self.circuits.get(target, 0) >= per_peer:
            await self._status(stream, StatusCode.RESOURCE_LIMIT_EXCEEDED)
            return
        self._count(source, target, 1)
        try:
            try:
                with trio.fail_after(MESSAGE_SECONDS):
                    onward = await self._host.new_stream(ID(target.raw), [STOP_PROTOCOL])
                await _write(onward, StopMessage(type=StopMessage.CONNECT, peer=CircuitPeer(id=source.raw),
                                                 limit=self._limit()))
                answer = StopMessage()
                answer.ParseFromString(await _read(onward))
            except (*WIRE_ERRORS, RuntimeError) as exc:
                log.debug("relay: %s did not take a circuit: %s", target, exc)
                await self._status(stream, StatusCode.CONNECTION_FAILED)
                return
            if answer.type != StopMessage.STATUS or int(answer.status) != StatusCode.OK:
                await _reset(onward)
                await self._status(stream, StatusCode.CONNECTION_FAILED)
                return
            await _write(stream, HopMessage(type=HopMessage.STATUS, status=int(StatusCode.OK),  # type: ignore[arg-type]
                                            limit=self._limit()))
            await self._pump(stream, onward)
        finally:
            self._count(source, target, -1)

    def _count(self, source: PeerId, target: PeerId, step: int) -> None:
        self.open_circuits += step
        for peer in (source, target):
            self.circuits[peer] = self.circuits.get(peer, 0) + step
            if not self.circuits[peer]:
                del self.circuits[peer]

    async def _pump(self, one: INetStream, other: INetStream) -> None:
        """Copy both ways until either side ends or a limit is reached; the
        bytes budget is shared by both directions."""
        budget = [self.limits.circuit_bytes]

        async def copy(source: INetStream, sink: INetStream, scope: trio.CancelScope) -> None:
            try:
                while True:
                    data = await source.read(PUMP_CHUNK)
                    if not data:
                        break
                    budget[0] -= len(data)
                    if budget[0] < 0:
                        log.info("relay: a circuit reached its byte limit")
                        break
                    self.relayed_bytes += len(data)
                    await sink.write(data)
            except (*NETWORK_ERRORS, trio.TooSlowError):
                pass
            scope.cancel()  # one direction over: the circuit is over

        with trio.move_on_after(self.limits.circuit_seconds) as scope:
            async with trio.open_nursery() as nursery:
                nursery.start_soon(copy, one, other, nursery.cancel_scope)
                nursery.start_soon(copy, other, one, nursery.cancel_scope)
        if scope.cancelled_caught:
            log.info("relay: a circuit reached its time limit")
        with trio.CancelScope(shield=True):
            await _reset(one)
            await _reset(other)


# --- the client ----------------------------------------------------------------------------------


class RelayRefused(PeerError):
    """A relay answered with a status other than OK."""

    def __init__(self, status: int) -> None:
        super().__init__(f"the relay refused (status {status})")
        self.status = status


@dataclass
class _Held:
    """A reservation we hold on a relay."""

    expires: float
    addresses: tuple[str, ...]  # our relayed addresses through it


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
RESCAN_SECONDS = 5.0
SOON_SECONDS = 0.5  # how often to look for relays (and at the connection to ours)


class RelayClient:
    """Keeps reservations on up to MAX_RELAYS relays while we are not
    reachable, answers relayed connections from them, and dials relayed
    addresses. `candidates()` lists relays in order of preference (with
    their direct addresses); `on_change()` hears when our relayed addresses
    changed."""

    def __init__(self, host: IHost, me: PeerId, *, candidates: RelayCandidates, wanted: Callable[[], bool],
                 on_change: Callable[[], None], source: Callable[[], Source | None] = lambda: None,
                 hole_punching: bool = True, clock: Callable[[], float] = time.time) -> None:
        self._host = host
        self._source = source  # our TCP listen (ip, port): relays are dialled from it
        self.observed: dict[PeerId, str] = {}  # where relays see our listen-port connections
        self.puncher = HolePuncher(host, observed=self.observed_addresses, source=source) if hole_punching else None
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
        return list(dict.fromkeys(self.observed.values()))

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
        return bool(connections) and all(_relayed_connection(c) for c in connections)

    def directly(self, peer: PeerId) -> bool:
        """Whether we have a direct connection to `peer`."""
        return any(not _relayed_connection(c) for c in self._host.get_network().get_connections(ID(peer.raw)))

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
                # Until renewal, watch the connection: a relay that went
                # away (restarted, say) is asked again as soon as it is back.
                while self._clock() < renew_at and self._connected(relay):
                    with trio.move_on_after(min(RESCAN_SECONDS, max(0.0, renew_at - self._clock()))):
                        await keeper.wake.wait()
                        keeper.wake = trio.Event()
                if not self._connected(relay):
                    self._drop(relay)
        finally:
            self._drop(relay)
            del self._keepers[relay]
            self._rescan.set()

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
            await self.connect_directly(relay, addresses, from_listen_port=True)
            connections = list(self._host.get_network().connections.get(ID(relay.raw)) or [])
            try:
                with trio.fail_after(MESSAGE_SECONDS):
                    stream = await self._host.new_stream(ID(relay.raw), [HOP_PROTOCOL])
            except trio.TooSlowError:
                await self._close_silent(relay, connections)
                raise
        except (*NETWORK_ERRORS, trio.TooSlowError) as exc:
            raise PeerError(f"cannot ask {relay} for a reservation: {str(exc) or type(exc).__name__}") from exc
        try:
            await _write(stream, HopMessage(type=HopMessage.RESERVE))
            answer = parse_hop_status(await _read(stream), relay)
        finally:
            await _reset(stream)
        if answer.status != StatusCode.OK:
            raise RelayRefused(answer.status)
        if answer.expires <= self._clock():
            raise ProtocolError("the relay's reservation has already expired")
        relay_addresses = list(answer.relay_addresses) or [a for a in addresses if a.endswith(f"/p2p/{relay}")]
        mine = tuple(f"{a}/p2p-circuit/p2p/{self._me}" for a in relay_addresses[:MAX_RESERVATION_ADDRESSES])
        return _Held(float(answer.expires), mine)

    async def connect_directly(self, peer: PeerId, addresses: Sequence[str], *,
                               from_listen_port: bool = False) -> None:
        """Connect to `peer` at its direct (not relayed) addresses, if not
        connected. `from_listen_port` (for relays): from our listen port,
        replacing a connection from another port, and learn where the peer
        sees it (what hole punching tells the other side)."""
        source = self._source() if from_listen_port else None
        if self._connected(peer) and source is not None and not self._from_port(peer, source[1]):
            await self._close_silent(peer, self._host.get_network().get_connections(ID(peer.raw)))
            with trio.move_on_after(MESSAGE_SECONDS):  # until the swarm has let it go
                while self._host.get_network().get_connections(ID(peer.raw)):
                    await trio.sleep(0.05)
        if self._connected(peer):
            if source is not None and peer not in self.observed:
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
        if source is None:
            with trio.fail_after(MESSAGE_SECONDS):
                await self._host.connect(PeerInfo(ID(peer.raw), direct))
            return
        error: Exception = PeerError(f"cannot reach {peer}")
        for address in direct[:8]:
            try:
                with trio.fail_after(MESSAGE_SECONDS):
                    await self._host.get_network().dial_addr(address, ID(peer.raw), source)
                break
            except (*NETWORK_ERRORS, trio.TooSlowError) as exc:
                error = exc
        else:
            raise error
        await self._observe(peer, source)

    def _from_port(self, peer: PeerId, port: int) -> bool:
        return any((local_endpoint(c) or ("", 0))[1] == port
                   for c in self._host.get_network().get_connections(ID(peer.raw)))

    async def _observe(self, peer: PeerId, source: Source) -> None:
        if self._from_port(peer, source[1]):
            seen = await observed_address(self._host, ID(peer.raw))
            if seen is not None:
                self.observed[peer] = seen

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
            await self.connect_directly(relay, [relay_part], from_listen_port=True)
            with trio.fail_after(MESSAGE_SECONDS):
                stream = await self._host.new_stream(ID(relay.raw), [HOP_PROTOCOL])
        except (*NETWORK_ERRORS, trio.TooSlowError) as exc:
            raise PeerError(f"cannot reach the relay {relay}: {str(exc) or type(exc).__name__}") from exc
        try:
            await _write(stream, HopMessage(type=HopMessage.CONNECT, peer=CircuitPeer(id=target.raw)))
            answer = parse_hop_status(await _read(stream), relay)
            if answer.status != StatusCode.OK:
                raise RelayRefused(answer.status)
            circuit = multiaddr.Multiaddr(f"/p2p/{relay}/p2p-circuit/p2p/{target}")
            raw = RawConnection(stream=stream, initiator=True, connection_type=ConnectionType.RELAYED,
                                addresses=[circuit])
            await self._host.upgrade_outbound_connection(raw, ID(target.raw))
        except PeerError:
            await _reset(stream)
            raise
        except WIRE_ERRORS as exc:
            await _reset(stream)
            raise PeerError(f"cannot reach {target} through {relay}: {str(exc) or type(exc).__name__}") from exc

    async def _handle_stop(self, stream: INetStream) -> None:
        """A relay we hold a reservation on brings a connection."""
        relay = _remote(stream)
        try:
            if relay not in self.held:
                await _write(stream, StopMessage(type=StopMessage.STATUS,
                                                 status=int(StatusCode.PERMISSION_DENIED)))  # type: ignore[arg-type]
                await _reset(stream)
                return
            caller = parse_stop_connect(await _read(stream))
            await _write(stream, StopMessage(type=StopMessage.STATUS, status=int(StatusCode.OK)))  # type: ignore[arg-type]
            circuit = multiaddr.Multiaddr(f"/p2p/{relay}/p2p-circuit/p2p/{caller}")
            raw = RawConnection(stream=stream, initiator=False, connection_type=ConnectionType.RELAYED,
                                addresses=[circuit])
            await self._host.upgrade_inbound_connection(raw, circuit)
            if self.puncher is not None and self._nursery is not None:
                # Spec: the side the relayed connection came to starts DCUtR.
                self._nursery.start_soon(self.puncher.punch, caller)
        except WIRE_ERRORS as exc:
            log.debug("relayed connection from %s refused: %s", relay, exc)
            await _reset(stream)
