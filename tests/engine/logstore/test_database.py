from __future__ import annotations

import sqlite3
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from threads_desktop.engine.core.errors import ProfileError, StorageError
from threads_desktop.engine.logstore.database import SCHEMA_VERSION, Database, Migration


@pytest.fixture
def database(tmp_path: Path) -> Iterator[Database]:
    db = Database.open(tmp_path / "db.sqlite3")
    db.connection.execute("CREATE TABLE t (x INTEGER UNIQUE)")
    yield db
    db.close()


def _rows(db: Database) -> list[int]:
    return [x for (x,) in db.connection.execute("SELECT x FROM t ORDER BY x")]


def test_a_failing_inner_block_undoes_only_itself(database: Database) -> None:
    rollbacks: list[int] = []
    database.on_rollback(lambda: rollbacks.append(1))
    with database.write() as sql:
        sql.execute("INSERT INTO t VALUES (1)")
        with pytest.raises(ValueError), database.write():
            sql.execute("INSERT INTO t VALUES (2)")
            raise ValueError("inner fails")
        sql.execute("INSERT INTO t VALUES (3)")
    assert _rows(database) == [1, 3]
    assert rollbacks == [1]


def test_an_outer_failure_undoes_everything(database: Database) -> None:
    with pytest.raises(ValueError), database.write() as sql:
        sql.execute("INSERT INTO t VALUES (1)")
        with database.write():
            sql.execute("INSERT INTO t VALUES (2)")
        raise ValueError("outer fails")
    assert _rows(database) == []


def test_an_sqlite_failure_is_a_storage_error_and_writes_nothing(database: Database) -> None:
    with pytest.raises(StorageError, match="no such table"), database.write() as sql:
        sql.execute("INSERT INTO t VALUES (1)")
        sql.execute("INSERT INTO missing VALUES (1)")
    assert _rows(database) == []
    assert not database.connection.in_transaction


def test_a_broken_constraint_is_the_datas_fault_and_writes_nothing(database: Database) -> None:
    with pytest.raises(sqlite3.IntegrityError), database.write() as sql:
        sql.execute("INSERT INTO t VALUES (1)")
        sql.execute("INSERT INTO t VALUES (1)")
    assert _rows(database) == []


def test_a_profile_from_a_newer_version_is_refused(tmp_path: Path) -> None:
    db = Database.open(tmp_path / "db.sqlite3")
    db.connection.execute(f"PRAGMA user_version={SCHEMA_VERSION + 1}")
    db.close()
    with pytest.raises(ProfileError, match="newer version"):
        Database.open(tmp_path / "db.sqlite3")


def _at_version(path: Path, version: int) -> None:
    """A file as an older version left it: a table `t` and its version."""
    connection = sqlite3.connect(path)
    connection.execute("CREATE TABLE t (x INTEGER UNIQUE)")
    connection.execute(f"PRAGMA user_version={version}")
    connection.commit()
    connection.close()


def _version(db: Database) -> int:
    return int(db.connection.execute("PRAGMA user_version").fetchone()[0])


def test_an_older_profile_is_migrated_step_by_step_in_order(tmp_path: Path) -> None:
    _at_version(tmp_path / "db.sqlite3", SCHEMA_VERSION - 2)
    seen: list[tuple[int, int]] = []

    def step(value: int) -> Callable[[sqlite3.Connection], None]:
        def apply(sql: sqlite3.Connection) -> None:
            (version,) = sql.execute("PRAGMA user_version").fetchone()
            seen.append((version, value))
            sql.execute("INSERT INTO t VALUES (?)", (value,))
        return apply

    # Given out of order: they run by version.
    db = Database.open(tmp_path / "db.sqlite3", migrations=(
        Migration(SCHEMA_VERSION, "second", step(2)), Migration(SCHEMA_VERSION - 1, "first", step(1))))
    assert seen == [(SCHEMA_VERSION - 2, 1), (SCHEMA_VERSION - 1, 2)]
    assert _version(db) == SCHEMA_VERSION and _rows(db) == [1, 2]
    db.close()
    # Opened again, nothing runs twice.
    db = Database.open(tmp_path / "db.sqlite3", migrations=(Migration(SCHEMA_VERSION, "second", step(3)),))
    assert _rows(db) == [1, 2] and len(seen) == 2
    db.close()


def test_a_failing_migration_step_leaves_the_profile_at_the_step_before(tmp_path: Path) -> None:
    _at_version(tmp_path / "db.sqlite3", SCHEMA_VERSION - 2)

    def first(sql: sqlite3.Connection) -> None:
        sql.execute("INSERT INTO t VALUES (1)")

    def broken(sql: sqlite3.Connection) -> None:
        sql.execute("INSERT INTO t VALUES (2)")
        sql.execute("ALTER TABLE nowhere ADD COLUMN y INTEGER")

    with pytest.raises(ProfileError, match="no such table"):
        Database.open(tmp_path / "db.sqlite3", migrations=(
            Migration(SCHEMA_VERSION - 1, "first", first), Migration(SCHEMA_VERSION, "broken", broken)))
    connection = sqlite3.connect(tmp_path / "db.sqlite3")
    assert connection.execute("PRAGMA user_version").fetchone() == (SCHEMA_VERSION - 1,)
    assert connection.execute("SELECT x FROM t").fetchall() == [(1,)]  # the broken step wrote nothing
    connection.close()
    # Fixed, it goes on from there.
    db = Database.open(tmp_path / "db.sqlite3", migrations=(Migration(SCHEMA_VERSION, "fixed", lambda sql: None),))
    assert _version(db) == SCHEMA_VERSION
    db.close()


def test_a_profile_no_migration_leads_from_is_refused_and_left_alone(tmp_path: Path) -> None:
    _at_version(tmp_path / "db.sqlite3", SCHEMA_VERSION - 2)
    with pytest.raises(ProfileError, match="development version"):
        Database.open(tmp_path / "db.sqlite3", migrations=(Migration(SCHEMA_VERSION, "last only", lambda sql: None),))
    connection = sqlite3.connect(tmp_path / "db.sqlite3")
    assert connection.execute("PRAGMA user_version").fetchone() == (SCHEMA_VERSION - 2,)
    connection.close()
