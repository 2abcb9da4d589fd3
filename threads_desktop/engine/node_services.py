"""What a Node is built from: the profile's stores and services, opened in
order (engine/node.py wires them into the parts)."""

from __future__ import annotations

import os
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path

from threads_desktop.engine import leave
from threads_desktop.engine.acl.bundle_peers import ensure_bundle_peers
from threads_desktop.engine.acl.device_book import ensure_person
from threads_desktop.engine.acl.gate import AccessGate
from threads_desktop.engine.acl.schema import ACL_MIGRATIONS, ACL_SCHEMA
from threads_desktop.engine.core.errors import DecryptionError, ProfileError
from threads_desktop.engine.core.hlc import HybridClock
from threads_desktop.engine.core.keys import Identity
from threads_desktop.engine.core.lifecycle import ThreadForgetters
from threads_desktop.engine.crypto.aead import RandomBytes
from threads_desktop.engine.crypto.vault import KeyVault
from threads_desktop.engine.db.documents import DocumentReducer, readers_may_write
from threads_desktop.engine.db.kv import KV_MODEL
from threads_desktop.engine.db.models import Schema
from threads_desktop.engine.db.schema import DB_MIGRATIONS, DB_SCHEMA
from threads_desktop.engine.eventstore.broadcast import Broadcaster
from threads_desktop.engine.eventstore.dispatcher import Dispatcher
from threads_desktop.engine.eventstore.schema import EVENTSTORE_MIGRATIONS, EVENTSTORE_SCHEMA, latest_stamp
from threads_desktop.engine.eventstore.stamps import stamp_hlc
from threads_desktop.engine.eventstore.store import EventStore
from threads_desktop.engine.logstore import local_settings
from threads_desktop.engine.logstore.addressbook import AddressBook
from threads_desktop.engine.logstore.blockfiles import BLOCKS_DIRECTORY, BlockFiles
from threads_desktop.engine.logstore.database import LOGSTORE_SCHEMA, Database
from threads_desktop.engine.logstore.identity import load_or_create_identity
from threads_desktop.engine.logstore.peerbook import PEERBOOK_SCHEMA, ensure_peer_sessions
from threads_desktop.engine.logstore.store import LogStore
from threads_desktop.engine.modules import chat, photos, profiles
from threads_desktop.engine.persons.device_links import ensure_device_links
from threads_desktop.engine.profile import Profile
from threads_desktop.engine.threads import THREAD_MODEL


@dataclass(frozen=True)
class Services:
    """What Node.open builds, handed to the Node's constructor."""

    profile: Profile
    database: Database
    store: LogStore
    addresses: AddressBook
    identity: Identity
    schema: Schema
    events: EventStore
    dispatcher: Dispatcher
    broadcaster: Broadcaster
    random_bytes: RandomBytes
    now_seconds: Callable[[], float]
    work_pool: ThreadPoolExecutor  # CPU-heavy work: signature checks, images
    vault: KeyVault
    clock: HybridClock
    gate: AccessGate
    forgetters: ThreadForgetters  # what each part forgets of a thread we leave


def app_schema() -> Schema:
    return Schema([THREAD_MODEL, KV_MODEL, *chat.MODELS, *photos.MODELS, *profiles.MODELS])


def open_services(data_dir: Path, undo: ExitStack, *, now_seconds: Callable[[], float], random_bytes: RandomBytes,
                  lock_wait: float) -> Services:
    """Open the profile in `data_dir` and what it holds; `undo` closes what
    was opened if the caller fails before it keeps them."""
    profile = Profile.open(data_dir, random_bytes, lock_wait=lock_wait)
    undo.callback(profile.close)
    database = Database.open(profile.database_path, (LOGSTORE_SCHEMA, EVENTSTORE_SCHEMA, DB_SCHEMA,
                                                     ACL_SCHEMA, PEERBOOK_SCHEMA),
                             (*EVENTSTORE_MIGRATIONS, *photos.MIGRATIONS, *DB_MIGRATIONS, *ACL_MIGRATIONS))
    undo.callback(database.close)
    local_settings.ensure_local_settings(database)
    ensure_peer_sessions(database)
    ensure_device_links(database)  # issue 19: the device links this device issued
    ensure_bundle_peers(database)  # issue 19 review 9c: whom a new device syncs with before it knows a member
    leave.ensure_leaving(database)
    vault = KeyVault(profile.master_key, random_bytes)
    work_pool = ThreadPoolExecutor(max_workers=os.cpu_count() or 2, thread_name_prefix="work")
    undo.callback(work_pool.shutdown)
    store = LogStore(database, vault, random_bytes=random_bytes, now_seconds=now_seconds,
                     verify_pool=work_pool)
    try:
        identity = load_or_create_identity(database, vault, int(now_seconds()))
        ensure_person(database, vault, identity)
    except DecryptionError as exc:
        raise ProfileError(f"the master key does not open this profile's keys ({exc})") from exc
    latest = latest_stamp(database.connection)
    clock = HybridClock(lambda: int(now_seconds() * 1000), last=stamp_hlc(latest) if latest else 0)
    schema = app_schema()
    gate = AccessGate(database, store, identity, readers_may_write(schema))
    events = EventStore(database, store, clock, [DocumentReducer(database.connection, schema)], gate)
    # The rows of a thread go in one sweep (engine/leave.py); these
    # are the parts that keep some of it in memory.
    forgetters = ThreadForgetters()
    forgetters.register(store.forget_thread)
    forgetters.register(gate.forget_thread)
    block_files = BlockFiles(profile.directory / BLOCKS_DIRECTORY)  # photo chunks (transfer18)
    block_files.sweep()
    forgetters.register(block_files.forget_thread)
    return Services(profile, database, store, AddressBook(database, now_seconds), identity, schema, events,
                    Dispatcher(database, store, events, clock), Broadcaster(), random_bytes, now_seconds,
                    work_pool, vault, clock, gate, forgetters)
