"""The one place where the engine's parts are built and wired together."""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack
from pathlib import Path

from threads_desktop.engine.core.errors import DecryptionError, ProfileError
from threads_desktop.engine.core.hlc import HybridClock
from threads_desktop.engine.core.ids import ThreadId
from threads_desktop.engine.core.keys import Identity
from threads_desktop.engine.core.types import ChangeSet, IdentityCard, ThreadKind, ThreadSummary
from threads_desktop.engine.crypto.aead import RandomBytes
from threads_desktop.engine.crypto.vault import KeyVault
from threads_desktop.engine.logstore.addressbook import AddressBook
from threads_desktop.engine.logstore.database import Database
from threads_desktop.engine.logstore.identity import load_or_create_identity
from threads_desktop.engine.logstore.store import LogStore
from threads_desktop.engine.profile import Profile
from threads_desktop.engine.threads import ThreadDirectory

ChangeListener = Callable[[ChangeSet], None]


class Node:
    """A peer: its profile, stores and services. Operations return values and
    tell listeners what changed. Not thread-safe: one thread drives it (the
    engine thread in the app, the main thread in the CLI)."""

    def __init__(self, profile: Profile, database: Database, store: LogStore, addresses: AddressBook,
                 identity: Identity, directory: ThreadDirectory, verify_pool: ThreadPoolExecutor) -> None:
        self.profile = profile
        self.database = database
        self.store = store
        self.addresses = addresses
        self.identity = identity
        self.directory = directory
        self._verify_pool = verify_pool
        self._listeners: list[ChangeListener] = []

    @classmethod
    def open(cls, data_dir: Path, *, now_seconds: Callable[[], float] = time.time,
             random_bytes: RandomBytes = os.urandom) -> Node:
        with ExitStack() as undo:  # a failure half way releases what was opened
            profile = Profile.open(data_dir, random_bytes)
            undo.callback(profile.close)
            database = Database.open(profile.database_path)
            undo.callback(database.close)
            vault = KeyVault(profile.master_key, random_bytes)
            verify_pool = ThreadPoolExecutor(max_workers=os.cpu_count() or 2, thread_name_prefix="verify")
            undo.callback(verify_pool.shutdown)
            store = LogStore(database, vault, random_bytes=random_bytes, now_seconds=now_seconds,
                             verify_pool=verify_pool)
            try:
                identity = load_or_create_identity(database, vault, int(now_seconds()))
            except DecryptionError as exc:
                raise ProfileError(f"the master key does not open this profile's keys ({exc})") from exc
            clock = HybridClock(lambda: int(now_seconds() * 1000))
            directory = ThreadDirectory(database, store, clock, random_bytes, now_seconds)
            addresses = AddressBook(database, now_seconds)
            node = cls(profile, database, store, addresses, identity, directory, verify_pool)
            undo.pop_all()
        return node

    # --- operations -------------------------------------------------------------

    def identity_card(self) -> IdentityCard:
        return IdentityCard(str(self.identity.peer_id), self.identity.exchange_public_key())

    def create_thread(self, kind: ThreadKind, name: str) -> ThreadSummary:
        summary = self.directory.create(kind, name)
        self._publish(ChangeSet(threads_added=frozenset({summary.thread_id})))
        return summary

    def list_threads(self) -> list[ThreadSummary]:
        return self.directory.all()

    def get_thread(self, thread_id: ThreadId) -> ThreadSummary:
        return self.directory.get(thread_id)

    # --- change sets ----------------------------------------------------------------

    def subscribe(self, listener: ChangeListener) -> Callable[[], None]:
        self._listeners.append(listener)
        return lambda: self._listeners.remove(listener)

    def _publish(self, changes: ChangeSet) -> None:
        for listener in list(self._listeners):
            listener(changes)

    def close(self) -> None:
        self._verify_pool.shutdown(wait=True)
        self.database.close()
        self.profile.close()
