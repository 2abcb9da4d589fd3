"""NetworkService's status for the UI: who is connected and how, how far
each shared thread is in step, what is coming in; and the state the
service keeps per remote peer. A part of service.py's NetworkService (a
mixin: it reads the service's state).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

import trio
from libp2p.abc import IHost

from threads_desktop.engine.core.ids import PeerId, ThreadId
from threads_desktop.engine.core.types import NetworkStatus, PeerLink, ThreadSync, Transfer
from threads_desktop.engine.net import host as hosting
from threads_desktop.engine.net import proofs
from threads_desktop.engine.net.client import LastKnown, Progress
from threads_desktop.engine.net.peer_states import LocalNetworks, classify, thread_sync
from threads_desktop.engine.net.ports import ThreadStore
from threads_desktop.engine.net.reach import Reach
from threads_desktop.engine.net.service_state import PeerLinkState, PeerStatus, Sighting

PROGRESS_PUSH_SECONDS = 0.25  # how often transfer progress is pushed to listeners
NEARBY_SECONDS = 600.0


class StatusParts:
    _threads: ThreadStore
    _host: IHost | None
    _me: PeerId
    _clock: Callable[[], float]
    _links: dict[PeerId, PeerLinkState]
    _nearby: dict[PeerId, Sighting]
    _reach: Reach
    _local_networks: LocalNetworks
    _connections_changed: trio.Event
    transfers: dict[tuple[ThreadId, PeerId], Progress]

    if TYPE_CHECKING:
        @property
        def online(self) -> bool: ...
        def listen_addresses(self) -> list[str]: ...
        def _last_seen(self, peer: PeerId, sighting: Sighting, now: float) -> float: ...

    def status(self) -> NetworkStatus:
        """For the UI: who is connected, who is nearby and what is coming in."""
        if not self.online:
            return NetworkStatus(online=False)
        now = self._clock()
        per_thread: dict[ThreadId, tuple[int, int]] = {}
        for (thread_id, _peer), report in self.transfers.items():
            done, total = per_thread.get(thread_id, (0, 0))
            per_thread[thread_id] = (done + report.done, total + report.total)
        links = self.peer_links()
        # A session whose connection has closed is not counted (its worker
        # finds out only at its next request).
        sessions = sum(1 for link in links if (peer := self._links.get(PeerId.parse(link.peer_id))) is not None
                       and peer.session is not None)
        return NetworkStatus(
            online=True, peers=sessions,
            transfers=tuple(Transfer(t, done, total) for t, (done, total) in per_thread.items()),
            addresses=tuple(self.listen_addresses()),
            nearby=sum(1 for p, s in self._nearby.items() if now - self._last_seen(p, s, now) <= NEARBY_SECONDS),
            links=tuple(links), reachability=_reachability_word(self._reach.current().reachable))

    def _connection_changed(self, peer: PeerId, connected: bool) -> None:
        """A connection opened or closed: the Devices view shows it at once,
        and "offline since" starts now."""
        if not connected and (peer in self._links or self._threads.peers.threads_of(peer)):
            self._threads.peers.session_seen(peer)
        self._connections_changed.set()

    async def _tell_connections(self) -> None:
        """Publish a status after connections open or close, at most four
        times a second: anyone may open and drop connections to us, and
        each status reads every shared thread's heads."""
        while True:
            await self._connections_changed.wait()
            self._connections_changed = trio.Event()
            self._threads.network_changed()
            await trio.sleep(PROGRESS_PUSH_SECONDS)

    def peer_links(self) -> list[PeerLink]:
        """The peers connected now: how (engine/net/peer_states.py), and how
        far each thread it proved in our session is in step with it."""
        if self._host is None or not self.online:
            return []
        ours: dict[ThreadId, tuple[dict[PeerId, int], bytes]] = {}  # log positions and edge, read once
        links: list[PeerLink] = []
        for peer, remote in hosting.connection_routes(self._host).items():
            link = self._links.get(peer)
            if peer == self._me:
                continue
            progress = self._progress(peer, link.known, ours) if link is not None else ()
            connection = classify(remote, local=self._local_networks, nearby=peer in self._nearby)
            links.append(PeerLink(str(peer), connection, progress))
        return links

    def _progress(self, peer: PeerId, known: LastKnown,
                  ours: dict[ThreadId, tuple[dict[PeerId, int], bytes]]) -> tuple[ThreadSync, ...]:
        """How far each thread the peer proved is in step, by what it last told us."""
        progress = []
        for thread_id in list(known.edges):
            if thread_id not in ours:
                heads = self._threads.heads(thread_id)
                ours[thread_id] = {h.log_id: h.seq for h in heads}, proofs.edge(heads)
            positions, edge = ours[thread_id]
            same_edge = known.edges.get(thread_id) == edge
            if same_edge:  # it stands where we do: what to count from once either side moves on
                known.heads[thread_id] = dict(positions)
            report = self.transfers.get((thread_id, peer))
            progress.append(thread_sync(
                thread_id, ours=positions, theirs=known.heads.get(thread_id), same_edge=same_edge,
                transfer=(report.done, report.total) if report is not None else None))
        return tuple(progress)

    def peer_status(self) -> list[PeerStatus]:
        return [PeerStatus(str(link.peer), link.session is not None, link.failures, link.last_error)
                for link in self._links.values()]


def _reachability_word(reachable: bool | None) -> str | None:
    """NetworkStatus.reachability: "reachable", "unreachable" (we rely on relays) or None (not known)."""
    return None if reachable is None else "reachable" if reachable else "unreachable"
