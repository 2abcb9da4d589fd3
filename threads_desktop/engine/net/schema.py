"""Tables of the network layer (the profile's one SQLite file)."""

NET_SCHEMA = """
-- Peers worth dialing for a thread: those met in a session about it, named
-- in its heads, or given by an invite link. Addresses live in `addresses`.
CREATE TABLE thread_peers (
    thread_id BLOB NOT NULL,
    peer_id BLOB NOT NULL,
    seen_at INTEGER NOT NULL,
    PRIMARY KEY (thread_id, peer_id)
) STRICT, WITHOUT ROWID;

-- Whether originals are fetched as they appear (1) or only on demand (0);
-- previews always are. No row: always.
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
