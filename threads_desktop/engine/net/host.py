"""The libp2p host: TCP, Noise only, yamux only, keyed by the profile's
identity (so the peer ID other peers authenticate is the one the ACL names).

Everything libp2p-specific stays here; the sync protocol sees `ByteStream`s
and our own `PeerId`s. See docs/LIBP2P-NOTES.md for why each option is set.
"""

from __future__ import annotations

import logging
import socket
from collections.abc import Awaitable, Callable, Sequence

import multiaddr
import trio
from libp2p import new_host
from libp2p.abc import IHost, INetStream
from libp2p.crypto.ed25519 import create_new_key_pair
from libp2p.crypto.x25519 import create_new_key_pair as create_x25519_key_pair
from libp2p.custom_types import TProtocol
from libp2p.exceptions import BaseLibp2pError
from libp2p.io.exceptions import IOException
from libp2p.network.config import ConnectionConfig
from libp2p.peer.id import ID
from libp2p.peer.peerinfo import PeerInfo
from libp2p.security.noise.transport import PROTOCOL_ID as NOISE_ID
from libp2p.security.noise.transport import Transport as NoiseTransport
from libp2p.stream_muxer.yamux.yamux import PROTOCOL_ID as YAMUX_ID
from libp2p.stream_muxer.yamux.yamux import Yamux

from threads_desktop.engine.core.errors import InvalidInputError, PeerError
from threads_desktop.engine.core.ids import PeerId
from threads_desktop.engine.core.keys import Identity
from threads_desktop.engine.net.admission import Admission

log = logging.getLogger(__name__)

# What a failing peer or connection raises inside py-libp2p and trio.
NETWORK_ERRORS = (BaseLibp2pError, IOException, OSError, trio.BrokenResourceError, trio.ClosedResourceError,
                  EOFError)
DEFAULT_LISTEN = ("/ip4/0.0.0.0/tcp/4141",)


def build_host(identity: Identity, admission: Admission | None = None) -> IHost:
    key_pair = create_new_key_pair(identity.signing.seed())
    host = new_host(
        key_pair=key_pair,
        sec_opt={NOISE_ID: NoiseTransport(key_pair, noise_privkey=create_x25519_key_pair().private_key)},
        muxer_opt={TProtocol(YAMUX_ID): Yamux},
        # One connection per peer: without it every dial waits 250 ms for a second one.
        connection_config=ConnectionConfig(max_connections_per_peer=1),
    )
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
    return host


async def _nothing(*_: object) -> None:
    return None


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
    def remote_address(self) -> str:
        """The peer's IP address ("" if the transport does not say), for budgets."""
        try:
            address = self._stream.get_remote_address()
        except Exception:  # noqa: BLE001 - a connection being torn down may raise anything
            return ""
        return address[0] if address else ""

    async def read(self, n: int) -> bytes:
        try:
            return await self._stream.read(n)
        except EOFError:
            return b""
        except NETWORK_ERRORS as exc:
            raise PeerError(f"the stream broke: {exc or type(exc).__name__}") from exc

    async def write(self, data: bytes) -> None:
        try:
            await self._stream.write(data)
        except NETWORK_ERRORS as exc:
            raise PeerError(f"the stream broke: {exc or type(exc).__name__}") from exc

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


def listen_addresses(host: IHost) -> list[str]:
    """Where we listen, each ending in /p2p/<our ID>."""
    return [str(a) for a in host.get_addrs()]


async def open_stream(host: IHost, peer: PeerId, addresses: Sequence[str], protocol: str) -> Libp2pStream:
    """Connect (if not connected yet) and open a stream."""
    libp2p_id = ID(peer.raw)
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
        await host.connect(PeerInfo(libp2p_id, addrs))
        stream = await host.new_stream(libp2p_id, [TProtocol(protocol)])
    except NETWORK_ERRORS as exc:
        raise PeerError(f"cannot reach {peer}: {exc or type(exc).__name__}") from exc
    return Libp2pStream(stream)


def set_handler(host: IHost, protocol: str, handler: Callable[[Libp2pStream], Awaitable[None]]) -> None:
    async def handle(stream: INetStream) -> None:
        wrapped = Libp2pStream(stream)
        try:
            await handler(wrapped)
        except (*NETWORK_ERRORS, PeerError) as exc:
            log.debug("session from %s ended: %s", wrapped.remote, exc)
            await wrapped.reset()

    host.set_stream_handler(TProtocol(protocol), handle)
