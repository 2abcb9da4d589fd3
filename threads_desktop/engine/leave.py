"""Leaving a thread: forgetting everything this profile holds of it.

Every table that belongs to a thread has a `thread_id` column, except two
that hang off others: `records` (off `logs`, by its row) and `blocks`
(content-addressed, shared between threads that hold the same block, named
by `thread_blocks`). The table list is read from the database itself, so a
table added later with a `thread_id` column is covered without a change
here; `threads` itself is keyed by `id`.

Leaving is local. The ACL is the thread's, signed by its admins: a member
cannot take itself out of it (that takes an admin's revocation), so the
others still list us until an admin removes us. Our log stays with them too.
What we wrote stays readable to them; we simply hold nothing any more, and
without keys or a log we neither sync nor hear about the thread again
(unless invited anew).
"""

from __future__ import annotations

import sqlite3

from threads_desktop.engine.core.errors import NotFoundError
from threads_desktop.engine.core.ids import ThreadId
from threads_desktop.engine.logstore.database import Database


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
