"""The two sides of the seam between the node and the network.

`ThreadStore` is all the network needs from the node: the threads it holds
and their keys, heads and records, receiving records and blocks, the one
admission rule, invites, and the peer and address books. `Network` is all
the node (and through it the UI) needs from the network. Neither side holds
the other itself: engine/networking.py builds an adapter of the node for the
network and hands the network to the node (go-threads' app.App seam is the
model). This module imports nothing else of engine/net.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Protocol

from threads_desktop.engine.core.errors import ThreadsError
from threads_desktop.engine.core.ids import PeerId, ThreadId
from threads_desktop.engine.core.keys import Identity, ThreadKey
from threads_desktop.engine.core.members import Role
from threads_desktop.engine.core.types import ChangeSet, NearbyPeer, NetworkStatus, PeerLink
from threads_desktop.engine.logstore.addressbook import AddressBook
from threads_desktop.engine.logstore.blobs import BlobStore, BlockEntry
from threads_desktop.engine.logstore.envelopes import Envelope
from threads_desktop.engine.logstore.peerbook import PeerBook
from threads_desktop.engine.logstore.store import IngestOutcome, LogHead, StoredRecord


class ThreadStore(Protocol):
    """What the network needs from the node."""

    @property
    def identity(self) -> Identity: ...

    @property
    def peers(self) -> PeerBook: ...

    @property
    def addresses(self) -> AddressBook: ...

    # --- threads, keys and records ---------------------------------------------------------

    def thread_ids(self) -> list[ThreadId]: ...

    def holds(self, thread_id: ThreadId) -> bool: ...

    def thread_keys(self, thread_id: ThreadId) -> list[ThreadKey]: ...

    def heads(self, thread_id: ThreadId) -> list[LogHead]: ...

    def own_log(self, thread_id: ThreadId) -> PeerId | None: ...

    def records_after(self, thread_id: ThreadId, log_id: PeerId, after: int, limit: int) -> list[StoredRecord]: ...

    def receive(self, thread_id: ThreadId, envelopes: Sequence[Envelope]) -> list[IngestOutcome | ThreadsError]: ...

    def lendable_keys(self, thread_id: ThreadId, peer: PeerId, proven: ThreadKey) -> list[ThreadKey]:
        """The keys of epochs newer than `proven` to lend a member that proved
        it (read keys only if it may read): a device restored from a backup
        older than a rotation needs them to take and read what was written
        since (PROTOCOL §34). Asked only of peers `admits` let in."""
        ...

    def lend_keys(self, thread_id: ThreadId, lender: PeerId, keys: Sequence[ThreadKey]) -> None:
        """Keys a member lent in its hello answer: they open what was written
        since the newest epoch we hold, and are never written with
        (logstore/lent_keys.py). They replace what it lent before; none ends
        its loan (its next hello lends nothing, or the session closes)."""
        ...

    def admits(self, thread_id: ThreadId, peer: PeerId, key: ThreadKey) -> bool:
        """May `peer`, which proved it holds `key`, sync the thread? The one
        rule for both sides of a session."""
        ...

    def device_cert(self) -> bytes | None:
        """This device's certificate from its person (None: the person's first
        device), told in every hello (issue 19)."""
        ...

    def peer_device_cert(self, peer: PeerId, cert: bytes, thread_id: ThreadId) -> None:
        """`peer` says, in its hello, that it is a device of a person, and has
        just proved it holds `thread_id`: kept if it verifies, names `peer`
        and a person with a role in that thread, for `admits` (ignored
        otherwise). Never called before a proof matched: a stranger's
        certificate costs nothing."""
        ...

    def device_removals(self) -> list[bytes]:
        """Our person's device removals (DeviceRemoval bytes, the newest
        MAX_REMOVALS), told in every hello: a peer that shares no thread
        with the device that removed one still learns it."""
        ...

    def peer_device_removals(self, peer: PeerId, removals: Sequence[bytes]) -> None:
        """`peer`'s hello carries its person's removals: those that verify,
        of a person our threads name, are kept and acted on (ignored
        otherwise; a forged one ends the lot)."""
        ...

    def told(self, thread_id: ThreadId, peer: PeerId) -> Mapping[PeerId, int]:
        """For a peer `admits` refuses but the ACL once let in (removed, left,
        a join that lost a race): per log, the last seq it may still be
        served, the signed events that decided it and their past
        (acl/verdicts.py). Empty: nothing to tell it."""
        ...

    def peer_has_our_log(self, thread_id: ThreadId, peer: PeerId, seq: int) -> None:
        """`peer` holds our own log in the thread up to `seq` (it pulled it
        from us, or its heads say so): a thread we are leaving goes once a
        member holds our Leave."""
        ...

    # --- blobs ------------------------------------------------------------------------------

    def blobs(self, thread_id: ThreadId) -> BlobStore: ...

    def store_fetched(self, thread_id: ThreadId, blocks: Sequence[tuple[BlockEntry, bytes]]) -> None:
        """Blocks a peer sent, checked against their CIDs and stored in one
        transaction (IntegrityError for a bad one, and none is kept)."""
        ...

    # --- invites, names and notices ----------------------------------------------------------

    def seal_invite(self, thread_id: ThreadId, peer: PeerId, exchange_key: bytes, role: Role,
                    expires_in: float | None, addresses: Sequence[str]) -> bytes: ...

    def receive_invite(self, sealed: bytes) -> None: ...

    def member_names(self, thread_id: ThreadId) -> dict[str, str]: ...

    def acl_peers(self, thread_id: ThreadId) -> set[PeerId]:
        """Peers the thread's ACL names (members, and logs bound to one);
        none for an open thread. Read again only when a ChangeSet says the
        membership changed (net/members.py)."""
        ...

    def subscribe(self, listener: Callable[[ChangeSet], None]) -> Callable[[], None]: ...

    def network_changed(self, *, nearby: bool = False) -> None: ...

    def invites_changed(self) -> None: ...

    # --- the profile's network settings --------------------------------------------------------

    def configured_relays(self) -> list[str]:
        """Relay peers the user named (multiaddrs with /p2p/ID)."""
        ...

    def upnp_enabled(self) -> bool:
        """Whether to ask the router for a port mapping."""
        ...


class Network(Protocol):
    """What the node and the UI need from the network."""

    @property
    def online(self) -> bool: ...

    def listen_addresses(self) -> list[str]:
        """Where peers reach us ([] offline): put in invite links."""
        ...

    def status(self) -> NetworkStatus: ...

    def nearby(self) -> list[NearbyPeer]: ...

    def peer_links(self) -> list[PeerLink]:
        """The peers connected now, how, and how far each shared thread is
        in step (also in every status(): NetworkStatus.links)."""
        ...

    async def invite_directly(self, thread_id: ThreadId, peer: PeerId, role: Role, *,
                              expires_in: float | None = None) -> None: ...

    def want_original(self, thread_id: ThreadId, blob: bytes) -> None: ...

    def settings_changed(self) -> None:
        """The profile's network settings (relays, UPnP) changed: apply them."""
        ...

    def joins_changed(self) -> None:
        """A join by link was made: ask for its admission now (net/joining.py)."""
        ...

    async def ask_device(self, addresses: Sequence[str], request: bytes) -> bytes:
        """A new device: send a device request (bytes of persons/device_links.py)
        to the device at `addresses` and return its answer (net/devicing.py)."""
        ...

    def peers_changed(self) -> None:
        """Threads and peers arrived at once (a device added or restored): dial them now."""
        ...

    def forget_thread(self, thread_id: ThreadId) -> None:
        """We left the thread: drop its pending work and stop a pass on it
        (called inside the transaction that leaves it)."""
        ...
