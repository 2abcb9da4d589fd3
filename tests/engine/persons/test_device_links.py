"""Device links and the device request/answer: they read back as made, the
documented vector (docs/PROTOCOL.md "Device links") parses to its fields,
and whatever a mistyped link or a stranger's bytes hold gives InvalidInputError
alone; the issuing device's table says spent, expired or unknown."""

from __future__ import annotations

import base64
import hashlib
from dataclasses import replace
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey
from hypothesis import given, settings
from hypothesis import strategies as st

from threads_desktop.engine.codec import cbor
from threads_desktop.engine.core.errors import DecryptionError, InvalidInputError, InvalidLinkError, SchemaError
from threads_desktop.engine.core.keys import Identity, SigningKey
from threads_desktop.engine.logstore.database import Database
from threads_desktop.engine.persons.device_links import (
    LIFETIME_MS,
    DeviceAnswer,
    DeviceLink,
    DeviceLinks,
    DeviceRequest,
    ensure_device_links,
    is_device_link,
)

PERSON = SigningKey.from_seed(bytes(range(200, 232))).peer_id
ISSUER = SigningKey.from_seed(bytes(range(100, 132))).peer_id
SEED = bytes(range(32))
EXPIRES = 1_765_000_000_000
ADDRESS = f"/ip4/192.168.1.20/tcp/4141/p2p/{ISSUER}"
# The vector of docs/PROTOCOL.md "Device links".
VECTOR = ("threads://device/12D3KooWDEJr5iQuapmimtascD7ocXpuiqEH2HnNaokt8q7NNqqL?name=Alice%20laptop"
          "&addr=/ip4/192.168.1.20/tcp/4141/p2p/12D3KooWAcB6uoHuAPyfsYcwnYTqGNt2biPmSmvbBam9cwmawgzK"
          "#o2F2AWRzZWVkWCAAAQIDBAUGBwgJCgsMDQ4PEBESExQVFhcYGRobHB0eH2dleHBpcmVzGwAAAZryMrIApX8akg")


def test_the_documented_vector_parses_to_its_fields() -> None:
    link = DeviceLink.parse(VECTOR)
    assert link == DeviceLink(PERSON, SEED, EXPIRES, "Alice laptop", (ADDRESS,))
    assert link.to_uri() == VECTOR
    assert str(link.link_key.peer_id) == "12D3KooWA4Xop1JaT3MHxwYMkCepYsv4iPVopMXwCz5iHYdBfeSB"


def test_the_vector_follows_the_documented_recipe() -> None:
    payload = cbor.encode({"v": 1, "seed": SEED, "expires": EXPIRES})
    check = hashlib.sha256(b"threads/1/device-link" + PERSON.raw + payload).digest()[:4]
    assert VECTOR.endswith("#" + base64.urlsafe_b64encode(payload + check).rstrip(b"=").decode())


def test_a_device_link_is_told_from_an_invite_link() -> None:
    assert is_device_link("  " + VECTOR + "\n")
    assert not is_device_link("threads://join/bafy#abc")


def test_a_pasted_link_with_spaces_around_it_parses() -> None:
    assert DeviceLink.parse(f"  {VECTOR}\n").seed == SEED


@pytest.mark.parametrize("broken", [
    VECTOR[:-1], VECTOR[:-5], VECTOR.replace("#", ""), VECTOR.replace("AAQID", "AAQIE"),
    VECTOR.replace("12D3KooWDEJr5", "12D3KooWDEJr6"), VECTOR.replace("threads://device/", "threads://devices/"),
    VECTOR + "&x", VECTOR.replace("name=Alice%20laptop", "name=Alice%2"), VECTOR.replace("?name", "?NAME"),
    VECTOR.replace("Alice%20laptop", "Alice laptop"),
])
def test_a_mistyped_or_altered_link_is_refused(broken: str) -> None:
    with pytest.raises(InvalidLinkError):
        DeviceLink.parse(broken)


@settings(max_examples=400, deadline=None)
@given(st.text(max_size=300))
def test_any_text_gives_a_link_or_invalid_link_error(text: str) -> None:
    try:
        link = DeviceLink.parse("threads://device/" + text)
    except InvalidLinkError:
        return
    assert DeviceLink.parse(link.to_uri()) == link


@settings(max_examples=300, deadline=None)
@given(st.integers(0, len(VECTOR) - 1), st.characters(min_codepoint=0x21, max_codepoint=0x7E))
def test_any_character_changed_gives_the_link_or_an_error(position: int, char: str) -> None:
    text = VECTOR[:position] + char + VECTOR[position + 1:]
    try:
        link = DeviceLink.parse(text)
    except InvalidLinkError:
        return
    # Only the unchecked hints (name, addresses) may change and still parse.
    assert (link.person, link.seed, link.expires_ms) == (PERSON, SEED, EXPIRES)


def a_request(identity: Identity) -> DeviceRequest:
    return DeviceRequest.make(DeviceLink.parse(VECTOR), identity.peer_id, identity.exchange_public_key(), "Desktop")


def test_a_request_reads_back_and_verifies() -> None:
    identity = Identity.generate()
    request = DeviceRequest.from_bytes(a_request(identity).to_bytes())
    request.verify()
    assert request.device == identity.peer_id and request.name == "Desktop"
    assert request.link == DeviceLink.parse(VECTOR).link_key.peer_id


def test_a_request_for_another_device_does_not_verify() -> None:
    request = a_request(Identity.generate())
    with pytest.raises(SchemaError, match="not signed"):
        replace(request, device=Identity.generate().peer_id).verify()


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=1200))
def test_any_bytes_give_a_request_or_a_clear_error(data: bytes) -> None:
    try:
        DeviceRequest.from_bytes(data).verify()
    except InvalidInputError:
        pass


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=600))
def test_any_bytes_give_an_answer_or_a_clear_error(data: bytes) -> None:
    try:
        answer = DeviceAnswer.from_bytes(data)
    except InvalidInputError:
        return
    if answer.refused is None:
        with pytest.raises(InvalidInputError):
            answer.open(X25519PrivateKey.generate())


def test_an_answer_opens_only_for_the_device_it_was_sealed_to() -> None:
    device = Identity.generate()
    answer = DeviceAnswer.from_bytes(DeviceAnswer.added(b"bundle" * 100, device.exchange_public_key()).to_bytes())
    assert answer.open(device.exchange) == b"bundle" * 100
    with pytest.raises(DecryptionError):
        answer.open(X25519PrivateKey.generate())
    assert DeviceAnswer.from_bytes(DeviceAnswer(refused="expired").to_bytes()).refused == "expired"


Links = tuple[DeviceLinks, list[int]]


@pytest.fixture
def links(tmp_path: Path) -> Links:
    clock = [EXPIRES - LIFETIME_MS]
    database = Database.open(tmp_path / "profile.db")
    ensure_device_links(database)
    return DeviceLinks(database, lambda: clock[0]), clock


def test_a_link_is_open_then_spent_once(links: Links) -> None:
    table, _clock = links
    link = table.issue(PERSON, "Laptop", ())
    key = link.link_key.peer_id
    assert table.refusal(key) is None
    device = Identity.generate().peer_id
    table.spend(key, device)
    assert table.refusal(key) == "spent"
    assert table.added_by(key) == device


def test_a_link_expires_after_fifteen_minutes(links: Links) -> None:
    table, clock = links
    key = table.issue(PERSON, None, ()).link_key.peer_id
    clock[0] += LIFETIME_MS - 1
    assert table.refusal(key) is None
    clock[0] += 1
    assert table.refusal(key) == "expired"


def test_a_link_never_issued_or_revoked_is_unknown(links: Links) -> None:
    table, _clock = links
    assert table.refusal(Identity.generate().peer_id) == "unknown"
    key = table.issue(PERSON, None, ()).link_key.peer_id
    assert table.revoke_open() == 1
    assert table.refusal(key) == "unknown"


def test_the_protocol_document_holds_the_vector() -> None:
    document = (Path(__file__).parents[3] / "docs" / "PROTOCOL.md").read_text(encoding="utf-8")
    assert VECTOR in document
    assert str(DeviceLink.parse(VECTOR).link_key.peer_id) in document
