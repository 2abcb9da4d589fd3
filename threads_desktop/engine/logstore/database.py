"""The profile's SQLite file: WAL, one writer, explicit transactions.

Plain `sqlite3`, not sqlite-utils: the schema needs STRICT tables, WITHOUT
ROWID and CHECK constraints, which sqlite-utils' table builder cannot state,
and the hot path wants prepared statements without a wrapper in between.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from threads_desktop.engine.core.errors import DiskFullError, ProfileError, StorageError

# 2: access control (control events, acl_events, pending_joins); 3: networking
# (the first version profiles were kept from); 4: events wait in a state
# column, not a refusal prefix; 5: photos findable by their blobs; 6:
# snapshots save the rows that changed, not one blob of every view; 7: tables
# holding thumbnails are rowid tables (a large value spilled from a WITHOUT
# ROWID row into an overflow page of its own); 8: links without keys
# (pending_admissions and join_requests replace pending_joins); 9: a field
# kept apart (a photo's thumbnail) is no longer copied into its document's data.
# 10: a person above devices (person, device_book).
SCHEMA_VERSION = 10


@dataclass(frozen=True, slots=True)
class Migration:
    """One step of the schema, from `version - 1` to `version`: `apply`
    changes the tables of a profile written at the version before (it runs
    inside the step's transaction; the version is bumped in the same one)."""

    version: int
    what: str
    apply: Callable[[sqlite3.Connection], None]

LOGSTORE_SCHEMA = """
CREATE TABLE identity (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    wrapped_signing_seed BLOB NOT NULL,
    wrapped_exchange_seed BLOB NOT NULL,
    created_at INTEGER NOT NULL
) STRICT;

-- A rowid table: threads list in the order this profile learnt of them.
CREATE TABLE threads (
    id BLOB NOT NULL UNIQUE,
    variant INTEGER NOT NULL,
    created_at INTEGER NOT NULL
) STRICT;

-- The key book: one row per key epoch, the key wrapped by the vault.
CREATE TABLE thread_keys (
    thread_id BLOB NOT NULL REFERENCES threads(id),
    epoch INTEGER NOT NULL CHECK (epoch >= 0),
    can_read INTEGER NOT NULL CHECK (can_read IN (0, 1)),
    wrapped_key BLOB NOT NULL,
    PRIMARY KEY (thread_id, epoch)
) STRICT, WITHOUT ROWID;

CREATE TABLE logs (
    id INTEGER PRIMARY KEY,            -- short key for records
    thread_id BLOB NOT NULL REFERENCES threads(id),
    log_id BLOB NOT NULL,
    wrapped_private_key BLOB,          -- only for the logs this profile writes
    head BLOB,                         -- CID of the newest record, NULL when empty
    seq INTEGER NOT NULL DEFAULT 0 CHECK (seq >= 0),
    UNIQUE (thread_id, log_id)
) STRICT;

-- One row per record with its four blocks inline: one B-tree insert per event
-- instead of five. Blocks are found by (log, seq) and by record CID, the
-- event, header and body CIDs are recomputed from the bytes when needed.
-- A rowid table: a photo's record holds its thumbnail (~6 KB), and a WITHOUT
-- ROWID row keeps at most ~4 KB of a 16 KiB page inline, the rest in an
-- overflow page of its own (19 KB of file per record instead of 8 KB).
CREATE TABLE records (
    log INTEGER NOT NULL REFERENCES logs(id),
    seq INTEGER NOT NULL CHECK (seq >= 1),
    cid BLOB NOT NULL UNIQUE,
    record BLOB NOT NULL,
    event BLOB NOT NULL,
    header BLOB NOT NULL,
    body BLOB NOT NULL,
    PRIMARY KEY (log, seq)
) STRICT;

-- Content-addressed blocks that are not part of a record (photo blobs).
CREATE TABLE blocks (
    cid BLOB PRIMARY KEY,
    data BLOB NOT NULL
) STRICT;

-- Which blocks belong to which thread, so that a follower, which cannot open
-- the events naming them, still fetches and serves every block of a thread.
-- `blob` is the manifest CID of the blob the block belongs to; `priority` 0
-- for previews, 1 for originals (fetched first, and the second maybe only on
-- demand).
CREATE TABLE thread_blocks (
    id INTEGER PRIMARY KEY,
    thread_id BLOB NOT NULL,
    cid BLOB NOT NULL REFERENCES blocks(cid),
    blob BLOB NOT NULL,
    size INTEGER NOT NULL CHECK (size >= 0),
    priority INTEGER NOT NULL CHECK (priority IN (0, 1)),
    UNIQUE (thread_id, cid)
) STRICT;
CREATE INDEX thread_blocks_by_blob ON thread_blocks (thread_id, blob);

CREATE TABLE addresses (
    peer_id BLOB NOT NULL,
    address TEXT NOT NULL,
    expires_at INTEGER NOT NULL,
    PRIMARY KEY (peer_id, address)
) STRICT, WITHOUT ROWID;

"""


class Database:
    """A connection that is the profile's only writer.

    `write()` opens a transaction, or a savepoint when one is already open, so
    operations compose and a failure undoes exactly the failed part.
    """

    def __init__(self, connection: sqlite3.Connection) -> None:
        self.connection = connection
        self._depth = 0
        self._rollback_hooks: list[Callable[[], None]] = []

    @classmethod
    def open(cls, path: Path, schemas: Sequence[str] = (LOGSTORE_SCHEMA,),
             migrations: Sequence[Migration] = ()) -> Database:
        """Open (or create) the file; `schemas` are the layers' table
        definitions at SCHEMA_VERSION, applied in order to a new file;
        `migrations` bring an older file there, step by step."""
        try:
            connection = sqlite3.connect(path, isolation_level=None, check_same_thread=True)
            # Larger pages for a new file (an existing one keeps its own):
            # photo blocks of 1 MiB take a quarter of the page writes.
            connection.execute("PRAGMA page_size=16384")
            connection.execute("PRAGMA journal_mode=WAL")
            # With WAL, NORMAL loses no committed transaction when the process
            # dies; only a power cut can drop the last few.
            connection.execute("PRAGMA synchronous=NORMAL")
            connection.execute("PRAGMA foreign_keys=ON")
            connection.execute("PRAGMA cache_size=-65536")  # 64 MiB: block lookups are random
            connection.execute("PRAGMA busy_timeout=5000")
            database = cls(connection)
        except sqlite3.DatabaseError as exc:
            raise ProfileError(f"cannot open the profile database {path}: {exc}") from exc
        try:
            database._migrate(schemas, migrations)
        except BaseException as exc:
            connection.close()
            if isinstance(exc, (sqlite3.DatabaseError, StorageError)) and not isinstance(exc, DiskFullError):
                raise ProfileError(f"cannot open the profile database {path}: {exc}") from exc
            raise
        return database

    def _migrate(self, schemas: Sequence[str], migrations: Sequence[Migration]) -> None:
        (version,) = self.connection.execute("PRAGMA user_version").fetchone()
        if version > SCHEMA_VERSION:
            raise ProfileError(f"the profile was written by a newer version (schema {version})")
        if version == 0:
            with self.write():
                # Statement by statement: executescript() would commit first.
                for schema in schemas:
                    run_script(self.connection, schema)
                self.connection.execute(f"PRAGMA user_version={SCHEMA_VERSION}")
            return
        steps = sorted((m for m in migrations if m.version > version), key=lambda m: m.version)
        if [m.version for m in steps] != list(range(version + 1, SCHEMA_VERSION + 1)):
            # Before schema 3 no profile was kept: there is nothing to migrate from.
            raise ProfileError(f"the profile was made by a development version (schema {version});"
                               " make a new one")
        for step in steps:
            # One transaction per step: a step that fails leaves the profile
            # whole at the version before it, to be tried again next time.
            with self.write():
                step.apply(self.connection)
                self.connection.execute(f"PRAGMA user_version={step.version}")

    def on_rollback(self, hook: Callable[[], None]) -> None:
        """Call `hook` whenever a transaction or savepoint is rolled back, so
        whoever caches what the file holds can forget what was undone."""
        self._rollback_hooks.append(hook)

    @contextmanager
    def write(self) -> Iterator[sqlite3.Connection]:
        depth = self._depth
        name = f"s{depth}"
        try:
            self.connection.execute("BEGIN IMMEDIATE" if depth == 0 else f"SAVEPOINT {name}")
        except sqlite3.Error as exc:
            raise _storage_error("cannot write to the profile database", exc) from exc
        self._depth = depth + 1
        try:
            yield self.connection
            self.connection.execute("COMMIT" if depth == 0 else f"RELEASE {name}")
        except BaseException as exc:
            self._undo(depth, name)
            # A constraint that data broke is that data's fault; anything
            # else SQLite reports is the disk's.
            if isinstance(exc, sqlite3.Error) and not isinstance(exc, sqlite3.IntegrityError):
                raise _storage_error("the profile database failed", exc) from exc
            raise
        finally:
            self._depth = depth

    def _undo(self, depth: int, name: str) -> None:
        try:
            if self.connection.in_transaction:
                if depth == 0:
                    self.connection.execute("ROLLBACK")
                else:
                    self.connection.execute(f"ROLLBACK TO {name}")
                    self.connection.execute(f"RELEASE {name}")
            elif depth > 0:
                # SQLite rolled the whole transaction back by itself (disk
                # full, I/O error): the enclosing levels must not go on as if
                # their earlier writes were still there.
                raise StorageError("the profile database rolled back the whole transaction")
        finally:
            for hook in self._rollback_hooks:
                hook()

    def close(self) -> None:
        self.connection.close()


def _storage_error(what: str, exc: sqlite3.Error) -> StorageError:
    if exc.sqlite_errorcode == sqlite3.SQLITE_FULL:  # said in a person's words: they can act on it
        return DiskFullError("the disk is full")
    return StorageError(f"{what}: {exc}")


def into_rowid_table(connection: sqlite3.Connection, table: str) -> None:
    """Rebuild a WITHOUT ROWID table as a rowid table with the same columns,
    key (now a unique index) and indexes (SQLite's way to change a table:
    create, copy, drop, rename). For rows larger than ~1/20 of a page, which a
    WITHOUT ROWID table spills into overflow pages nearly empty."""
    row = connection.execute("SELECT sql FROM sqlite_schema WHERE type = 'table' AND name = ?", (table,)).fetchone()
    if row is None:
        raise StorageError(f"no table {table} to rebuild")
    (definition,) = row
    if not definition.rstrip().endswith("WITHOUT ROWID"):
        return
    indexes = [sql for (sql,) in connection.execute(
        "SELECT sql FROM sqlite_schema WHERE type = 'index' AND tbl_name = ? AND sql IS NOT NULL", (table,))]
    _, _, tail = definition.partition("(")
    body = tail.rstrip().removesuffix("WITHOUT ROWID").rstrip().removesuffix(",")
    staging = f"{table}_rowid"
    connection.execute(f"CREATE TABLE {staging} ({body}")
    connection.execute(f"INSERT INTO {staging} SELECT * FROM {table}")
    connection.execute(f"DROP TABLE {table}")
    connection.execute(f"ALTER TABLE {staging} RENAME TO {table}")
    for sql in indexes:
        connection.execute(sql)


def run_script(connection: sqlite3.Connection, script: str) -> None:
    """Run a schema script inside the open transaction (executescript()
    would commit first)."""
    for statement in _statements(script):
        connection.execute(statement)


def _statements(script: str) -> list[str]:
    """Split a script into statements (comments may hold semicolons)."""
    statements, pending = [], ""
    for line in script.splitlines(keepends=True):
        pending += line
        if sqlite3.complete_statement(pending):
            statements.append(pending)
            pending = ""
    if pending.strip():
        raise ValueError(f"incomplete SQL statement: {pending.strip()[:60]}")
    return statements
