"""Circuit relay v2 (libp2p's relay protocol) with our admission and limits.

The relay side (hop) runs on a peer others can reach. It gives reservations
only to peers that proved a thread we share in a session (`admitted`), and
opens circuits only towards peers holding a reservation here, so a friend
holding nothing but an invite link reaches the inviter through the
inviter's relay, while a stranger can neither reserve nor reach anyone who
has not asked to be reachable here. Everything is bounded: reservations
and circuits per peer and in total, bytes and seconds per circuit.

The client side is relay_client.py. py-libp2p's own handler, discovery and
refresh loop are not used (docs/LIBP2P-NOTES.md, "reach-relay"): only its
wire messages. Everything runs on the engine's trio thread.
"""

from __future__ import annotations

import ipaddress
import logging
import secrets
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass

import multiaddr
import trio
from google.protobuf.message import DecodeError
from libp2p.abc import IHost, INetConn, INetStream
from libp2p.host.ping import ID as PING_PROTOCOL
from libp2p.host.ping import PING_LENGTH
from libp2p.peer.id import ID
from libp2p.relay.circuit_v2.pb.circuit_pb2 import HopMessage, Limit, StopMessage
from libp2p.relay.circuit_v2.pb.circuit_pb2 import PeerId as CircuitPeer
from libp2p.relay.circuit_v2.pb.circuit_pb2 import Reservation as WireReservation
from libp2p.relay.circuit_v2.protocol import PROTOCOL_ID as HOP_PROTOCOL
from libp2p.relay.circuit_v2.protocol import STOP_PROTOCOL_ID as STOP_PROTOCOL
from libp2p.relay.circuit_v2.protocol_buffer import StatusCode
from libp2p.utils.varint import encode_varint_prefixed, read_varint_prefixed_bytes_limited

from threads_desktop.engine.core.errors import InvalidIdError, PeerError, ProtocolError
from threads_desktop.engine.core.ids import PeerId
from threads_desktop.engine.net import addresses as addressing
from threads_desktop.engine.net.host import NETWORK_ERRORS

log = logging.getLogger(__name__)

__all__ = ["HOP_PROTOCOL", "MAX_RESERVATION_ADDRESSES", "MESSAGE_SECONDS", "STOP_PROTOCOL", "WIRE_ERRORS",
           "RelayLimits", "RelayRefused", "RelayService", "has_public_address", "is_relayed",
           "over_loopback", "parse_hop_request", "parse_hop_status", "parse_stop_connect", "read_message",
           "relay_addresses_for", "relayed_connection", "remote_of", "reset", "write_message"]

MAX_MESSAGE = 4096  # a hop/stop message is a peer ID, a few addresses and limits
MAX_RESERVATION_ADDRESSES = 8
MESSAGE_SECONDS = 10.0  # to read or write one control message
PUMP_CHUNK = 64 * 1024
MAX_READING_PER_PEER = 4
MAX_READING = 64
PING_SECONDS = 3.0  # a reservation holder that does not answer a ping in this long has gone
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
    # A source that proved nothing (a friend joining by link, or anyone):
    # one circuit per target, a quarter of all, briefly (a join takes seconds).
    stranger_circuits_per_target: int = 1
    stranger_circuit_seconds: int = 120

    @property
    def max_stranger_circuits(self) -> int:
        return max(1, self.max_circuits // 4)


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


async def read_message(stream: INetStream) -> bytes:
    with trio.fail_after(MESSAGE_SECONDS):
        return await read_varint_prefixed_bytes_limited(stream, MAX_MESSAGE)


async def write_message(stream: INetStream, message: HopMessage | StopMessage) -> None:
    with trio.fail_after(MESSAGE_SECONDS):
        await stream.write(encode_varint_prefixed(message.SerializeToString()))


async def reset(stream: INetStream) -> None:
    try:
        await stream.reset()
    except NETWORK_ERRORS:
        pass


def remote_of(stream: INetStream) -> PeerId:
    return PeerId(stream.muxed_conn.peer_id.to_bytes())


def _over_relay(stream: INetStream) -> bool:
    """Whether the stream runs over a relayed connection (no relaying on those)."""
    getter = getattr(stream.muxed_conn, "get_transport_addresses", None)
    try:
        addresses = getter() if callable(getter) else []
    except Exception:  # noqa: BLE001 - unknown counts as direct
        return False
    return any("/p2p-circuit" in str(a) for a in addresses or [])


def relayed_connection(connection: INetConn) -> bool:
    getter = getattr(connection.muxed_conn, "get_transport_addresses", None)
    try:
        return callable(getter) and any(is_relayed(str(a)) for a in getter() or [])
    except Exception:  # noqa: BLE001 - unknown counts as direct
        return False


async def _answers_ping(host: IHost, peer: PeerId) -> bool:
    """Whether `peer` answers a libp2p ping within PING_SECONDS."""
    payload = secrets.token_bytes(PING_LENGTH)
    try:
        with trio.fail_after(PING_SECONDS):
            stream = await host.new_stream(ID(peer.raw), [PING_PROTOCOL])
            try:
                await stream.write(payload)
                answer = b""
                while len(answer) < PING_LENGTH:
                    chunk = await stream.read(PING_LENGTH - len(answer))
                    if not chunk:
                        return False
                    answer += chunk
            finally:
                await reset(stream)
    except (*NETWORK_ERRORS, trio.TooSlowError):
        return False
    return answer == payload


def over_loopback(channel: object) -> bool:
    """Whether a stream or connection (anything with get_remote_address)
    comes from this machine."""
    getter = getattr(channel, "get_remote_address", None)
    try:
        remote = getter() if callable(getter) else None
    except (*NETWORK_ERRORS, AttributeError, ValueError):
        return False
    return isinstance(remote, tuple) and addressing.is_loopback_ip(str(remote[0]))


def relay_addresses_for(addresses: Sequence[str], *, loopback: bool) -> list[str]:
    """The relay's addresses to build relayed addresses on: public ones
    only (a LAN address would spread into other people's invite links);
    loopback ones too for a peer on this machine (two profiles, tests)."""
    wanted = {addressing.Scope.PUBLIC} | ({addressing.Scope.LOOPBACK} if loopback else set())
    return [a for a in addresses if addressing.classify(a) in wanted]


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
        self.stranger_circuits: dict[PeerId, int] = {}  # open circuits from strangers, per destination
        self.relayed_bytes = 0
        self._serving = False
        self._reading: dict[PeerId, int] = {}  # hop requests being read (and reservations made), per peer
        self._sweep: trio.Event | None = None  # set when the sweep under way (one at a time) ends

    def refresh(self, spawn: Callable[[Callable[[], Awaitable[None]]], None] | None = None) -> None:
        """Offer the hop protocol while reachable, and only then (identify
        tells peers what we offer, so they ask only relays). `spawn` runs
        a task: telling connected peers at once when that changes."""
        serving = self._reachable()
        if serving == self._serving:
            return
        if serving:
            self._host.set_stream_handler(HOP_PROTOCOL, self._handle)
        else:
            self._host.remove_stream_handler(HOP_PROTOCOL)
            self.reservations.clear()
        self._serving = serving
        # py-libp2p pushes identify when listen addresses change, not
        # protocols (host/basic_host.py:204-224): push it ourselves.
        push = getattr(self._host, "_push_identify_to_all_peers", None)
        if spawn is not None and callable(push):
            spawn(push)

    def _connected(self, peer: PeerId) -> bool:
        return any(not getattr(c, "is_closed", False) for c in self._host.get_network().get_connections(ID(peer.raw)))

    def _prune(self) -> None:
        # A reservation lasts while its holder stays connected: a peer that
        # went away does not keep its slot (py-libp2p's does).
        now = self._clock()
        self.reservations = {p: e for p, e in self.reservations.items() if e > now and self._connected(p)}

    async def _handle(self, stream: INetStream) -> None:
        # Requests still being read are bounded per peer and in total (a
        # stream is cheap to open, and each waits up to MESSAGE_SECONDS).
        remote = remote_of(stream)
        if self._reading.get(remote, 0) >= MAX_READING_PER_PEER or sum(self._reading.values()) >= MAX_READING:
            await reset(stream)
            return
        self._reading[remote] = self._reading.get(remote, 0) + 1
        counted = True

        def done_reading() -> None:
            nonlocal counted
            if counted:
                counted = False
                self._reading[remote] -= 1
                if not self._reading[remote]:
                    del self._reading[remote]

        try:
            try:
                request = parse_hop_request(await read_message(stream))
            except WIRE_ERRORS as exc:
                log.debug("bad relay request: %s", exc)
                await reset(stream)
                return
            if _over_relay(stream) or not self._reachable():
                await self._status(stream, StatusCode.PERMISSION_DENIED)
            elif request.reserve:
                await self._reserve(stream, remote)  # counted throughout: it may ping every holder
            elif request.target is not None:
                done_reading()  # a circuit is bounded by the circuit limits
                await self._connect(stream, remote, request.target)
        except WIRE_ERRORS as exc:
            log.debug("relay request ended: %s", exc)
            await reset(stream)
        finally:
            done_reading()

    async def _status(self, stream: INetStream, code: StatusCode, **fields: object) -> None:
        await write_message(stream, HopMessage(type=HopMessage.STATUS, status=int(code), **fields))  # type: ignore[arg-type]
        await stream.close()

    async def _reserve(self, stream: INetStream, peer: PeerId) -> None:
        if not self._admitted(peer):
            log.info("relay: refused a reservation to %s (no thread proved)", peer)
            await self._status(stream, StatusCode.PERMISSION_DENIED)
            return
        self._prune()
        if peer not in self.reservations and len(self.reservations) >= self.limits.max_reservations:
            if self._sweep is None:
                self._sweep = trio.Event()
                try:
                    await self._drop_silent_holders()
                finally:
                    self._sweep.set()
                    self._sweep = None
            else:  # join the sweep under way (at most PING_SECONDS) rather than start another
                await self._sweep.wait()
        if peer not in self.reservations and len(self.reservations) >= self.limits.max_reservations:
            await self._status(stream, StatusCode.RESERVATION_REFUSED)
            return
        expires = int(self._clock() + self.limits.reservation_seconds)
        self.reservations[peer] = expires
        me = self._host.get_id()
        mine = relay_addresses_for([a for a in self._announce() if a.endswith(f"/p2p/{me}")],
                                   loopback=over_loopback(stream))
        addresses = [multiaddr.Multiaddr(a).to_bytes() for a in mine[:MAX_RESERVATION_ADDRESSES]]
        reservation = WireReservation(expire=expires, addrs=addresses)
        await self._status(stream, StatusCode.OK, reservation=reservation, limit=self._limit())

    async def _drop_silent_holders(self) -> None:
        """All slots taken: ping their holders, and free the slots of those
        that do not answer (py-libp2p may list a connection to a peer that
        went away for a long while: docs/LIBP2P-NOTES.md). Only the slot:
        a holder that missed one ping keeps its connections (any admitted
        peer can cause a sweep: review finding 10)."""
        async def check(holder: PeerId) -> None:
            if not await _answers_ping(self._host, holder):
                self.reservations.pop(holder, None)

        async with trio.open_nursery() as nursery:
            for holder in list(self.reservations):
                nursery.start_soon(check, holder)

    def _limit(self, stranger: bool = False) -> Limit:
        return Limit(duration=self._seconds(stranger), data=self.limits.circuit_bytes)

    def _seconds(self, stranger: bool) -> int:
        seconds = self.limits.circuit_seconds
        return min(seconds, self.limits.stranger_circuit_seconds) if stranger else seconds

    async def _connect(self, stream: INetStream, source: PeerId, target: PeerId) -> None:
        self._prune()
        if target not in self.reservations:
            await self._status(stream, StatusCode.NO_RESERVATION)
            return
        per_peer = self.limits.max_circuits_per_peer
        # Strangers get a small share, so that free identities cannot take
        # every circuit to a member (review finding 2).
        stranger = not self._admitted(source)
        strangers_full = stranger and (
            self.stranger_circuits.get(target, 0) >= self.limits.stranger_circuits_per_target
            or sum(self.stranger_circuits.values()) >= self.limits.max_stranger_circuits)
        if self.open_circuits >= self.limits.max_circuits or self.circuits.get(source, 0) >= per_peer or \
                self.circuits.get(target, 0) >= per_peer or strangers_full:
            await self._status(stream, StatusCode.RESOURCE_LIMIT_EXCEEDED)
            return
        self._count(source, target, 1)
        if stranger:
            self.stranger_circuits[target] = self.stranger_circuits.get(target, 0) + 1
        onward: INetStream | None = None
        try:
            try:
                with trio.fail_after(MESSAGE_SECONDS):
                    onward = await self._host.new_stream(ID(target.raw), [STOP_PROTOCOL])
                await write_message(onward, StopMessage(type=StopMessage.CONNECT, peer=CircuitPeer(id=source.raw),
                                                 limit=self._limit(stranger)))
                answer = StopMessage()
                answer.ParseFromString(await read_message(onward))
            except (*WIRE_ERRORS, RuntimeError) as exc:
                log.debug("relay: %s did not take a circuit: %s", target, exc)
                await self._status(stream, StatusCode.CONNECTION_FAILED)
                return
            if answer.type != StopMessage.STATUS or int(answer.status) != StatusCode.OK:
                await reset(onward)
                await self._status(stream, StatusCode.CONNECTION_FAILED)
                return
            await write_message(stream, HopMessage(type=HopMessage.STATUS, status=int(StatusCode.OK),  # type: ignore[arg-type]
                                            limit=self._limit(stranger)))
            await self._pump(stream, onward, self._seconds(stranger))
        except BaseException:
            # The source went (or we are cancelled) before the pump: the
            # target must not keep a partnerless circuit (review finding 9).
            if onward is not None:
                with trio.CancelScope(shield=True):
                    await reset(onward)
            raise
        finally:
            self._count(source, target, -1)
            if stranger:
                self.stranger_circuits[target] -= 1
                if not self.stranger_circuits[target]:
                    del self.stranger_circuits[target]

    def _count(self, source: PeerId, target: PeerId, step: int) -> None:
        self.open_circuits += step
        for peer in (source, target):
            self.circuits[peer] = self.circuits.get(peer, 0) + step
            if not self.circuits[peer]:
                del self.circuits[peer]

    async def _pump(self, one: INetStream, other: INetStream, seconds: float) -> None:
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

        with trio.move_on_after(seconds) as scope:
            async with trio.open_nursery() as nursery:
                nursery.start_soon(copy, one, other, nursery.cancel_scope)
                nursery.start_soon(copy, other, one, nursery.cancel_scope)
        if scope.cancelled_caught:
            log.info("relay: a circuit reached its time limit")
        with trio.CancelScope(shield=True):
            await reset(one)
            await reset(other)


class RelayRefused(PeerError):
    """A relay answered with a status other than OK."""

    def __init__(self, status: int) -> None:
        super().__init__(f"the relay refused (status {status})")
        self.status = status
