"""Admission of inbound connections, in front of py-libp2p's own.

py-libp2p lets 250 inbound connections in at once (max_connections minus
min_connections) and holds a slot through the whole handshake, 10 s for a
socket that sends nothing: 250 idle sockets shut every new peer out. It
also holds the slot of a connection that did get in until the host stops
(so after 250 peers came in, over the node's life, none more could). See
docs/LIBP2P-NOTES.md, "dos".

Here a connection is *unauthenticated* until its Noise and yamux handshake
is done; only such connections are limited (per IP address, per subnet,
and in all), and when all are taken the oldest is dropped for the newcomer.
Authenticated connections of strangers (peers that proved no thread we
share) get a share of py-libp2p's 300: beyond it the oldest goes. Members'
connections are never closed here. Strangers' sessions meet budgets.py.
"""

from __future__ import annotations

import ipaddress
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import trio
from libp2p.abc import IMuxedConn, INetwork
from libp2p.io.abc import ReadWriteCloser
from libp2p.network.connection.raw_connection import RawConnection
from multiaddr import Multiaddr

from threads_desktop.engine.core.ids import PeerId
from threads_desktop.engine.net.budgets import Limits

log = logging.getLogger(__name__)


@dataclass(eq=False)
class _Handshake:
    address: str
    subnet: str
    started: float
    heard: bool = False  # the peer sent a byte: not idle
    scope: trio.CancelScope = field(default_factory=trio.CancelScope)


class _Heard(ReadWriteCloser):
    """The raw socket, noting when the peer first sends a byte."""

    def __init__(self, inner: ReadWriteCloser, handshake: _Handshake) -> None:
        self._inner = inner
        self._handshake = handshake

    async def read(self, n: int | None = None) -> bytes:
        data = await self._inner.read(n)
        if data:
            self._handshake.heard = True
        return data

    async def write(self, data: bytes) -> None:
        await self._inner.write(data)

    async def close(self) -> None:
        await self._inner.close()

    def get_remote_address(self) -> tuple[str, int] | None:
        return self._inner.get_remote_address()


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
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.limits = limits or Limits()
        self._is_member = is_member
        self._clock = clock
        self.pending: list[_Handshake] = []  # oldest first
        self.connected: list[tuple[PeerId, IMuxedConn]] = []  # authenticated inbound, oldest first
        self.refused = 0
        self.dropped = 0
        self.shed = 0  # strangers' authenticated connections closed for newer ones

    def install(self, network: INetwork) -> None:
        """Take over the swarm's inbound handler (its listeners call it by
        name, libp2p/network/swarm.py:1916)."""
        swarm: Any = network  # a Swarm: its handler is not part of INetwork
        swarm._handle_inbound_connection = self._handler(swarm)

    def admit(self, address: str) -> _Handshake | None:
        """A place for a handshake from `address`, or None (refused). An
        address the transport does not tell ("") counts in the total only."""
        subnet = subnet_of(address)
        same_address = sum(1 for h in self.pending if h.address == address)
        same_subnet = sum(1 for h in self.pending if h.subnet == subnet)
        if address and (same_address >= self.limits.handshakes_per_address
                        or same_subnet >= self.limits.handshakes_per_subnet):
            self.refused += 1
            return None
        if len(self.pending) >= self.limits.handshakes:
            # The oldest that never sent a byte, else the oldest.
            oldest = next((h for h in self.pending if not h.heard), self.pending[0])
            self.pending.remove(oldest)
            oldest.scope.cancel()
            self.dropped += 1
        handshake = _Handshake(address, subnet, self._clock())
        self.pending.append(handshake)
        return handshake

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
        if handshake in self.pending:
            self.pending.remove(handshake)

    def _handler(self, swarm: Any) -> Callable[[ReadWriteCloser, Multiaddr], Awaitable[None]]:
        async def handle(read_write_closer: ReadWriteCloser, maddr: Multiaddr) -> None:
            remote = read_write_closer.get_remote_address()
            handshake = self.admit(remote[0] if remote else "")
            if handshake is None:
                await _close(read_write_closer)
                return
            raw = RawConnection(_Heard(read_write_closer, handshake), False)
            muxed: IMuxedConn | None = None
            try:
                with handshake.scope, trio.move_on_after(self.limits.handshake_seconds):
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
            entry = (PeerId(muxed.peer_id.to_bytes()), muxed)
            self.connected.append(entry)
            try:
                await self._shed_strangers()
                # Hold the handler (as py-libp2p's does) only while the connection lives.
                closed = getattr(muxed, "event_closed", None)
                if isinstance(closed, trio.Event):
                    await closed.wait()
                else:
                    await swarm.manager.wait_finished()
            finally:
                self.connected.remove(entry)

        return handle


async def _close(connection: ReadWriteCloser) -> None:
    with trio.CancelScope(shield=True):
        try:
            await connection.close()
        except Exception:  # noqa: BLE001 - already broken: nothing left to release
            pass
