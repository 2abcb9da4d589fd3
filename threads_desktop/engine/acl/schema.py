"""Tables of access control."""

import sqlite3

from threads_desktop.engine.logstore.database import Migration, run_script

ACL_TABLES = """
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

-- Admissions (schema 8) follow.
"""

# Schema 8: links no longer carry keys. A link we joined with waits here
# until an admin admits us (and our bind is written), or refuses; the
# requests a person must approve (or that were refused) wait on the admin's.
ADMISSION_TABLES = """
-- Links this profile joined with: no thread row and no keys until an admin
-- answers. The invite's seed and our log's key for the thread are wrapped by
-- the key vault, never stored in the clear.
CREATE TABLE pending_admissions (
    thread_id BLOB PRIMARY KEY,
    invite_key BLOB NOT NULL,
    wrapped_seed BLOB NOT NULL,
    wrapped_log_seed BLOB NOT NULL,
    role TEXT NOT NULL,
    name TEXT,                         -- hints from the link, for the joiner to see
    inviter TEXT,
    addresses BLOB NOT NULL,           -- DAG-CBOR [multiaddr, ...]
    status TEXT NOT NULL CHECK (status IN ('waiting', 'waiting-approval', 'admitted', 'refused')),
    reason TEXT,
    since_ms INTEGER NOT NULL
) STRICT, WITHOUT ROWID;

-- Joiners an admin's person must approve, and refusals, for admins to see:
-- at most 64 a thread (the oldest go).
CREATE TABLE join_requests (
    thread_id BLOB NOT NULL,
    request_id BLOB NOT NULL,          -- one per thread, invite and joiner
    peer TEXT NOT NULL,
    name TEXT,
    invite_key BLOB NOT NULL,
    request BLOB NOT NULL,             -- the request as it came (to admit on approval)
    status TEXT NOT NULL CHECK (status IN ('waiting', 'refused')),
    reason TEXT,
    at_ms INTEGER NOT NULL,
    PRIMARY KEY (thread_id, request_id)
) STRICT, WITHOUT ROWID;
"""


# Schema 10: a person above devices (issue 19). The person key is on every
# device of the person (wrapped by the vault); a profile's first device uses
# its identity key, so migration makes each profile a person with one
# device. `device_book` keeps every device certificate and removal seen
# (threads, hellos, bundles), verified before it is stored.
PERSON_TABLES = """
CREATE TABLE person (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    person_id TEXT NOT NULL,
    wrapped_person_seed BLOB NOT NULL, -- vault label "person/signing"
    cert BLOB,                         -- this device's DeviceCert (NULL: the first device)
    removed_by_ms INTEGER              -- when another device removed this one
) STRICT;

CREATE TABLE device_book (
    person_id TEXT NOT NULL,
    device_id TEXT NOT NULL,
    cert BLOB,
    removal BLOB,
    name TEXT,
    added_ms INTEGER,
    removed_ms INTEGER,
    PRIMARY KEY (person_id, device_id)
) STRICT, WITHOUT ROWID;
"""


def _persons(sql: sqlite3.Connection) -> None:
    """Schema 10. The person row itself is written when the profile opens
    (acl/device_book.ensure_person: the vault wraps its seed)."""
    run_script(sql, PERSON_TABLES)


def _admissions(sql: sqlite3.Connection) -> None:
    """Schema 8. A join by an old link whose join event was never written
    is dropped with `pending_joins`: its thread stays as a thread we are no
    member of (an admin must send a new link); nothing else holds one."""
    run_script(sql, ADMISSION_TABLES)
    sql.execute("DROP TABLE pending_joins")


ACL_MIGRATIONS = (Migration(8, "links without keys: admissions", _admissions),
                  Migration(10, "a person above devices", _persons))

ACL_SCHEMA = ACL_TABLES + ADMISSION_TABLES + PERSON_TABLES
