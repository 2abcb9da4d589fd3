"""Tables of access control."""

ACL_SCHEMA = """
-- Every control event admitted (applied or refused): the thread's ACL history,
-- judged again as a whole whenever it grows. `position` is the order of
-- admission, which respects causality. Derived from the logs, kept across
-- replays so a replay judges with everything known.
CREATE TABLE acl_events (
    thread_id BLOB NOT NULL,
    log_id BLOB NOT NULL,
    seq INTEGER NOT NULL,
    position INTEGER NOT NULL,
    stamp BLOB NOT NULL,
    deps BLOB NOT NULL,                -- DAG-CBOR [[log ID, seq], ...]
    payload BLOB NOT NULL,             -- DAG-CBOR {type: acl, ops: [...]}
    verdict INTEGER,                   -- the last final verdict: 1 holds, 0 refused
    PRIMARY KEY (thread_id, log_id, seq)
) STRICT, WITHOUT ROWID;

-- Invites sealed to us by a known peer, until we accept or decline them.
CREATE TABLE direct_invites (
    id BLOB PRIMARY KEY,               -- sha256 of the sealed bytes, first 16
    sender TEXT NOT NULL,
    thread_id BLOB NOT NULL,
    sealed BLOB NOT NULL,              -- still sealed to our X25519 key at rest
    received_at INTEGER NOT NULL
) STRICT, WITHOUT ROWID;

-- Links this profile joined with, until its join event is written. The
-- invite's signing seed is wrapped by the key vault, never stored in the clear.
CREATE TABLE pending_joins (
    thread_id BLOB PRIMARY KEY,
    invite_key BLOB NOT NULL,
    wrapped_seed BLOB NOT NULL,
    failure TEXT                       -- why the join was refused, once it was
) STRICT, WITHOUT ROWID;
"""
