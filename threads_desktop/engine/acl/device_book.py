"""This profile's person and every device certificate and removal it has
seen (tables `person` and `device_book`, schema 10; acl/devices.py says
what they are). Items are verified before they are stored, and bounded:
at most MAX_DEVICES rows a person, MAX_ROWS in all (a stranger's hello may
carry one)."""

from __future__ import annotations

from collections.abc import Iterable

from threads_desktop.engine.acl.devices import MAX_DEVICES, DeviceCert, DeviceItem, DeviceList, DeviceRemoval
from threads_desktop.engine.core.errors import InvalidInputError
from threads_desktop.engine.core.ids import PeerId
from threads_desktop.engine.core.keys import Identity, SigningKey
from threads_desktop.engine.crypto.vault import KeyVault
from threads_desktop.engine.logstore.database import Database

MAX_ROWS = 4096
_PERSON_LABEL = "person/signing"


def ensure_person(database: Database, vault: KeyVault, identity: Identity) -> None:
    """A profile without a person row (new, or migrated to schema 10) is a
    person with one device: its identity key is the person key."""
    if database.connection.execute("SELECT 1 FROM person WHERE id = 1").fetchone():
        return
    with database.write() as sql:
        sql.execute("INSERT INTO person (id, person_id, wrapped_person_seed) VALUES (1, ?, ?)",
                    (str(identity.peer_id), vault.wrap(identity.signing.seed(), _PERSON_LABEL)))


class DeviceBook:
    def __init__(self, database: Database, vault: KeyVault, identity: Identity) -> None:
        self._db = database
        self._vault = vault
        self._identity = identity
        self._person: PeerId | None = None
        self._removals: dict[PeerId, dict[PeerId, DeviceRemoval]] | None = None  # device -> person -> removal

    @property
    def person(self) -> PeerId:
        """The person this device belongs to (read once, then kept)."""
        if self._person is None:
            (text,) = self._db.connection.execute("SELECT person_id FROM person WHERE id = 1").fetchone()
            self._person = PeerId.parse(text)
        return self._person

    @property
    def device(self) -> PeerId:
        return self._identity.peer_id

    def person_key(self) -> SigningKey:
        (wrapped,) = self._db.connection.execute("SELECT wrapped_person_seed FROM person WHERE id = 1").fetchone()
        return SigningKey.from_seed(self._vault.unwrap(wrapped, _PERSON_LABEL))

    def this_cert(self) -> DeviceCert | None:
        (blob,) = self._db.connection.execute("SELECT cert FROM person WHERE id = 1").fetchone()
        return None if blob is None else DeviceCert.from_bytes(blob)

    def removed_by_ms(self) -> int | None:
        (when,) = self._db.connection.execute("SELECT removed_by_ms FROM person WHERE id = 1").fetchone()
        return None if when is None else int(when)

    def become(self, person_seed: bytes, cert: DeviceCert) -> None:
        """Make this device one of `cert`'s person (Persons.adopt checks the
        profile holds nothing yet)."""
        key = SigningKey.from_seed(person_seed)
        if cert.person != key.peer_id or cert.device != self.device:
            raise InvalidInputError("the device certificate is not this device's, from that person")
        cert.verify()
        with self._db.write() as sql:
            sql.execute("UPDATE person SET person_id = ?, wrapped_person_seed = ?, cert = ?, removed_by_ms = NULL"
                        " WHERE id = 1", (str(key.peer_id), self._vault.wrap(person_seed, _PERSON_LABEL),
                                          cert.to_bytes()))
        self._person = key.peer_id
        self.record([cert])

    def record(self, items: Iterable[DeviceItem]) -> list[DeviceItem]:
        """Keep the items that verify and are new; returns those kept. One
        that does not verify raises SignatureError (nothing of it kept)."""
        kept = []
        with self._db.write() as sql:
            for item in items:
                item.verify()
                person, device = str(item.person), str(item.device)
                row = sql.execute("SELECT cert, removal FROM device_book WHERE person_id = ? AND device_id = ?",
                                  (person, device)).fetchone()
                if row is None and not self._room(person):
                    continue
                if isinstance(item, DeviceCert):
                    if row is not None and row[0] is not None:
                        continue  # the first certificate seen stays (a device is added once)
                    sql.execute("INSERT INTO device_book (person_id, device_id, cert, name, added_ms)"
                                " VALUES (?, ?, ?, ?, ?) ON CONFLICT DO UPDATE SET cert = excluded.cert,"
                                " name = excluded.name, added_ms = excluded.added_ms",
                                (person, device, item.to_bytes(), item.name, item.added_ms))
                else:
                    if row is not None and row[1] is not None:
                        continue
                    sql.execute("INSERT INTO device_book (person_id, device_id, removal, removed_ms)"
                                " VALUES (?, ?, ?, ?) ON CONFLICT DO UPDATE SET removal = excluded.removal,"
                                " removed_ms = excluded.removed_ms", (person, device, item.to_bytes(),
                                                                      item.removed_ms))
                    if item.device == self.device and item.person == self.person:
                        sql.execute("UPDATE person SET removed_by_ms = ? WHERE id = 1", (item.removed_ms,))
                    self._removals = None
                kept.append(item)
        return kept

    def _room(self, person: str) -> bool:
        sql = self._db.connection
        (mine,) = sql.execute("SELECT count(*) FROM device_book WHERE person_id = ?", (person,)).fetchone()
        (total,) = sql.execute("SELECT count(*) FROM device_book").fetchone()
        return mine < MAX_DEVICES and (total < MAX_ROWS or person == str(self.person))

    def device_list(self, person: PeerId | None = None) -> DeviceList:
        """What the book knows of a person's devices (default: ours)."""
        items: list[DeviceItem] = []
        for cert, removal in self._db.connection.execute(
                "SELECT cert, removal FROM device_book WHERE person_id = ?", (str(person or self.person),)):
            if cert is not None:
                items.append(DeviceCert.from_bytes(cert))
            if removal is not None:
                items.append(DeviceRemoval.from_bytes(removal))
        return DeviceList().add(items)

    def items(self, person: PeerId | None = None) -> list[DeviceItem]:
        """Every certificate and removal of a person known here (for a bundle)."""
        found = self.device_list(person)
        return [*sorted(found.certs, key=lambda c: (c.added_ms, c.device.raw)),
                *sorted(found.removals, key=lambda r: (r.removed_ms, r.device.raw))]

    def removals_of(self, device: PeerId) -> dict[PeerId, DeviceRemoval]:
        """The removals recorded of a device, by the person that signed each
        (read from memory: sync asks for every peer and thread)."""
        if self._removals is None:
            found: dict[PeerId, dict[PeerId, DeviceRemoval]] = {}
            for (blob,) in self._db.connection.execute("SELECT removal FROM device_book WHERE removal IS NOT NULL"):
                removal = DeviceRemoval.from_bytes(blob)
                found.setdefault(removal.device, {})[removal.person] = removal
            self._removals = found
        return self._removals.get(device, {})

    def removed_by(self, device: PeerId) -> frozenset[str]:
        """The persons (as text) whose recorded removal names the device."""
        return frozenset(str(person) for person in self.removals_of(device))

    def newest_removals(self, person: PeerId | None = None, limit: int = MAX_DEVICES) -> list[DeviceRemoval]:
        """A person's removals (default: ours), newest first (what a hello carries)."""
        found = self.device_list(person).removals
        return sorted(found, key=lambda r: (r.removed_ms, r.device.raw), reverse=True)[:limit]

    def person_of(self, device: PeerId) -> PeerId | None:
        """The person a device's recorded certificate names, unless removed
        (None: no certificate here, or removed)."""
        row = self._db.connection.execute(
            "SELECT person_id FROM device_book WHERE device_id = ? AND cert IS NOT NULL AND removal IS NULL"
            " ORDER BY added_ms LIMIT 1", (str(device),)).fetchone()
        return None if row is None else PeerId.parse(row[0])
