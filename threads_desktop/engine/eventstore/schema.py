"""Tables of the event store and the views its reducers maintain, and the
steps that brought older profiles' tables here."""

import sqlite3

from threads_desktop.engine.logstore.database import Migration

_EVENT_TABLES = """
-- Every opened event of the threads this profile can read. `stamp` is the
-- event's place in the total order: hlc, then log ID, then seq, as bytes.
-- A rowid table: payloads hold thumbnails, too large for a WITHOUT ROWID row
-- to keep in its page (schema 7).
CREATE TABLE events (
    thread_id BLOB NOT NULL,
    log_id BLOB NOT NULL,
    seq INTEGER NOT NULL,
    stamp BLOB NOT NULL,
    deps BLOB NOT NULL,                -- DAG-CBOR [[log ID, seq], ...]
    payload BLOB,                      -- DAG-CBOR; NULL once compacted
    state INTEGER NOT NULL DEFAULT 0,  -- 0 waiting, 1 applied, 2 refused, 3 opaque (followers)
    refusal TEXT,                      -- why a refused event changed nothing
    control INTEGER NOT NULL DEFAULT 0, -- 1: a control event (header sealed with the follow key)
    -- While waiting (state 0), what for: 0 its log's previous event and its
    -- deps; 1 a key (no key held opens it); 2 its log's previous event only
    -- (a follower cannot open it: it settles as opaque). Last, as migration 4 added it.
    waits_for INTEGER NOT NULL DEFAULT 0 CHECK (waits_for IN (0, 1, 2)),
    PRIMARY KEY (thread_id, log_id, seq)
) STRICT;
-- The events still waiting, log by log: what every batch of new events looks at.
CREATE INDEX events_waiting ON events (thread_id, log_id, seq) WHERE state = 0;
-- The latest stamp of all (the clock starts past it) and the refused events
-- (the members dialog lists them), without reading every event (schema 7).
CREATE INDEX events_by_stamp ON events (stamp);
CREATE INDEX events_refused ON events (thread_id, stamp) WHERE state = 2;

-- How far each log of a thread has been applied (the causal frontier).
CREATE TABLE applied (
    thread_id BLOB NOT NULL,
    log_id BLOB NOT NULL,
    seq INTEGER NOT NULL,
    PRIMARY KEY (thread_id, log_id)
) STRICT, WITHOUT ROWID;

"""

# Snapshots (schema 6): the frontier a thread's views were saved at and the
# digest of those views; the saved views themselves are the reducers' own
# tables (db/schema.py, `snapshot_*`), brought up to date at each snapshot
# for the documents touched since the one before (`snapshot_dirty`).
SNAPSHOT_SCHEMA = """
-- The latest snapshot of each thread, local only.
CREATE TABLE snapshots (
    thread_id BLOB NOT NULL PRIMARY KEY,
    applied_count INTEGER NOT NULL,
    frontier BLOB NOT NULL,            -- DAG-CBOR [[log ID, seq], ...]
    digest BLOB NOT NULL               -- 32 bytes: sum of the saved rows' SHA-256, modulo 2^256
) STRICT, WITHOUT ROWID;

-- Documents touched since the thread's latest snapshot: what the next one saves again.
CREATE TABLE snapshot_dirty (
    thread_id BLOB NOT NULL,
    collection TEXT NOT NULL,
    id TEXT NOT NULL,
    PRIMARY KEY (thread_id, collection, id)
) STRICT, WITHOUT ROWID;
"""

EVENTSTORE_SCHEMA = _EVENT_TABLES + SNAPSHOT_SCHEMA

# Added by migration 7.
EVENT_INDEXES_7 = """
CREATE INDEX events_by_stamp ON events (stamp);
CREATE INDEX events_refused ON events (thread_id, stamp) WHERE state = 2;
"""


def latest_stamp(sql: sqlite3.Connection) -> bytes | None:
    """The latest stamp of any event this profile holds, off the index."""
    (latest,) = sql.execute("SELECT max(stamp) FROM events").fetchone()
    return bytes(latest) if latest is not None else None


def _events_wait_in_a_column(sql: sqlite3.Connection) -> None:
    """Schema 3 kept why an event waits as a prefix of its refusal
    ("unreadable: ...", "opaque: ..."), found with LIKE."""
    sql.execute("ALTER TABLE events ADD COLUMN waits_for INTEGER NOT NULL DEFAULT 0"
                " CHECK (waits_for IN (0, 1, 2))")
    sql.execute("UPDATE events SET waits_for = 1, refusal = NULL WHERE state = 0 AND refusal LIKE 'unreadable: %'")
    sql.execute("UPDATE events SET waits_for = 2, refusal = NULL WHERE state = 0 AND refusal LIKE 'opaque: %'")
    sql.execute("UPDATE events SET refusal = NULL WHERE state = 3")  # opaque, settled: nothing was refused


EVENTSTORE_MIGRATIONS = (Migration(4, "events wait in a state column", _events_wait_in_a_column),)
