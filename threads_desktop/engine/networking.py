"""Where the node and the network meet: the one module that builds a
NetworkService for a node (serving.py calls it for the app, `serve`, `sync`
and the sync benchmark). The network sees the node only through `NodeThreads` (its
`ThreadStore`), and the node gets the service as its `Network` from
`connect_network`; neither reaches into the other (engine/net/ports.py).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping, Sequence

from threads_desktop.engine.acl.admission import AdmissionAnswer, AdmissionRequest
from threads_desktop.engine.acl.devices import DeviceCert, DeviceRemoval
from threads_desktop.engine.core.errors import ProtocolError, ThreadsError
from threads_desktop.engine.core.ids import PeerId, ThreadId, ThreadVariant
from threads_desktop.engine.core.keys import Identity, ThreadKey
from threads_desktop.engine.core.members import AdmissionStatus, Role
from threads_desktop.engine.core.types import ChangeSet
from threads_desktop.engine.logstore import local_settings
from threads_desktop.engine.logstore.addressbook import AddressBook
from threads_desktop.engine.logstore.blobs import BlobStore, BlockEntry
from threads_desktop.engine.logstore.envelopes import Envelope
from threads_desktop.engine.logstore.peerbook import PeerBook
from threads_desktop.engine.logstore.store import IngestOutcome, LogHead, StoredRecord
from threads_desktop.engine.net import proofs
from threads_desktop.engine.net.budgets import Limits
from threads_desktop.engine.net.host import DEFAULT_LISTEN, check_ports_free, parse_listen
from threads_desktop.engine.net.joining import JoinLimits, PendingJoin, Status
from threads_desktop.engine.net.relay import RelayLimits
from threads_desktop.engine.net.service import Discovery, DiscoveryFactory, NetworkService, ProgressListener
from threads_desktop.engine.node import Node
from threads_desktop.engine.persons.flows import DeviceIssuer

log = logging.getLogger(__name__)

__all__ = ["DEFAULT_LISTEN", "NodeThreads", "check_listen", "connect_network", "lan_discovery"]


class NodeThreads:
    """The node as the network sees it (ports.ThreadStore): a narrow view,
    so the network never holds the node itself."""

    def __init__(self, node: Node) -> None:
        self._node = node

    @property
    def identity(self) -> Identity:
        return self._node.identity

    @property
    def peers(self) -> PeerBook:
        return self._node.peers

    @property
    def addresses(self) -> AddressBook:
        return self._node.addresses

    def thread_ids(self) -> list[ThreadId]:
        return self._node.directory.ids()

    def holds(self, thread_id: ThreadId) -> bool:
        return self._node.directory.holds(thread_id)

    def thread_keys(self, thread_id: ThreadId) -> list[ThreadKey]:
        return self._node.store.thread_keys(thread_id)

    def heads(self, thread_id: ThreadId) -> list[LogHead]:
        return self._node.store.logs(thread_id)

    def own_log(self, thread_id: ThreadId) -> PeerId | None:
        return self._node.store.own_log(thread_id)

    def records_after(self, thread_id: ThreadId, log_id: PeerId, after: int, limit: int) -> list[StoredRecord]:
        return self._node.store.records_after(thread_id, log_id, after, limit)

    def receive(self, thread_id: ThreadId, envelopes: Sequence[Envelope]) -> list[IngestOutcome | ThreadsError]:
        return self._node.receive(thread_id, envelopes)

    def lendable_keys(self, thread_id: ThreadId, peer: PeerId, proven: ThreadKey) -> list[ThreadKey]:
        if thread_id.variant is not ThreadVariant.ACCESS_CONTROLLED:
            return []  # keys of an open thread never rotate
        newer = proofs.newer_keys(self._node.store.thread_keys(thread_id), proven)
        roles = self._node.membership.lending_roles(thread_id, str(peer)) if newer else frozenset()
        if Role.FOLLOW not in roles:
            return []
        return [k if Role.READ in roles else ThreadKey(k.follow, None, k.epoch) for k in newer]

    def lend_keys(self, thread_id: ThreadId, lender: PeerId, keys: Sequence[ThreadKey]) -> None:
        self._node.lend_keys(thread_id, lender, keys)

    def admits(self, thread_id: ThreadId, peer: PeerId, key: ThreadKey) -> bool:
        """May `peer`, which proved it holds `key`, sync the thread? Anyone
        with the key of an open thread; the ACL decides in the others."""
        if thread_id.variant is not ThreadVariant.ACCESS_CONTROLLED:
            return True
        return self._node.membership.may_sync(thread_id, str(peer), key.follow)

    def device_cert(self) -> bytes | None:
        cert = self._node.persons.this_cert()
        return None if cert is None else cert.to_bytes()

    def peer_device_cert(self, peer: PeerId, cert: bytes, thread_id: ThreadId) -> None:
        """Keep a certificate a peer's hello carries if it is the peer's own
        and names a person with a role in `thread_id`, which the peer just
        proved (a stranger's made-up persons would only fill the device
        book). Only then is its signature checked: one look-up in one
        thread first, so a certificate that cannot matter costs no more."""
        if thread_id.variant is not ThreadVariant.ACCESS_CONTROLLED:
            return
        try:
            parsed = DeviceCert.from_bytes(cert)
            if parsed.device != peer or parsed.person == peer:
                return
            persons = self._node.persons
            if persons.book.person_of(peer) == parsed.person:
                return  # known already
            if not self._node.membership.roles(thread_id, str(parsed.person)):
                return
            parsed.verify()
        except ThreadsError as exc:
            log.debug("a device certificate from %s left out: %s", peer, exc)
            return
        persons.record([parsed])

    def device_removals(self) -> list[bytes]:
        return [removal.to_bytes() for removal in self._node.persons.book.newest_removals()]

    def peer_device_removals(self, peer: PeerId, removals: Sequence[bytes]) -> None:
        """Keep the removals a peer's hello carries that are its own person's
        (the person its recorded certificate names, or itself) and new here,
        if that person holds a role in a thread we hold, then act on them
        (Persons.record: the removed device is refused, and the removal
        carried into our threads where it is bound). Bounded work: a
        stranger's person holds no role (nothing is checked), and the first
        removal that does not verify ends the lot (one check per hello)."""
        persons = self._node.persons
        sender = persons.book.person_of(peer) or peer
        taken: list[DeviceRemoval] = []
        named: bool | None = None
        for blob in removals:
            try:
                removal = DeviceRemoval.from_bytes(blob)
            except ThreadsError as exc:
                log.debug("device removals from %s left out: %s", peer, exc)
                break
            if removal.person != sender or removal.person in persons.book.removals_of(removal.device):
                continue  # another person's (its own person's only), or known already
            if named is None:
                named = self._names_person(removal.person)
            if not named:
                break
            try:
                removal.verify()
            except ThreadsError as exc:
                log.debug("device removals from %s left out: %s", peer, exc)
                break
            taken.append(removal)
        if taken:
            persons.record(taken)

    def _names_person(self, person: PeerId) -> bool:
        """Does a thread we hold give the person a role (a stranger's made-up
        persons would only fill the device book)?"""
        membership, who = self._node.membership, str(person)
        return any(membership.roles(thread_id, who) for thread_id in self.thread_ids()
                   if thread_id.variant is ThreadVariant.ACCESS_CONTROLLED)

    def told(self, thread_id: ThreadId, peer: PeerId) -> Mapping[PeerId, int]:
        if thread_id.variant is not ThreadVariant.ACCESS_CONTROLLED:
            return {}
        return self._node.told(thread_id, peer)

    def peer_has_our_log(self, thread_id: ThreadId, peer: PeerId, seq: int) -> None:
        self._node.peer_has_our_log(thread_id, peer, seq)

    def blobs(self, thread_id: ThreadId) -> BlobStore:
        return self._node.blobs(thread_id)

    def store_fetched(self, thread_id: ThreadId, blocks: Sequence[tuple[BlockEntry, bytes]]) -> None:
        blobs = self._node.blobs(thread_id)
        with self._node.database.write():
            for entry, data in blocks:
                blobs.add_fetched(entry, data)
        self._node.blobs_arrived(thread_id, {entry.blob for entry, _data in blocks})

    def seal_invite(self, thread_id: ThreadId, peer: PeerId, exchange_key: bytes, role: Role,
                    expires_in: float | None, addresses: Sequence[str]) -> bytes:
        return self._node.membership.invite_peer(thread_id, str(peer), exchange_key, role, expires_in=expires_in,
                                                 name=self._node.get_thread(thread_id).name, addresses=addresses)

    def receive_invite(self, sealed: bytes) -> None:
        self._node.membership.receive_invite(sealed)

    def member_names(self, thread_id: ThreadId) -> dict[str, str]:
        return self._node.member_names(thread_id)

    def acl_peers(self, thread_id: ThreadId) -> set[PeerId]:  # strangers17: net/members.py
        if thread_id.variant is not ThreadVariant.ACCESS_CONTROLLED:
            return set()
        found: set[PeerId] = set()
        for member in self._node.membership.members(thread_id):
            try:
                person = PeerId.parse(member.peer_id)
            except ThreadsError:  # an ACL entry that names no peer (an entity): nobody to recognise
                continue
            # The member person's devices (issue 19) as far as we know them: its
            # first device (the person's own peer ID) unless removed, and the others.
            found.update(self._node.persons.book.device_list(person).devices(person))
        # Devices bound in the thread, and not removed, speak for their person.
        book = self._node.persons.book
        for author in self._node.author_devices(thread_id).values():
            device = PeerId.parse(author.device)
            # Removed in the thread, or by its person as our device book says (a hello told us).
            if not author.removed and author.person not in book.removed_by(device):
                found.add(device)
        return found

    def subscribe(self, listener: Callable[[ChangeSet], None]) -> Callable[[], None]:
        return self._node.subscribe(listener)

    def network_changed(self, *, nearby: bool = False) -> None:
        self._node.network_changed(nearby=nearby)

    def invites_changed(self) -> None:
        self._node.invites_changed()

    def configured_relays(self) -> list[str]:
        return local_settings.relay_addresses(self._node.database)

    def upnp_enabled(self) -> bool:
        return local_settings.upnp_enabled(self._node.database)


class NodeAdmissions:
    """The node's admissions as joining.py sees them (joining.Admissions):
    the payloads' codecs are engine/acl/admission.py's."""

    def __init__(self, node: Node) -> None:
        self._node = node

    def answer(self, request: bytes, peer: PeerId) -> bytes:
        try:
            parsed = AdmissionRequest.from_bytes(request)
        except ThreadsError as exc:  # CodecError, SchemaError: a stranger's bytes
            raise ProtocolError(f"not an admission request: {exc}") from exc
        if parsed.identity != peer:
            # The box goes to whoever asked: only the joiner itself may ask for its admission.
            raise ProtocolError("an admission request is sent by the identity it names")
        return self._node.answer_admission(parsed, str(peer)).to_bytes()

    def pending(self) -> list[PendingJoin]:
        return [PendingJoin(j.thread_id, j.status == "waiting-approval", j.addresses)
                for j in self._node.pending_joins() if j.status in ("waiting", "waiting-approval")]

    def request(self, thread_id: ThreadId) -> bytes:
        return self._node.membership.admission_request(thread_id, self._node.display_name() or None).to_bytes()

    def take(self, thread_id: ThreadId, answer: bytes, peer: PeerId, *, final: bool,
             anchored: bool = True) -> Status:
        try:
            parsed = AdmissionAnswer.from_bytes(answer)
        except ThreadsError as exc:
            raise ProtocolError(f"not an admission answer: {exc}") from exc
        status = parsed.status
        if status is AdmissionStatus.ADMITTED and not final and anchored:
            # Keys from a peer the link did not name could be anyone's (sealed
            # to our public key): taking them would end the join on a thread
            # nobody admitted us to. Ask the link's peers. (A link made offline
            # names none: then whoever answers is taken, found nearby.)
            return "unknown"
        if status is AdmissionStatus.UNKNOWN or (status is AdmissionStatus.REFUSED and not final):
            return "unknown" if status is AdmissionStatus.UNKNOWN else "refused"
        self._node.take_admission(thread_id, parsed, str(peer))
        return "admitted" if status is AdmissionStatus.ADMITTED else \
            "refused" if status is AdmissionStatus.REFUSED else "waiting-approval"


def connect_network(node: Node, *, listen: Sequence[str], pull_interval: float = 60.0,
                    discovery: DiscoveryFactory | None = None, on_progress: ProgressListener | None = None,
                    gossip: bool = True, clock: Callable[[], float] = time.time,
                    limits: Limits | None = None, reachable: Callable[[], bool] | None = None,
                    relay_limits: RelayLimits | None = None, hole_punching: bool = True,
                    join_limits: JoinLimits | None = None) -> NetworkService:
    """A network service for the node, handed to it as its network (it
    counts as online while the service runs; start it with `run`). `clock`
    is the wall time nearby peers are dated by. `reachable` says whether
    peers outside can dial us (we relay for them if so, reserve on relays if
    not; None: the dial-back check, or a public listen address until it answers)."""
    service = NetworkService(NodeThreads(node), listen=listen, pull_interval=pull_interval, discovery=discovery,
                             on_progress=on_progress, gossip=gossip, clock=clock, limits=limits, reachable=reachable,
                             relay_limits=relay_limits, hole_punching=hole_punching,
                             admissions=NodeAdmissions(node), join_limits=join_limits,
                             devicing=DeviceIssuer(node, node.device_links))
    node.attach_network(service)  # which also has it forget what a left thread leaves behind
    return service


def check_listen(listen: Sequence[str]) -> None:
    """OSError if another process has one of the ports (checked up front for a
    plain message); InvalidInputError for an address that is not one."""
    check_ports_free(parse_listen(listen))


def lan_discovery(peer_id: str, addresses: Sequence[str], on_found: Callable[[PeerId, list[str]], None]) -> Discovery:
    """The DiscoveryFactory of mDNS on the LAN (zeroconf is imported when called)."""
    from threads_desktop.engine.net.discovery import FoundPeer, LanDiscovery

    def found(peer: FoundPeer) -> None:
        on_found(PeerId.parse(peer.peer_id), list(peer.addresses))

    return LanDiscovery(peer_id, list(addresses), found)
