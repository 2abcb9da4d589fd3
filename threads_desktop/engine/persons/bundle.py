"""PersonBundle: what a person's new device needs to become one of theirs
(issue 19): the person key, the person's display name, the device list
known, every thread with its keys, the peers worth dialling and a few local
settings. A device being added gets one sealed to its exchange key
(net/devicing.py); a backup file holds one under a passphrase (backup.py).

Strict DAG-CBOR, versioned and bounded: whatever bytes arrive, decoding
either gives a bundle whose every field is checked or raises an
InvalidInputError (CodecError, SchemaError), never anything else.

    {"v": 1, "person": <32-byte Ed25519 seed>, "name": text | null,
     "devices": [<DeviceCert or DeviceRemoval DAG-CBOR bytes>],
     "threads": [{"id": <thread ID bytes>, "kind": "album" | "chat" | null, "name": text | null,
                  "keys": [{"epoch": int, "key": <follow (32) or follow || read (64) bytes>}]}],
     "peers": [{"peer": <peer ID bytes>, "addrs": [text], "threads": [<thread ID bytes>]}],
     "settings": {"fetch_originals"?: text, "relays"?: [text], "upnp"?: bool}}

The device certificates and removals are opaque here: their codec and
signature checks are the persons model's (acl/devices.py), applied when the
bundle is installed.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from threads_desktop.engine.codec import cbor
from threads_desktop.engine.core.errors import InvalidInputError, SchemaError, TooLargeError
from threads_desktop.engine.core.ids import PeerId, ThreadId
from threads_desktop.engine.core.keys import ThreadKey
from threads_desktop.engine.core.types import ThreadKind

VERSION = 1
MAX_BUNDLE_BYTES = 8 << 20
MAX_THREADS = 10_000
MAX_KEYS_PER_THREAD = 1 << 16  # epochs, one per rotation: the bundle's bytes bound it first (~80 bytes each)
MAX_PEERS = 4096
MAX_ADDRESSES_PER_PEER = 8
MAX_ADDRESS_CHARS = 256
MAX_DEVICE_ENTRIES = 128  # 64 devices, each with its certificate and maybe its removal
MAX_DEVICE_ENTRY_BYTES = 512
MAX_THREAD_NAME = 120  # engine/threads.MAX_NAME_LENGTH
MAX_PERSON_NAME = 64  # a display name (modules/profiles.py)
MAX_RELAYS = 16  # logstore/local_settings.MAX_RELAYS
SEED_LENGTH = 32
_MAX_DEPTH = 6  # bundle > threads > thread > keys > key (settings: > relays)
_KEYS = frozenset({"v", "person", "name", "devices", "threads", "peers", "settings"})
_THREAD_KEYS = frozenset({"id", "kind", "name", "keys"})
_KEY_KEYS = frozenset({"epoch", "key"})
_PEER_KEYS = frozenset({"peer", "addrs", "threads"})
_SETTINGS = frozenset({"fetch_originals", "relays", "upnp"})


@dataclass(frozen=True)
class BundleThread:
    thread_id: ThreadId
    kind: ThreadKind | None  # None: a thread followed, not read (its kind is inside it)
    name: str | None
    keys: tuple[ThreadKey, ...]


@dataclass(frozen=True)
class BundlePeer:
    """A peer of the person's threads and where it was last heard of."""

    peer: PeerId
    addresses: tuple[str, ...]
    threads: tuple[ThreadId, ...]


@dataclass(frozen=True)
class PersonBundle:
    person_seed: bytes = field(repr=False)
    name: str | None
    devices: tuple[bytes, ...]  # DeviceCert / DeviceRemoval DAG-CBOR, checked on install
    threads: tuple[BundleThread, ...]
    peers: tuple[BundlePeer, ...] = ()
    settings: Mapping[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        # The same checks as decoding: a bundle we make is one we can read back.
        _check_bundle(self)

    def to_bytes(self) -> bytes:
        data = cbor.encode({
            "v": VERSION,
            "person": self.person_seed,
            "name": self.name,
            "devices": list(self.devices),
            "threads": [{"id": t.thread_id.raw, "kind": t.kind.value if t.kind else None, "name": t.name,
                         "keys": [{"epoch": k.epoch, "key": k.to_bytes()} for k in t.keys]} for t in self.threads],
            "peers": [{"peer": p.peer.raw, "addrs": list(p.addresses), "threads": [t.raw for t in p.threads]}
                      for p in self.peers],
            "settings": dict(self.settings),
        })
        if len(data) > MAX_BUNDLE_BYTES:
            raise TooLargeError(f"the bundle would be larger than {MAX_BUNDLE_BYTES >> 20} MiB")
        return data

    @classmethod
    def from_bytes(cls, data: bytes) -> PersonBundle:
        """The bundle in `data`; CodecError or SchemaError for anything else."""
        value = cbor.decode(data, max_size=MAX_BUNDLE_BYTES, max_depth=_MAX_DEPTH)
        if not isinstance(value, dict):
            raise SchemaError("a bundle is a map")
        version = value.get("v")
        if type(version) is int and version > VERSION:
            raise SchemaError("this bundle was made by a newer version of Threads Desktop")
        if set(value) != _KEYS or type(version) is not int or version != VERSION:
            raise SchemaError("a bundle has missing or unknown fields")
        return cls(
            person_seed=_bytes(value["person"], "the person key", SEED_LENGTH, SEED_LENGTH),
            name=_optional_text(value["name"], "the person's name", MAX_PERSON_NAME),
            devices=tuple(_bytes(d, "a device entry", 1, MAX_DEVICE_ENTRY_BYTES)
                          for d in _list(value["devices"], "the devices", MAX_DEVICE_ENTRIES)),
            threads=tuple(_thread(t) for t in _list(value["threads"], "the threads", MAX_THREADS)),
            peers=tuple(_peer(p) for p in _list(value["peers"], "the peers", MAX_PEERS)),
            settings=_settings(value["settings"]),
        )


def _check_bundle(bundle: PersonBundle) -> None:
    _bytes(bundle.person_seed, "the person key", SEED_LENGTH, SEED_LENGTH)
    _optional_text(bundle.name, "the person's name", MAX_PERSON_NAME)
    if len(bundle.devices) > MAX_DEVICE_ENTRIES:
        raise SchemaError(f"a bundle lists at most {MAX_DEVICE_ENTRIES} device entries")
    for entry in bundle.devices:
        _bytes(entry, "a device entry", 1, MAX_DEVICE_ENTRY_BYTES)
    if len(bundle.threads) > MAX_THREADS:
        raise SchemaError(f"a bundle holds at most {MAX_THREADS} threads")
    if len({t.thread_id for t in bundle.threads}) != len(bundle.threads):
        raise SchemaError("a bundle names a thread twice")
    for thread in bundle.threads:
        if thread.kind is not None and not isinstance(thread.kind, ThreadKind):
            raise SchemaError("a thread is an album or a chat")
        _optional_text(thread.name, "a thread's name", MAX_THREAD_NAME)
        if not 1 <= len(thread.keys) <= MAX_KEYS_PER_THREAD:
            raise SchemaError(f"a thread has 1 to {MAX_KEYS_PER_THREAD} keys")
        if len({k.epoch for k in thread.keys}) != len(thread.keys):
            raise SchemaError("a thread's keys have one epoch each")
    if len(bundle.peers) > MAX_PEERS:
        raise SchemaError(f"a bundle names at most {MAX_PEERS} peers")
    for peer in bundle.peers:
        if len(peer.addresses) > MAX_ADDRESSES_PER_PEER:
            raise SchemaError(f"a peer has at most {MAX_ADDRESSES_PER_PEER} addresses")
        for address in peer.addresses:
            _address(address)
        if len(peer.threads) > MAX_THREADS:
            raise SchemaError(f"a peer shares at most {MAX_THREADS} threads")
    _settings(dict(bundle.settings))


def _list(value: Any, what: str, limit: int) -> list[Any]:
    if not isinstance(value, list):
        raise SchemaError(f"{what} are a list")
    if len(value) > limit:
        raise SchemaError(f"{what} are at most {limit}")
    return value


def _map(value: Any, keys: frozenset[str], what: str) -> dict[str, Any]:
    if not isinstance(value, dict) or set(value) != keys:
        raise SchemaError(f"{what} has missing or unknown fields")
    return value


def _bytes(value: Any, what: str, shortest: int, longest: int) -> bytes:
    if not isinstance(value, bytes) or not shortest <= len(value) <= longest:
        raise SchemaError(f"{what} is {shortest} to {longest} bytes" if shortest != longest
                          else f"{what} is {shortest} bytes")
    return value


def _optional_text(value: Any, what: str, limit: int) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str) or not 1 <= len(value) <= limit:
        raise SchemaError(f"{what} is 1 to {limit} characters")
    # No lone surrogates (UTF-8 cannot carry them) and no control characters.
    if any(ord(char) < 0x20 or 0xD800 <= ord(char) <= 0xDFFF or ord(char) == 0x7F for char in value):
        raise SchemaError(f"{what} contains control characters")
    return value


def _address(value: Any) -> str:
    if not isinstance(value, str) or not 1 <= len(value) <= MAX_ADDRESS_CHARS or not value.startswith("/") \
            or not all("!" <= char <= "~" for char in value):
        raise SchemaError(f"an address is a multiaddr ('/...') of at most {MAX_ADDRESS_CHARS} characters")
    return value


def _id(value: Any, parse: Callable[[bytes], Any], what: str) -> Any:
    if not isinstance(value, bytes):
        raise SchemaError(f"{what} is bytes")
    try:
        return parse(value)
    except InvalidInputError as exc:
        raise SchemaError(f"{what}: {exc}") from None


def _thread(value: Any) -> BundleThread:
    thread = _map(value, _THREAD_KEYS, "a thread")
    kinds: dict[Any, ThreadKind | None] = {kind.value: kind for kind in ThreadKind}
    kinds[None] = None
    if not isinstance(thread["kind"], str | None) or thread["kind"] not in kinds:
        raise SchemaError("a thread is an album or a chat")
    keys = []
    for entry in _list(thread["keys"], "a thread's keys", MAX_KEYS_PER_THREAD):
        key = _map(entry, _KEY_KEYS, "a key")
        epoch = key["epoch"]
        if type(epoch) is not int or not 0 <= epoch < 1 << 32:
            raise SchemaError("a key's epoch is a number from 0")
        raw = _bytes(key["key"], "a thread key", 32, 64)
        if len(raw) not in (32, 64):
            raise SchemaError("a thread key is 32 or 64 bytes")
        keys.append(ThreadKey.from_bytes(raw, epoch))
    return BundleThread(_id(thread["id"], ThreadId, "a thread ID"), kinds[thread["kind"]],
                        _optional_text(thread["name"], "a thread's name", MAX_THREAD_NAME), tuple(keys))


def _peer(value: Any) -> BundlePeer:
    peer = _map(value, _PEER_KEYS, "a peer")
    return BundlePeer(
        _id(peer["peer"], PeerId, "a peer ID"),
        tuple(_address(a) for a in _list(peer["addrs"], "a peer's addresses", MAX_ADDRESSES_PER_PEER)),
        tuple(_id(t, ThreadId, "a thread ID") for t in _list(peer["threads"], "a peer's threads", MAX_THREADS)),
    )


def _settings(value: Any) -> dict[str, Any]:
    if not isinstance(value, dict) or not set(value) <= _SETTINGS:
        raise SchemaError("the settings have unknown fields")
    if "fetch_originals" in value:
        _optional_text(value["fetch_originals"], "the originals setting", 16)
    if "relays" in value:
        for address in _list(value["relays"], "the relays", MAX_RELAYS):
            _address(address)
    if "upnp" in value and not isinstance(value["upnp"], bool):
        raise SchemaError("the UPnP setting is true or false")
    return dict(value)
