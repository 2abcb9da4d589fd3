"""Merging the peer book's peers, the live links and names into the
Devices list (engine/core/devices.py)."""

from __future__ import annotations

import os

from threads_desktop.engine.core.devices import devices
from threads_desktop.engine.core.ids import ThreadId, ThreadVariant
from threads_desktop.engine.core.keys import SigningKey
from threads_desktop.engine.core.types import Connection, PeerLink, ThreadKind, ThreadSync


def _a_thread_id() -> ThreadId:
    return ThreadId.from_random(ThreadVariant.ACCESS_CONTROLLED, os.urandom(32))


def test_devices_lists_shared_and_connected_peers_connected_first() -> None:
    me, alice, bob, stranger = (SigningKey.generate().peer_id for _ in range(4))
    album, left = _a_thread_id(), _a_thread_id()
    listed = devices(
        me=me, shared={alice: [album], bob: [album, left], me: [album]},
        links=[PeerLink(str(bob), Connection.RELAY, (ThreadSync(album, compared=True),)),
               PeerLink(str(stranger), Connection.INTERNET)],
        names={alice: "Alice"}, threads={album: ("Album", ThreadKind.ALBUM)}, last_seen={alice: 100.0, bob: 50.0})
    assert [(d.peer_id, d.name, d.connection, d.last_seen) for d in listed] == [
        (str(bob), None, Connection.RELAY, None), (str(alice), "Alice", Connection.OFFLINE, 100.0)]
    assert [t.name for t in listed[0].threads] == ["Album"] and listed[0].threads[0].in_sync
