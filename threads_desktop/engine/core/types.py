"""Plain values that cross from the engine to its callers (CLI, UI)."""

from __future__ import annotations

import enum
from dataclasses import dataclass, field

from threads_desktop.engine.core.ids import ThreadId


class ThreadKind(enum.StrEnum):
    ALBUM = "album"
    CHAT = "chat"


class FetchOriginals(enum.StrEnum):
    """When a profile fetches the full-size photos of the albums it reads
    (previews always come at once; backups always keep everything)."""

    ALWAYS = "always"        # with the previews
    ON_DEMAND = "on_demand"  # only when one is opened or exported


@dataclass(frozen=True, slots=True)
class ThreadSummary:
    """What a profile knows of a thread. A follower, which cannot read it,
    knows neither its kind nor its name."""

    thread_id: ThreadId
    kind: ThreadKind | None
    name: str | None
    created_at: int
    event_count: int
    can_write: bool
    can_read: bool
    description: str | None = None
    cover: str | None = None
    photo_count: int = 0
    message_count: int = 0
    last_activity_ms: int | None = None  # the author's clock at the newest change applied
    unread: int = 0  # messages of others not yet marked read (chats)
    removed: bool = False  # an admin removed us: what we had is kept, read-only
    can_invite: bool = True  # only the ACL's admins invite (and change roles)

    def to_json(self) -> dict[str, object]:
        return {
            "id": str(self.thread_id), "kind": self.kind.value if self.kind else None, "name": self.name,
            "description": self.description, "cover": self.cover,
            "created_at": self.created_at, "events": self.event_count,
            "photos": self.photo_count, "messages": self.message_count,
            "can_write": self.can_write, "can_read": self.can_read, "removed": self.removed,
            "can_invite": self.can_invite,
        }


@dataclass(frozen=True, slots=True)
class Transfer:
    """Photo blocks coming in for a thread, in bytes."""

    thread_id: ThreadId
    done: int
    total: int


class Connection(enum.StrEnum):
    """How a peer is connected to us now (the Devices view, `peers`)."""

    SAME_NETWORK = "same_network"  # its address is on one of our subnets, or LAN discovery found it
    INTERNET = "internet"          # a direct connection to an address beyond our networks
    RELAY = "relay"                # through another peer's relay (/p2p-circuit)
    OFFLINE = "offline"            # no connection now


@dataclass(frozen=True, slots=True)
class ThreadSync:
    """How far one thread is in step with one peer, as far as we know
    cheaply: the heads it last told us, and the photo blocks coming in."""

    thread_id: ThreadId
    compared: bool = False  # it told us its heads (in this session or an earlier one since we started)
    we_lack: int = 0  # records it has that we do not (from its last heads)
    they_lack: int = 0  # records we have that it does not
    done: int = 0  # bytes of photo blocks received from it in the transfer under way
    total: int = 0  # bytes of that transfer (0: none under way)
    name: str | None = None  # the thread's name (filled by the node; None for a backup we cannot read)
    kind: ThreadKind | None = None

    @property
    def in_sync(self) -> bool:
        return self.compared and not self.we_lack and not self.they_lack and not self.total

    def to_json(self) -> dict[str, object]:
        return {"id": str(self.thread_id), "name": self.name, "kind": self.kind.value if self.kind else None,
                "compared": self.compared,
                "in_sync": self.in_sync, "we_lack": self.we_lack, "they_lack": self.they_lack,
                "transfer": {"done": self.done, "total": self.total} if self.total else None}


@dataclass(frozen=True, slots=True)
class PeerLink:
    """A peer connected now, as the network sees it (in NetworkStatus)."""

    peer_id: str
    connection: Connection
    threads: tuple[ThreadSync, ...] = ()  # the threads it proved in this session


@dataclass(frozen=True, slots=True)
class PersonDevice:
    """One device of this profile's person (Settings > Devices, `device list`)."""

    device_id: str
    name: str | None  # as its certificate names it (None: the person's first device)
    this_device: bool
    removed: bool
    added_ms: int | None  # when its certificate was made (None: the first device)
    connection: Connection
    last_seen: float | None

    def to_json(self) -> dict[str, object]:
        return {"device_id": self.device_id, "name": self.name, "this_device": self.this_device,
                "removed": self.removed, "added_ms": self.added_ms, "connection": self.connection.value,
                "last_seen": self.last_seen}


@dataclass(frozen=True, slots=True)
class Device:
    """A peer this profile shares something with (the Devices view, `peers`)."""

    peer_id: str
    name: str | None  # the name it gives itself in a thread we share
    connection: Connection
    last_seen: float | None  # offline: when our last session with it ended (None: never met)
    threads: tuple[ThreadSync, ...]  # what it shares with us, by name

    def to_json(self) -> dict[str, object]:
        return {"peer_id": self.peer_id, "name": self.name, "connection": self.connection.value,
                "last_seen": self.last_seen, "threads": [t.to_json() for t in self.threads]}


@dataclass(frozen=True, slots=True)
class NetworkStatus:
    online: bool
    peers: int = 0  # peers with an open session
    transfers: tuple[Transfer, ...] = ()
    addresses: tuple[str, ...] = ()  # where we listen
    nearby: int = 0  # peers found on the LAN lately (Node.nearby_peers())
    links: tuple[PeerLink, ...] = ()  # peers connected now, how, and how far in step (Node.devices())
    # Whether peers outside our networks can dial us: "reachable", "unreachable"
    # (we rely on relays), or None while unknown (nothing is shown then).
    reachability: str | None = None


@dataclass(frozen=True, slots=True)
class NearbyPeer:
    """A peer LAN discovery found lately. Its announcement is only a hint:
    the connection's handshake proves who it is when we dial it."""

    peer_id: str
    addresses: tuple[str, ...]
    last_seen: float  # seconds since the epoch
    display_name: str | None = None  # the name it gives itself in a thread we share, if any


@dataclass(frozen=True, slots=True)
class IdentityCard:
    peer_id: str
    exchange_public_key: bytes


@dataclass(frozen=True, slots=True)
class ItemActions:
    """What this profile may do now to one item (a photo, a message) of a
    thread, as the thread's ACL would judge it: views offer only these."""

    edit: bool
    delete: bool


@dataclass(frozen=True, slots=True)
class ChangeSet:
    """What one engine operation changed; the UI refreshes only that."""

    threads_added: frozenset[ThreadId] = field(default_factory=frozenset)
    threads_updated: frozenset[ThreadId] = field(default_factory=frozenset)
    # Every document the operation touched: (thread, collection, ID). Among
    # them, those that came into being and those now gone; the others were
    # updated (`documents_updated()`). Views insert rows for created ones,
    # drop deleted ones and refresh only the updated ones.
    documents: frozenset[tuple[ThreadId, str, str]] = field(default_factory=frozenset)
    documents_created: frozenset[tuple[ThreadId, str, str]] = field(default_factory=frozenset)
    documents_deleted: frozenset[tuple[ThreadId, str, str]] = field(default_factory=frozenset)
    # Blobs now whole here (fetched from peers): (thread, collection, document
    # ID, field), e.g. (album, "photo", ID, "original").
    blobs: frozenset[tuple[ThreadId, str, str, str]] = field(default_factory=frozenset)
    # Threads whose members, roles, invites, keys or refused changes may look
    # different now (a control event settled, an event was refused, a key
    # came): views of the membership read it again only then.
    membership: frozenset[ThreadId] = field(default_factory=frozenset)
    invites: bool = False  # the direct invites waiting for an answer changed
    # Peers connected, nearby or transfers moved: the network's status then
    # (a snapshot taken where it changed; listeners need not ask again).
    network: NetworkStatus | None = None
    # The nearby list when it changed (peers found or expired), newest first.
    nearby: tuple[NearbyPeer, ...] | None = None
    # Threads this profile no longer holds (left): views of them must close.
    threads_removed: frozenset[ThreadId] = field(default_factory=frozenset)
    # Joins by link whose admission changed (waiting, waiting for approval,
    # admitted, refused: Node.join_state): pending rows read them again.
    joins: frozenset[ThreadId] = field(default_factory=frozenset)
    # The person's devices changed: one added or removed (this one, maybe:
    # Persons.removed_notice), issue 19.
    devices: bool = False

    def documents_updated(self) -> frozenset[tuple[ThreadId, str, str]]:
        return self.documents - self.documents_created - self.documents_deleted


@dataclass(frozen=True, slots=True)
class AuthorDevice:
    """The device behind one log of a thread (issue 19, persons-ui: `Node.author_devices`)."""

    person: str
    device: str
    name: str | None  # as its certificate names it (None: the person's first device)
    removed: bool
