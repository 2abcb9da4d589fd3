"""Hole punching (DCUtR): a relayed connection upgraded to a direct one
where the routers allow it.

py-libp2p's DCUtR tells the other side "the IP a peer observed + our local
listen port" (relay/circuit_v2/dcutr.py:1118-1134): right behind a router
that keeps ports, wrong behind one that maps the listen port to another.
Ours tells the address a relay observed for a connection we made *from our
listen port* (IP and port), which is where a router with
endpoint-independent mapping sends the other side's punch; and it punches
from that port. A symmetric NAT maps each destination anew: it stays on the
relay. See docs/LIBP2P-NOTES.md ("reach-relay").
"""

from __future__ import annotations

import contextlib
import dataclasses
import logging
from collections.abc import Callable, Sequence

import multiaddr
import trio
from libp2p.abc import IHost, INetConn, INetStream
from libp2p.identity.identify.identify import ID as IDENTIFY_PROTOCOL
from libp2p.identity.identify.pb.identify_pb2 import Identify
from libp2p.peer.id import ID
from libp2p.relay.circuit_v2.dcutr import PROTOCOL_ID as DCUTR_PROTOCOL
from libp2p.relay.circuit_v2.dcutr import DCUtRProtocol
from libp2p.utils.varint import read_varint_prefixed_bytes_limited

from threads_desktop.engine.core.errors import PeerError
from threads_desktop.engine.core.ids import PeerId
from threads_desktop.engine.net import addresses as addressing
from threads_desktop.engine.net.host import CLOSE_SECONDS, NETWORK_ERRORS

log = logging.getLogger(__name__)

MAX_IDENTIFY = 64 * 1024
IDENTIFY_SECONDS = 10.0
PUNCH_SECONDS = 30.0  # one whole attempt, exchange and dials
MAX_OBSERVED = 4
MAX_PUNCH_ADDRESSES = 4  # of the other side's, dialled per session (py-libp2p takes any number)
MAX_SESSIONS = 4  # hole punches at once, one per peer
# A friend who came by a relayed link proves a thread in this long: its join
# is answered over that link first, which can take longer than 20 s under
# load (a punch is tried per relayed connection, so a missed wait means no
# direct connection until the next one).
MEMBER_WAIT_SECONDS = 60.0
MEMBER_POLL_SECONDS = 0.5
# The side that starts DCUtR SHOULD retry twice (the spec; py-libp2p's own
# budget, dcutr.py:58-60, allows 3 per connection). Right after a relay
# restarts, the first try can find no observed address of ours to send yet.
PUNCH_ATTEMPTS = 3
PUNCH_RETRY_SECONDS = 5.0  # before the second try; twice that before the third
ANSWER_END_SECONDS = 2.0  # for an answered session to end when the peer tries again
# A member's new try ends the session we answer for it only after this long
# (ours retry 5 s after a failed one): no member makes us start dials at will.
TAKE_OVER_AFTER_SECONDS = 2.0
Source = tuple[str, int]


def tcp_endpoint(address: multiaddr.Multiaddr | str) -> Source | None:
    """(ip, port) of a plain /ip4|ip6/.../tcp/... address, else None."""
    parts = str(address).split("/")
    if len(parts) < 5 or parts[1] not in ("ip4", "ip6") or parts[3] != "tcp" or "p2p-circuit" in parts:
        return None
    try:
        return parts[2], int(parts[4])
    except ValueError:
        return None


def local_endpoint(connection: INetConn) -> Source | None:
    """Our end (ip, port) of a TCP connection, found through py-libp2p's
    layers (muxer, security, raw connection, trio stream, socket)."""
    return _socket_endpoint(connection, "getsockname")


def remote_endpoint(connection: INetConn) -> Source | None:
    """The other end (ip, port) of a TCP connection; None when relayed."""
    return _socket_endpoint(connection, "getpeername")


def _socket_endpoint(connection: INetConn, which: str) -> Source | None:
    layer: object = connection
    for _ in range(12):  # bounded walk down the wrappers
        socket = getattr(layer, "socket", None)
        if socket is not None and hasattr(socket, which):
            try:
                name = getattr(socket, which)()
            except OSError:
                return None
            return str(name[0]), int(name[1])
        for attribute in ("muxed_conn", "secured_conn", "conn", "read_writer", "stream", "_wrapped", "_inner"):
            inner = getattr(layer, attribute, None)
            if inner is not None and inner is not layer:
                layer = inner
                break
        else:
            return None
    return None


async def observed_address(host: IHost, peer: ID) -> str | None:
    """The address `peer` sees our connection to it at (its identify
    answer's observed_addr), or None."""
    try:
        with trio.fail_after(IDENTIFY_SECONDS):
            stream = await host.new_stream(peer, [IDENTIFY_PROTOCOL])
            try:
                data = await read_varint_prefixed_bytes_limited(stream, MAX_IDENTIFY)
            finally:
                await stream.reset()
        message = Identify()
        message.ParseFromString(data)
        observed = multiaddr.Multiaddr(message.observed_addr)
    except Exception as exc:  # noqa: BLE001 - a bad or absent answer is no observation
        log.debug("no observed address from %s: %s", peer, exc)
        return None
    return str(observed) if tcp_endpoint(observed) is not None else None


@dataclasses.dataclass
class _Answered:
    """A hole punch we answer: its scope, when it started, and an event set once it has ended."""

    scope: trio.CancelScope
    started: float
    ended: trio.Event = dataclasses.field(default_factory=trio.Event)


async def _reset(stream: INetStream) -> None:
    with trio.CancelScope(shield=True, deadline=trio.current_time() + CLOSE_SECONDS), \
            contextlib.suppress(*NETWORK_ERRORS):
        await stream.reset()


class HolePuncher(DCUtRProtocol):
    """DCUtR with the observed IP *and port*, punching from our listen port.
    `observed()` lists the addresses relays saw our listen-port connections
    at; `source()` is our listen (ip, port). Only with members (`member`),
    one session per peer (a member's new try ends the one we answer for it,
    no sooner than TAKE_OVER_AFTER_SECONDS) and MAX_SESSIONS in all, dialling at most
    MAX_PUNCH_ADDRESSES of the addresses they sent, public ones or on one
    of our `interfaces()`: a stranger cannot make us dial anything else
    (docs/LIBP2P-NOTES.md, "fix-relay")."""

    def __init__(self, host: IHost, *, observed: Callable[[], list[str]],
                 source: Callable[[], Source | None], member: Callable[[PeerId], bool],
                 interfaces: Callable[[], Sequence[addressing.Interface]] = list,
                 reachable: Callable[[], bool] = lambda: False) -> None:
        super().__init__(host, read_timeout=10, write_timeout=10, dial_timeout=5)
        self._observed = observed
        self._source = source
        self._member = member
        self._interfaces = interfaces
        self._reachable = reachable  # dialled from outside: a lone dial of the other side's reaches us
        self._dialling: set[Source] = set()
        self._sessions: set[PeerId] = set()
        self._answering: dict[PeerId, _Answered] = {}
        self._allowed: dict[ID, set[Source]] = {}  # per session: the only endpoints it may dial

    def start(self, nursery: trio.Nursery) -> None:
        """Answer hole punches (the library's Service is not run: no auto-drive)."""
        self._nursery = nursery  # where the relayed leg is closed after the upgrade
        self.host.set_stream_handler(DCUTR_PROTOCOL, self._answer)

    def _open_session(self, peer: PeerId) -> bool:
        if not self._member(peer) or peer in self._sessions or len(self._sessions) >= MAX_SESSIONS:
            return False
        self._sessions.add(peer)
        return True

    async def _answer(self, stream: INetStream) -> None:
        peer = PeerId(stream.muxed_conn.peer_id.to_bytes())
        earlier = self._answering.get(peer)
        if earlier is not None and self._member(peer) and \
                trio.current_time() - earlier.started >= TAKE_OVER_AFTER_SECONDS:
            # Our peers punch once at a time (the protocol does not say so):
            # a new try means it gave up the last, whose dials py-libp2p carries
            # on for ~21 s (dcutr.py:801-827); refused as busy, its retries left us relayed.
            earlier.scope.cancel()
            with trio.move_on_after(ANSWER_END_SECONDS):
                await earlier.ended.wait()
        if not self._open_session(peer):
            log.debug("hole punch asked by %s: not a member, or busy", peer)
            await _reset(stream)
            return
        answered = _Answered(trio.CancelScope(deadline=trio.current_time() + PUNCH_SECONDS), trio.current_time())
        self._answering[peer] = answered
        try:
            with answered.scope:
                await self._handle_dcutr_stream(stream)
        finally:
            self._sessions.discard(peer)
            del self._answering[peer]
            answered.ended.set()
        if answered.scope.cancelled_caught:  # the library's close was cut short: the peer may wait on it
            await _reset(stream)

    async def punch(self, peer: PeerId) -> bool:
        """Try to upgrade our relayed connection to `peer` to a direct one
        (if `peer` is a member, or proves a thread within MEMBER_WAIT_SECONDS:
        a friend joining by a relayed link does so on this very connection)."""
        with trio.move_on_after(MEMBER_WAIT_SECONDS):
            for _ in range(int(MEMBER_WAIT_SECONDS / MEMBER_POLL_SECONDS) + 1):
                if self._member(peer):
                    break
                await trio.sleep(MEMBER_POLL_SECONDS)
        if not self._open_session(peer):
            log.info("no hole punch with %s: not a member after %g s, or busy", peer, MEMBER_WAIT_SECONDS)
            return False
        try:
            for attempt in range(PUNCH_ATTEMPTS):
                if attempt:
                    await trio.sleep(PUNCH_RETRY_SECONDS * attempt)
                    if not self.host.get_network().get_connections(ID(peer.raw)):
                        return False  # the relayed connection is gone: the next one punches anew
                    if await self._have_direct_connection(ID(peer.raw)):
                        return True  # the other side's dial got through meanwhile
                if await self._attempt(peer):
                    return True
            return False
        finally:
            self._sessions.discard(peer)

    async def _attempt(self, peer: PeerId) -> bool:
        """One DCUtR exchange and its dials: True if it left a direct connection."""
        with trio.move_on_after(PUNCH_SECONDS):
            try:
                direct = await self.initiate_hole_punch(ID(peer.raw))
            except NETWORK_ERRORS as exc:
                log.debug("hole punch with %s failed: %s", peer, exc)
                return False
            log.info("hole punch with %s: %s", peer, "direct" if direct else "still relayed")
            return direct
        return False

    def _decode_observed_addrs(self, addr_bytes: list[bytes]) -> list[multiaddr.Multiaddr]:
        # The library keeps every address a peer sends (dcutr.py:1172-1200),
        # dials them all (dcutr.py:801-806) and keeps them in the peerstore.
        interfaces = self._interfaces()
        kept: list[multiaddr.Multiaddr] = []
        for address in super()._decode_observed_addrs(addr_bytes[:MAX_PUNCH_ADDRESSES * 16]):
            text = str(address)
            scope = addressing.classify(text)
            found = addressing.endpoint(text)
            ours = found is not None and scope is addressing.Scope.PRIVATE and \
                any(found.ip in i.network for i in interfaces if i.version == found.ip.version)
            if (scope is addressing.Scope.PUBLIC or ours) and text not in map(str, kept):
                kept.append(address)
            if len(kept) >= MAX_PUNCH_ADDRESSES:
                break
        if not kept and not self._reachable():
            # Nothing for us to dial: end the session here (the library logs
            # it and closes the stream, dcutr.py:448-455, 638-644), before the
            # SYNC after which the other side would dial alone. Its SYNs would
            # leave its router and be lost at ours, and the NAT state they
            # leave can stop the next try (docs/LIBP2P-NOTES.md, punch-retry).
            raise PeerError("none of the addresses sent for a hole punch can be dialled")
        return kept

    async def _perform_hole_punch(self, peer_id: ID, addrs: list[multiaddr.Multiaddr],
                                  as_responder: bool = False) -> bool:
        # Only what the peer sent (and we kept): the library also dials every
        # address of the peer's in the peerstore (dcutr.py:743-756).
        self._allowed[peer_id] = {e for e in map(tcp_endpoint, addrs) if e is not None}
        try:
            return await super()._perform_hole_punch(peer_id, addrs, as_responder)
        finally:
            self._allowed.pop(peer_id, None)

    async def _try_unilateral_upgrade(self, peer_id: ID) -> bool:
        # A plain dial first is the dialer's work (and, towards a peer behind
        # a router, a wait for nothing).
        return False

    async def _get_observed_addrs(self) -> list[bytes]:
        exact = [multiaddr.Multiaddr(a) for a in self._observed()[:MAX_OBSERVED]]
        if exact:
            return [a.to_bytes() for a in exact]
        return await super()._get_observed_addrs()

    async def _dial_peer(self, peer_id: ID, addr: multiaddr.Multiaddr, source: Source | None = None,
                         as_responder: bool = False) -> None:
        # From our listen port (the library takes the first of get_addrs(),
        # which may be an observed address we cannot bind); and one dial per
        # endpoint (the library also dials the same address with /p2p/...
        # appended, from the same port: the second fails EADDRNOTAVAIL).
        endpoint = tcp_endpoint(addr)
        if endpoint is None or endpoint not in self._allowed.get(peer_id, set()) or endpoint in self._dialling:
            return
        if self._another_peer_at(endpoint, peer_id):
            # After a relay restart we were offered the relay's own address
            # (docs/LIBP2P-NOTES.md, relay-restart): a dial there can only
            # fail the key check, and the library's guard misses it.
            log.debug("hole punch with %s: %s is another peer's, not dialled", peer_id, endpoint)
            return
        self._dialling.add(endpoint)
        try:
            await super()._dial_peer(peer_id, addr, self._source() or source, as_responder)
        finally:
            self._dialling.discard(endpoint)

    def _another_peer_at(self, endpoint: Source, peer_id: ID) -> bool:
        """Are we connected to a peer other than `peer_id` at `endpoint`?"""
        for other, connections in list(self.host.get_network().connections.items()):
            if other == peer_id:
                continue
            for connection in connections if isinstance(connections, list) else [connections]:
                if remote_endpoint(connection) == endpoint:
                    return True
        return False
