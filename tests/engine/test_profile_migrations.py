"""Profiles made by the previous version (schema 3, tests/engine/data/schema3,
made by tests/engine/data/make_schema3_profiles.py with that version's code)
open with today's code, migrated, and go on working."""

from __future__ import annotations

import shutil
import sqlite3
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tests.engine.eventstore.peers import sync, texts, view_dump
from threads_desktop.engine.codec import cbor
from threads_desktop.engine.core.ids import ThreadId
from threads_desktop.engine.core.keys import ThreadKey
from threads_desktop.engine.core.types import ThreadKind
from threads_desktop.engine.eventstore.store import FOR_KEY, OPAQUE
from threads_desktop.engine.logstore.blobs import BlobRef
from threads_desktop.engine.logstore.database import SCHEMA_VERSION
from threads_desktop.engine.node import Node

DATA = Path(__file__).parent / "data" / "schema3"
OpenOld = Callable[[str], Node]


@pytest.fixture
def open_old(tmp_path: Path) -> Iterator[OpenOld]:
    """Opens a copy of one of the schema 3 profiles (its database rebuilt from
    the dump, at user_version 3, as that version left it)."""
    opened: list[Node] = []

    def factory(name: str) -> Node:
        folder = tmp_path / name
        folder.mkdir(mode=0o700)
        shutil.copyfile(DATA / name / "master.key", folder / "master.key")
        (folder / "master.key").chmod(0o600)
        connection = sqlite3.connect(folder / "profile.sqlite3")
        connection.executescript((DATA / name / "profile.sql").read_text())
        connection.execute("PRAGMA user_version=3")
        connection.close()
        node = Node.open(folder)
        opened.append(node)
        return node

    yield factory
    for node in opened:
        node.close()


def _chat(node: Node) -> ThreadId:
    return next(t.thread_id for t in node.list_threads() if t.kind is not ThreadKind.ALBUM)


def _new_key() -> ThreadKey:
    follow, read, epoch = (DATA / "new-key.hex").read_text().split()
    return ThreadKey(bytes.fromhex(follow), bytes.fromhex(read), int(epoch))


def _waiting_notes(node: Node) -> list[tuple[int, int, str | None]]:
    return node.database.connection.execute(
        "SELECT state, waits_for, refusal FROM events WHERE state IN (0, 3) ORDER BY state, waits_for").fetchall()


def test_a_schema_3_profile_opens_at_the_current_schema(open_old: OpenOld) -> None:
    reader = open_old("reader")
    (version,) = reader.database.connection.execute("PRAGMA user_version").fetchone()
    assert version == SCHEMA_VERSION
    # Waiting states are a column now; no refusal holds one as a prefix.
    assert _waiting_notes(reader) == [(0, FOR_KEY, None)]
    (prefixed,) = reader.database.connection.execute(
        "SELECT count(*) FROM events WHERE refusal LIKE 'unreadable: %' OR refusal LIKE 'opaque: %'").fetchone()
    assert prefixed == 0


def test_an_event_waiting_for_a_key_in_a_migrated_profile_applies_when_the_key_comes(open_old: OpenOld) -> None:
    reader = open_old("reader")
    chat = _chat(reader)
    assert reader.events.waiting_count(chat) == 1
    assert texts(reader, chat) == ["before the new key"]
    reader.add_thread_key(chat, _new_key())
    assert reader.events.waiting_count(chat) == 0
    assert texts(reader, chat) == ["before the new key", "under the new key"]


def test_a_migrated_follower_keeps_settling_what_it_cannot_read(open_old: OpenOld) -> None:
    a, follower = open_old("a"), open_old("follower")
    chat = _chat(a)
    assert _waiting_notes(follower) == [(OPAQUE, 0, None)] * 3
    a.chat(chat).post("after the migration")
    sync(a, follower, chat)
    assert follower.events.waiting_count(chat) == 0
    assert _waiting_notes(follower) == [(OPAQUE, 0, None)] * 4
    assert follower.get_thread(chat).name is None  # it still reads nothing


def test_the_photos_of_a_migrated_profile_are_found_by_their_blobs(open_old: OpenOld) -> None:
    reader = open_old("reader")
    album = next(t.thread_id for t in reader.list_threads() if t.kind is ThreadKind.ALBUM)
    photos = reader.collections(album)["photo"]
    [photo] = photos.find()
    for field in ("preview", "original"):
        manifest = BlobRef.from_value(photo.data[field]).manifest
        assert [(doc_id, name) for doc_id, name, _ref in photos.naming_blob(manifest)] == [(photo.id, field)]


def test_a_migrated_profile_snapshots_every_document_once_then_only_what_changed(open_old: OpenOld) -> None:
    a = open_old("a")
    sql = a.database.connection
    for thread in (t.thread_id for t in a.list_threads()):
        # Schema 5's snapshots (one blob of every view) are gone; every document waits for the next one.
        assert a.events.latest_snapshot(thread) is None
        (documents,) = sql.execute("SELECT count(*) FROM documents WHERE thread_id = ?", (thread.raw,)).fetchone()
        (dirty,) = sql.execute("SELECT count(*) FROM snapshot_dirty WHERE thread_id = ?", (thread.raw,)).fetchone()
        assert dirty == documents > 0
        expected = view_dump(a, thread)
        a.events.snapshot(thread)
        (saved,) = sql.execute("SELECT count(*) FROM snapshot_documents WHERE thread_id = ?",
                               (thread.raw,)).fetchone()
        assert saved == documents
        assert a.events.compact(thread) > 0
        a.events.rebuild(thread, from_snapshot=True)
        assert view_dump(a, thread) == expected


LARGE_VALUE_TABLES = ("records", "events", "documents", "fields")


def test_a_migrated_profile_keeps_its_large_values_in_rowid_tables_row_for_row(
        open_old: OpenOld, tmp_path: Path) -> None:
    before = sqlite3.connect(tmp_path / "dump.sqlite3")
    before.executescript((DATA / "a" / "profile.sql").read_text())
    a = open_old("a")
    sql = a.database.connection
    for table in LARGE_VALUE_TABLES:
        (definition,) = sql.execute("SELECT sql FROM sqlite_schema WHERE name = ?", (table,)).fetchone()
        assert "WITHOUT ROWID" not in definition
        # Same rows (schema 4 added a column to events: compare what the dump held).
        columns = [name for (_cid, name, *_rest) in before.execute(f"PRAGMA table_info({table})")]
        listed = ", ".join(columns)
        assert sorted(sql.execute(f"SELECT {listed} FROM {table}")) == sorted(before.execute(
            f"SELECT {listed} FROM {table}")), table
    # The key still holds: a row with the same key is refused, indexes are back.
    indexes = {name for (name,) in sql.execute("SELECT name FROM sqlite_schema WHERE type = 'index'")}
    assert {"events_waiting", "documents_created", "events_by_stamp", "events_refused"} <= indexes
    with pytest.raises(sqlite3.IntegrityError):
        sql.execute("INSERT INTO documents SELECT * FROM documents LIMIT 1")
    before.close()
    # The index's kept counts start from what the index holds.
    kept = sql.execute("SELECT thread_id, collection, field, live FROM document_index_counts ORDER BY 1, 2, 3")
    assert kept.fetchall() == sql.execute("SELECT thread_id, collection, field, count(*) FROM document_index"
                                          " GROUP BY 1, 2, 3 ORDER BY 1, 2, 3").fetchall() != []


def test_a_migrated_profile_keeps_each_thumbnail_once_in_its_views(open_old: OpenOld, tmp_path: Path) -> None:
    before = sqlite3.connect(tmp_path / "dump.sqlite3")
    before.executescript((DATA / "reader" / "profile.sql").read_text())
    held = {doc_id: cbor.decode(data, max_size=1 << 20) for doc_id, data in before.execute(
        "SELECT id, data FROM documents WHERE collection = 'photo'")}
    before.close()
    assert held and all("thumbnail" in data for data in held.values())  # schema 3 copied it into the data
    reader = open_old("reader")
    sql = reader.database.connection
    now = {doc_id: cbor.decode(data, max_size=1 << 20) for doc_id, data in sql.execute(
        "SELECT id, data FROM documents WHERE collection = 'photo'")}
    assert now == {doc_id: {k: v for k, v in data.items() if k != "thumbnail"} for doc_id, data in held.items()}
    album = next(t.thread_id for t in reader.list_threads() if t.kind is ThreadKind.ALBUM)
    photos = reader.photos(album)
    # Its field's row holds it, and reads give it back as before.
    assert {card.id: card.thumbnail for card in photos.cards(list(held))} == {
        doc_id: data["thumbnail"] for doc_id, data in held.items()}
    assert [photo.data for photo in photos.page()] == list(held.values())
