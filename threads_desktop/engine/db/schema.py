"""Tables of the document views (collections)."""

DB_SCHEMA = """
-- Documents: the view of every collection. `data` is the DAG-CBOR map of the
-- current field values; `fields` keeps each field's last-writer stamp.
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
) STRICT, WITHOUT ROWID;

CREATE TABLE fields (
    thread_id BLOB NOT NULL,
    collection TEXT NOT NULL,
    id TEXT NOT NULL,
    field TEXT NOT NULL,
    stamp BLOB NOT NULL,
    value BLOB,                        -- DAG-CBOR; NULL when unset
    PRIMARY KEY (thread_id, collection, id, field)
) STRICT, WITHOUT ROWID;

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
