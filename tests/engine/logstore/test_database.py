from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from pathlib import Path

import pytest

from threads_desktop.engine.core.errors import ProfileError, StorageError
from threads_desktop.engine.logstore.database import SCHEMA_VERSION, Database


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
