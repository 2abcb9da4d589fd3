"""The peers a person's bundle named for each thread it brought (review of
issue 19, finding 9c): the only peers a device just added or restored
syncs a thread with while it knows no member of it yet (it holds only its
own Bind), as a joiner trusts only the peers its admission came from.

Table `bundle_peers`, additive (created if missing when a profile opens).
A thread's rows go with the thread (engine/leave.py deletes every table's
rows with a `thread_id`). Bounded by the bundle: at most MAX_PER_THREAD
peers a thread, the first the bundle lists."""

from __future__ import annotations

from collections.abc import Iterable

from threads_desktop.engine.core.ids import PeerId, ThreadId
from threads_desktop.engine.logstore.database import Database

MAX_PER_THREAD = 256
BUNDLE_PEERS_SCHEMA = """
CREATE TABLE IF NOT EXISTS bundle_peers (
    thread_id BLOB NOT NULL,
    peer TEXT NOT NULL,                 -- a device's peer ID
    PRIMARY KEY (thread_id, peer)
) STRICT, WITHOUT ROWID;
"""


def ensure_bundle_peers(database: Database) -> None:
    with database.write() as sql:
        sql.execute(BUNDLE_PEERS_SCHEMA)


class BundlePeers:
    def __init__(self, database: Database) -> None:
        self._db = database

    def name(self, thread_id: ThreadId, peers: Iterable[PeerId]) -> None:
        """The peers a bundle named for `thread_id` (with the device that sent it)."""
        named = list(dict.fromkeys(str(peer) for peer in peers))[:MAX_PER_THREAD]
        with self._db.write() as sql:
            sql.executemany("INSERT OR IGNORE INTO bundle_peers (thread_id, peer) VALUES (?, ?)",
                            [(thread_id.raw, peer) for peer in named])

    def of(self, thread_id: ThreadId) -> frozenset[str] | None:
        """The peers named for the thread; None if no bundle named any."""
        rows = self._db.connection.execute("SELECT peer FROM bundle_peers WHERE thread_id = ? LIMIT ?",
                                           (thread_id.raw, MAX_PER_THREAD)).fetchall()
        return frozenset(peer for (peer,) in rows) or None
