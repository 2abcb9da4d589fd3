"""NetworkService's hooks for joining by link (joining.py): the join
server's streams, and what our own joins' loop needs (streams to
candidates, whom to ask, what to do once admitted); and adding a device
of this person by link (devicing.py, issue 19). A part of service.py's
NetworkService (a mixin: it reads the service's state).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import TYPE_CHECKING

import trio
from libp2p.abc import IHost

from threads_desktop.engine.core.errors import PeerError, ThreadsError, error_text
from threads_desktop.engine.core.ids import PeerId, ThreadId
from threads_desktop.engine.logstore.addressbook import peer_of_address
from threads_desktop.engine.net import devicing
from threads_desktop.engine.net import host as hosting
from threads_desktop.engine.net.devicing import PROTOCOL_ID as DEVICE_ID
from threads_desktop.engine.net.devicing import DeviceServer
from threads_desktop.engine.net.dialer import Dialer
from threads_desktop.engine.net.joining import Joiner, JoinServer, PendingJoin
from threads_desktop.engine.net.ports import ThreadStore

if TYPE_CHECKING:
    from threads_desktop.engine.net.service_state import Sighting

log = logging.getLogger(__name__)

CONNECT_TIMEOUT = 10.0
HINT_TTL_SECONDS = 600.0


class JoiningParts:
    _threads: ThreadStore
    _host: IHost | None
    _me: PeerId
    _dialer: Dialer
    _nearby: dict[PeerId, Sighting]
    _topics_changed: trio.Event
    join_server: JoinServer | None
    device_server: DeviceServer | None
    joiner: Joiner | None

    if TYPE_CHECKING:
        def schedule(self, peer: PeerId, threads: set[ThreadId] | None = None, *, now: bool = False) -> None: ...

    def joins_changed(self) -> None:
        """A join was made (or forgotten): the joiner's loop looks again now."""
        if self.joiner is not None:
            self.joiner.kick()

    async def _serve_join(self, stream: hosting.Libp2pStream) -> None:
        assert self.join_server is not None
        remote = stream.remote_address  # None over a relay: the per-address bucket does not apply
        await self.join_server.serve(stream, stream.remote, remote[0] if remote else "")

    async def _open_join_stream(self, peer: PeerId, protocol: str) -> hosting.Libp2pStream:
        assert self._host is not None
        with trio.fail_after(CONNECT_TIMEOUT):
            if not hosting.is_connected(self._host, peer):
                await self._dialer.dial(peer, self._threads.addresses.addresses(peer))
            return await hosting.new_stream(self._host, peer, protocol)

    def _link_peers(self, join: PendingJoin) -> list[PeerId]:
        """The peers the link named (the inviter and admins it knew), with their addresses noted."""
        named: list[PeerId] = []
        for address in join.addresses:
            peer = peer_of_address(address)
            if peer is None or peer == self._me:
                continue
            try:
                self._threads.addresses.add(peer, [address], HINT_TTL_SECONDS)
            except ThreadsError as exc:
                log.debug("ignoring the link's address %s: %s", address, exc)
                continue
            named.append(peer)
        return list(dict.fromkeys(named))

    def _join_candidates(self, join: PendingJoin) -> list[PeerId]:
        """Whom a join asks: the link's peers, then peers of the thread we
        heard of, then those we are connected to, then those nearby."""
        connected = list(hosting.connection_routes(self._host)) if self._host is not None else []
        nearby = sorted(self._nearby, key=lambda p: -self._nearby[p].last_seen)
        found = [*self._link_peers(join), *self._threads.peers.peers(join.thread_id), *connected, *nearby]
        return [p for p in dict.fromkeys(found) if p != self._me]

    def _admitted(self, thread_id: ThreadId, peer: PeerId) -> None:
        """We hold the thread now: sync it with the admitter at once (it is
        connected), and with the others as they are met."""
        self._threads.peers.remember(thread_id, peer)
        self._topics_changed.set()
        self.schedule(peer, {thread_id}, now=True)

    # --- adding a device of this person (devicing.py, issue 19) ---------------------------------------

    async def _serve_device(self, stream: hosting.Libp2pStream) -> None:
        assert self.device_server is not None
        remote = stream.remote_address  # None over a relay: the per-address bucket does not apply
        await self.device_server.serve(stream, stream.remote, remote[0] if remote else "")

    async def ask_device(self, addresses: Sequence[str], request: bytes) -> bytes:
        """Ask the device a device link names (at its addresses) and return its
        answer's bytes; PeerError when none of them answers."""
        named: dict[PeerId, None] = {}
        for address in addresses:
            peer = peer_of_address(address)
            if peer is None or peer == self._me:
                continue
            try:
                self._threads.addresses.add(peer, [address], HINT_TTL_SECONDS)
            except ThreadsError as exc:
                log.debug("ignoring the device link's address %s: %s", address, exc)
                continue
            named[peer] = None
        if not named:
            raise PeerError("the link names no address of your other device")
        failure: BaseException | None = None
        for peer in list(named)[:devicing.MAX_PEERS_ASKED]:
            try:
                stream = await self._open_join_stream(peer, DEVICE_ID)
                try:
                    return await devicing.ask(stream, request)
                finally:
                    with trio.CancelScope(shield=True):
                        await stream.close()
            except (ThreadsError, trio.TooSlowError, OSError) as exc:
                log.info("device request to %s: no answer: %s", peer, error_text(exc))
                failure = exc
        if isinstance(failure, PeerError) and "did not answer" in str(failure):
            raise failure
        raise PeerError("your other device did not answer: is it on, with Threads Desktop open?")

    def peers_changed(self) -> None:
        """The peer book gained threads and peers at once (a device added or
        restored): dial them all now, and follow the new threads' topics."""
        self._topics_changed.set()
        for peer in self._threads.peers.all_peers():
            self.schedule(peer, now=True)
