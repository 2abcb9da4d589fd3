"""A person's device list (acl/devices.py): certificates and removals,
signed by the person key, read strictly, and a list every peer agrees on
whatever order (and how many times) the items reach it."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from threads_desktop.engine.acl.devices import (
    MAX_DEVICES,
    MAX_ITEM_BYTES,
    DeviceCert,
    DeviceItem,
    DeviceList,
    DeviceRemoval,
    issue_cert,
    item_from_bytes,
    sign_removal,
)
from threads_desktop.engine.codec import cbor
from threads_desktop.engine.core.errors import InvalidInputError, SignatureError
from threads_desktop.engine.core.keys import SigningKey

PERSONS = [SigningKey.from_seed(bytes([n]) * 32) for n in (1, 2)]
DEVICES = [SigningKey.from_seed(bytes([n]) * 32).peer_id for n in range(10, 16)]


def _items() -> list[DeviceItem]:
    """Every certificate and removal the test draws from: two persons, six
    devices (a device certified by both, a person's first device removed)."""
    items: list[DeviceItem] = []
    for p, person in enumerate(PERSONS):
        for d, device in enumerate(DEVICES):
            items.append(issue_cert(person, device, f"device {d}", 1_000 + 10 * d + p))
            items.append(sign_removal(person, device, 5_000 + d))
        items.append(sign_removal(person, person.peer_id, 9_000))
    return items


ITEMS = _items()


@settings(max_examples=200, deadline=None)
@given(st.lists(st.sampled_from(ITEMS), max_size=40), st.randoms(use_true_random=False))
def test_any_delivery_order_with_duplicates_gives_every_peer_the_same_list(chosen: list[DeviceItem],
                                                                            rng: object) -> None:
    shuffled = list(chosen) + chosen[: len(chosen) // 2]  # some delivered twice
    rng.shuffle(shuffled)  # type: ignore[attr-defined]
    one_by_one = DeviceList()
    for item in shuffled:
        one_by_one = one_by_one.add([item])
    other_peer = DeviceList().add(shuffled[1::2])  # two peers that saw half each, then merged
    halves = DeviceList().add(shuffled[::2]).add([*other_peer.certs, *other_peer.removals])
    at_once = DeviceList().add(chosen)
    for person in PERSONS:
        expected = at_once.devices(person.peer_id)
        assert one_by_one.devices(person.peer_id) == expected == halves.devices(person.peer_id)
        assert one_by_one.removed(person.peer_id) == at_once.removed(person.peer_id)
        # A removal is final: no certificate brings a removed device back.
        assert not set(expected) & at_once.removed(person.peer_id)


def test_a_first_device_is_its_person_until_removed() -> None:
    alice = PERSONS[0]
    assert DeviceList().devices(alice.peer_id) == [alice.peer_id]
    added = DeviceList().add([issue_cert(alice, DEVICES[0], "desktop", 10)])
    assert added.devices(alice.peer_id) == [alice.peer_id, DEVICES[0]]
    assert added.person_of(DEVICES[0]) == alice.peer_id
    gone = added.add([sign_removal(alice, alice.peer_id, 20)])
    assert gone.devices(alice.peer_id) == [DEVICES[0]]  # the person key lives on in the other device


def test_the_list_keeps_at_most_the_earliest_certificates_of_a_person() -> None:
    alice = PERSONS[0]
    many = [issue_cert(alice, SigningKey.from_seed(n.to_bytes(32, "big")).peer_id, "", 100 + n)
            for n in range(1, MAX_DEVICES + 10)]
    listing = DeviceList().add(reversed(many))
    assert len(listing.certs) == MAX_DEVICES
    assert listing == DeviceList().add(many[:MAX_DEVICES]).add(many[MAX_DEVICES:])


def test_a_certificate_and_a_removal_round_trip_and_verify() -> None:
    cert = issue_cert(PERSONS[0], DEVICES[0], "Alice's desktop", 1_765_000_000_000)
    removal = sign_removal(PERSONS[0], DEVICES[0], 1_765_000_100_000)
    assert item_from_bytes(cert.to_bytes()) == cert and len(cert.to_bytes()) <= MAX_ITEM_BYTES
    assert item_from_bytes(removal.to_bytes()) == removal


def test_a_certificate_signed_by_another_key_or_changed_does_not_verify() -> None:
    cert = issue_cert(PERSONS[0], DEVICES[0], "desktop", 5)
    forged = DeviceCert(PERSONS[1].peer_id, cert.device, cert.name, cert.added_ms, cert.sig)
    with pytest.raises(SignatureError):
        forged.verify()
    renamed = DeviceCert(cert.person, cert.device, "laptop", cert.added_ms, cert.sig)
    with pytest.raises(SignatureError):
        item_from_bytes(renamed.to_bytes())
    moved = DeviceRemoval(PERSONS[0].peer_id, DEVICES[1], 7, sign_removal(PERSONS[0], DEVICES[0], 7).sig)
    with pytest.raises(SignatureError):
        moved.verify()


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=MAX_ITEM_BYTES + 50))
def test_any_bytes_from_a_peer_give_an_item_that_verifies_or_a_clear_error(data: bytes) -> None:
    try:
        item = item_from_bytes(data)
    except InvalidInputError:
        return
    item.verify()


@settings(max_examples=300, deadline=None)
@given(st.dictionaries(st.sampled_from(["person", "device", "name", "added", "removed", "sig", "x"]),
                       st.one_of(st.binary(max_size=70), st.text(max_size=70), st.integers(), st.none()),
                       max_size=6))
def test_any_map_from_a_peer_parses_strictly_or_is_refused(value: dict[str, object]) -> None:
    for kind in (DeviceCert, DeviceRemoval):
        try:
            parsed = kind.from_value(value)
        except InvalidInputError:
            continue
        assert cbor.decode(parsed.to_bytes(), max_size=MAX_ITEM_BYTES) == value  # one spelling only


def test_an_oversized_or_hidden_character_name_is_refused() -> None:
    cert = issue_cert(PERSONS[0], DEVICES[0], "ok", 5).to_value()
    for name in ["x" * 65, "a\u202eb", " padded"]:
        with pytest.raises(InvalidInputError):
            DeviceCert.from_value({**cert, "name": name})
    with pytest.raises(InvalidInputError):
        item_from_bytes(b"\xa0" + b"\x00" * MAX_ITEM_BYTES)
