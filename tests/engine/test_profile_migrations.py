"""Profiles made by the previous version (schema 3, tests/engine/data/schema3,
made by tests/engine/data/make_schema3_profiles.py with that version's code)
open with today's code, migrated, and go on working."""

from __future__ import annotations

import shutil
import sqlite3
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tests.engine.eventstore.peers import sync, texts
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
