"""`/threads/dialback/1.0.0`: ask a peer to dial us back, to learn whether
we can be reached from outside.

The asker sends the addresses it wants tested; the answerer dials each over
a fresh TCP connection and runs the Noise handshake against the asker's own
peer ID, then tells which ones answered and the address it sees the asker
connect from (its observed address). A fresh connection is the point: the
libp2p connection both already share proves nothing (py-libp2p's AutoNAT
dials with `host.connect`, which returns at once on it). The dial uses a
throwaway key, so the asker's swarm (one connection per peer) never mistakes
it for a second connection of ours, and stops after the handshake: that
proves the asker's listener answered, which is all we want to know.

A stranger must not turn this into a way to make us dial someone else:
only a peer that proved a shared thread may ask; only addresses whose IP is
the one its connection comes from are dialled (never over a relayed
connection); and requests are bounded per peer, in total and in time.

    request  {"t": "dialback", "addrs": ["/ip4/IP/tcp/PORT", ...]}  (1..4)
    reply    {"t": "dialback", "observed": "/ip4/IP/tcp/PORT", "results": [0|1|2, ...]}
             0 reached, 1 not reached, 2 refused (another IP); or {"t": "error", ...}
"""

from __future__ import annotations

import ipaddress
import logging
import time
from collections import deque
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

import trio
from libp2p.crypto.ed25519 import create_new_key_pair
from libp2p.crypto.x25519 import create_new_key_pair as create_x25519_key_pair
from libp2p.io.trio import TrioTCPStream
from libp2p.network.connection.raw_connection import RawConnection
from libp2p.peer.id import ID
from libp2p.security.noise.transport import PROTOCOL_ID as NOISE_ID
from libp2p.security.noise.transport import Transport as NoiseTransport
from libp2p.transport.upgrader import TransportUpgrader

from threads_desktop.engine.core.errors import PeerError, ProtocolError
from threads_desktop.engine.core.ids import PeerId
from threads_desktop.engine.net import wire
from threads_desktop.engine.net.host import NETWORK_ERRORS

log = logging.getLogger(__name__)

PROTOCOL_ID = "/threads/dialback/1.0.0"
MAX_MESSAGE_BYTES = 512
MAX_ADDRESSES = 4
MAX_ADDRESS_LENGTH = 64  # "/ip6/" + 39 + "/tcp/65535" fits
REACHED, NOT_REACHED, REFUSED = 0, 1, 2
READ_TIMEOUT = 5.0  # for the request to arrive
DIAL_TIMEOUT = 5.0  # per address, TCP connect and Noise handshake together
ANSWER_TIMEOUT = READ_TIMEOUT + DIAL_TIMEOUT + 5.0  # what an asker waits for the reply


# --- messages ---------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class TcpAddress:
    """An IP and a TCP port: the only kind of address dialled back."""

    ip: ipaddress.IPv4Address | ipaddress.IPv6Address
    port: int

    def __str__(self) -> str:
        return f"/ip{self.ip.version}/{self.ip}/tcp/{self.port}"


def parse_address(text: str) -> TcpAddress:
    """`/ip4/IP/tcp/PORT` or `/ip6/IP/tcp/PORT`, nothing else (no /p2p: the
    peer dialled is always the asker)."""
    if not isinstance(text, str) or len(text) > MAX_ADDRESS_LENGTH:
        raise ProtocolError("a dial-back address is a short string")
    parts = text.split("/")
    if len(parts) != 5 or parts[0] or parts[1] not in ("ip4", "ip6") or parts[3] != "tcp":
        raise ProtocolError(f"not an /ip4|ip6/IP/tcp/PORT address: {text[:MAX_ADDRESS_LENGTH]!r}")
    try:
        ip = ipaddress.ip_address(parts[2])
    except ValueError as exc:
        raise ProtocolError(f"not an IP address: {parts[2]!r}") from exc
    if f"ip{ip.version}" != parts[1] or str(ip) != parts[2]:
        raise ProtocolError(f"not a canonical {parts[1]} address: {parts[2]!r}")
    port = parts[4]
    if not port.isascii() or not port.isdigit() or str(int(port)) != port or not 1 <= int(port) <= 65535:
        raise ProtocolError(f"not a TCP port: {port!r}")
    return TcpAddress(ip, int(port))


def request_message(addresses: Sequence[TcpAddress]) -> dict[str, Any]:
    return {"t": "dialback", "addrs": [str(a) for a in addresses]}


def parse_request(message: dict[str, Any]) -> list[TcpAddress]:
    if message.get("t") != "dialback":
        raise ProtocolError(f"expected a dialback request, got {str(message.get('t'))[:32]!r}")
    wire.only(message, "addrs")
    texts = wire.field(message, "addrs", wire.as_list(wire.as_text(MAX_ADDRESS_LENGTH), MAX_ADDRESSES))
    if not texts:
        raise ProtocolError("a dialback request names at least one address")
    return [parse_address(t) for t in texts]


@dataclass(frozen=True, slots=True)
class DialBackAnswer:
    observed: TcpAddress  # where the answerer sees us connect from
    results: tuple[int, ...]  # one per address asked, in order


def reply_message(answer: DialBackAnswer) -> dict[str, Any]:
    return {"t": "dialback", "observed": str(answer.observed), "results": list(answer.results)}


def parse_reply(message: dict[str, Any], asked: int) -> DialBackAnswer:
    kind = message.get("t")
    if kind == "error":
        text = wire.field(message, "message", wire.as_text(500))
        raise PeerError(f"the peer declined to dial back: {text}")
    if kind != "dialback":
        raise ProtocolError(f"expected a dialback reply, got {str(kind)[:32]!r}")
    wire.only(message, "observed", "results")
    observed = parse_address(wire.field(message, "observed", wire.as_text(MAX_ADDRESS_LENGTH)))
    results = wire.field(message, "results", wire.as_list(wire.as_int(REACHED, REFUSED), MAX_ADDRESSES))
    if len(results) != asked:
        raise ProtocolError(f"{len(results)} dialback results for {asked} addresses")
    return DialBackAnswer(observed, tuple(results))


# --- the answering side -------------------------------------------------------------------------


class DialBackStream(wire.ByteStream, Protocol):
    @property
    def remote(self) -> PeerId: ...

    @property
    def remote_address(self) -> tuple[str, int] | None:
        """The IP and port the peer connects from (None over a relay)."""
        ...


@dataclass(frozen=True)
class DialBackLimits:
    requests_per_peer: int = 4  # in `window` seconds
    requests_in_total: int = 32  # in `window` seconds, all peers together
    window: float = 600.0
    dials_in_flight: int = 8  # addresses being dialled at once, all requests together
    tracked_peers: int = 256  # the per-peer record is bounded too


Dial = Callable[[TcpAddress, PeerId], Awaitable[bool]]


@dataclass
class DialBackServer:
    """Answers dial-back requests of peers that `proven` vouches for."""

    proven: Callable[[PeerId], bool]
    dial: Dial
    limits: DialBackLimits = field(default_factory=DialBackLimits)
    clock: Callable[[], float] = time.monotonic
    _per_peer: dict[PeerId, deque[float]] = field(default_factory=dict)
    _all: deque[float] = field(default_factory=deque)
    _in_flight: int = 0

    async def serve(self, stream: DialBackStream) -> None:
        """One request, one reply, then the stream is closed."""
        try:
            try:
                with trio.fail_after(READ_TIMEOUT):
                    message = await wire.MessageReader(stream, MAX_MESSAGE_BYTES).read()
                if message is None:
                    return
                targets = parse_request(message)
                refusal = self._refusal(stream, len(targets))
            except ProtocolError as exc:
                refusal = str(exc)
            if refusal is not None:
                await stream.write(wire.frame(wire.reply_error(refusal)))
                return
            remote = stream.remote_address
            assert remote is not None  # _refusal checked
            observed = TcpAddress(_plain_ip(remote[0]), remote[1])
            self._in_flight += len(targets)
            try:
                results = await self._dial_all(targets, observed, stream.remote)
            finally:
                self._in_flight -= len(targets)
            await stream.write(wire.frame(reply_message(DialBackAnswer(observed, tuple(results)))))
        except trio.TooSlowError:
            log.debug("dial-back request from %s timed out", stream.remote)
        finally:
            await stream.close()

    def _refusal(self, stream: DialBackStream, count: int) -> str | None:
        """Why the request is not served (None: it is, and it is counted)."""
        peer = stream.remote
        if not self.proven(peer):
            return "dial-back is only for peers that share a thread with us"
        if stream.remote_address is None:
            return "no dial-back over a relayed connection"
        now = self.clock()
        for times in (self._all, *self._per_peer.values()):
            while times and times[0] <= now - self.limits.window:
                times.popleft()
        mine = self._per_peer.get(peer)
        if mine is not None and len(mine) >= self.limits.requests_per_peer:
            return "too many dial-back requests: try again later"
        if len(self._all) >= self.limits.requests_in_total or \
                self._in_flight + count > self.limits.dials_in_flight:
            return "busy: try again later"
        if mine is None:
            if len(self._per_peer) >= self.limits.tracked_peers:
                # Forget the peer heard from longest ago (its requests still
                # count in the total for the window).
                oldest = min(self._per_peer, key=lambda p: self._per_peer[p][-1] if self._per_peer[p] else -1.0)
                del self._per_peer[oldest]
            mine = self._per_peer[peer] = deque()
        mine.append(now)
        self._all.append(now)
        return None

    async def _dial_all(self, targets: list[TcpAddress], observed: TcpAddress, peer: PeerId) -> list[int]:
        results = [REFUSED] * len(targets)

        async def one(index: int, target: TcpAddress) -> None:
            with trio.move_on_after(DIAL_TIMEOUT):
                results[index] = REACHED if await self.dial(target, peer) else NOT_REACHED
                return
            results[index] = NOT_REACHED

        async with trio.open_nursery() as nursery:
            for index, target in enumerate(targets):
                if target.ip == observed.ip:  # only ever the asker's own IP
                    nursery.start_soon(one, index, target)
        return results


def _plain_ip(text: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address:
    ip = ipaddress.ip_address(text.split("%", 1)[0])
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        return ip.ipv4_mapped
    return ip


async def noise_dial(target: TcpAddress, peer: PeerId) -> bool:
    """Connect to `target` over a fresh TCP connection and run the Noise
    handshake: True if the peer answering there is `peer`. The connection
    is closed right after; a throwaway key keeps it apart from ours."""
    key_pair = create_new_key_pair()
    noise = NoiseTransport(key_pair, noise_privkey=create_x25519_key_pair().private_key)
    upgrader = TransportUpgrader({NOISE_ID: noise}, {})
    try:
        socket_stream = await trio.open_tcp_stream(str(target.ip), target.port)
    except OSError:
        return False
    raw = RawConnection(TrioTCPStream(socket_stream), True)
    try:
        secure = await upgrader.upgrade_security(raw, True, ID(peer.raw))
    except (*NETWORK_ERRORS, ValueError) as exc:  # SecurityUpgradeFailure is a libp2p error
        log.debug("dial-back to %s failed the handshake: %s", target, exc)
        with trio.CancelScope(shield=True):
            await raw.close()
        return False
    with trio.CancelScope(shield=True):
        try:
            await secure.close()
        except NETWORK_ERRORS:
            pass
    return True


# --- the asking side ----------------------------------------------------------------------------


async def ask(stream: wire.ByteStream, addresses: Sequence[TcpAddress]) -> DialBackAnswer:
    """Send one request on a fresh dial-back stream and read the reply
    (PeerError if the peer declines, ProtocolError if it breaks the protocol)."""
    if not 1 <= len(addresses) <= MAX_ADDRESSES:
        raise ValueError(f"ask about 1..{MAX_ADDRESSES} addresses")
    await stream.write(wire.frame(request_message(addresses)))
    with trio.fail_after(ANSWER_TIMEOUT):
        message = await wire.MessageReader(stream, MAX_MESSAGE_BYTES).read()
    if message is None:
        raise PeerError("the peer closed the dial-back stream without an answer")
    return parse_reply(message, len(addresses))
