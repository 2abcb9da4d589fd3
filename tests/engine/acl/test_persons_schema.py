"""Schema 10: a profile of schema 9 opens as a person with one device (its
identity key is the person key), with nothing lost."""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from pathlib import Path

from tests.engine.eventstore.peers import join, peer, start_thread, sync, texts
from threads_desktop.engine.core.members import Role
from threads_desktop.engine.logstore.database import SCHEMA_VERSION
from threads_desktop.engine.node import Node

OpenNode = Callable[..., Node]


def _back_to_schema_9(path: Path) -> None:
    connection = sqlite3.connect(path)
    connection.executescript("DROP TABLE person; DROP TABLE device_book;")
    connection.execute("PRAGMA user_version=9")
    connection.commit()
    connection.close()


def _rows(node: Node) -> dict[str, int]:
    sql = node.database.connection
    return {table: sql.execute(f"SELECT count(*) FROM {table}").fetchone()[0]
            for table in ("threads", "thread_keys", "logs", "records", "events", "acl_events", "documents")}


def test_a_schema_9_profile_opens_as_a_person_with_one_device_and_nothing_lost(open_node: OpenNode,
                                                                               tmp_path: Path) -> None:
    a, b = open_node("a"), open_node("b")
    thread = start_thread(a)
    join(a, b, thread)
    b.chat(thread).post("kept")
    sync(b, a, thread)
    identity, before = peer(a), _rows(a)
    a.close()
    _back_to_schema_9(tmp_path / "a" / "profile.sqlite3")

    a = open_node("a")
    assert a.database.connection.execute("PRAGMA user_version").fetchone() == (SCHEMA_VERSION,) == (10,)
    assert a.persons.person_id == identity == a.persons.this_device == a.membership.me
    assert a.persons.book.person_key().peer_id == a.identity.peer_id
    assert [(d.device_id, d.this_device, d.removed) for d in a.persons.devices()] == [(identity, True, False)]
    assert a.persons.this_cert() is None
    assert _rows(a) == before and texts(a, thread) == ["kept"]
    assert a.membership.is_admin(thread) and Role.WRITE in a.membership.roles(thread, peer(b))
    a.chat(thread).post("after")  # and it goes on working
    sync(a, b, thread)
    assert texts(b, thread) == ["after", "kept"]
