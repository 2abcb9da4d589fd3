"""Tables of the document views (collections), their saved copy for
snapshots, and the step that brought older profiles' snapshots here."""

import sqlite3

from threads_desktop.engine.eventstore.schema import EVENT_INDEXES_7, SNAPSHOT_SCHEMA
from threads_desktop.engine.logstore.database import Migration, into_rowid_table, run_script

_VIEW_TABLES = """
-- Documents: the view of every collection. `data` is the DAG-CBOR map of the
-- current field values; `fields` keeps each field's last-writer stamp. Both
-- are rowid tables: they hold thumbnails, larger than the ~4 KB a WITHOUT
-- ROWID row keeps in its 16 KiB page (schema 7).
CREATE TABLE documents (
    thread_id BLOB NOT NULL,
    collection TEXT NOT NULL,
    id TEXT NOT NULL,
    data BLOB NOT NULL,
    author BLOB NOT NULL,              -- log ID of the earliest create
    created BLOB NOT NULL,             -- stamp of the earliest create
    updated BLOB NOT NULL,             -- stamp of the latest change
    version INTEGER NOT NULL,          -- how many changes were applied
    deleted INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (thread_id, collection, id)
) STRICT;

CREATE TABLE fields (
    thread_id BLOB NOT NULL,
    collection TEXT NOT NULL,
    id TEXT NOT NULL,
    field TEXT NOT NULL,
    stamp BLOB NOT NULL,
    value BLOB,                        -- DAG-CBOR; NULL when unset
    PRIMARY KEY (thread_id, collection, id, field)
) STRICT;

-- Indexed fields of live documents, for queries and ordering. Every live
-- document has a row per indexed field; `missing` = 1 where it has no value,
-- so ordering by (missing, value, id) lists those last straight off the index.
CREATE TABLE document_index (
    thread_id BLOB NOT NULL,
    collection TEXT NOT NULL,
    field TEXT NOT NULL,
    missing INTEGER NOT NULL,
    value ANY NOT NULL,                -- 0 where missing
    id TEXT NOT NULL,
    PRIMARY KEY (thread_id, collection, field, missing, value, id)
) STRICT, WITHOUT ROWID;

-- Documents in creation order, for listings without an indexed field.
CREATE INDEX documents_created ON documents (thread_id, collection, created, id);

"""

# How many index rows each (thread, collection, field) has: as many as the
# collection's live documents. Triggers keep it, so a thread's summary reads
# its counts here instead of counting 100,000 index rows (20 ms) whenever a
# change names the thread (schema 7).
INDEX_COUNTS = """
CREATE TABLE document_index_counts (
    thread_id BLOB NOT NULL,
    collection TEXT NOT NULL,
    field TEXT NOT NULL,
    live INTEGER NOT NULL,            -- index rows: live documents
    PRIMARY KEY (thread_id, collection, field)
) STRICT, WITHOUT ROWID;
CREATE TRIGGER document_index_counted AFTER INSERT ON document_index BEGIN
    INSERT INTO document_index_counts VALUES (NEW.thread_id, NEW.collection, NEW.field, 1)
        ON CONFLICT DO UPDATE SET live = live + 1;
END;
CREATE TRIGGER document_index_uncounted AFTER DELETE ON document_index BEGIN
    UPDATE document_index_counts SET live = live - 1
        WHERE thread_id = OLD.thread_id AND collection = OLD.collection AND field = OLD.field;
END;
"""

_AUTHOR_TABLES = """
-- Every log that created a document (concurrently): its authors, who may edit it.
CREATE TABLE document_authors (
    thread_id BLOB NOT NULL,
    collection TEXT NOT NULL,
    id TEXT NOT NULL,
    log_id BLOB NOT NULL,
    seq INTEGER NOT NULL,              -- where in its log the create is
    removed INTEGER NOT NULL DEFAULT 0, -- 1: a delete that had seen this create removed it
    PRIMARY KEY (thread_id, collection, id, log_id)
) STRICT, WITHOUT ROWID;
"""

# The documents reducer's part of a snapshot: its tables at the snapshot's
# frontier, minus what can be derived (document data, index rows) and minus
# the values themselves: a field names the op that wrote it by its stamp (the
# event's (log, seq) and the op's place) and keeps its value's SHA-256, so a
# rebuild reads the value from that event (its record, once compacted) and
# checks it. A photo costs its rows here (about 0.9 KiB), not its thumbnail.
DB_SNAPSHOT_SCHEMA = """
CREATE TABLE snapshot_documents (
    thread_id BLOB NOT NULL,
    collection TEXT NOT NULL,
    id TEXT NOT NULL,
    author BLOB NOT NULL,
    created BLOB NOT NULL,
    updated BLOB NOT NULL,
    version INTEGER NOT NULL,
    deleted INTEGER NOT NULL,
    PRIMARY KEY (thread_id, collection, id)
) STRICT, WITHOUT ROWID;

CREATE TABLE snapshot_fields (
    thread_id BLOB NOT NULL,
    collection TEXT NOT NULL,
    id TEXT NOT NULL,
    field TEXT NOT NULL,
    stamp BLOB NOT NULL,               -- the writing event's stamp, then the op's place (2 bytes)
    value_hash BLOB,                   -- SHA-256 of the DAG-CBOR value; NULL when unset
    PRIMARY KEY (thread_id, collection, id, field)
) STRICT, WITHOUT ROWID;

CREATE TABLE snapshot_authors (
    thread_id BLOB NOT NULL,
    collection TEXT NOT NULL,
    id TEXT NOT NULL,
    log_id BLOB NOT NULL,
    seq INTEGER NOT NULL,
    removed INTEGER NOT NULL,
    PRIMARY KEY (thread_id, collection, id, log_id)
) STRICT, WITHOUT ROWID;
"""

DB_SCHEMA = _VIEW_TABLES + INDEX_COUNTS + _AUTHOR_TABLES + DB_SNAPSHOT_SCHEMA


def _snapshots_follow_changes(sql: sqlite3.Connection) -> None:
    """Schema 5 saved a snapshot as one blob of every view, thumbnails
    included. Those blobs go; every document is marked for the next snapshot
    (a thread without one rebuilds by replaying its events, compacted ones
    opened again from its logs)."""
    sql.execute("DROP TABLE snapshots")
    run_script(sql, SNAPSHOT_SCHEMA)
    run_script(sql, DB_SNAPSHOT_SCHEMA)
    sql.execute("INSERT INTO snapshot_dirty (thread_id, collection, id)"
                " SELECT thread_id, collection, id FROM documents")


def _thumbnails_in_rowid_tables(sql: sqlite3.Connection) -> None:
    """Up to schema 6 the four tables that hold a photo's thumbnail (its
    record, its event, the document and its field) were WITHOUT ROWID: each
    copy past ~4 KB took an overflow page of 16 KiB of its own, 80 KB of file
    per photo in all. One step for the three layers' tables: a step is one
    version. The space freed is reused by new rows (no VACUUM here: it cannot
    run inside the step's transaction)."""
    for table in ("records", "events", "documents", "fields"):
        into_rowid_table(sql, table)
    # And two indexes on events, so that start-up and the members dialog no
    # longer read every event (235 ms and 180 ms at 100,000 photos).
    run_script(sql, EVENT_INDEXES_7)
    # And the index's counts, for threads' summaries.
    run_script(sql, INDEX_COUNTS)
    sql.execute("INSERT INTO document_index_counts (thread_id, collection, field, live)"
                " SELECT thread_id, collection, field, count(*) FROM document_index GROUP BY 1, 2, 3")


DB_MIGRATIONS = (Migration(6, "snapshots save what changed, without thumbnails", _snapshots_follow_changes),
                 Migration(7, "thumbnails in rowid tables; events by stamp", _thumbnails_in_rowid_tables))
