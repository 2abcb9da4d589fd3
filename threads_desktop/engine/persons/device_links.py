"""Device links (issue 19): how a new installation becomes another device of
a person. `threads://device/<person ID>?name=<issuing device>&addr=...#<secret>`

The secret, in the fragment as in invite links (acl/links.py), is base64url
without padding of `payload || check`: payload is the DAG-CBOR map
`{"v": 1, "seed": <32 bytes>, "expires": <ms since the epoch>}` and check is
the first 4 bytes of sha256("threads/1/device-link" || person ID || payload).
The seed is an Ed25519 key's: the issuing device keeps only its public half
(DeviceLinks, table `device_links`), spent on first use, refused after
`expires` (15 minutes after it was made).

The new device asks the issuing device over `/threads/device/1.0.0`
(net/devicing.py) with a DeviceRequest: its own identity (the libp2p peer
that sends it), its exchange key and a proposed name, signed with the link's
seed. The answer is a DeviceAnswer: refused (spent, expired or unknown, and
nothing else), or added: a PersonBundle (bundle.py) sealed to the new
device's exchange key: a fresh AES-256-GCM key in a sealed box
(crypto/sealedbox.py), the bundle under that key.
"""

from __future__ import annotations

import base64
import hashlib
import os
import urllib.parse
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Literal

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey

from threads_desktop.engine.acl.links import decode_fragment, is_printable_ascii, query_values
from threads_desktop.engine.codec import cbor
from threads_desktop.engine.core.errors import (
    InvalidIdError,
    InvalidInputError,
    InvalidLinkError,
    SchemaError,
    TooLargeError,
)
from threads_desktop.engine.core.ids import PeerId
from threads_desktop.engine.core.keys import SigningKey
from threads_desktop.engine.core.text import is_clean_name, name_from_peer
from threads_desktop.engine.crypto import aead, sealedbox
from threads_desktop.engine.logstore.database import Database
from threads_desktop.engine.persons.bundle import MAX_BUNDLE_BYTES

PREFIX = "threads://device/"
VERSION = 1
LIFETIME_MS = 15 * 60 * 1000
SEED_LENGTH = 32
CHECK_LENGTH = 4
MAX_LINK_LENGTH = 4096
MAX_ADDRESSES = 8
MAX_ADDRESS_LENGTH = 256
MAX_DEVICE_NAME = 64  # as acl/devices.MAX_DEVICE_NAME
MAX_REQUEST_BYTES = 1024  # a DeviceRequest is ~230 bytes
MAX_LINK_ROWS = 256  # links kept to say "spent" or "expired"; older ones are forgotten ("unknown")
KEEP_EXPIRED_MS = 7 * 24 * 3600 * 1000
_CHECK_LABEL = b"threads/1/device-link"
_REQUEST_LABEL = "threads/1/device-request"
_BUNDLE_AAD = b"threads/1/device-bundle"
_PAYLOAD_KEYS = frozenset({"v", "seed", "expires"})
_MAX_MS = 1 << 48

# "large": the bundle would not fit a device answer; the link was not spent (review of issue 19, 9d)
Refusal = Literal["spent", "expired", "unknown", "large"]
REFUSALS: tuple[Refusal, ...] = ("spent", "expired", "unknown", "large")


def is_device_link(text: str) -> bool:
    """Whether `text` (stripped) is meant as a device link, not an invite link."""
    return isinstance(text, str) and text.strip().startswith(PREFIX)


@dataclass(frozen=True)
class DeviceLink:
    """What a device link offers. Invalid fields raise InvalidLinkError."""

    person: PeerId
    seed: bytes = field(repr=False)  # the secret
    expires_ms: int
    name: str | None = None  # the issuing device's name, a hint
    addresses: tuple[str, ...] = ()  # where the issuing device listens, with /p2p/<its ID>

    def __post_init__(self) -> None:
        if not isinstance(self.person, PeerId):
            raise InvalidLinkError("a device link names a person")
        if not isinstance(self.seed, bytes) or len(self.seed) != SEED_LENGTH:
            raise InvalidLinkError(f"a device link's seed is {SEED_LENGTH} bytes")
        if type(self.expires_ms) is not int or not 0 <= self.expires_ms < _MAX_MS:
            raise InvalidLinkError("a device link's expiry is a time")
        if self.name is not None and not is_clean_name(self.name, MAX_DEVICE_NAME):
            raise InvalidLinkError(f"the device's name is 1 to {MAX_DEVICE_NAME} visible characters")
        if not isinstance(self.addresses, tuple) or len(self.addresses) > MAX_ADDRESSES:
            raise InvalidLinkError(f"a device link carries at most {MAX_ADDRESSES} addresses")
        for address in self.addresses:
            if not isinstance(address, str) or not 1 <= len(address) <= MAX_ADDRESS_LENGTH \
                    or not address.startswith("/") or not is_printable_ascii(address):
                raise InvalidLinkError(f"an address is a multiaddr ('/...') of at most {MAX_ADDRESS_LENGTH} "
                                       "characters")

    @property
    def link_key(self) -> SigningKey:
        return SigningKey.from_seed(self.seed)

    def to_uri(self) -> str:
        payload = cbor.encode({"v": VERSION, "seed": self.seed, "expires": self.expires_ms})
        fragment = base64.urlsafe_b64encode(payload + _check(self.person, payload)).rstrip(b"=").decode("ascii")
        query = [] if self.name is None else [("name", self.name)]
        query += [("addr", address) for address in self.addresses]
        encoded = "&".join(f"{key}={urllib.parse.quote(value, safe='/:')}" for key, value in query)
        uri = f"{PREFIX}{self.person}{'?' + encoded if encoded else ''}#{fragment}"
        if len(uri) > MAX_LINK_LENGTH:
            raise InvalidLinkError(f"the link would be longer than {MAX_LINK_LENGTH} characters")
        return uri

    @classmethod
    def parse(cls, text: str) -> DeviceLink:
        """The link in `text` (spaces around it allowed); InvalidLinkError for anything else."""
        if not isinstance(text, str):
            raise InvalidLinkError("a device link is text")
        text = text.strip()
        if len(text) > MAX_LINK_LENGTH:
            raise InvalidLinkError(f"the link is longer than {MAX_LINK_LENGTH} characters")
        if not is_printable_ascii(text):
            raise InvalidLinkError("the link contains spaces or characters a link never has")
        if not text.startswith(PREFIX):
            raise InvalidLinkError(f"not a device link: it does not start with {PREFIX}")
        rest, hash_mark, fragment = text[len(PREFIX):].partition("#")
        if not hash_mark or not fragment:
            raise InvalidLinkError("the link is incomplete: the secret after '#' is missing")
        path, question_mark, query = rest.partition("?")
        try:
            person = PeerId.parse(path)
        except InvalidInputError:
            raise InvalidLinkError("the link does not name a person") from None
        name, addresses = _parse_query(query) if question_mark else (None, ())
        data = decode_fragment(fragment)
        payload, check = data[:-CHECK_LENGTH], data[-CHECK_LENGTH:]
        if _check(person, payload) != check:
            raise InvalidLinkError("the link is truncated or altered")
        seed, expires = _parse_payload(payload)
        return cls(person, seed, expires, name, addresses)


def new_link(person: PeerId, name: str | None, addresses: tuple[str, ...], now_ms: int,
             random_bytes: Callable[[int], bytes] = os.urandom) -> DeviceLink:
    return DeviceLink(person, random_bytes(SEED_LENGTH), now_ms + LIFETIME_MS, name, addresses)


def _check(person: PeerId, payload: bytes) -> bytes:
    return hashlib.sha256(_CHECK_LABEL + person.raw + payload).digest()[:CHECK_LENGTH]


def _parse_query(query: str) -> tuple[str | None, tuple[str, ...]]:
    values = query_values(query, ("name", "addr"))
    if len(values["name"]) > 1:
        raise InvalidLinkError("the link names its device more than once")
    if len(values["addr"]) > MAX_ADDRESSES:
        raise InvalidLinkError(f"the link has more than {MAX_ADDRESSES} addresses")
    # A hint shown to the person: cleaned, never a reason to refuse the link.
    name = name_from_peer(values["name"][0], MAX_DEVICE_NAME) if values["name"] else None
    return name, tuple(values["addr"])


def _parse_payload(payload: bytes) -> tuple[bytes, int]:
    try:
        value = cbor.decode(payload, max_size=MAX_LINK_LENGTH, max_depth=2)
    except InvalidInputError:
        raise InvalidLinkError("the link's secret is malformed") from None
    if not isinstance(value, dict):
        raise InvalidLinkError("the link's secret has missing or unknown fields")
    version = value.get("v")
    if type(version) is int and version > VERSION:
        raise InvalidLinkError("the link was made by a newer version of Threads Desktop")
    if set(value) != _PAYLOAD_KEYS or type(version) is not int or version != VERSION:
        raise InvalidLinkError("the link's secret has missing or unknown fields")
    seed, expires = value["seed"], value["expires"]
    if not isinstance(seed, bytes) or len(seed) != SEED_LENGTH:
        raise InvalidLinkError(f"the link's seed is not {SEED_LENGTH} bytes")
    if type(expires) is not int or not 0 <= expires < _MAX_MS:
        raise InvalidLinkError("the link's expiry is not a time")
    return seed, expires


# --- the request and the answer ------------------------------------------------------------------


@dataclass(frozen=True)
class DeviceRequest:
    """The new device's: `device` (its identity, the libp2p peer that sends
    this), its exchange key and proposed name, signed with the link's seed."""

    link: PeerId  # the link key's public half, as a peer ID
    device: PeerId
    exchange: bytes
    name: str
    sig: bytes = field(repr=False)

    @classmethod
    def make(cls, link: DeviceLink, device: PeerId, exchange: bytes, name: str) -> DeviceRequest:
        key = link.link_key
        return cls(key.peer_id, device, exchange, name, key.sign(_request_message(key.peer_id, device, exchange, name)))

    def verify(self) -> None:
        """InvalidInputError unless the link's key signed it."""
        try:
            Ed25519PublicKey.from_public_bytes(self.link.public_key).verify(
                self.sig, _request_message(self.link, self.device, self.exchange, self.name))
        except InvalidSignature:
            raise SchemaError("the device request is not signed by the link's key") from None

    def to_bytes(self) -> bytes:
        return cbor.encode({"link": self.link.raw, "device": self.device.raw, "exchange": self.exchange,
                            "name": self.name, "sig": self.sig})

    @classmethod
    def from_bytes(cls, data: bytes) -> DeviceRequest:
        value = _fields(cbor.decode(data, max_size=MAX_REQUEST_BYTES, max_depth=1),
                        {"link", "device", "exchange", "name", "sig"}, "a device request")
        name = value["name"]
        if not is_clean_name(name, MAX_DEVICE_NAME):
            raise SchemaError(f"a device's name is 1 to {MAX_DEVICE_NAME} visible characters")
        exchange, sig = value["exchange"], value["sig"]
        if not isinstance(exchange, bytes) or len(exchange) != sealedbox.PUBLIC_KEY_LENGTH:
            raise SchemaError("an exchange key is 32 bytes")
        if not isinstance(sig, bytes) or len(sig) != 64:
            raise SchemaError("a signature is 64 bytes")
        return cls(_peer(value["link"]), _peer(value["device"]), exchange, name, sig)


def _request_message(link: PeerId, device: PeerId, exchange: bytes, name: str) -> bytes:
    return cbor.encode([_REQUEST_LABEL, link.raw, device.raw, exchange, name])


@dataclass(frozen=True)
class DeviceAnswer:
    """Refused (and which), or added: the bundle sealed to the new device."""

    refused: Refusal | None = None
    box: bytes = b""  # the bundle's key, sealed to the new device's exchange key
    sealed_bundle: bytes = field(default=b"", repr=False)

    @classmethod
    def added(cls, bundle: bytes, exchange: bytes, random_bytes: Callable[[int], bytes] = os.urandom) -> DeviceAnswer:
        key = random_bytes(32)
        return cls(None, sealedbox.seal_to(exchange, key), aead.seal(key, bundle, _BUNDLE_AAD, random_bytes))

    def open(self, exchange_private: X25519PrivateKey) -> bytes:
        """The bundle's bytes (DecryptionError unless sealed to this key, intact)."""
        key = sealedbox.open_sealed_box(exchange_private, self.box)
        if len(key) != 32:
            raise SchemaError("the bundle's key is 32 bytes")
        return aead.open_sealed(key, self.sealed_bundle, _BUNDLE_AAD)

    def to_bytes(self) -> bytes:
        if self.refused is not None:
            return cbor.encode({"refused": self.refused})
        data = cbor.encode({"box": self.box, "bundle": self.sealed_bundle})
        if len(data) > MAX_ANSWER_BYTES:  # it would not fit the device protocol's message: nobody could read it
            raise TooLargeError(f"a device answer of {len(data)} bytes is larger than {MAX_ANSWER_BYTES}")
        return data

    @classmethod
    def from_bytes(cls, data: bytes) -> DeviceAnswer:
        value = cbor.decode(data, max_size=MAX_ANSWER_BYTES, max_depth=1)
        if isinstance(value, dict) and set(value) == {"refused"}:
            if value["refused"] not in REFUSALS:
                raise SchemaError("a device answer refuses as spent, expired, unknown or large")
            return cls(refused=value["refused"])
        value = _fields(value, {"box", "bundle"}, "a device answer")
        box, sealed = value["box"], value["bundle"]
        if not isinstance(box, bytes) or len(box) != sealedbox.OVERHEAD + 32:
            raise SchemaError("a device answer's box holds one key")
        if not isinstance(sealed, bytes) or not aead.OVERHEAD <= len(sealed) <= MAX_BUNDLE_BYTES + aead.OVERHEAD:
            raise SchemaError("a device answer's bundle is too large or empty")
        return cls(None, box, sealed)


# The answer's bytes, with room for the message around it: /threads/device/1.0.0 frames
# {"t": "answer", "answer": <these>} in at most 8 MiB (net/devicing.MAX_ANSWER_BYTES), ~26 bytes of it
# not the answer's (tests/engine/persons/test_bundles_at_the_answer_limit.py checks it fits).
MAX_ANSWER_BYTES = (8 << 20) - 64


def _fields(value: Any, keys: set[str], what: str) -> dict[str, Any]:
    if not isinstance(value, dict) or set(value) != keys:
        raise SchemaError(f"{what} has missing or unknown fields")
    return value


def _peer(value: Any) -> PeerId:
    if not isinstance(value, bytes):
        raise SchemaError("a peer ID is bytes")
    try:
        return PeerId(value)
    except InvalidIdError as exc:
        raise SchemaError(str(exc)) from None


# --- the issuing device's links -----------------------------------------------------------------

# Additive (created if missing when a profile opens, like local_settings and
# peer_sessions): a profile made before it needs no migration.
DEVICE_LINKS_SCHEMA = """
CREATE TABLE IF NOT EXISTS device_links (
    link_key BLOB PRIMARY KEY,          -- the link seed's public key (peer ID bytes)
    expires_ms INTEGER NOT NULL,
    state TEXT NOT NULL CHECK (state IN ('open', 'spent', 'revoked')),
    device_id BLOB                      -- the device it added, once spent
) STRICT, WITHOUT ROWID;
"""


def ensure_device_links(database: Database) -> None:
    with database.write() as sql:
        sql.execute(DEVICE_LINKS_SCHEMA)


class DeviceLinks:
    """The device links this device issued: open until spent or expired."""

    def __init__(self, database: Database, now_ms: Callable[[], int]) -> None:
        self._db = database
        self._now_ms = now_ms

    def issue(self, person: PeerId, name: str | None, addresses: tuple[str, ...],
              random_bytes: Callable[[int], bytes] = os.urandom) -> DeviceLink:
        """A new link, kept as open; forgets links long expired (bounded table)."""
        now = self._now_ms()
        link = new_link(person, name, addresses, now, random_bytes)
        with self._db.write() as sql:
            sql.execute("DELETE FROM device_links WHERE expires_ms < ?", (now - KEEP_EXPIRED_MS,))
            sql.execute("INSERT INTO device_links (link_key, expires_ms, state) VALUES (?, ?, 'open')",
                        (link.link_key.peer_id.raw, link.expires_ms))
            sql.execute("DELETE FROM device_links WHERE link_key NOT IN (SELECT link_key FROM device_links"
                        " ORDER BY expires_ms DESC LIMIT ?)", (MAX_LINK_ROWS,))
        return link

    def refusal(self, link_key: PeerId) -> Refusal | None:
        """Why a request with this link is refused, or None: it may be spent now."""
        row = self._db.connection.execute("SELECT expires_ms, state FROM device_links WHERE link_key = ?",
                                          (link_key.raw,)).fetchone()
        if row is None or row[1] == "revoked":
            return "unknown"
        if row[1] == "spent":
            return "spent"
        return "expired" if row[0] <= self._now_ms() else None

    def spend(self, link_key: PeerId, device: PeerId) -> None:
        with self._db.write() as sql:
            sql.execute("UPDATE device_links SET state = 'spent', device_id = ? WHERE link_key = ? AND state = 'open'",
                        (device.raw, link_key.raw))

    def revoke_open(self) -> int:
        """Stop every open link (the dialog closed before anyone used it)."""
        with self._db.write() as sql:
            return sql.execute("UPDATE device_links SET state = 'revoked' WHERE state = 'open'").rowcount

    def added_by(self, link_key: PeerId) -> PeerId | None:
        """The device a spent link added."""
        row = self._db.connection.execute("SELECT device_id FROM device_links WHERE link_key = ?",
                                          (link_key.raw,)).fetchone()
        return PeerId(row[0]) if row is not None and row[0] is not None else None
