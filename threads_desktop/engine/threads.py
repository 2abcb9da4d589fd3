"""Creating and listing this profile's albums and chats.

A thread's kind, name, description and cover live in its `thread` collection
(document `meta`), so every member learns them from the log like any other
change, and any writer may edit them."""

from __future__ import annotations

import unicodedata
from collections.abc import Callable
from typing import Any

from threads_desktop.engine.acl.control_ops import OWNER_NONCE_BYTES, Genesis, acl_payload, make_bind, owner_random
from threads_desktop.engine.acl.device_book import DeviceBook
from threads_desktop.engine.codec import cbor
from threads_desktop.engine.core.errors import InvalidInputError, NotFoundError
from threads_desktop.engine.core.hlc import unpack
from threads_desktop.engine.core.ids import ThreadId, ThreadVariant
from threads_desktop.engine.core.keys import Identity, ThreadKey
from threads_desktop.engine.core.types import ThreadKind, ThreadSummary
from threads_desktop.engine.crypto.aead import RandomBytes
from threads_desktop.engine.db.documents import db_event
from threads_desktop.engine.db.models import FieldSpec, Model
from threads_desktop.engine.eventstore.committer import Committer
from threads_desktop.engine.eventstore.stamps import stamp_hlc
from threads_desktop.engine.logstore import local_settings
from threads_desktop.engine.logstore.database import Database
from threads_desktop.engine.logstore.store import LogStore

MAX_NAME_LENGTH = 120
META_ID = "meta"
THREAD_MODEL = Model("thread", {
    "kind": FieldSpec("text", required=True, max_length=16),
    "name": FieldSpec("text", required=True, max_length=MAX_NAME_LENGTH),
    "description": FieldSpec("text", max_length=2000),
    "cover": FieldSpec("text", max_length=128),  # ID of a photo of the album
}, editors="members")


def clean_thread_name(name: str) -> str:
    """The name as stored: trimmed, NFC, no control characters, not empty."""
    if not isinstance(name, str):
        raise InvalidInputError("a name is text")
    cleaned = unicodedata.normalize("NFC", " ".join(name.split()))
    if not cleaned:
        raise InvalidInputError("a name cannot be empty")
    if len(cleaned) > MAX_NAME_LENGTH:
        raise InvalidInputError(f"a name has at most {MAX_NAME_LENGTH} characters")
    if any(unicodedata.category(ch) in ("Cc", "Cf") for ch in cleaned):
        raise InvalidInputError("a name cannot hold control characters")
    return cleaned


class ThreadDirectory:
    def __init__(self, database: Database, store: LogStore, identity: Identity, committer: Committer,
                 random_bytes: RandomBytes, now_seconds: Callable[[], float], devices: DeviceBook) -> None:
        self._db = database
        self._devices = devices
        self._store = store
        self._identity = identity
        self._committer = committer
        self._random_bytes = random_bytes
        self._now_seconds = now_seconds

    def create(self, kind: ThreadKind, name: str) -> ThreadId:
        kind = ThreadKind(kind)
        name = clean_thread_name(name)
        # The thread ID names its founder (a hash of its person and a nonce),
        # so the genesis of its ACL cannot be claimed by anyone else.
        nonce = self._random_bytes(OWNER_NONCE_BYTES)
        thread_id = ThreadId.from_random(ThreadVariant.ACCESS_CONTROLLED, owner_random(self._devices.person, nonce))
        key = ThreadKey(self._random_bytes(32), self._random_bytes(32), epoch=0)
        with self._db.write():
            self._store.create_thread(thread_id, key)
            log_id = self._store.create_own_log(thread_id)
            self._committer.commit(thread_id, [acl_payload(make_bind(self._identity, thread_id, log_id,
                                                                     self._devices.this_cert()),
                                                           Genesis(nonce))], control=True)
            self._committer.commit(thread_id, [db_event({"op": "create", "c": THREAD_MODEL.collection,
                                                         "id": META_ID,
                                                         "set": {"kind": kind.value, "name": name}})])
        return thread_id

    def rename(self, thread_id: ThreadId, name: str) -> None:
        self.get(thread_id)
        self._committer.commit(thread_id, [db_event({"op": "update", "c": THREAD_MODEL.collection, "id": META_ID,
                                                     "set": {"name": clean_thread_name(name)}})])

    def get(self, thread_id: ThreadId) -> ThreadSummary:
        summaries = self._query("WHERE t.id = ?", (thread_id.raw,))
        if not summaries:
            raise NotFoundError(f"thread {thread_id} is not in this profile")
        return summaries[0]

    def all(self) -> list[ThreadSummary]:
        return self._query("", ())

    def ids(self) -> list[ThreadId]:
        """Every thread's ID, without the counts a summary costs."""
        return [ThreadId(raw) for (raw,) in self._db.connection.execute("SELECT id FROM threads ORDER BY rowid")]

    def holds(self, thread_id: ThreadId) -> bool:
        """Whether the thread is in this profile (it may have been left)."""
        return self._db.connection.execute("SELECT 1 FROM threads WHERE id = ?", (thread_id.raw,)).fetchone() \
            is not None

    def kind(self, thread_id: ThreadId) -> ThreadKind | None:
        """An album, a chat, or None (a backup we cannot read), without counts."""
        if not self._db.connection.execute("SELECT 1 FROM threads WHERE id = ?", (thread_id.raw,)).fetchone():
            raise NotFoundError(f"thread {thread_id} is not in this profile")
        row = self._db.connection.execute(
            "SELECT data FROM documents WHERE thread_id = ? AND collection = ? AND id = ? AND deleted = 0",
            (thread_id.raw, THREAD_MODEL.collection, META_ID)).fetchone()
        kind = cbor.decode(row[0], max_size=1 << 16).get("kind") if row \
            else local_settings.thread_hint(self._db, str(thread_id))[0]
        return ThreadKind(kind) if isinstance(kind, str) and kind in ThreadKind._value2member_map_ else None

    def _query(self, where: str, params: tuple[object, ...]) -> list[ThreadSummary]:
        rows = self._db.connection.execute(
            "SELECT t.id, m.data, t.created_at,"
            " (SELECT COALESCE(SUM(seq), 0) FROM logs l WHERE l.thread_id = t.id),"
            # Live documents: the index has a row per indexed field of each,
            # and triggers keep how many (db/schema.py), so nothing is counted here.
            " COALESCE((SELECT live FROM document_index_counts c WHERE c.thread_id = t.id"
            " AND c.collection = 'photo' AND c.field = 'taken_at'), 0),"
            " COALESCE((SELECT live FROM document_index_counts c WHERE c.thread_id = t.id"
            " AND c.collection = 'message' AND c.field = 'reply_to'), 0),"
            # applied first (a row per log), each frontier event found by its key.
            " (SELECT max(e.stamp) FROM applied a CROSS JOIN events e ON e.thread_id = a.thread_id"
            " AND e.log_id = a.log_id AND e.seq = a.seq WHERE a.thread_id = t.id),"
            " EXISTS (SELECT 1 FROM logs l WHERE l.thread_id = t.id AND l.wrapped_private_key IS NOT NULL),"
            " (SELECT can_read FROM thread_keys k WHERE k.thread_id = t.id ORDER BY epoch DESC LIMIT 1)"
            " FROM threads t LEFT JOIN documents m ON m.thread_id = t.id AND m.collection = ?"
            f" AND m.id = ? AND m.deleted = 0 {where} ORDER BY t.rowid",
            (THREAD_MODEL.collection, META_ID, *params)).fetchall()
        summaries = []
        for raw, meta_blob, created_at, events, photo_count, message_count, newest, write, read in rows:
            meta: dict[str, Any] = cbor.decode(meta_blob, max_size=1 << 16) if meta_blob else {}
            if not meta:  # not synced yet: what the bundle that brought it said (persons.add_thread)
                hint_kind, hint_name = local_settings.thread_hint(self._db, str(ThreadId(raw)))
                meta = {"kind": hint_kind, "name": hint_name}
            kind = meta.get("kind")
            summaries.append(ThreadSummary(
                ThreadId(raw), ThreadKind(kind) if isinstance(kind, str) and kind in ThreadKind._value2member_map_
                else None,
                meta.get("name"), created_at, events, bool(write), bool(read),
                meta.get("description"), meta.get("cover"), photo_count, message_count,
                unpack(stamp_hlc(newest))[0] if newest else None))
        return summaries
