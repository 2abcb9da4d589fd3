"""The libp2p host: TCP, Noise only, yamux only, keyed by the profile's
identity (so the peer ID other peers authenticate is the one the ACL names).

Everything libp2p-specific stays here; the sync protocol sees `ByteStream`s
and our own `PeerId`s. See docs/LIBP2P-NOTES.md for why each option is set.
"""

from __future__ import annotations

import logging
import socket
import weakref
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

import multiaddr
import trio
from libp2p import new_host
from libp2p.abc import IHost, INetConn, INetStream, INetwork, INotifee
from libp2p.connection_types import ConnectionType
from libp2p.crypto.ed25519 import create_new_key_pair
from libp2p.crypto.x25519 import create_new_key_pair as create_x25519_key_pair
from libp2p.custom_types import TProtocol
from libp2p.exceptions import BaseLibp2pError
from libp2p.host.observed_addr_manager import ObservedAddrManager
from libp2p.io.exceptions import IOException
from libp2p.network.config import ConnectionConfig
from libp2p.peer.id import ID
from libp2p.peer.peerinfo import PeerInfo
from libp2p.security.noise.transport import PROTOCOL_ID as NOISE_ID
from libp2p.stream_muxer.yamux.yamux import PROTOCOL_ID as YAMUX_ID
from libp2p.stream_muxer.yamux.yamux import Yamux, YamuxStream

from threads_desktop.engine.core.errors import InvalidInputError, PeerError, error_text
from threads_desktop.engine.core.ids import PeerId
from threads_desktop.engine.core.keys import Identity
from threads_desktop.engine.net.admission import Admission
from threads_desktop.engine.net.largeframes import LARGE_FRAME, write_large
from threads_desktop.engine.net.noiseio import NOISE_AESGCM, NOISE_AESGCM_ID, BufferedNoise, SpareBuffers
from threads_desktop.engine.net.streamcap import StreamCap
from threads_desktop.engine.net.yamuxio import Frames, use_lean_yamux

log = logging.getLogger(__name__)

# What a failing peer or connection raises inside py-libp2p and trio.
NETWORK_ERRORS = (BaseLibp2pError, IOException, OSError, trio.BrokenResourceError, trio.ClosedResourceError,
                  EOFError)
DEFAULT_LISTEN = ("/ip4/0.0.0.0/tcp/4141",)
CLOSE_SECONDS = 2.0  # closing one connection (yamux's own close sleeps 0.1 s)
# (the observer, its IP, the address it saw us at), from identify over a direct connection.
ObservationListener = Callable[[PeerId, str, str], None]


def build_host(identity: Identity, admission: Admission | None = None,
               advertise: Callable[[], list[str]] | None = None,
               on_observed: ObservationListener | None = None) -> IHost:
    """`advertise` gives what identify tells peers we listen on (default:
    the library's raw listen addresses, wildcards included);
    `on_observed` hears each address a peer reports seeing us at."""
    key_pair = create_new_key_pair(identity.signing.seed())

    def announced(_candidates: list[multiaddr.Multiaddr]) -> list[multiaddr.Multiaddr]:
        assert advertise is not None
        return [multiaddr.Multiaddr(a.rsplit("/p2p/", 1)[0]) for a in advertise()]

    noise_key, spares = create_x25519_key_pair().private_key, SpareBuffers()
    host = new_host(
        key_pair=key_pair,
        # Ours first (AES-GCM: a quarter of ChaCha's cost per byte), then libp2p's (noiseio.py).
        sec_opt={NOISE_AESGCM_ID: BufferedNoise(key_pair, noise_privkey=noise_key, spares=spares,
                                                protocol_name=NOISE_AESGCM),
                 NOISE_ID: BufferedNoise(key_pair, noise_privkey=noise_key, spares=spares)},
        muxer_opt={TProtocol(YAMUX_ID): Yamux},
        # One connection per peer: without it every dial waits 250 ms for a second one.
        connection_config=ConnectionConfig(max_connections_per_peer=1),
        # py-libp2p advertises its listen addresses as they are (0.0.0.0
        # included: basic_host.py:492-540): identify says what we choose.
        addrs_factory=announced if advertise is not None else None,
    )
    use_lean_yamux(host.get_network())  # its large frames reach a stream's reader uncopied
    if on_observed is not None:
        # The library's own manager wants 4 observers and tracks them per
        # live connection; ours (addresses.ObservedAddresses) agrees on 2
        # and expires. The host has no hook for observations but this one.
        host._observed_addr_manager = _ObservationFeed(on_observed)  # type: ignore[attr-defined]
    # py-libp2p's auto-connector dials every peer in its peerstore to keep
    # ~150 connections, and has no switch (its target is the watermarks'
    # midpoint, and the pruner needs the high one). We dial only the peers
    # that share a thread, when there is something to sync.
    connector = getattr(host.get_network(), "auto_connector", None)
    if connector is not None:
        connector.maybe_connect = _nothing
        connector.run_background_task = _nothing
    if admission is not None:  # our admission of inbound connections (admission.py)
        admission.install(host.get_network())
        # new_host makes a resource manager (libp2p/__init__.py:780) that
        # counts a connection in before its handshake and never out when
        # the handshake is cancelled (swarm.py:2199: its clean-up awaits
        # before it frees the count): once admission had dropped 1000 idle
        # sockets it refused every peer for good. Admission and budgets.py
        # do its work here (docs/LIBP2P-NOTES.md, "hostile").
        swarm: Any = host.get_network()  # a Swarm: not part of INetwork
        swarm.set_resource_manager(None)
        # ... and so its cap on streams, which streamcap.py replaces.
        StreamCap(admission.limits).install(swarm)
    return host


async def _nothing(*_: object) -> None:
    return None


class _ObservationFeed(ObservedAddrManager):
    """Hands identify's observed addresses to us instead of keeping them
    (addrs() is empty: what we advertise comes from `advertise`)."""

    def __init__(self, listener: ObservationListener) -> None:
        super().__init__()
        self._listener = listener

    def record_observation(self, conn: INetConn, observed_addr: multiaddr.Multiaddr,
                           local_addrs: list[multiaddr.Multiaddr]) -> None:
        remote = _remote_of(conn)
        if remote is None or _is_relayed(conn):
            return  # over a relay the observer's IP is the relay's: it says nothing of ours
        try:
            observer = PeerId(conn.muxed_conn.peer_id.to_bytes())
        except (AttributeError, ValueError):
            return
        self._listener(observer, remote[0], str(observed_addr))

    def addrs(self, min_observers: int = 0) -> list[multiaddr.Multiaddr]:
        return []


def _is_relayed(conn: INetConn) -> bool:
    try:
        return conn.get_connection_type() is ConnectionType.RELAYED or any(
            "p2p-circuit" in str(a) for a in conn.get_transport_addresses())
    except (*NETWORK_ERRORS, AttributeError, ValueError):
        return True  # cannot tell: not trusted


def _remote_of(conn: INetConn) -> tuple[str, int] | None:
    get_remote = getattr(getattr(conn, "muxed_conn", None), "get_remote_address", None)
    remote = get_remote() if callable(get_remote) else None
    return remote if isinstance(remote, tuple) and len(remote) == 2 else None


def check_ports_free(addresses: Sequence[multiaddr.Multiaddr]) -> None:
    """Raise OSError if a fixed port is taken. py-libp2p listens with
    SO_REUSEPORT, so a second peer on the same port would *share* it (the
    kernel splitting connections between the two) instead of failing; a
    plain bind, without that flag, fails as it should."""
    for address in addresses:
        port = int(address.value_for_protocol("tcp"))
        if port == 0:
            continue
        family, host = (socket.AF_INET6, address.value_for_protocol("ip6")) if "ip6" in [
            p.name for p in address.protocols()] else (socket.AF_INET, address.value_for_protocol("ip4"))
        with socket.socket(family, socket.SOCK_STREAM) as probe:
            # SO_REUSEADDR (unlike SO_REUSEPORT) still fails against a live
            # listener, and lets a restart use its port despite TIME_WAIT.
            probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            probe.bind((host, port))


def parse_listen(addresses: Sequence[str]) -> list[multiaddr.Multiaddr]:
    parsed = []
    for text in addresses:
        try:
            address = multiaddr.Multiaddr(text)
            address.value_for_protocol("tcp")
        except Exception as exc:  # the parser raises several types
            raise InvalidInputError(f"not a TCP multiaddr to listen on: {text!r}") from exc
        parsed.append(address)
    return parsed


class Libp2pStream:
    """A libp2p stream as a `ByteStream`: b"" at the end, PeerError on failure."""

    def __init__(self, stream: INetStream) -> None:
        self._stream = stream

    @property
    def remote(self) -> PeerId:
        return PeerId(self._stream.muxed_conn.peer_id.to_bytes())

    @property
    def remote_address(self) -> tuple[str, int] | None:
        """The IP and port the peer connects from; None over a relay (that
        address would be the relay's) or when the transport cannot tell."""
        connection = self._stream.muxed_conn
        try:
            if connection.get_connection_type() == ConnectionType.RELAYED or any(
                    "p2p-circuit" in str(a) for a in connection.get_transport_addresses()):
                return None
            return self._stream.get_remote_address()
        except (*NETWORK_ERRORS, AttributeError, ValueError):
            return None

    def buffered_piece(self) -> int:
        """Bytes of the first piece this stream holds unread (a large yamux
        frame as it came: yamuxio.Frames); 0 when none, or another muxer."""
        muxed = getattr(self._stream, "muxed_stream", None)
        buffers = getattr(getattr(muxed, "conn", None), "stream_buffers", None)
        frames = buffers.get(getattr(muxed, "stream_id", None)) if isinstance(buffers, dict) else None
        return frames.first_size() if isinstance(frames, Frames) else 0

    async def read(self, n: int) -> bytes:
        try:
            return await self._stream.read(n)
        except EOFError:
            return b""
        except NETWORK_ERRORS as exc:
            raise PeerError(f"the stream broke: {error_text(exc)}") from exc

    async def write(self, data: bytes) -> None:
        """Large pieces (a block) go in large yamux frames (largeframes.py)."""
        try:
            muxed = getattr(self._stream, "muxed_stream", None)
            if len(data) > LARGE_FRAME // 4 and isinstance(muxed, YamuxStream):
                await write_large(muxed, data)
            else:
                await self._stream.write(data)
        except NETWORK_ERRORS as exc:
            raise PeerError(f"the stream broke: {error_text(exc)}") from exc

    async def close(self) -> None:
        try:
            await self._stream.close()
        except NETWORK_ERRORS:
            pass  # already gone: nothing to release

    async def reset(self) -> None:
        try:
            await self._stream.reset()
        except NETWORK_ERRORS:
            pass
        _drop_unread(self._stream)


def _drop_unread(stream: INetStream) -> None:
    """Forget a reset stream's unread bytes at once. py-libp2p's yamux keeps
    them, and keeps adding what the peer still sends, for 60-90 s after a
    reset (yamux.py:971, :1542, :116): a stranger re-opening refused
    sessions grew memory ~10 MB a second (docs/LIBP2P-NOTES.md, "hostile")."""
    muxed = getattr(stream, "muxed_stream", None)
    connection = getattr(muxed, "conn", None)
    streams, buffers, events = (getattr(connection, name, None)
                                for name in ("streams", "stream_buffers", "stream_events"))
    if not (isinstance(streams, dict) and isinstance(buffers, dict) and isinstance(events, dict)):
        return  # another muxer: nothing of this kind to drop
    stream_id = getattr(muxed, "stream_id", None)
    if streams.get(stream_id) is not muxed or not getattr(muxed, "closed", False):
        return
    # As yamux's own sweep does (yamux.py:1031); with no await in between,
    # nothing else on the trio thread sees it half done. Data arriving
    # later for this stream ID is read and dropped (yamux.py:1541).
    event = events.pop(stream_id, None)
    if event is not None:
        event.set()  # wake a reader still waiting: it finds the stream reset
    streams.pop(stream_id, None)
    buffers.pop(stream_id, None)


LISTEN_BACKLOG = 4096  # connections the kernel completes and holds for us until we accept them


def deepen_listen_backlog(host: IHost) -> int:
    """Let the kernel hold LISTEN_BACKLOG connections (or its own cap,
    net.core.somaxconn) until we accept them; py-libp2p listens with 128
    (transport/tcp/tcp.py:97). Idle sockets re-opened faster than a busy
    node accepts filled those 128, and the kernel then dropped an honest
    peer's SYN: its connect took 1 s, 3 s, 7 s (SYN retries). Returns how
    many listening sockets it deepened."""
    swarm: Any = host.get_network()  # a Swarm: its listeners are not part of INetwork
    deepened = 0
    for listener in getattr(swarm, "listeners", {}).values():
        for socket_listener in getattr(listener, "listeners", []):
            sock = getattr(socket_listener, "socket", None)
            if sock is not None:
                sock.listen(LISTEN_BACKLOG)  # listen() again only changes the backlog
                deepened += 1
    return deepened


def unread_bytes(host: IHost) -> int:
    """Bytes peers sent that no one has read yet, over every connection
    (yamux's per-stream buffers; 0 for a muxer that does not say)."""
    total = 0
    for connection in host.get_network().get_connections():
        buffers = getattr(connection.muxed_conn, "stream_buffers", None)
        if isinstance(buffers, dict):
            total += sum(len(buffer) for buffer in buffers.values())
    return total


def listen_addresses(host: IHost) -> list[str]:
    """Where we listen, as bound (wildcards included), each ending in /p2p/<our ID>."""
    return [f"{a}/p2p/{host.get_id()}" for a in host.get_transport_addrs()]


def connection_ip(host: IHost, peer: PeerId) -> str | None:
    """The peer's IP on our live connection to it (None: not connected)."""
    for conn in host.get_network().get_connections(ID(peer.raw)):
        if not conn.is_closed:
            remote = _remote_of(conn)
            if remote is not None:
                return remote[0]
    return None


async def disconnect(host: IHost, peer: PeerId) -> None:
    """Drop every connection to the peer (its sessions with it end)."""
    for conn in list(host.get_network().get_connections(ID(peer.raw))):
        with trio.move_on_after(CLOSE_SECONDS):
            await _close_connection(conn)


async def _close_connection(conn: INetConn) -> None:
    try:
        await conn.close()
        # SwarmConn.close marks itself closed before its first await, so a
        # close that was cancelled there never closes the muxer and socket,
        # and every later close is a no-op (swarm_connection.py:145-149).
        if not conn.muxed_conn.is_closed:
            await conn.muxed_conn.close()
    except NETWORK_ERRORS as exc:
        log.debug("closing a connection: %s", exc)


class ConnectionTracker(INotifee):
    """Every connection the host made, so that going offline closes each
    one for sure: when the host's tasks are cancelled, the library's own
    close of a connection is cancelled half way (see _close_connection) and
    its socket stays open, so the peer keeps writing to a connection nobody
    reads. Register with `track_connections`; `close_all` in a shielded
    scope before host.close()."""

    def __init__(self) -> None:
        self._conns: weakref.WeakSet[INetConn] = weakref.WeakSet()

    async def connected(self, network: INetwork, conn: INetConn) -> None:
        self._conns.add(conn)

    async def disconnected(self, network: INetwork, conn: INetConn) -> None:
        return None

    async def opened_stream(self, network: INetwork, stream: INetStream) -> None:
        return None

    async def closed_stream(self, network: INetwork, stream: INetStream) -> None:
        return None

    async def listen(self, network: INetwork, multiaddr: multiaddr.Multiaddr) -> None:
        return None

    async def listen_close(self, network: INetwork, multiaddr: multiaddr.Multiaddr) -> None:
        return None

    async def close_all(self) -> None:
        async def close(conn: INetConn) -> None:
            with trio.move_on_after(CLOSE_SECONDS):
                await _close_connection(conn)

        async with trio.open_nursery() as nursery:
            for conn in list(self._conns):
                if not conn.muxed_conn.is_closed:
                    nursery.start_soon(close, conn)


def track_connections(host: IHost) -> ConnectionTracker:
    tracker = ConnectionTracker()
    host.get_network().register_notifee(tracker)
    return tracker


def is_connected(host: IHost, peer: PeerId) -> bool:
    return any(not c.is_closed for c in host.get_network().get_connections(ID(peer.raw)))


async def dial_address(host: IHost, peer: PeerId, address: str) -> None:
    """Connect to the peer at this one direct address. Goes through the
    swarm's dial_addr, not host.connect: connect dials at most one address
    per transport, in the peerstore's order, and after a failure refuses the
    peer for 60 s whatever its addresses (network/swarm.py:110-150, :752)."""
    try:
        target = multiaddr.Multiaddr(address.rsplit("/p2p/", 1)[0] if "/p2p/" in address else address)
    except Exception as exc:  # the parser raises several types
        raise PeerError(f"not an address: {address!r}") from exc
    libp2p_id = ID(peer.raw)
    try:
        if is_connected(host, peer):
            return
        connection = await host.get_network().dial_addr(target, libp2p_id)
        started = getattr(connection, "event_started", None)
        if started is not None:
            await started.wait()
    except NETWORK_ERRORS as exc:
        raise PeerError(f"cannot reach {peer} at {address}: {error_text(exc)}") from exc


async def connect(host: IHost, peer: PeerId, addresses: Sequence[str]) -> None:
    """Connect through the library's own dialling (its first address per
    transport). For tools and tests; the service dials with dialer.Dialer."""
    addrs = []
    for text in addresses:
        try:
            address = multiaddr.Multiaddr(text)
            if "p2p" in [p.name for p in address.protocols()]:
                address = address.decapsulate(multiaddr.Multiaddr(f"/p2p/{peer}"))
            addrs.append(address)
        except Exception:  # noqa: BLE001 - a bad hint is skipped, not fatal
            continue
    try:
        await host.connect(PeerInfo(ID(peer.raw), addrs))
    except NETWORK_ERRORS as exc:
        raise PeerError(f"cannot reach {peer}: {error_text(exc)}") from exc


async def new_stream(host: IHost, peer: PeerId, protocol: str) -> Libp2pStream:
    """A stream on our live connection to the peer (PeerError if there is none)."""
    if not is_connected(host, peer):
        raise PeerError(f"not connected to {peer}")
    try:
        stream = await host.new_stream(ID(peer.raw), [TProtocol(protocol)])
    except NETWORK_ERRORS as exc:
        raise PeerError(f"cannot reach {peer}: {error_text(exc)}") from exc
    return Libp2pStream(stream)


async def open_stream(host: IHost, peer: PeerId, addresses: Sequence[str], protocol: str) -> Libp2pStream:
    """Connect (if not connected yet, the library's way) and open a stream."""
    if not is_connected(host, peer):
        await connect(host, peer, addresses)
    return await new_stream(host, peer, protocol)


def set_handler(host: IHost, protocol: str, handler: Callable[[Libp2pStream], Awaitable[None]]) -> None:
    async def handle(stream: INetStream) -> None:
        wrapped = Libp2pStream(stream)
        try:
            await handler(wrapped)
        except (*NETWORK_ERRORS, PeerError) as exc:
            log.debug("session from %s ended: %s", wrapped.remote, exc)
            await wrapped.reset()

    host.set_stream_handler(TProtocol(protocol), handle)


# --- the Devices view's reading of live connections (reach-devices) ---------------------------


def connection_routes(host: IHost) -> dict[PeerId, str]:
    """Each connected peer's remote address as multiaddr text, with
    /p2p-circuit in it for a relayed connection; a direct connection is
    preferred where a peer has both (one being upgraded by hole punching)."""
    routes: dict[PeerId, str] = {}
    for libp2p_id, connections in host.get_network().get_connections_map().items():
        try:
            peer = PeerId(libp2p_id.to_bytes())
        except InvalidInputError:
            continue
        for connection in connections:
            try:
                remote = next((str(a) for a in connection.get_transport_addresses()), "")
                relayed = connection.get_connection_type() is ConnectionType.RELAYED or "/p2p-circuit" in remote
                # The socket's own far end for a direct one: transport addresses
                # fall back to the peerstore's (any address the peer announced)
                # when the swarm did not record them (LIBP2P-NOTES.md, reach-devices).
                far_end = None if relayed else getattr(connection.muxed_conn, "get_remote_address", None)
                endpoint = far_end() if far_end is not None else None  # yamux has it; IMuxedConn does not say so
            except (*NETWORK_ERRORS, AttributeError):  # a connection closing under us
                continue
            if endpoint is not None:
                ip, port = endpoint
                remote = f"/{'ip6' if ':' in ip else 'ip4'}/{ip}/tcp/{port}"
            if relayed and "/p2p-circuit" not in remote:
                remote += "/p2p-circuit"
            if peer not in routes or "/p2p-circuit" in routes[peer]:
                routes[peer] = remote
    return routes


class _ConnectionWatch(INotifee):
    def __init__(self, on_change: Callable[[PeerId, bool], None]) -> None:
        self._on_change = on_change

    def _tell(self, conn: INetConn, connected: bool) -> None:
        try:
            peer = PeerId(conn.muxed_conn.peer_id.to_bytes())
        except (InvalidInputError, AttributeError):
            return
        self._on_change(peer, connected)

    async def connected(self, network: INetwork, conn: INetConn) -> None:
        self._tell(conn, True)

    async def disconnected(self, network: INetwork, conn: INetConn) -> None:
        self._tell(conn, False)

    async def opened_stream(self, network: INetwork, stream: INetStream) -> None:
        return None

    async def closed_stream(self, network: INetwork, stream: INetStream) -> None:
        return None

    async def listen(self, network: INetwork, multiaddr: multiaddr.Multiaddr) -> None:
        return None

    async def listen_close(self, network: INetwork, multiaddr: multiaddr.Multiaddr) -> None:
        return None


def watch_connections(host: IHost, on_change: Callable[[PeerId, bool], None]) -> None:
    """Call `on_change(peer, connected)` on the trio thread as a connection
    to a peer opens or closes (after the swarm has counted it in or out)."""
    host.get_network().register_notifee(_ConnectionWatch(on_change))
