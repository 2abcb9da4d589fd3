"""Admission of inbound connections, in front of py-libp2p's own.

py-libp2p lets 250 inbound connections in at once (max_connections minus
min_connections) and holds a slot through the whole handshake, 10 s for a
socket that sends nothing: 250 idle sockets shut every new peer out. It
also holds the slot of a connection that did get in until the host stops
(so after 250 peers came in, over the node's life, none more could). See
docs/LIBP2P-NOTES.md, "dos".

Here a connection is *unauthenticated* until its Noise and yamux handshake
is done; only such connections are limited (per IP address, per subnet,
and in all). Until its first byte it is *silent*: every honest dialer
speaks at once (multistream-select), so silent sockets have places of
their own, many (cheap to hold: held, they are not waiting in the
kernel's accept queue in front of honest peers) and apart from those of
connections that speak (in Noise, which costs work): a silent socket
never takes a speaking one's place. When either kind is full, its oldest
goes for the newcomer. py-libp2p's handshake starts only at a socket's
first byte (strangers17): a silent socket costs a sleeping task, held
`silent_seconds`. Connections a relay brings meet the same places and
timeout (`upgrade_relayed`).
Authenticated connections of strangers (peers that proved no thread we
share) get a share of py-libp2p's 300: beyond it the oldest goes. Members'
connections are never closed here. Strangers' sessions meet budgets.py;
their reads wait while members are served (turns.py), and stop for good
once their sessions broke the protocol or were refused too often.
"""

from __future__ import annotations

import ipaddress
import logging
import os
import socket
import time
from collections import Counter, deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import trio
from libp2p.abc import IMuxedConn, INetwork
from libp2p.connection_types import ConnectionType
from libp2p.io.abc import ReadWriteCloser
from libp2p.network.connection.raw_connection import RawConnection
from multiaddr import Multiaddr

from threads_desktop.engine.core.ids import PeerId
from threads_desktop.engine.net.budgets import Limits
from threads_desktop.engine.net.turns import MembersFirst

log = logging.getLogger(__name__)

MAX_BREAKERS = 4096  # strangers whose broken sessions are counted (the least recent forgotten first)


@dataclass(eq=False)
class _Handshake:
    address: str
    subnet: str
    started: float
    heard: bool = False  # the peer sent a byte: not idle
    scope: trio.CancelScope = field(default_factory=trio.CancelScope)


class _Heard(ReadWriteCloser):
    """The raw socket, telling admission when the peer first sends a byte."""

    def __init__(self, inner: ReadWriteCloser, handshake: _Handshake, admission: Admission) -> None:
        self._inner = inner
        self._handshake = handshake
        self._admission = admission
        self.peer: PeerId | None = None  # once its handshake is done
        self.member = False  # known as a member (looked up again while members are served)

    async def read(self, n: int | None = None) -> bytes:
        peer = self.peer
        if peer is not None and not self.member and self._admission.held_off(peer):
            await trio.sleep_forever()  # until the connection closes (or is shed)
        data = await self._inner.read(n)
        if data and not self._handshake.heard:
            self._admission.heard(self._handshake)
        if peer is not None and not self.member and self._admission.members_first.busy:
            # Members first (turns.py): what a stranger sent waits, read, before
            # anything of it is decrypted or handled (at most one read's bytes).
            self.member = self._admission.is_member(peer)  # it may have proved a thread since
            if not self.member:
                await self._admission.members_first.strangers_turn()
        return data

    async def write(self, data: bytes) -> None:
        await self._inner.write(data)

    async def close(self) -> None:
        await self._inner.close()

    def get_remote_address(self) -> tuple[str, int] | None:
        return self._inner.get_remote_address()


class BatchAccept:
    """Accepts up to `batch` waiting connections per turn of trio's
    scheduler instead of one (trio.SocketListener.accept checkpoints after
    each; trio.serve_listeners, started at libp2p/transport/tcp/tcp.py:219,
    loops on it). Under a flood of
    re-opened sockets the kernel's queue held ~370 of them in front of an
    honest peer, which waited 1.4-11 s for its first byte while the
    node's turns went round its other tasks; drained in batches, the
    queue stays short and the decision who goes is ours (`Admission`).
    Reads the same queue through a duplicate of the listening socket."""

    def __init__(self, listener: trio.SocketListener, batch: int) -> None:
        self._listener = listener
        self._accept_one = listener.accept
        self._batch = batch
        self._queue: deque[trio.SocketStream] = deque()
        self._duplicate: socket.socket | None = None

    def install(self) -> None:
        setattr(self._listener, "accept", self.accept)  # noqa: B010 - an instance's method, replaced

    async def accept(self) -> trio.SocketStream:
        if self._queue:
            return self._queue.popleft()  # no checkpoint: the batch goes in one turn
        try:
            stream = await self._accept_one()
        except (trio.Cancelled, trio.ClosedResourceError):
            self._close()
            raise
        self._take_waiting()
        return stream

    def _take_waiting(self) -> None:
        if self._duplicate is None:
            self._duplicate = socket.socket(fileno=os.dup(self._listener.socket.fileno()))
            self._duplicate.setblocking(False)
        for _ in range(self._batch - 1):
            try:
                sock, _address = self._duplicate.accept()
            except OSError:  # none waiting (EAGAIN), or the kernel refuses more now: next turn
                return
            self._queue.append(trio.SocketStream(trio.socket.from_stdlib_socket(sock)))

    def _close(self) -> None:
        if self._duplicate is not None:
            self._duplicate.close()
            self._duplicate = None
        while self._queue:
            self._queue.popleft().socket.close()


def accept_in_batches(network: INetwork, batch: int) -> int:
    """Make every TCP listener of the swarm accept in batches (call once it
    listens); returns how many listening sockets it changed."""
    swarm: Any = network  # a Swarm: its listeners are not part of INetwork
    changed = 0
    for listener in getattr(swarm, "listeners", {}).values():
        for socket_listener in getattr(listener, "listeners", []):
            if isinstance(socket_listener, trio.SocketListener):
                BatchAccept(socket_listener, batch).install()
                changed += 1
    return changed


def subnet_of(address: str) -> str:
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return address
    prefix = 24 if ip.version == 4 else 48
    return str(ipaddress.ip_network(f"{ip}/{prefix}", strict=False))


class Admission:
    """Counts the connections in their handshake; `handle` replaces the
    swarm's inbound handler (install with `install`)."""

    def __init__(self, limits: Limits | None = None, is_member: Callable[[PeerId], bool] = lambda _: False,
                 clock: Callable[[], float] = time.monotonic, members_first: MembersFirst | None = None) -> None:
        self.limits = limits or Limits()
        self._is_member = is_member
        self.members_first = members_first or MembersFirst(self.limits)
        self._clock = clock
        self._silent: dict[_Handshake, None] = {}  # no byte yet, oldest first
        self._speaking: dict[_Handshake, None] = {}  # in Noise and yamux, oldest first
        self._by_address: Counter[str] = Counter()
        self._by_subnet: Counter[str] = Counter()
        self.connected: list[tuple[PeerId, IMuxedConn]] = []  # authenticated inbound, oldest first
        self.refused = 0
        self.dropped = 0
        self.shed = 0  # strangers' authenticated connections closed for newer ones
        self._breaks: dict[PeerId, int] = {}  # strangers' sessions that broke the protocol, per peer

    def install(self, network: INetwork) -> None:
        """Take over the swarm's inbound handler (its listeners call it by
        name, libp2p/network/swarm.py:1916)."""
        swarm: Any = network  # a Swarm: its handler is not part of INetwork
        swarm._handle_inbound_connection = self._handler(swarm)

    @property
    def pending(self) -> list[_Handshake]:
        """Every connection in its handshake: silent ones, then speaking ones, oldest first."""
        return [*self._silent, *self._speaking]

    def admit(self, address: str) -> _Handshake | None:
        """A place for a new (silent) connection from `address`, or None
        (refused). An address the transport does not tell ("") counts in
        the totals only."""
        subnet = subnet_of(address)
        if address and (self._by_address[address] >= self.limits.handshakes_per_address
                        or self._by_subnet[subnet] >= self.limits.handshakes_per_subnet):
            self.refused += 1
            return None
        if len(self._silent) >= self.limits.silent_connections:
            self._drop(next(iter(self._silent)))
        handshake = _Handshake(address, subnet, self._clock())
        self._silent[handshake] = None
        self._by_address[address] += 1
        self._by_subnet[subnet] += 1
        return handshake

    def heard(self, handshake: _Handshake) -> None:
        """Its first byte came: it moves to the speaking places, and the
        oldest speaking one goes if they are all taken."""
        handshake.heard = True
        if handshake not in self._silent:
            return  # dropped meanwhile
        del self._silent[handshake]
        if len(self._speaking) >= self.limits.handshakes:
            self._drop(next(iter(self._speaking)))
        self._speaking[handshake] = None

    def broke_protocol(self, peer: PeerId) -> None:
        """A stranger's session broke the protocol (a message larger than a
        stranger may send, say). Once it broke it on more sessions than a
        peer may hold at once (it re-opens refused sessions to go on), its
        inbound connections are not read any more: what it sends (each
        refused session pushed up to yamux's 256 KiB window through Noise)
        stays in the kernel's buffers, not our memory, then its writes
        stop. Its connections count among strangers' (the oldest are shed).
        Members are never held off."""
        if self._is_member(peer):
            return
        breaks = self._breaks.pop(peer, 0) + 1
        self._breaks[peer] = breaks  # the most recent last
        while len(self._breaks) > MAX_BREAKERS:
            del self._breaks[next(iter(self._breaks))]

    def is_member(self, peer: PeerId) -> bool:
        return self._is_member(peer)

    def held_off(self, peer: PeerId) -> bool:
        return self._breaks.get(peer, 0) > self.limits.stranger_breaks and not self._is_member(peer)

    def _drop(self, handshake: _Handshake) -> None:
        self.done(handshake)
        handshake.scope.cancel()
        self.dropped += 1

    async def _shed_strangers(self) -> None:
        """Strangers' connections beyond their share go, oldest first;
        members' connections are never counted or closed here."""
        strangers = [entry for entry in self.connected if not self._is_member(entry[0])]
        for _peer, muxed in strangers[:max(0, len(strangers) - self.limits.stranger_connections)]:
            self.shed += 1
            with trio.CancelScope(shield=True):
                try:
                    await muxed.close()
                except Exception:  # noqa: BLE001 - already broken: nothing left to release
                    pass

    def done(self, handshake: _Handshake) -> None:
        """It left its handshake (done, failed or dropped): its place is free."""
        for places in (self._silent, self._speaking):
            if handshake in places:
                del places[handshake]
                for counter, key in ((self._by_address, handshake.address), (self._by_subnet, handshake.subnet)):
                    counter[key] -= 1
                    if not counter[key]:
                        del counter[key]
                return

    def _handler(self, swarm: Any) -> Callable[[ReadWriteCloser, Multiaddr], Awaitable[None]]:
        async def handle(read_write_closer: ReadWriteCloser, maddr: Multiaddr) -> None:
            remote = read_write_closer.get_remote_address()
            handshake = self.admit(remote[0] if remote else "")
            if handshake is None:
                await _close(read_write_closer)
                return
            heard = _Heard(read_write_closer, handshake, self)
            raw = RawConnection(heard, False)
            muxed: IMuxedConn | None = None
            try:
                with handshake.scope:
                    if await self._first_byte(read_write_closer):
                        self.heard(handshake)
                        with trio.move_on_after(self.limits.handshake_seconds):
                            remote_maddr = swarm._build_remote_multiaddr(read_write_closer)
                            if remote_maddr is None or await swarm.connection_gate.is_allowed(remote_maddr):
                                muxed = await swarm.upgrade_inbound_raw_conn(raw, maddr)
            except Exception as exc:  # noqa: BLE001 - any failed handshake ends that connection only
                log.debug("inbound handshake from %s failed: %s", remote, exc)
            finally:
                self.done(handshake)
            if muxed is None:
                await _close(raw)
                return
            self._authenticated(heard, muxed)
            # Hold the handler (as py-libp2p's does) only while the connection lives.
            await self.keep(muxed, swarm.manager.wait_finished)

        return handle

    def _authenticated(self, heard: _Heard, muxed: IMuxedConn) -> None:
        peer = PeerId(muxed.peer_id.to_bytes())
        heard.member = self._is_member(peer)  # from its handshake on (the ACLs: members.py)
        heard.peer = peer

    async def keep(self, muxed: IMuxedConn, finished: Callable[[], Awaitable[object]]) -> None:
        """Count an authenticated inbound connection among strangers' (or
        members') until it closes; strangers' beyond their share go now."""
        entry = (PeerId(muxed.peer_id.to_bytes()), muxed)
        self.connected.append(entry)
        try:
            await self._shed_strangers()
            closed = getattr(muxed, "event_closed", None)
            if isinstance(closed, trio.Event):
                await closed.wait()
            else:
                await finished()
        finally:
            self.connected.remove(entry)

    async def upgrade_relayed(self, stream: ReadWriteCloser, relay: PeerId, circuit: Multiaddr,
                              upgrade: Callable[[RawConnection, Multiaddr], Awaitable[IMuxedConn]],
                              ) -> IMuxedConn | None:
        """A connection a relay brings (circuit relay v2's STOP), through the
        same admission as one over TCP: a place among connections in their
        handshake (per relay as per address: "relay:<its ID>"; the caller
        speaks at once), the handshake timeout, strangers' reads held off
        or after members'. None: refused or failed (the caller resets the
        stream). Then count it with `keep`."""
        handshake = self.admit(f"relay:{relay}")
        if handshake is None:
            return None
        self.heard(handshake)
        heard = _Heard(stream, handshake, self)
        raw = RawConnection(heard, False, ConnectionType.RELAYED, [circuit])
        muxed: IMuxedConn | None = None
        try:
            with handshake.scope, trio.move_on_after(self.limits.handshake_seconds):
                muxed = await upgrade(raw, circuit)
        except Exception as exc:  # noqa: BLE001 - any failed handshake ends that connection only
            log.debug("relayed handshake through %s failed: %s", relay, exc)
        finally:
            self.done(handshake)
        if muxed is not None:
            self._authenticated(heard, muxed)
        return muxed

    async def _first_byte(self, connection: ReadWriteCloser) -> bool:
        """Wait, outside py-libp2p, until a new connection speaks (True),
        `silent_seconds` at most (False). A silent socket then costs a
        sleeping task and its place, not a handshake begun (multistream's
        header written) and py-libp2p's clean-up when it is dropped. Every
        honest dialer speaks first. Other transports: True at once."""
        sock = getattr(getattr(connection, "stream", None), "socket", None)
        if sock is None:
            return True
        with trio.move_on_after(self.limits.silent_seconds):
            await trio.lowlevel.wait_readable(sock)
            return True
        return False


async def _close(connection: ReadWriteCloser) -> None:
    with trio.CancelScope(shield=True):
        try:
            await connection.close()
        except Exception:  # noqa: BLE001 - already broken: nothing left to release
            pass
