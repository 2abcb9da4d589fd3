"""NetworkService's nearby peers: those LAN discovery (discovery.py) finds,
listed for 10 minutes with the names they give themselves in threads we
share. A part of service.py's NetworkService (a mixin: it reads the
service's state).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import TYPE_CHECKING

import trio

from threads_desktop.engine.core.errors import ThreadsError
from threads_desktop.engine.core.ids import PeerId
from threads_desktop.engine.core.types import NearbyPeer
from threads_desktop.engine.net.joining import Joiner
from threads_desktop.engine.net.ports import ThreadStore
from threads_desktop.engine.net.service_state import PeerLinkState, Sighting

if TYPE_CHECKING:
    from threads_desktop.engine.core.ids import ThreadId

log = logging.getLogger(__name__)

DISCOVERED_TTL = 120.0
NEARBY_SECONDS = 600.0  # a peer LAN discovery found is listed as nearby this long
MAX_NEARBY = 256  # anyone on the LAN may announce: the list is bounded


class NearbyParts:
    _threads: ThreadStore
    _me: PeerId
    _token: trio.lowlevel.TrioToken | None
    _nearby: dict[PeerId, Sighting]
    _nearby_changed: trio.Event
    _clock: Callable[[], float]
    _links: dict[PeerId, PeerLinkState]
    joiner: Joiner | None

    if TYPE_CHECKING:
        def schedule(self, peer: PeerId, threads: set[ThreadId] | None = None, *, now: bool = False) -> None: ...

    def _discovered(self, peer: PeerId, addresses: list[str]) -> None:
        """From the discovery thread: hand over to the engine thread."""
        token = self._token
        if token is None:
            return
        try:
            token.run_sync_soon(self._found, peer, addresses)
        except trio.RunFinishedError:
            pass

    def _found(self, peer: PeerId, addresses: list[str]) -> None:
        try:
            self._threads.addresses.add(peer, addresses, DISCOVERED_TTL)
        except ThreadsError as exc:
            log.debug("ignoring addresses of %s: %s", peer, exc)
            return
        self._saw_nearby(peer, addresses)
        self.schedule(peer, now=True)
        if self.joiner is not None:
            self.joiner.kick()  # it may be the admin a join waits for

    def _saw_nearby(self, peer: PeerId, addresses: list[str]) -> None:
        if peer == self._me:
            return
        known = self._nearby.get(peer)
        self._nearby[peer] = Sighting(tuple(addresses), self._clock())
        if len(self._nearby) > MAX_NEARBY:
            oldest = min(self._nearby, key=lambda p: self._nearby[p].last_seen)
            del self._nearby[oldest]
        # A re-announcement with the same addresses changes nothing shown
        # but the time: listeners hear of new peers and new addresses only.
        if known is None or known.addresses != tuple(addresses):
            self._nearby_changed.set()
            self._threads.network_changed(nearby=True)

    def _last_seen(self, peer: PeerId, sighting: Sighting, now: float) -> float:
        # A peer we are in session with is still there, announced or not.
        link = self._links.get(peer)
        return now if link is not None and link.session is not None else sighting.last_seen

    def nearby(self) -> list[NearbyPeer]:
        """Peers LAN discovery found in the last 10 minutes, newest first,
        with the name they give themselves in a thread we share."""
        now = self._clock()
        seen = [(peer, sighting, self._last_seen(peer, sighting, now)) for peer, sighting in self._nearby.items()]
        fresh = sorted(((p, s, t) for p, s, t in seen if now - t <= NEARBY_SECONDS), key=lambda e: -e[2])
        names = self._names_of({p for p, _s, _t in fresh}) if fresh else {}
        return [NearbyPeer(str(peer), sighting.addresses, last_seen, names.get(peer))
                for peer, sighting, last_seen in fresh]

    def _names_of(self, peers: set[PeerId]) -> dict[PeerId, str]:
        """The names these peers give themselves in threads we share with them."""
        wanted = {str(p): p for p in peers}
        names: dict[PeerId, str] = {}
        for thread_id in self._threads.thread_ids():
            try:
                in_thread = self._threads.member_names(thread_id)
            except ThreadsError:  # a thread we only follow has no names we can read
                continue
            for member, name in in_thread.items():
                peer = wanted.get(member)
                if peer is not None:
                    names.setdefault(peer, name)
            if len(names) == len(wanted):
                break
        return names

    async def _expire_nearby(self) -> None:
        """Drop peers not seen for 10 minutes, and tell listeners."""
        while True:
            self._nearby_changed = trio.Event()
            now = self._clock()
            expired = [p for p, s in self._nearby.items() if now - self._last_seen(p, s, now) > NEARBY_SECONDS]
            for peer in expired:
                del self._nearby[peer]
            if expired:
                self._threads.network_changed(nearby=True)
            due = min((self._last_seen(p, s, now) + NEARBY_SECONDS - now for p, s in self._nearby.items()),
                      default=NEARBY_SECONDS)
            with trio.move_on_after(max(due, 0.0) + 1.0):
                await self._nearby_changed.wait()
