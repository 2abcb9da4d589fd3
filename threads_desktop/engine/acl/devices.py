"""A person's devices (issue 19): the certificate a person key signs for
each device, the signed removal that ends one, and the device list they
make. Pure: no storage (acl/device_book.py keeps what was seen).

A person is an Ed25519 key named by its peer ID; a device is an
installation's own identity. A profile's first device uses its identity key
as the person key, so it needs no certificate (device == person). The list
is a 2P-set: the devices are the certificates seen minus the removals seen,
so every peer that saw the same items agrees, whatever the order; a removed
device is never a device of that person again.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any, TypeVar

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from threads_desktop.engine.codec import cbor
from threads_desktop.engine.core.errors import InvalidIdError, SchemaError, SignatureError
from threads_desktop.engine.core.ids import PeerId
from threads_desktop.engine.core.keys import SigningKey
from threads_desktop.engine.core.text import is_clean_name

MAX_DEVICE_NAME = 64
MAX_DEVICES = 64  # per person: certificates and removals kept each
MAX_ITEM_BYTES = 400  # a certificate or removal, encoded (the hello's bound)
_MAX_MS = 1 << 48
_CERT_DOMAIN = "threads/1/device"
_REMOVAL_DOMAIN = "threads/1/device-removal"


@dataclass(frozen=True, slots=True)
class DeviceCert:
    """`person` says `device` is one of its devices, named `name`."""

    person: PeerId
    device: PeerId
    name: str
    added_ms: int
    sig: bytes = field(repr=False)

    def message(self) -> bytes:
        return cert_message(self.person, self.device, self.name, self.added_ms)

    def verify(self) -> None:
        """SignatureError unless the person key signed it."""
        _verify(self.person, self.sig, self.message(), "device certificate")

    def to_value(self) -> dict[str, Any]:
        return {"person": self.person.raw, "device": self.device.raw, "name": self.name, "added": self.added_ms,
                "sig": self.sig}

    def to_bytes(self) -> bytes:
        return cbor.encode(self.to_value())

    @classmethod
    def from_value(cls, value: Any) -> DeviceCert:
        """Strictly parsed (the signature is not checked here: `verify`)."""
        fields = _fields(value, {"person", "device", "name", "added", "sig"}, "device certificate")
        name = fields["name"]
        if not isinstance(name, str) or (name and not is_clean_name(name, MAX_DEVICE_NAME)):
            raise SchemaError(f"a device's name is clean text of at most {MAX_DEVICE_NAME} characters")
        return cls(_peer(fields["person"]), _peer(fields["device"]), name, _ms(fields["added"]),
                   _sig(fields["sig"]))

    @classmethod
    def from_bytes(cls, data: bytes) -> DeviceCert:
        return cls.from_value(_decode(data))


@dataclass(frozen=True, slots=True)
class DeviceRemoval:
    """`person` says `device` is no device of it any more, for good."""

    person: PeerId
    device: PeerId
    removed_ms: int
    sig: bytes = field(repr=False)

    def message(self) -> bytes:
        return removal_message(self.person, self.device, self.removed_ms)

    def verify(self) -> None:
        _verify(self.person, self.sig, self.message(), "device removal")

    def to_value(self) -> dict[str, Any]:
        return {"person": self.person.raw, "device": self.device.raw, "removed": self.removed_ms, "sig": self.sig}

    def to_bytes(self) -> bytes:
        return cbor.encode(self.to_value())

    @classmethod
    def from_value(cls, value: Any) -> DeviceRemoval:
        fields = _fields(value, {"person", "device", "removed", "sig"}, "device removal")
        return cls(_peer(fields["person"]), _peer(fields["device"]), _ms(fields["removed"]), _sig(fields["sig"]))

    @classmethod
    def from_bytes(cls, data: bytes) -> DeviceRemoval:
        return cls.from_value(_decode(data))


DeviceItem = DeviceCert | DeviceRemoval


def cert_message(person: PeerId, device: PeerId, name: str, added_ms: int) -> bytes:
    return cbor.encode([_CERT_DOMAIN, person.raw, device.raw, name, added_ms])


def removal_message(person: PeerId, device: PeerId, removed_ms: int) -> bytes:
    return cbor.encode([_REMOVAL_DOMAIN, person.raw, device.raw, removed_ms])


def issue_cert(person_key: SigningKey, device: PeerId, name: str, added_ms: int) -> DeviceCert:
    """`name` must be clean already (modules/profiles.clean_display_name)."""
    person = person_key.peer_id
    return DeviceCert(person, device, name, _ms(added_ms),
                      person_key.sign(cert_message(person, device, name, added_ms)))


def sign_removal(person_key: SigningKey, device: PeerId, removed_ms: int) -> DeviceRemoval:
    return DeviceRemoval(person_key.peer_id, device, _ms(removed_ms),
                         person_key.sign(removal_message(person_key.peer_id, device, removed_ms)))


def item_from_bytes(data: bytes) -> DeviceItem:
    """A certificate or a removal, told apart by its fields, verified."""
    value = _decode(data)
    item: DeviceItem = DeviceCert.from_value(value) if isinstance(value, dict) and "name" in value \
        else DeviceRemoval.from_value(value)
    item.verify()
    return item


@dataclass(frozen=True)
class DeviceList:
    """The devices of every person, from the certificates and removals seen
    (each verified before it is added). Adding is a set union bounded by a
    fixed order (per person, the MAX_DEVICES earliest certificates and
    removals by time, then device), so it is commutative, associative and
    idempotent: any delivery order of the same items gives the same list."""

    certs: frozenset[DeviceCert] = frozenset()
    removals: frozenset[DeviceRemoval] = frozenset()

    def add(self, items: Iterable[DeviceItem]) -> DeviceList:
        certs, removals = set(self.certs), set(self.removals)
        for item in items:
            if isinstance(item, DeviceCert):
                certs.add(item)
            else:
                removals.add(item)
        return DeviceList(_bounded(certs, lambda c: (c.added_ms, c.device.raw, c.sig)),
                          _bounded(removals, lambda r: (r.removed_ms, r.device.raw, r.sig)))

    def removed(self, person: PeerId) -> frozenset[PeerId]:
        return frozenset(r.device for r in self.removals if r.person == person)

    def devices(self, person: PeerId) -> list[PeerId]:
        """The person's devices, oldest first; its first device (the person
        key's own) unless removed."""
        removed = self.removed(person)
        found = {person: -1} if person not in removed else {}
        for cert in self.certs:
            if cert.person == person and cert.device not in removed:
                found[cert.device] = min(found.get(cert.device, cert.added_ms), cert.added_ms)
        return sorted(found, key=lambda d: (found[d], d.raw))

    def person_of(self, device: PeerId) -> PeerId | None:
        """The person a device belongs to (itself, with no certificate); None if removed."""
        for cert in sorted(self.certs, key=lambda c: (c.added_ms, c.person.raw)):
            if cert.device == device:
                return None if device in self.removed(cert.person) else cert.person
        return None if device in self.removed(device) else device


_Item = TypeVar("_Item", DeviceCert, DeviceRemoval)


def _bounded(items: set[_Item], order: Callable[[_Item], Any]) -> frozenset[_Item]:
    by_person: dict[bytes, list[_Item]] = {}
    for item in items:
        by_person.setdefault(item.person.raw, []).append(item)
    return frozenset(i for group in by_person.values() for i in sorted(group, key=order)[:MAX_DEVICES])


def _verify(person: PeerId, sig: bytes, message: bytes, what: str) -> None:
    try:
        Ed25519PublicKey.from_public_bytes(person.public_key).verify(sig, message)
    except (InvalidSignature, ValueError):
        raise SignatureError(f"the {what} signature does not verify") from None


def _decode(data: bytes) -> Any:
    if not isinstance(data, bytes) or len(data) > MAX_ITEM_BYTES:
        raise SchemaError(f"a device certificate or removal is at most {MAX_ITEM_BYTES} bytes")
    return cbor.decode(data, max_size=MAX_ITEM_BYTES, max_depth=2)


def _fields(value: Any, names: set[str], what: str) -> dict[str, Any]:
    if not isinstance(value, dict) or set(value) != names:
        raise SchemaError(f"a {what} has fields {sorted(names)}")
    return value


def _peer(value: Any) -> PeerId:
    if not isinstance(value, bytes):
        raise SchemaError("a person or device is named by its peer ID bytes")
    try:
        return PeerId(value)
    except InvalidIdError as exc:
        raise SchemaError(str(exc)) from None


def _ms(value: Any) -> int:
    if type(value) is not int or not 0 <= value < _MAX_MS:
        raise SchemaError("a time is Unix milliseconds")
    return value


def _sig(value: Any) -> bytes:
    if not isinstance(value, bytes) or len(value) != 64:
        raise SchemaError("a signature is 64 bytes")
    return value
