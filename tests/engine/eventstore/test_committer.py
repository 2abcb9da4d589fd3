"""Our own writes go through the committer and are applied as sealed: the
event store decrypts only what peers send."""

from __future__ import annotations

import os
from pathlib import Path

from threads_desktop.engine.acl.schema import ACL_SCHEMA
from threads_desktop.engine.core.hlc import HybridClock
from threads_desktop.engine.core.ids import ThreadId, ThreadVariant
from threads_desktop.engine.core.keys import ThreadKey
from threads_desktop.engine.crypto.vault import KeyVault
from threads_desktop.engine.db.collections import ThreadCollections
from threads_desktop.engine.db.documents import DocumentReducer
from threads_desktop.engine.db.schema import DB_SCHEMA
from threads_desktop.engine.eventstore.committer import Committer
from threads_desktop.engine.eventstore.dispatcher import Dispatcher
from threads_desktop.engine.eventstore.schema import EVENTSTORE_SCHEMA
from threads_desktop.engine.eventstore.store import AppliedChanges, EventStore
from threads_desktop.engine.logstore.database import LOGSTORE_SCHEMA, Database
from threads_desktop.engine.logstore.envelopes import Envelope, OpenedEvent
from threads_desktop.engine.logstore.store import LogStore
from threads_desktop.engine.node_services import app_schema


class DecryptCountingLogStore(LogStore):
    """A real log store that counts the events it decrypts for the event store."""

    events_decrypted = 0

    def read_event(self, thread_id: ThreadId, envelope: Envelope) -> OpenedEvent:
        self.events_decrypted += 1
        return super().read_event(thread_id, envelope)


class Profile:
    """The event store layer of one profile, wired as Node.open does,
    without access control (a raw thread needs no membership)."""

    def __init__(self, folder: Path) -> None:
        folder.mkdir()
        self.database = Database.open(folder / "profile.db",
                                      (LOGSTORE_SCHEMA, EVENTSTORE_SCHEMA, DB_SCHEMA, ACL_SCHEMA))
        self.store = DecryptCountingLogStore(self.database, KeyVault(os.urandom(32), os.urandom),
                                             random_bytes=os.urandom, now_seconds=lambda: 1.0e9)
        self.schema = app_schema()
        clock = HybridClock(lambda: 1_000_000)
        events = EventStore(self.database, self.store, clock, [DocumentReducer(self.database.connection, self.schema)])
        self.dispatcher = Dispatcher(self.database, self.store, events, clock)
        self.published: list[AppliedChanges] = []
        self.committer = Committer(self.dispatcher, self.published.append)

    def collections(self, thread_id: ThreadId) -> ThreadCollections:
        return ThreadCollections(self.database.connection, thread_id, self.schema, self.committer, os.urandom,
                                 self.store.own_log(thread_id))


def test_a_local_write_is_applied_without_decrypting_its_own_record(tmp_path: Path) -> None:
    writer, reader = Profile(tmp_path / "writer"), Profile(tmp_path / "reader")
    thread_id = ThreadId.from_random(ThreadVariant.RAW, os.urandom(32))
    key = ThreadKey(os.urandom(32), os.urandom(32), epoch=0)
    with writer.database.write():
        writer.store.create_thread(thread_id, key)
        own_log = writer.store.create_own_log(thread_id)
    reader.store.create_thread(thread_id, key)

    writer.collections(thread_id)["thread"].create({"kind": "chat", "name": "Us"}, doc_id="meta")

    assert writer.store.events_decrypted == 0
    assert writer.collections(thread_id)["thread"].get("meta").data == {"kind": "chat", "name": "Us"}
    assert [changes.applied for changes in writer.published] == [1]
    # The same record from a peer is decrypted once, then applied alike.
    envelopes = [record.envelope for record in writer.store.records_after(thread_id, own_log, 0)]
    reader.dispatcher.receive(thread_id, envelopes, AppliedChanges())
    assert reader.store.events_decrypted == 1
    assert reader.collections(thread_id)["thread"].get("meta").data == {"kind": "chat", "name": "Us"}
