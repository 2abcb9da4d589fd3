"""The one place where the engine's parts are built and wired together."""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from threads_desktop.engine import leave
from threads_desktop.engine.acl import actions, notices, verdicts
from threads_desktop.engine.acl.admission import AdmissionAnswer, AdmissionRequest
from threads_desktop.engine.acl.control_ops import Bind
from threads_desktop.engine.acl.device_book import DeviceBook, ensure_person
from threads_desktop.engine.acl.gate import AccessGate
from threads_desktop.engine.acl.links import MAX_ADDRESSES as MAX_LINK_ADDRESSES
from threads_desktop.engine.acl.links import InviteLink
from threads_desktop.engine.acl.membership import Membership
from threads_desktop.engine.acl.notices import Removal, ThreadNotices
from threads_desktop.engine.acl.schema import ACL_MIGRATIONS, ACL_SCHEMA
from threads_desktop.engine.core.devices import devices as list_devices
from threads_desktop.engine.core.errors import (
    AccessDeniedError,
    DecryptionError,
    InvalidInputError,
    MissingKeyError,
    NotFoundError,
    PeerError,
    ProfileError,
    ThreadsError,
)
from threads_desktop.engine.core.hlc import HybridClock
from threads_desktop.engine.core.ids import PeerId, ThreadId, ThreadVariant
from threads_desktop.engine.core.keys import Identity, ThreadKey
from threads_desktop.engine.core.lifecycle import Forget, ThreadForgetters
from threads_desktop.engine.core.members import JoinState, Role
from threads_desktop.engine.core.types import (
    AuthorDevice,
    ChangeSet,
    Device,
    FetchOriginals,
    IdentityCard,
    ItemActions,
    NearbyPeer,
    NetworkStatus,
    ThreadKind,
    ThreadSummary,
)
from threads_desktop.engine.crypto.aead import RandomBytes
from threads_desktop.engine.crypto.vault import KeyVault
from threads_desktop.engine.db.collections import ThreadCollections
from threads_desktop.engine.db.documents import DocumentReducer, readers_may_write
from threads_desktop.engine.db.kv import KV_MODEL
from threads_desktop.engine.db.models import Schema
from threads_desktop.engine.db.schema import DB_MIGRATIONS, DB_SCHEMA
from threads_desktop.engine.eventstore.broadcast import Broadcaster, Listener
from threads_desktop.engine.eventstore.committer import Committer
from threads_desktop.engine.eventstore.dispatcher import Dispatcher
from threads_desktop.engine.eventstore.schema import EVENTSTORE_MIGRATIONS, EVENTSTORE_SCHEMA, latest_stamp
from threads_desktop.engine.eventstore.stamps import stamp_hlc
from threads_desktop.engine.eventstore.store import AppliedChanges, EventStore
from threads_desktop.engine.logstore import local_settings
from threads_desktop.engine.logstore.addressbook import AddressBook, peer_of_address
from threads_desktop.engine.logstore.blobs import BlobRef, BlobStore
from threads_desktop.engine.logstore.blockfiles import BLOCKS_DIRECTORY, BlockFiles
from threads_desktop.engine.logstore.database import LOGSTORE_SCHEMA, Database
from threads_desktop.engine.logstore.envelopes import Envelope
from threads_desktop.engine.logstore.identity import load_or_create_identity
from threads_desktop.engine.logstore.peerbook import PEERBOOK_SCHEMA, PeerBook, ensure_peer_sessions
from threads_desktop.engine.logstore.relay_address import check_relay_address
from threads_desktop.engine.logstore.store import IngestOutcome, LogStore
from threads_desktop.engine.modules import chat, photos, profiles
from threads_desktop.engine.modules.chat import Chat
from threads_desktop.engine.modules.photos import Photos
from threads_desktop.engine.net.ports import Network
from threads_desktop.engine.persons.device_links import DeviceLinks, ensure_device_links
from threads_desktop.engine.persons.service import Persons
from threads_desktop.engine.profile import Profile
from threads_desktop.engine.threads import THREAD_MODEL, ThreadDirectory

_LINK_ADDRESS_TTL = 30 * 24 * 3600
_OTHER_ADMINS_IN_LINKS = 3
log = logging.getLogger(__name__)


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


class Node:
    """A peer: its profile, stores and services. Operations return values and
    publish what changed. Not thread-safe: one thread drives it (the engine
    thread in the app, the main thread in the CLI)."""

    def __init__(self, services: Services) -> None:
        self._services = services
        self.profile = services.profile
        self.database = services.database
        self.store = services.store
        self.addresses = services.addresses
        self.identity = services.identity
        self.events = services.events
        self.peers = PeerBook(services.database, services.addresses, services.now_seconds)
        # Handed over by engine/networking.py; None for a node that never goes online.
        self._network: Network | None = None
        self._forget_on_network: Callable[[], None] | None = None  # takes back the attached network's hook
        self._display_name = profiles.display_name(services.database)
        self._sync_caps = verdicts.SyncCaps()  # a refused peer's cap, until the ACL changes
        # Every part that writes events holds the committer; membership,
        # which needs it too, is the policy that picks its keys.
        self.committer = Committer(services.dispatcher, self._publish)
        device_book = DeviceBook(services.database, services.vault, services.identity)
        self.directory = ThreadDirectory(services.database, services.store, services.identity, self.committer,
                                         services.random_bytes, services.now_seconds, device_book)
        self.membership = Membership(services.database, services.store, services.gate, services.identity,
                                     services.vault, self.committer, services.clock.tick,
                                     services.random_bytes, services.now_seconds, device_book)
        self.committer.use_keys(self.membership)
        # One person, several devices (issue 19).
        self.persons = Persons(
            services.database, services.store, services.gate, services.identity, device_book, self.committer,
            self.membership, thread_ids=self._held_thread_ids, display_name=self._person_name,
            links=lambda: self.network_status().links, last_seen=self.peers.last_sessions,
            now_seconds=services.now_seconds, publish=services.broadcaster.publish)
        self.device_links = DeviceLinks(services.database, lambda: int(services.now_seconds() * 1000))

    @classmethod
    def open(cls, data_dir: Path, *, now_seconds: Callable[[], float] = time.time,
             random_bytes: RandomBytes = os.urandom, lock_wait: float = 0.0) -> Node:
        """Open the profile in `data_dir`, waiting up to `lock_wait` seconds
        for another process to let go of it (ProfileLockedError after)."""
        with ExitStack() as undo:  # a failure half way releases what was opened
            profile = Profile.open(data_dir, random_bytes, lock_wait=lock_wait)
            undo.callback(profile.close)
            database = Database.open(profile.database_path, (LOGSTORE_SCHEMA, EVENTSTORE_SCHEMA, DB_SCHEMA,
                                                             ACL_SCHEMA, PEERBOOK_SCHEMA),
                                     (*EVENTSTORE_MIGRATIONS, *photos.MIGRATIONS, *DB_MIGRATIONS, *ACL_MIGRATIONS))
            undo.callback(database.close)
            local_settings.ensure_local_settings(database)
            ensure_peer_sessions(database)
            ensure_device_links(database)  # issue 19: the device links this device issued
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
            node = cls(Services(
                profile, database, store, AddressBook(database, now_seconds), identity, schema, events,
                Dispatcher(database, store, events, clock), Broadcaster(), random_bytes, now_seconds,
                work_pool, vault, clock, gate, forgetters))
            node._drop_stale_leaving()
            undo.pop_all()
        return node

    def attach_network(self, network: Network) -> None:
        """The network this node goes online with (engine/networking.py); it
        forgets a thread's per-thread work when the thread is left. A network
        attached again (a restart) replaces the one before, and its hook: a
        dead service is neither kept nor called."""
        if self._forget_on_network is not None:
            self._forget_on_network()
        self._network = network
        self._forget_on_network = self.on_leave(network.forget_thread)

    def on_leave(self, forget: Forget) -> Callable[[], None]:
        """Have `forget(thread_id)` called inside the transaction that leaves
        a thread (the network's per-thread work, engine/networking.py);
        returns what takes it back."""
        return self._services.forgetters.register(forget)

    @property
    def network(self) -> Network | None:
        """The network while it runs; None offline."""
        network = self._network
        return network if network is not None and network.online else None

    @property
    def listen_addresses(self) -> list[str]:
        """Where the network listens (empty offline): put in invite links."""
        network = self.network
        return network.listen_addresses() if network is not None else []

    # --- events in and out ------------------------------------------------------------

    def commit(self, thread_id: ThreadId, payloads: Sequence[Any], *, control: bool = False,
               key: ThreadKey | None = None) -> None:
        """Write events to our log in the thread and apply them (for tools
        and tests; the engine's parts hold the committer)."""
        self.committer.commit(thread_id, payloads, control=control, key=key)

    def receive(self, thread_id: ThreadId, envelopes: Sequence[Envelope]) -> list[IngestOutcome | ThreadsError]:
        """Records from a peer: logged, then applied once their deps are."""
        changes = AppliedChanges()
        outcomes = self._services.dispatcher.receive(thread_id, envelopes, changes)
        if IngestOutcome.ADDED in outcomes:
            # The thread's log grew even where nothing was applied (a
            # follower stores what it cannot read): its summary changed.
            changes.threads.add(thread_id)
        self._publish(changes)
        if changes.applied:
            # What arrived may be the invite we wait to answer, or a member
            # who joined with keys older than a rotation.
            joining = self.membership.join_state(thread_id)
            self.membership.complete_join(thread_id)
            if joining is not None and self.membership.join_state(thread_id) != joining:
                # Joined for good (or refused after all, a race lost): pending rows update.
                self._services.broadcaster.publish(ChangeSet(joins=frozenset({thread_id})))
            self.persons.learn_from(thread_id)  # a device of ours removed (this one, maybe)
            self.membership.heal(thread_id)
            self.membership.deliver_missing_keys(thread_id)
            # Our join may just have been written, or write granted: the
            # thread learns our name as soon as we may tell it.
            self._tell_name(thread_id)
        return outcomes

    def add_thread_key(self, thread_id: ThreadId, key: ThreadKey) -> None:
        """Store another epoch of a thread's keys and open what it opens."""
        changes = AppliedChanges()
        with self.database.write():
            self.store.add_thread_key(thread_id, key)
            self.events.reopen(thread_id, changes)
        self._publish(changes)

    # --- operations -------------------------------------------------------------

    def identity_card(self) -> IdentityCard:
        return IdentityCard(str(self.identity.peer_id), self.identity.exchange_public_key())

    def create_thread(self, kind: ThreadKind, name: str) -> ThreadSummary:
        with self.committer.batched() as changes:
            thread_id = self.directory.create(kind, name)
            self._tell_name(thread_id)
        self._services.broadcaster.publish(_change_set(changes, threads_added=frozenset({thread_id})))
        return self.directory.get(thread_id)

    def rename_thread(self, thread_id: ThreadId, name: str) -> ThreadSummary:
        """A new name for everyone in the thread (members who may write)."""
        if not self.get_thread(thread_id).can_write:
            raise AccessDeniedError("only members who can add to it can rename it")
        self.directory.rename(thread_id, name)
        return self.get_thread(thread_id)

    def list_threads(self) -> list[ThreadSummary]:
        """The threads of this profile, but those it is leaving."""
        leaving = leave.leaving_threads(self.database)
        return [self._with_rights(summary) for summary in self.directory.all() if summary.thread_id not in leaving]

    def get_thread(self, thread_id: ThreadId) -> ThreadSummary:
        if leave.leaving_event(self.database, thread_id) is not None:
            raise NotFoundError(f"thread {thread_id} is not in this profile (it was left)")
        return self._with_rights(self.directory.get(thread_id))

    def _held_thread_ids(self) -> list[ThreadId]:
        leaving = leave.leaving_threads(self.database)
        return [t for t in self.directory.ids() if t not in leaving]

    def can_write(self, thread_id: ThreadId) -> bool:
        """What `get_thread(...).can_write` says, without the counts a
        summary costs (20 ms at 100,000 photos: the viewer asks at each step)."""
        if not self.directory.holds(thread_id):
            raise NotFoundError(f"thread {thread_id} is not in this profile")
        if self.store.own_log(thread_id) is None:
            return False
        return (thread_id.variant is not ThreadVariant.ACCESS_CONTROLLED
                or Role.WRITE in self.membership.roles(thread_id))

    def _with_rights(self, summary: ThreadSummary) -> ThreadSummary:
        """Writing takes a log of our own and the write role in the ACL; a
        chat's summary says how many messages of others are unread."""
        if summary.kind is ThreadKind.CHAT and summary.can_read and summary.message_count:
            own_log = self.store.own_log(summary.thread_id)
            if own_log is not None:
                summary = replace(summary, unread=Chat(self.collections(summary.thread_id), own_log,
                                                       self.database).unread_count())
        if summary.thread_id.variant is not ThreadVariant.ACCESS_CONTROLLED:
            return summary
        summary = replace(summary, can_invite=self.membership.is_admin(summary.thread_id))
        if Role.WRITE in self.membership.roles(summary.thread_id):
            return summary
        # Rare (readers, followers, the removed): only then is the ACL's history read.
        removal = self.removal(summary.thread_id)
        return replace(summary, can_write=False, removed=removal is not None and removal.role_left is None)

    def collections(self, thread_id: ThreadId) -> ThreadCollections:
        self.store.thread_keys(thread_id)  # NotFoundError for a thread not here; cached, so cheap
        return ThreadCollections(self.database.connection, thread_id, self._services.schema, self.committer,
                                 self._services.random_bytes, self.store.own_log(thread_id))

    def chat(self, thread_id: ThreadId) -> Chat:
        return Chat(self.collections(thread_id), self._own_log(thread_id), self.database)

    def photos(self, thread_id: ThreadId) -> Photos:
        return Photos(self.collections(thread_id), self._own_log(thread_id),
                      self.blobs(thread_id), self.database,
                      self._services.work_pool)

    def blobs(self, thread_id: ThreadId) -> BlobStore:
        return BlobStore(self.database.connection, self._services.random_bytes, thread_id,
                         BlockFiles(self._services.profile.directory / BLOCKS_DIRECTORY))

    def _own_log(self, thread_id: ThreadId) -> PeerId:
        own_log = self.store.own_log(thread_id)
        if own_log is None:
            raise MissingKeyError("this profile cannot write to that thread")
        return own_log

    def item_actions(self, thread_id: ThreadId, collection: str, doc_ids: Sequence[str]) -> dict[str, ItemActions]:
        """What this profile may do now to each live document among
        `doc_ids` (edit, delete), as its next event would be judged; views
        offer only that. Documents gone are left out."""
        own_log = self.store.own_log(thread_id)
        authors = self.collections(thread_id)[collection].authors_of(doc_ids)
        authors_only = self._services.schema.model(collection).editors == "author"
        if own_log is None or not self._may_write(thread_id):
            return {doc_id: actions.NOTHING for doc_id in authors}
        if thread_id.variant is not ThreadVariant.ACCESS_CONTROLLED:
            return {doc_id: actions.actions_without_acl(own=own_log.raw in logs, authors_only=authors_only)
                    for doc_id, logs in authors.items()}
        evaluation = self._services.gate.evaluation(thread_id)
        book, me = evaluation.current(), self.membership.me
        return {doc_id: actions.actions_under_acl(
                    book, me, collection, doc_id, authors_only=authors_only,
                    own=any(log == own_log.raw or evaluation.identity_of(log) == me for log in logs))
                for doc_id, logs in authors.items()}

    # --- invites, joins and peers -------------------------------------------------------

    def invite(self, thread_id: ThreadId, role: Role, *, expires_in: float | None = None,
               uses: int = 1, deliver: Callable[[InviteLink], None] | None = None,
               approve_by_hand: bool = False) -> InviteLink:
        """A link to the thread with the thread's name, ours, and where we
        and a few other admins listen (whom a joiner asks to be admitted).

        `deliver` (saving the link as a QR code, say) runs before the invite
        is committed: if it raises, there is no invite and nobody heard of one."""
        summary = self.get_thread(thread_id)
        with self.committer.batched() as changes, self.database.write():
            link = self.membership.invite(thread_id, role, expires_in=expires_in, uses=uses, name=summary.name,
                                          addresses=self._link_addresses(thread_id),
                                          inviter=self._display_name or None, approve_by_hand=approve_by_hand)
            if deliver is not None:
                deliver(link)
        self._publish(changes)
        return link

    def _link_addresses(self, thread_id: ThreadId) -> list[str]:
        """Ours, then one known address each of up to 3 other admins: a link
        no longer carries keys, so the joiner must reach an admin."""
        others: list[str] = []
        for member in self.membership.members(thread_id):
            if len(others) == _OTHER_ADMINS_IN_LINKS:
                break
            if member.admin and not member.is_me:
                known = [a for a in self._services.addresses.addresses(PeerId.parse(member.peer_id))
                         if peer_of_address(a) is not None]
                others += known[:1]
        return [*self.listen_addresses[:MAX_LINK_ADDRESSES - len(others)], *others]

    def join(self, link: InviteLink) -> ThreadId:
        """Join by link: a pending admission (no keys yet), which the
        network's joiner loop (engine/net/joining.py) asks the link's peers,
        then others, to answer; the thread comes once an admin admits us."""
        self._forget_leaving(link.thread_id)
        thread_id = self.membership.join(link)
        self._remember_link_peers(thread_id, link)
        self._services.broadcaster.publish(ChangeSet(joins=frozenset({thread_id}), membership=frozenset({thread_id})))
        self._joins_changed()
        return thread_id

    # --- admissions (issue 16; the network's joining.py carries them) -----------------------

    def answer_admission(self, request: AdmissionRequest, from_peer: str) -> AdmissionAnswer:
        """As an admin: judge a joiner's request (writing the admit event when it is let in)."""
        with self.committer.batched() as changes:
            answer = self.membership.answer_admission(request, from_peer)
        changes.membership.add(request.thread_id)  # the requests admins see changed, or a member came
        self._publish(changes)
        return answer

    def approve_join(self, thread_id: ThreadId, request_id: bytes) -> None:
        """As an admin: let in a joiner whose invite asks us first (it gets in when it asks again)."""
        with self.committer.batched() as changes:
            self.membership.approve_join(thread_id, request_id)
        changes.membership.add(thread_id)
        self._publish(changes)

    def decline_join(self, thread_id: ThreadId, request_id: bytes) -> None:
        """As an admin: refuse such a joiner ("declined" when it asks again)."""
        self.membership.decline_join(thread_id, request_id)
        self._services.broadcaster.publish(ChangeSet(membership=frozenset({thread_id})))

    def join_state(self, thread_id: ThreadId) -> JoinState | None:
        return self.membership.join_state(thread_id)

    def pending_joins(self) -> list[JoinState]:
        return self.membership.pending_joins()

    def _joins_changed(self) -> None:
        network = self.network
        if network is not None:
            network.joins_changed()

    def take_admission(self, thread_id: ThreadId, answer: AdmissionAnswer, from_peer: str | None = None) -> JoinState:
        """An admin's answer to our pending join (Membership.take_admission);
        when it admits us the thread is here, and the network syncs it."""
        before = self.membership.join_state(thread_id)
        state = self.membership.take_admission(thread_id, answer, from_peer)
        added = state.status == "admitted" and (before is None or before.status != "admitted")
        if added:  # the thread is held now: the link's peers are its peers
            self._remember_addresses(thread_id, state.addresses)
        self._services.broadcaster.publish(ChangeSet(threads_added=frozenset({thread_id}) if added else frozenset(),
                                                     membership=frozenset({thread_id}), joins=frozenset({thread_id})))
        return state

    def _remember_link_peers(self, thread_id: ThreadId, link: InviteLink | None) -> None:
        self._remember_addresses(thread_id, link.addresses if link else ())

    def _remember_addresses(self, thread_id: ThreadId, addresses: Sequence[str]) -> None:
        for address in addresses:
            peer = peer_of_address(address)
            if peer is not None:
                self.peers.remember(thread_id, peer, [address], ttl_seconds=_LINK_ADDRESS_TTL)

    def accept_invite(self, invite_id: bytes) -> ThreadId:
        """Accept a direct invite: join as by its link."""
        link = dict(self.membership.direct_invites()).get(invite_id)
        if link is not None:
            self._forget_leaving(link.link.thread_id)
        thread_id = self.membership.accept_invite(invite_id)
        self._remember_link_peers(thread_id, link.link if link else None)
        self._services.broadcaster.publish(ChangeSet(joins=frozenset({thread_id}), membership=frozenset({thread_id}),
                                                     invites=True))
        self._joins_changed()
        return thread_id

    def decline_invite(self, invite_id: bytes) -> None:
        """Decline a direct invite: forget it and tell every view of the invites."""
        self.membership.decline_invite(invite_id)
        self._services.broadcaster.publish(ChangeSet(invites=True))

    def network_status(self) -> NetworkStatus:
        network = self.network
        return network.status() if network is not None else NetworkStatus(online=False)

    def nearby_peers(self) -> list[NearbyPeer]:
        """Peers found on the LAN in the last minutes, newest first ([] offline)."""
        network = self.network
        return network.nearby() if network is not None else []

    async def invite_nearby(self, thread_id: ThreadId, peer_id: str, role: Role, *,
                            expires_in: float | None = None) -> None:
        """Send a peer we can reach (found nearby) a one-use invite it
        accepts or declines. PeerError offline or if it cannot be reached."""
        network = self.network
        if network is None:
            raise PeerError("offline: a nearby peer is invited while the network runs")
        peer = PeerId.parse(peer_id)
        if peer == self.identity.peer_id:
            raise InvalidInputError("that is this profile")
        self.get_thread(thread_id)  # NotFoundError before any network work
        await network.invite_directly(thread_id, peer, role, expires_in=expires_in)

    def want_original(self, thread_id: ThreadId, photo_id: str) -> None:
        """Fetch a photo's original (in an album that fetches them only on
        demand). Remembered while offline; fetched once peers are met."""
        manifest = BlobRef.from_value(self.photos(thread_id).photos.get(photo_id).data["original"]).manifest
        network = self.network
        if network is not None:
            network.want_original(thread_id, manifest)
        else:
            self.peers.want_blob(thread_id, manifest)

    def fetch_originals(self) -> FetchOriginals:
        """When this profile fetches the full-size photos of the albums it
        reads (backups keep every block whatever it says)."""
        return local_settings.fetch_originals(self.database)

    def set_fetch_originals(self, policy: FetchOriginals) -> None:
        """Choose for every album, those joined or created later included,
        in every process that opens the profile. The network reads it at
        each transfer: it applies from the next sync round."""
        self.peers.set_fetch_originals_everywhere(policy)

    def network_changed(self, *, nearby: bool = False) -> None:
        """Publish the network's status as it is now (and the nearby list,
        when `nearby` says it changed), so that listeners need not ask."""
        self._services.broadcaster.publish(ChangeSet(
            network=self.network_status(), nearby=tuple(self.nearby_peers()) if nearby else None))

    def blobs_arrived(self, thread_id: ThreadId, manifests: Iterable[bytes]) -> None:
        """Blocks of these blobs were just stored (fetched from a peer): tell
        which documents' blobs are whole now (a preview to show, an original
        to open), so views need not ask after every transfer step."""
        arrived: set[tuple[ThreadId, str, str, str]] = set()
        collections, blobs, named = self.collections(thread_id), self.blobs(thread_id), tuple(manifests)
        for model in self._services.schema.models:
            for manifest in named if model.blobs else ():
                try:
                    for doc_id, name, value in collections[model.collection].naming_blob(manifest):
                        if blobs.complete(BlobRef.from_value(value)):
                            arrived.add((thread_id, model.collection, doc_id, name))
                except ThreadsError as exc:  # a peer's malformed reference: nothing to show for it
                    log.info("a blob of %s names no document we can show: %s", thread_id, exc)
        if arrived:
            self._services.broadcaster.publish(ChangeSet(blobs=frozenset(arrived)))

    def invites_changed(self) -> None:
        """A direct invite arrived (the network tells us)."""
        self._services.broadcaster.publish(ChangeSet(invites=True))

    # --- devices and network settings (issue 15: the Devices view, `peers`, `relay`) --------

    def devices(self) -> list[Device]:
        """Every peer we share an album or chat with: its name, how it is
        connected now (or when we last met it), what it shares and how far
        each is in step. Works offline too (then all are offline)."""
        leaving = leave.leaving_threads(self.database)
        summaries = {s.thread_id: (s.name, s.kind) for s in self.directory.all() if s.thread_id not in leaving}
        shared: dict[PeerId, list[ThreadId]] = {}
        for thread_id in summaries:
            for peer in self.peers.peers(thread_id):
                shared.setdefault(peer, []).append(thread_id)
        links = self.network_status().links
        wanted = set(shared) | {PeerId.parse(link.peer_id) for link in links}
        return list_devices(me=self.identity.peer_id, shared=shared, links=links,
                                   names=self._names_of(wanted, list(summaries)), threads=summaries,
                                   last_seen=self.peers.last_sessions())

    def _names_of(self, peers: set[PeerId], thread_ids: list[ThreadId]) -> dict[PeerId, str]:
        """The name each peer gives itself in a thread we share (as nearby() does)."""
        wanted = {str(p): p for p in peers}
        names: dict[PeerId, str] = {}
        for thread_id in thread_ids:
            if len(names) == len(wanted):
                break
            try:
                in_thread = self.member_names(thread_id)
            except ThreadsError:  # a thread we only follow has no names we can read
                continue
            for member, name in in_thread.items():
                peer = wanted.get(member)
                if peer is not None:
                    names.setdefault(peer, name)
        return names

    def relays(self) -> list[str]:
        """The relay peers the user named, in the order added."""
        return local_settings.relay_addresses(self.database)

    def check_relay(self, address: str) -> str:
        """The address in its canonical spelling; InvalidInputError, in the
        user's words, for one that is not a relay address or is our own."""
        canonical, peer = check_relay_address(address)
        if peer == self.identity.peer_id:
            raise InvalidInputError("That is this device's own address: a relay is another device.")
        return canonical

    def add_relay(self, address: str) -> str:
        """Name a relay peer (a follower on a server, say); returns the
        address as kept. InvalidInputError (nothing stored) for one that is
        not a relay address, or this profile's own."""
        canonical = self.check_relay(address)
        relays = self.relays()
        if canonical not in relays:
            self.set_relays([*relays, canonical])
        return canonical

    def remove_relay(self, address: str) -> None:
        """NotFoundError (nothing changed) for an address not in the list."""
        relays = self.relays()
        canonical = address.strip()
        try:
            canonical = check_relay_address(address)[0]
        except InvalidInputError:
            pass  # a stored address is removed as spelt, whatever it is
        if canonical not in relays:
            raise NotFoundError("That relay is not in the list.")
        self.set_relays([a for a in relays if a != canonical])

    def set_relays(self, addresses: Sequence[str]) -> list[str]:
        """Replace the list (the Settings dialog); each is checked before
        any is stored. Returns the addresses as kept."""
        checked: list[str] = []
        for address in addresses:
            canonical = self.check_relay(address)
            if canonical not in checked:
                checked.append(canonical)
        if checked != self.relays():
            local_settings.store_relay_addresses(self.database, checked)
            self._network_settings_changed()
        return checked

    def upnp_enabled(self) -> bool:
        """Whether the network asks the router to forward a port (UPnP)."""
        return local_settings.upnp_enabled(self.database)

    def set_upnp_enabled(self, enabled: bool) -> None:
        if bool(enabled) != self.upnp_enabled():
            local_settings.store_upnp_enabled(self.database, bool(enabled))
            self._network_settings_changed()

    def _network_settings_changed(self) -> None:
        network = self.network
        if network is not None:  # offline, the network reads them when it starts
            network.settings_changed()

    def told(self, thread_id: ThreadId, peer: PeerId) -> dict[PeerId, int]:
        """What a peer refused sync (removed, left, a lost join) may still be
        served of the thread, per log: the signed events that decided it and
        their past, so that its own app learns it (acl/verdicts.py)."""
        evaluation = self._services.gate.evaluation(thread_id)
        cap = self._sync_caps.cap(thread_id, evaluation, str(peer))
        for log_raw, seq in evaluation.removals.told(str(peer)).items():  # a device its person removed
            cap[PeerId(log_raw)] = max(cap.get(PeerId(log_raw), 0), seq)
        return cap

    # --- leaving ---------------------------------------------------------------------

    def leave_thread(self, thread_id: ThreadId) -> bool:
        """Leave the thread. True: it is gone from this profile now. False:
        our Leave event is written and the thread hidden (not listed, no
        writes) until a member holds that event; then its rows go
        (`peer_has_our_log`), or after 30 days anyway (engine/leave.py).
        Gone at once, with no event: a thread without access control, one we
        were removed from ("remove from this device": we may not write any
        more), one we never got into, one we are the only member of. A
        pending join of a thread not here yet is cancelled. Leaving again
        changes nothing. AccessDeniedError (nothing changed) for the last
        admin while others remain."""
        if not self.directory.holds(thread_id):
            if self.membership.join_state(thread_id) is None:
                raise NotFoundError(f"thread {thread_id} is not in this profile")
            self.membership.forget_join(thread_id)
            self._services.broadcaster.publish(ChangeSet(membership=frozenset({thread_id})))
            return True
        if leave.leaving_event(self.database, thread_id) is not None:
            return False
        if not self._others_to_tell(thread_id):
            self._delete_thread(thread_id)
            return True
        with self.committer.batched() as changes, self.database.write():
            self.membership.leave(thread_id)
            own_log = self._own_log(thread_id)
            seq = next(h.seq for h in self.store.logs(thread_id) if h.log_id == own_log)
            leave.start_leaving(self.database, thread_id, own_log, seq, int(self._services.now_seconds()))
        # Views close and the list drops it; the network pushes the Leave.
        self._services.broadcaster.publish(replace(
            _change_set(changes, threads_updated=frozenset(changes.threads) | {thread_id}),
            threads_removed=frozenset({thread_id})))
        return False

    def _others_to_tell(self, thread_id: ThreadId) -> bool:
        """Is there a member who should learn that we leave, and may we tell it?"""
        if thread_id.variant is not ThreadVariant.ACCESS_CONTROLLED:
            return False  # no ACL to say it in
        own_log = self.store.own_log(thread_id)
        if own_log is None or not any(h.log_id == own_log and h.seq for h in self.store.logs(thread_id)):
            return False  # we never wrote a thing: not even our bind
        evaluation = self._services.gate.evaluation(thread_id)
        if self.membership.device in evaluation.removals.removed_devices():
            return False  # another device of our person removed this one: we may not write (issue 19)
        book, me = evaluation.current(), self.membership.me
        if Role.FOLLOW not in book.roles(me):
            return False  # removed, or never let in: we may not write
        return any(member != me and Role.FOLLOW in book.roles(member) for member in book.members())

    def peer_has_our_log(self, thread_id: ThreadId, peer: PeerId, seq: int) -> bool:
        """The network saw `peer` hold our log in the thread up to `seq` (it
        pulled it from us, or its heads say so). A thread we are leaving goes
        once a member holds our Leave. True if it went."""
        leaving = leave.leaving_event(self.database, thread_id)
        if leaving is None or seq < leaving[1]:
            return False
        if Role.FOLLOW not in self.membership.roles(thread_id, str(peer)):
            return False  # only a member passes it on to the others
        self._delete_thread(thread_id)
        return True

    def _forget_leaving(self, thread_id: ThreadId) -> None:
        """Joining again a thread we are leaving: what is left of our stay
        goes first (we come back with a new log, as after any leave)."""
        if leave.leaving_event(self.database, thread_id) is not None:
            self._delete_thread(thread_id)

    def _drop_stale_leaving(self) -> None:
        for thread_id in leave.stale_leaving(self.database, int(self._services.now_seconds())):
            log.info("deleting %s: nobody fetched our leaving it in %d days", thread_id, leave.LEAVING_DAYS)
            self._delete_thread(thread_id)

    def _delete_thread(self, thread_id: ThreadId) -> None:
        """Forget the thread: its logs, events, views, keys, ACL state, peers
        and photo blocks (those no other thread names), in one transaction."""
        with self.database.write():
            leave.delete_thread_rows(self.database, thread_id)
            # What the parts hold of those rows in memory: the log store's
            # keys and log would hand a rejoin the old log, the gate's
            # evaluation the old ACL; the network's work would write again.
            self._services.forgetters.forget(thread_id)
        self._services.broadcaster.publish(ChangeSet(threads_removed=frozenset({thread_id})))

    # --- display names -----------------------------------------------------------------

    def display_name(self) -> str:
        """The name this profile gives itself ("" for none)."""
        return self._display_name

    def set_display_name(self, name: str) -> None:
        """Keep the name and tell it to every thread we may write to (an
        empty name takes it back). InvalidInputError for a bad name."""
        name = profiles.clean_display_name(name)
        profiles.store_display_name(self.database, name)
        self._display_name = name
        for thread_id in self.directory.ids():
            self._tell_name(thread_id)

    def _person_name(self) -> str:
        """Our name, or else the one another device of ours told a thread."""
        for thread_id in [] if self._display_name else self._held_thread_ids():
            try:
                name = self.member_names(thread_id).get(self.membership.me)
            except ThreadsError:  # a thread we only follow: its names are sealed from us
                continue
            if name:
                return name
        return self._display_name

    def publish_profile(self, thread_id: ThreadId) -> bool:
        """Write our name into the thread now if it does not hold it yet.
        True if it wrote; False if it had it or we may not write there."""
        return self._tell_name(thread_id)

    def author_names(self, thread_id: ThreadId) -> dict[str, str]:
        """Author (log ID in the thread, as documents name them) -> the name
        that member gives itself there."""
        return {str(log_id): name for log_id, name in profiles.names_by_log(self.collections(thread_id)).items()}

    def author_members(self, thread_id: ThreadId) -> dict[str, str]:
        """Author (log ID in the thread) -> the member (peer ID) that log is
        bound to. Empty for a thread without access control, where a log is
        known by itself only."""
        if thread_id.variant is not ThreadVariant.ACCESS_CONTROLLED:
            return {}
        bindings = self._services.gate.evaluation(thread_id).bindings
        return {str(PeerId(log_raw)): binding.member for log_raw, binding in bindings.items()}

    def author_devices(self, thread_id: ThreadId) -> dict[str, AuthorDevice]:
        """Author (log ID) -> its person, its device, the device's name from
        the certificate its log was bound with (None: a person's first
        device) and whether it was removed: a person writes through one log
        per device (issue 19; persons-ui's hook, for the members dialog's and
        the chat's "on which devices")."""
        if thread_id.variant is not ThreadVariant.ACCESS_CONTROLLED:
            return {}
        evaluation = self._services.gate.evaluation(thread_id)
        removed = evaluation.removals.removed_devices()
        names = {str(op.cert.device): op.cert.name for event in evaluation.events for op in event.ops
                 if isinstance(op, Bind) and op.cert is not None}
        return {str(PeerId(log_raw)): AuthorDevice(b.member, b.device, names.get(b.device), b.device in removed)
                for log_raw, b in evaluation.bindings.items()}

    def member_names(self, thread_id: ThreadId) -> dict[str, str]:
        """Peer ID -> the name that member gives itself in the thread
        (cleaned; members who gave none are left out)."""
        evaluation = self._services.gate.evaluation(thread_id)
        names: dict[str, str] = {}
        for log_id, name in profiles.names_by_log(self.collections(thread_id)).items():
            member = evaluation.identity_of(log_id.raw)
            if member is not None:
                names[member] = name
        return names

    # --- membership notices (issue 16) ----------------------------------------------------

    def membership_notices(self, thread_id: ThreadId) -> ThreadNotices:
        """Who joined, was added, removed or given another role, who left,
        oldest first, with the names they give themselves in the thread."""
        me = self.membership.me  # our person
        if thread_id.variant is not ThreadVariant.ACCESS_CONTROLLED:
            self.store.thread_keys(thread_id)  # NotFoundError for a thread not here
            return ThreadNotices((), {}, me)
        found = tuple(notices.membership_notices(self._services.gate.evaluation(thread_id)))
        named = {p for n in found for p in (n.actor, n.subject, n.by_invite_of) if p is not None}
        try:
            names = {peer: name for peer, name in self.member_names(thread_id).items() if peer in named}
        except ThreadsError:  # a thread we only follow: its names are sealed from us
            names = {}
        return ThreadNotices(found, names, me)

    def removal(self, thread_id: ThreadId) -> Removal | None:
        """Whether an admin took our right to write (or every right) here."""
        if thread_id.variant is not ThreadVariant.ACCESS_CONTROLLED:
            return None
        return notices.removal(self._services.gate.evaluation(thread_id), self.membership.me)

    def _tell_name(self, thread_id: ThreadId) -> bool:
        own_log = self.store.own_log(thread_id)
        if own_log is None or not self._may_write(thread_id, role=Role.READ):  # readers tell their names too
            return False
        try:
            return profiles.publish_name(self.collections(thread_id), own_log, self._display_name)
        except ThreadsError as exc:  # a name is never worth failing what called us
            log.info("could not write our name to %s: %s", thread_id, exc)
            return False

    def _may_write(self, thread_id: ThreadId, role: Role = Role.WRITE) -> bool:
        if thread_id.variant is not ThreadVariant.ACCESS_CONTROLLED:
            return self.store.thread_keys(thread_id)[0].can_read
        if self.membership.pending_join(thread_id)[0]:
            return False
        return role in self.membership.roles(thread_id)

    # --- change sets ----------------------------------------------------------------

    def subscribe(self, listener: Listener, *, thread_id: ThreadId | None = None, collection: str | None = None,
                  doc_id: str | None = None) -> Callable[[], None]:
        return self._services.broadcaster.subscribe(listener, thread_id=thread_id, collection=collection,
                                                    doc_id=doc_id)

    def _publish(self, changes: AppliedChanges) -> None:
        self._services.broadcaster.publish(_change_set(changes, threads_updated=frozenset(changes.threads)))

    def close(self) -> None:
        self._services.work_pool.shutdown(wait=True)
        self.database.close()
        self.profile.close()


def _change_set(changes: AppliedChanges, *, threads_added: frozenset[ThreadId] = frozenset(),
                threads_updated: frozenset[ThreadId] = frozenset()) -> ChangeSet:
    return ChangeSet(threads_added=threads_added, threads_updated=threads_updated,
                     documents=frozenset(changes.documents), documents_created=frozenset(changes.created),
                     documents_deleted=frozenset(changes.deleted), membership=frozenset(changes.membership))
