"""Creating and listing this profile's albums and chats.

A thread's kind and name travel in its first event, so every member learns
them from the log; `thread_info` keeps them at hand for listing. (The event
store will own that table as a view.)
"""

from __future__ import annotations

import unicodedata
from collections.abc import Callable

from threads_desktop.engine.core.errors import InvalidInputError, NotFoundError
from threads_desktop.engine.core.hlc import HybridClock
from threads_desktop.engine.core.ids import ThreadId, ThreadVariant
from threads_desktop.engine.core.keys import ThreadKey
from threads_desktop.engine.core.types import ThreadKind, ThreadSummary
from threads_desktop.engine.crypto.aead import RandomBytes
from threads_desktop.engine.logstore.database import Database
from threads_desktop.engine.logstore.store import LogStore

MAX_NAME_LENGTH = 120
THREAD_CREATED = "thread.created"


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
    def __init__(self, database: Database, store: LogStore, clock: HybridClock,
                 random_bytes: RandomBytes, now_seconds: Callable[[], float]) -> None:
        self._db = database
        self._store = store
        self._clock = clock
        self._random_bytes = random_bytes
        self._now_seconds = now_seconds

    def create(self, kind: ThreadKind, name: str) -> ThreadSummary:
        kind = ThreadKind(kind)
        name = clean_thread_name(name)
        thread_id = ThreadId.from_random(ThreadVariant.ACCESS_CONTROLLED, self._random_bytes(32))
        key = ThreadKey(self._random_bytes(32), self._random_bytes(32), epoch=0)
        with self._db.write() as sql:
            self._store.create_thread(thread_id, key)
            self._store.create_own_log(thread_id)
            self._store.append(thread_id, {"type": THREAD_CREATED, "kind": kind.value, "name": name},
                               hlc=self._clock.tick())
            sql.execute("INSERT INTO thread_info (thread_id, kind, name, updated_at) VALUES (?, ?, ?, ?)",
                        (thread_id.raw, kind.value, name, int(self._now_seconds())))
        return self.get(thread_id)

    def get(self, thread_id: ThreadId) -> ThreadSummary:
        summaries = self._query("WHERE t.id = ?", (thread_id.raw,))
        if not summaries:
            raise NotFoundError(f"thread {thread_id} is not in this profile")
        return summaries[0]

    def all(self) -> list[ThreadSummary]:
        return self._query("", ())

    def _query(self, where: str, params: tuple[object, ...]) -> list[ThreadSummary]:
        rows = self._db.connection.execute(
            "SELECT t.id, i.kind, i.name, t.created_at,"
            " (SELECT COALESCE(SUM(seq), 0) FROM logs l WHERE l.thread_id = t.id),"
            " EXISTS (SELECT 1 FROM logs l WHERE l.thread_id = t.id AND l.wrapped_private_key IS NOT NULL),"
            " (SELECT can_read FROM thread_keys k WHERE k.thread_id = t.id ORDER BY epoch DESC LIMIT 1)"
            f" FROM threads t JOIN thread_info i ON i.thread_id = t.id {where}"
            " ORDER BY i.rowid", params).fetchall()
        return [ThreadSummary(ThreadId(raw), ThreadKind(kind), name, created_at, events, bool(write), bool(read))
                for raw, kind, name, created_at, events, write, read in rows]
