"""Which peers share which threads, and how blobs of a thread are fetched:
what the network keeps beside the address book. The tables kept their
names when they moved here from engine/net, so profiles need no migration."""

from __future__ import annotations

from collections.abc import Callable, Iterable

from threads_desktop.engine.core.errors import InvalidInputError
from threads_desktop.engine.core.ids import PeerId, ThreadId
from threads_desktop.engine.core.types import FetchOriginals
from threads_desktop.engine.logstore import local_settings
from threads_desktop.engine.logstore.addressbook import AddressBook
from threads_desktop.engine.logstore.database import Database

MAX_PEERS_PER_THREAD = 256
MAX_PEER_SESSIONS = 1024  # peers whose last session is remembered (the Devices view's "offline since")

# Additive (created if missing when a profile opens, like local_settings):
# when our last session with each peer was open, so "offline since" outlives
# a restart. Any peer that reaches a session gets a row: bounded, newest kept.
PEER_SESSIONS_SCHEMA = """
CREATE TABLE IF NOT EXISTS peer_sessions (
    peer_id BLOB PRIMARY KEY,
    last_session INTEGER NOT NULL
) STRICT, WITHOUT ROWID;
"""

PEERBOOK_SCHEMA = """
-- Peers worth dialing for a thread: those met in a session about it, named
-- in its heads, or given by an invite link. Addresses live in `addresses`.
CREATE TABLE thread_peers (
    thread_id BLOB NOT NULL,
    peer_id BLOB NOT NULL,
    seen_at INTEGER NOT NULL,
    PRIMARY KEY (thread_id, peer_id)
) STRICT, WITHOUT ROWID;

-- Whether originals are fetched as they appear (1) or only on demand (0);
-- previews always are. No row: the profile's choice (local_settings).
CREATE TABLE thread_settings (
    thread_id BLOB PRIMARY KEY,
    fetch_originals INTEGER NOT NULL CHECK (fetch_originals IN (0, 1))
) STRICT;

-- Originals asked for on demand and not here yet.
CREATE TABLE wanted_blobs (
    thread_id BLOB NOT NULL,
    blob BLOB NOT NULL,
    PRIMARY KEY (thread_id, blob)
) STRICT, WITHOUT ROWID;
"""


def ensure_peer_sessions(database: Database) -> None:
    with database.write() as sql:
        sql.execute(PEER_SESSIONS_SCHEMA)


# Rows only for a thread this profile holds: leaving deletes them all, and
# nothing written afterwards may bring one back.
_IF_HELD = " WHERE EXISTS (SELECT 1 FROM threads WHERE id = ?)"


class PeerBook:
    def __init__(self, database: Database, addresses: AddressBook, now_seconds: Callable[[], float]) -> None:
        self._db = database
        self._addresses = addresses
        self._now_seconds = now_seconds

    def remember(self, thread_id: ThreadId, peer: PeerId, addresses: Iterable[str] = (),
                 ttl_seconds: float = 3600) -> None:
        """Note that `peer` shares the thread (and where it was seen).
        Malformed addresses are dropped: they are hints from peers."""
        good = []
        for address in addresses:
            try:
                self._addresses.add(peer, [address], ttl_seconds)
                good.append(address)
            except InvalidInputError:
                continue
        with self._db.write() as sql:
            # A thread no longer held (a reply arriving after we left) gets
            # no row: ON CONFLICT needs the WHERE to parse after a SELECT.
            sql.execute("INSERT INTO thread_peers (thread_id, peer_id, seen_at) SELECT ?, ?, ?" + _IF_HELD +
                        " ON CONFLICT DO UPDATE SET seen_at = excluded.seen_at",
                        (thread_id.raw, peer.raw, int(self._now_seconds()), thread_id.raw))
            sql.execute("DELETE FROM thread_peers WHERE thread_id = ? AND peer_id NOT IN (SELECT peer_id FROM"
                        " thread_peers WHERE thread_id = ? ORDER BY seen_at DESC LIMIT ?)",
                        (thread_id.raw, thread_id.raw, MAX_PEERS_PER_THREAD))

    def peers(self, thread_id: ThreadId) -> list[PeerId]:
        return [PeerId(raw) for (raw,) in self._db.connection.execute(
            "SELECT peer_id FROM thread_peers WHERE thread_id = ? ORDER BY seen_at DESC", (thread_id.raw,))]

    def all_peers(self) -> list[PeerId]:
        return [PeerId(raw) for (raw,) in self._db.connection.execute(
            "SELECT DISTINCT peer_id FROM thread_peers")]

    def threads_of(self, peer: PeerId) -> list[ThreadId]:
        return [ThreadId(raw) for (raw,) in self._db.connection.execute(
            "SELECT thread_id FROM thread_peers WHERE peer_id = ?", (peer.raw,))]

    # --- sessions ------------------------------------------------------------------------

    def session_seen(self, peer: PeerId) -> None:
        """A session with `peer` is open now (called as it opens and ends)."""
        with self._db.write() as sql:
            sql.execute("INSERT INTO peer_sessions (peer_id, last_session) VALUES (?, ?)"
                        " ON CONFLICT DO UPDATE SET last_session = excluded.last_session",
                        (peer.raw, int(self._now_seconds())))
            sql.execute("DELETE FROM peer_sessions WHERE peer_id NOT IN (SELECT peer_id FROM peer_sessions"
                        " ORDER BY last_session DESC LIMIT ?)", (MAX_PEER_SESSIONS,))

    def last_sessions(self) -> dict[PeerId, float]:
        """When our last session with each peer was open (seconds since the epoch)."""
        return {PeerId(raw): float(at) for raw, at in self._db.connection.execute(
            "SELECT peer_id, last_session FROM peer_sessions")}

    # --- blob policy ---------------------------------------------------------------------

    def fetch_originals(self, thread_id: ThreadId) -> bool:
        """Whether the thread's originals come with its previews: the
        thread's own choice if it has one, else the profile's. Read at each
        transfer, so every process that opens the profile follows it, for
        threads created or joined anywhere."""
        row = self._db.connection.execute("SELECT fetch_originals FROM thread_settings WHERE thread_id = ?",
                                          (thread_id.raw,)).fetchone()
        if row is not None:
            return bool(row[0])
        return local_settings.fetch_originals(self._db) is FetchOriginals.ALWAYS

    def set_fetch_originals_everywhere(self, policy: FetchOriginals) -> None:
        """The profile's policy, for every thread: a thread's own choice
        gives way to it (the app once wrote the same value into each)."""
        with self._db.write() as sql:
            local_settings.store_fetch_originals(self._db, policy)
            sql.execute("DELETE FROM thread_settings")

    def set_fetch_originals(self, thread_id: ThreadId, always: bool) -> None:
        """One thread's own choice, over the profile's."""
        with self._db.write() as sql:
            sql.execute("INSERT INTO thread_settings (thread_id, fetch_originals) SELECT ?, ?" + _IF_HELD +
                        " ON CONFLICT DO UPDATE SET fetch_originals = excluded.fetch_originals",
                        (thread_id.raw, int(always), thread_id.raw))

    def want_blob(self, thread_id: ThreadId, blob: bytes) -> None:
        with self._db.write() as sql:
            sql.execute("INSERT OR IGNORE INTO wanted_blobs (thread_id, blob) SELECT ?, ?" + _IF_HELD,
                        (thread_id.raw, blob, thread_id.raw))

    def wanted_blobs(self, thread_id: ThreadId) -> set[bytes]:
        return {blob for (blob,) in self._db.connection.execute(
            "SELECT blob FROM wanted_blobs WHERE thread_id = ?", (thread_id.raw,))}

    def got_blobs(self, thread_id: ThreadId, blobs: Iterable[bytes]) -> None:
        with self._db.write() as sql:
            sql.executemany("DELETE FROM wanted_blobs WHERE thread_id = ? AND blob = ?",
                            [(thread_id.raw, b) for b in blobs])
