"""Schema 8: a profile of schema 7 opens, its pending_joins gone, the
admission tables there, and joining works in it."""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from pathlib import Path

from tests.engine.eventstore.peers import join, peer, start_thread, sync, texts
from threads_desktop.engine.core.members import Role
from threads_desktop.engine.logstore.database import SCHEMA_VERSION
from threads_desktop.engine.node import Node

OpenNode = Callable[..., Node]

# The table schema 7 had, as it had it.
_SCHEMA7_PENDING_JOINS = """
CREATE TABLE pending_joins (
    thread_id BLOB PRIMARY KEY,
    invite_key BLOB NOT NULL,
    wrapped_seed BLOB NOT NULL,
    failure TEXT
) STRICT, WITHOUT ROWID;
"""


def _back_to_schema_7(path: Path) -> None:
    connection = sqlite3.connect(path)
    connection.executescript("DROP TABLE pending_admissions; DROP TABLE join_requests; DROP TABLE person;"
                             " DROP TABLE device_book;" + _SCHEMA7_PENDING_JOINS)  # tables of schema 8 on
    connection.execute("INSERT INTO pending_joins VALUES (?, ?, ?, NULL)", (b"t" * 36, b"k" * 32, b"s" * 60))
    connection.execute("PRAGMA user_version=7")
    connection.commit()
    connection.close()


def _tables(node: Node) -> set[str]:
    return {name for (name,) in node.database.connection.execute("SELECT name FROM sqlite_schema WHERE type = 'table'")}


def test_a_schema_7_profile_opens_migrated_and_joins(open_node: OpenNode, tmp_path: Path) -> None:
    a, b = open_node("a"), open_node("b")
    thread = start_thread(a)
    a.chat(thread).post("kept")
    join(a, b, thread)
    b.close()
    _back_to_schema_7(tmp_path / "b" / "profile.sqlite3")

    b = open_node("b")
    assert b.database.connection.execute("PRAGMA user_version").fetchone() == (SCHEMA_VERSION,)
    assert {"pending_admissions", "join_requests"} <= _tables(b) and "pending_joins" not in _tables(b)
    assert texts(b, thread) == ["kept"] and Role.WRITE in b.membership.roles(thread)
    second = start_thread(a)
    join(a, b, second, role=Role.READ)            # the new way in works in the migrated profile
    a.chat(second).post("hello")
    sync(a, b, second)
    assert texts(b, second) == ["hello"] and Role.READ in a.membership.roles(second, peer(b))
