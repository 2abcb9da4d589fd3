"""Leaving a thread: telling the others, then forgetting everything this
profile holds of it.

Every table that belongs to a thread has a `thread_id` column, except two
that hang off others: `records` (off `logs`, by its row) and `blocks`
(content-addressed, shared between threads that hold the same block, named
by `thread_blocks`). The table list is read from the database itself, so a
table added later with a `thread_id` column is covered without a change
here; `threads` itself is keyed by `id`.

A member leaves by writing a Leave event (it takes every role from itself;
admins rotate the keys when they see it). Until a member holds that event,
the thread stays here, hidden and read-only (`leaving`): deleting it at once
would take the only copy of the Leave with it, and the others would list us
for ever. Once a member has it (the sync server saw it pull it, or a
member's heads say it holds it), the rows go. A profile that was removed,
never got in, or is the thread's only member has nobody to tell: its rows
go at once.
"""

from __future__ import annotations

import sqlite3

from threads_desktop.engine.core.errors import NotFoundError
from threads_desktop.engine.core.ids import PeerId, ThreadId
from threads_desktop.engine.logstore.database import Database

# A thread whose Leave no member fetched is deleted after this anyway: the
# profile must not keep a thread it left for ever because its members stopped
# running (or removed it meanwhile: then they never serve it again). The
# others then keep listing us until an admin removes us, as before Leave.
LEAVING_DAYS = 30

# Created if missing when a profile opens (additive: no schema step). One
# row per thread we left and still hold; its `thread_id` column takes it
# away with the thread's other rows.
LEAVING_SCHEMA = """
CREATE TABLE IF NOT EXISTS leaving (
    thread_id BLOB PRIMARY KEY,
    log_id BLOB NOT NULL,              -- our log in the thread
    seq INTEGER NOT NULL,              -- our Leave event's seq in it
    since INTEGER NOT NULL             -- Unix seconds
) STRICT, WITHOUT ROWID;
"""


def ensure_leaving(database: Database) -> None:
    with database.write() as sql:
        sql.execute(LEAVING_SCHEMA)


def start_leaving(database: Database, thread_id: ThreadId, log_id: PeerId, seq: int, now: int) -> None:
    """Remember that our Leave is event `seq` of our log `log_id`."""
    with database.write() as sql:
        sql.execute("INSERT OR REPLACE INTO leaving (thread_id, log_id, seq, since) VALUES (?, ?, ?, ?)",
                    (thread_id.raw, log_id.raw, seq, now))


def leaving_event(database: Database, thread_id: ThreadId) -> tuple[PeerId, int] | None:
    """(our log, our Leave's seq) for a thread we are leaving; else None."""
    row = database.connection.execute("SELECT log_id, seq FROM leaving WHERE thread_id = ?",
                                      (thread_id.raw,)).fetchone()
    return None if row is None else (PeerId(row[0]), int(row[1]))


def leaving_threads(database: Database) -> set[ThreadId]:
    return {ThreadId(raw) for (raw,) in database.connection.execute("SELECT thread_id FROM leaving")}


def stale_leaving(database: Database, now: int) -> list[ThreadId]:
    """Threads left more than LEAVING_DAYS ago that no member fetched."""
    return [ThreadId(raw) for (raw,) in database.connection.execute(
        "SELECT thread_id FROM leaving WHERE since <= ? ORDER BY since", (now - LEAVING_DAYS * 86400,))]


def thread_tables(connection: sqlite3.Connection) -> list[str]:
    """Every table with a `thread_id` column."""
    names = [name for (name,) in connection.execute(
        "SELECT name FROM sqlite_schema WHERE type = 'table' AND name NOT LIKE 'sqlite_%' ORDER BY name")]
    return [name for name in names
            if any(column[1] == "thread_id" for column in connection.execute(f"PRAGMA table_info({name})"))]


def delete_thread_rows(database: Database, thread_id: ThreadId) -> None:
    """Delete every row of the thread, in one transaction; blocks only no
    other thread names. NotFoundError if the thread is not here. What the
    parts keep in memory is theirs to forget (core/lifecycle.py); what a
    late network reply would write is refused where it is written (the
    peer book and the blob store check that the thread is still held)."""
    raw = thread_id.raw
    with database.write() as sql:
        if sql.execute("SELECT 1 FROM threads WHERE id = ?", (raw,)).fetchone() is None:
            raise NotFoundError(f"thread {thread_id} is not in this profile")
        # Children first: foreign keys are enforced (records -> logs,
        # thread_blocks -> blocks, keys and logs -> threads).
        sql.execute("DELETE FROM records WHERE log IN (SELECT id FROM logs WHERE thread_id = ?)", (raw,))
        cids = sql.execute("SELECT DISTINCT cid FROM thread_blocks WHERE thread_id = ?", (raw,)).fetchall()
        for table in thread_tables(sql):
            sql.execute(f"DELETE FROM {table} WHERE thread_id = ?", (raw,))
        # A block is shared only when two threads name the same bytes; it
        # stays as long as one does.
        sql.executemany("DELETE FROM blocks WHERE cid = ?"
                        " AND NOT EXISTS (SELECT 1 FROM thread_blocks t WHERE t.cid = blocks.cid)", cids)
        sql.execute("DELETE FROM threads WHERE id = ?", (raw,))
