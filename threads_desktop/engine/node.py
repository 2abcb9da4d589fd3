"""The one place where the engine's parts are built and wired together
(what they are built from: engine/node_services.py; leaving, joining, names
and the network settings are parts beside it, node_*.py)."""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Callable, Iterable, Sequence
from contextlib import ExitStack
from dataclasses import replace
from pathlib import Path
from typing import Any

from threads_desktop.engine import leave
from threads_desktop.engine.acl import actions
from threads_desktop.engine.acl.admission import AdmissionAnswer, AdmissionRequest
from threads_desktop.engine.acl.bundle_peers import BundlePeers
from threads_desktop.engine.acl.device_book import DeviceBook
from threads_desktop.engine.acl.links import InviteLink
from threads_desktop.engine.acl.membership import Membership
from threads_desktop.engine.acl.notices import Removal, ThreadNotices
from threads_desktop.engine.core.errors import (
    AccessDeniedError,
    InvalidInputError,
    MissingKeyError,
    NotFoundError,
    PeerError,
    ThreadsError,
)
from threads_desktop.engine.core.ids import PeerId, ThreadId, ThreadVariant
from threads_desktop.engine.core.keys import ThreadKey
from threads_desktop.engine.core.lifecycle import Forget
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
from threads_desktop.engine.db.collections import ThreadCollections
from threads_desktop.engine.eventstore.broadcast import Listener, change_set
from threads_desktop.engine.eventstore.committer import Committer
from threads_desktop.engine.eventstore.store import AppliedChanges
from threads_desktop.engine.logstore import local_settings
from threads_desktop.engine.logstore.blobs import BlobRef, BlobStore
from threads_desktop.engine.logstore.blockfiles import BLOCKS_DIRECTORY, BlockFiles
from threads_desktop.engine.logstore.envelopes import Envelope
from threads_desktop.engine.logstore.peerbook import PeerBook
from threads_desktop.engine.logstore.store import IngestOutcome
from threads_desktop.engine.modules.chat import Chat
from threads_desktop.engine.modules.photos import Photos
from threads_desktop.engine.net.ports import Network
from threads_desktop.engine.node_joining import Joining
from threads_desktop.engine.node_leaving import ThreadLeaving
from threads_desktop.engine.node_names import MemberNames
from threads_desktop.engine.node_services import Services, open_services
from threads_desktop.engine.node_settings import NetworkSettings
from threads_desktop.engine.persons.device_links import DeviceLinks
from threads_desktop.engine.persons.service import Persons
from threads_desktop.engine.threads import ThreadDirectory

log = logging.getLogger(__name__)


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
        # Every part that writes events holds the committer; membership,
        # which needs it too, is the policy that picks its keys.
        self.committer = Committer(services.dispatcher, self._publish)
        device_book = DeviceBook(services.database, services.vault, services.identity)
        self.directory = ThreadDirectory(services.database, services.store, services.identity, self.committer,
                                         services.random_bytes, services.now_seconds, device_book)
        bundle_peers = BundlePeers(services.database)
        self.membership = Membership(services.database, services.store, services.gate, services.identity,
                                     services.vault, self.committer, services.clock.tick,
                                     services.random_bytes, services.now_seconds, device_book, bundle_peers)
        self.committer.use_keys(self.membership)
        broadcaster = services.broadcaster
        self.names = MemberNames(services.database, services.store, services.gate, self.membership, self.directory,
                                 self.collections, self._held_thread_ids)
        self.leaving = ThreadLeaving(services.database, services.store, self.directory, self.membership,
                                     services.gate, self.committer, services.forgetters, broadcaster,
                                     services.now_seconds)
        self.joining = Joining(services.database, self.membership, self.committer, services.addresses, self.peers,
                               broadcaster, self._publish, get_thread=self.get_thread,
                               listen_addresses=lambda: self.listen_addresses, display_name=self.names.display_name,
                               forget_leaving=self.leaving.forget_leaving, joins_changed=self._joins_changed)
        self.settings = NetworkSettings(services.database, services.identity, self.directory, self.peers,
                                        network=lambda: self.network, network_status=self.network_status,
                                        member_names=self.names.member_names)
        # One person, several devices (issue 19).
        self.persons = Persons(
            services.database, services.store, services.gate, services.identity, device_book, self.committer,
            self.membership, bundle_peers, thread_ids=self._held_thread_ids, display_name=self.names.person_name,
            links=lambda: self.network_status().links, last_seen=self.peers.last_sessions,
            now_seconds=services.now_seconds, publish=broadcaster.publish)
        self.device_links = DeviceLinks(services.database, lambda: int(services.now_seconds() * 1000))

    @classmethod
    def open(cls, data_dir: Path, *, now_seconds: Callable[[], float] = time.time,
             random_bytes: RandomBytes = os.urandom, lock_wait: float = 0.0) -> Node:
        """Open the profile in `data_dir`, waiting up to `lock_wait` seconds
        for another process to let go of it (ProfileLockedError after)."""
        with ExitStack() as undo:  # a failure half way releases what was opened
            node = cls(open_services(data_dir, undo, now_seconds=now_seconds, random_bytes=random_bytes,
                                     lock_wait=lock_wait))
            node.leaving.drop_stale_leaving()
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
            self.persons.carry_removals(thread_id)  # a removal reaches every thread the device is in
            self.membership.heal(thread_id)
            self.membership.deliver_missing_keys(thread_id)
            # Our join may just have been written, or write granted: the
            # thread learns our name as soon as we may tell it.
            self.names.tell_name(thread_id)
        return outcomes

    def add_thread_key(self, thread_id: ThreadId, key: ThreadKey) -> None:
        """Store another epoch of a thread's keys and open what it opens."""
        changes = AppliedChanges()
        with self.database.write():
            self.store.add_thread_key(thread_id, key)
            self.events.reopen(thread_id, changes)
        self._publish(changes)

    def lend_keys(self, thread_id: ThreadId, lender: PeerId, keys: Sequence[ThreadKey]) -> None:
        """Keys a member lent us in a hello (PROTOCOL §34; none: its loan
        ends): they open what waits for them, as a key that arrives does."""
        if not self.directory.holds(thread_id):
            return
        if self.store.lend_keys(thread_id, lender, keys):
            changes = AppliedChanges()
            with self.database.write():
                self.events.reopen(thread_id, changes)
            self._publish(changes)

    # --- operations -------------------------------------------------------------

    def identity_card(self) -> IdentityCard:
        return IdentityCard(str(self.identity.peer_id), self.identity.exchange_public_key())

    def create_thread(self, kind: ThreadKind, name: str) -> ThreadSummary:
        with self.committer.batched() as changes:
            thread_id = self.directory.create(kind, name)
            self.names.tell_name(thread_id)
        self._services.broadcaster.publish(change_set(changes, threads_added=frozenset({thread_id})))
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
        removal = self.names.removal(summary.thread_id)
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
        if own_log is None or not self.names.may_write(thread_id):
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

    # --- invites, joins and admissions (node_joining.py) ------------------------------

    def invite(self, thread_id: ThreadId, role: Role, *, expires_in: float | None = None,
               uses: int = 1, deliver: Callable[[InviteLink], None] | None = None,
               approve_by_hand: bool = False) -> InviteLink:
        return self.joining.invite(thread_id, role, expires_in=expires_in, uses=uses, deliver=deliver,
                                   approve_by_hand=approve_by_hand)

    def join(self, link: InviteLink) -> ThreadId:
        return self.joining.join(link)

    def answer_admission(self, request: AdmissionRequest, from_peer: str) -> AdmissionAnswer:
        return self.joining.answer_admission(request, from_peer)

    def approve_join(self, thread_id: ThreadId, request_id: bytes) -> None:
        self.joining.approve_join(thread_id, request_id)

    def decline_join(self, thread_id: ThreadId, request_id: bytes) -> None:
        self.joining.decline_join(thread_id, request_id)

    def take_admission(self, thread_id: ThreadId, answer: AdmissionAnswer, from_peer: str | None = None) -> JoinState:
        return self.joining.take_admission(thread_id, answer, from_peer)

    def accept_invite(self, invite_id: bytes) -> ThreadId:
        return self.joining.accept_invite(invite_id)

    def decline_invite(self, invite_id: bytes) -> None:
        self.joining.decline_invite(invite_id)

    def join_state(self, thread_id: ThreadId) -> JoinState | None:
        return self.membership.join_state(thread_id)

    def pending_joins(self) -> list[JoinState]:
        return self.membership.pending_joins()

    def _joins_changed(self) -> None:
        network = self.network
        if network is not None:
            network.joins_changed()

    # --- the network ------------------------------------------------------------------

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

    # --- devices and network settings (node_settings.py) ------------------------------

    def devices(self) -> list[Device]:
        return self.settings.devices()

    def relays(self) -> list[str]:
        return self.settings.relays()

    def check_relay(self, address: str) -> str:
        return self.settings.check_relay(address)

    def add_relay(self, address: str) -> str:
        return self.settings.add_relay(address)

    def remove_relay(self, address: str) -> None:
        self.settings.remove_relay(address)

    def set_relays(self, addresses: Sequence[str]) -> list[str]:
        return self.settings.set_relays(addresses)

    def upnp_enabled(self) -> bool:
        return self.settings.upnp_enabled()

    def set_upnp_enabled(self, enabled: bool) -> None:
        self.settings.set_upnp_enabled(enabled)


    def told(self, thread_id: ThreadId, peer: PeerId) -> dict[PeerId, int]:
        return self.leaving.told(thread_id, peer)

    # --- leaving (node_leaving.py) -----------------------------------------------------

    def leave_thread(self, thread_id: ThreadId) -> bool:
        return self.leaving.leave_thread(thread_id)

    def peer_has_our_log(self, thread_id: ThreadId, peer: PeerId, seq: int) -> bool:
        return self.leaving.peer_has_our_log(thread_id, peer, seq)

    # --- names and membership notices (node_names.py) ------------------------------------

    def display_name(self) -> str:
        return self.names.display_name()

    def set_display_name(self, name: str) -> None:
        self.names.set_display_name(name)

    def author_names(self, thread_id: ThreadId) -> dict[str, str]:
        return self.names.author_names(thread_id)

    def author_members(self, thread_id: ThreadId) -> dict[str, str]:
        return self.names.author_members(thread_id)

    def author_devices(self, thread_id: ThreadId) -> dict[str, AuthorDevice]:
        return self.names.author_devices(thread_id)

    def member_names(self, thread_id: ThreadId) -> dict[str, str]:
        return self.names.member_names(thread_id)

    def membership_notices(self, thread_id: ThreadId) -> ThreadNotices:
        return self.names.membership_notices(thread_id)

    def removal(self, thread_id: ThreadId) -> Removal | None:
        return self.names.removal(thread_id)

    # --- change sets ----------------------------------------------------------------

    def subscribe(self, listener: Listener, *, thread_id: ThreadId | None = None, collection: str | None = None,
                  doc_id: str | None = None) -> Callable[[], None]:
        return self._services.broadcaster.subscribe(listener, thread_id=thread_id, collection=collection,
                                                    doc_id=doc_id)

    def _publish(self, changes: AppliedChanges) -> None:
        self._services.broadcaster.publish(change_set(changes, threads_updated=frozenset(changes.threads)))

    def close(self) -> None:
        self._services.work_pool.shutdown(wait=True)
        self.database.close()
        self.profile.close()

