"""Who this profile shares an album or chat with (the Devices view,
`threads-desktop peers`): the peer book's peers and the live links the
network reports (engine/net/peer_states.py), merged with names and when
each was last met. A pure function over plain values; Node.devices calls it."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import replace

from threads_desktop.engine.core.errors import InvalidIdError
from threads_desktop.engine.core.ids import PeerId, ThreadId
from threads_desktop.engine.core.types import Connection, Device, PeerLink, ThreadKind, ThreadSync


def devices(*, me: PeerId, shared: Mapping[PeerId, Iterable[ThreadId]], links: Iterable[PeerLink],
            names: Mapping[PeerId, str], threads: Mapping[ThreadId, tuple[str | None, ThreadKind | None]],
            last_seen: Mapping[PeerId, float]) -> list[Device]:
    """Every peer we share a thread with (the peer book's, and those proving
    one in a session now): connected ones first, then by name. `threads`
    holds the threads we hold (name, kind): a thread not in it is left out."""
    live: dict[PeerId, PeerLink] = {}
    for connected in links:
        try:
            live[PeerId.parse(connected.peer_id)] = connected
        except InvalidIdError:
            continue
    out: list[Device] = []
    for peer in set(shared) | set(live):
        if peer == me:
            continue
        link = live.get(peer)
        progress = {t.thread_id: t for t in (link.threads if link else ())}
        thread_ids = dict.fromkeys([*shared.get(peer, ()), *progress])
        rows = tuple(replace(progress.get(t, ThreadSync(t)), name=threads[t][0], kind=threads[t][1])
                     for t in thread_ids if t in threads)
        if not rows:
            continue  # connected, but shares nothing with us (a stranger, or a thread we left)
        rows = tuple(sorted(rows, key=lambda r: ((r.name or "").casefold(), str(r.thread_id))))
        connection = link.connection if link else Connection.OFFLINE
        out.append(Device(str(peer), names.get(peer), connection,
                          None if link else last_seen.get(peer), rows))
    out.sort(key=lambda d: (d.connection is Connection.OFFLINE, d.name is None, (d.name or "").casefold(),
                            d.peer_id))
    return out
