"""PersonBundle's codec: what is made reads back the same, and any bytes a
peer or a file could hold give a bundle whose fields were checked or a clear
InvalidInputError, never another exception."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from threads_desktop.engine.codec import cbor
from threads_desktop.engine.core.errors import InvalidInputError, SchemaError
from threads_desktop.engine.core.ids import PeerId, ThreadId, ThreadVariant
from threads_desktop.engine.core.keys import ThreadKey
from threads_desktop.engine.core.types import ThreadKind
from threads_desktop.engine.persons.bundle import (
    MAX_BUNDLE_BYTES,
    MAX_THREADS,
    BundlePeer,
    BundleThread,
    PersonBundle,
)

THREAD = ThreadId.from_random(ThreadVariant.ACCESS_CONTROLLED, bytes(range(32)))
PEER = PeerId.from_public_key(bytes(range(1, 33)))


def a_bundle(threads: int = 2) -> PersonBundle:
    return PersonBundle(
        person_seed=bytes(range(32)), name="Alice", devices=(b"\xa1cert", b"\xa1removal"),
        threads=tuple(BundleThread(ThreadId.from_random(ThreadVariant.ACCESS_CONTROLLED, i.to_bytes(32, "big")),
                                   ThreadKind.ALBUM if i % 2 else ThreadKind.CHAT, f"Album {i}" if i else None,
                                   (ThreadKey(bytes([i % 256]) * 32, bytes(32), 0),
                                    ThreadKey(bytes(32), None, 3)))
                      for i in range(threads)),
        peers=(BundlePeer(PEER, ("/ip4/192.168.1.20/tcp/4141",), (THREAD,)),),
        settings={"fetch_originals": "on_demand", "relays": [], "upnp": False})


def test_a_bundle_reads_back_as_it_was_made() -> None:
    bundle = a_bundle()
    again = PersonBundle.from_bytes(bundle.to_bytes())
    assert again == bundle
    assert again.threads[0].keys[0].can_read and not again.threads[0].keys[1].can_read
    assert again.threads[0].keys[1].epoch == 3


def test_ten_thousand_threads_fit_in_a_bundle() -> None:
    bundle = a_bundle(MAX_THREADS)
    data = bundle.to_bytes()
    assert len(data) < MAX_BUNDLE_BYTES
    assert len(PersonBundle.from_bytes(data).threads) == MAX_THREADS


def test_more_threads_than_the_bound_are_refused() -> None:
    value = cbor.decode(a_bundle(1).to_bytes(), max_size=MAX_BUNDLE_BYTES)
    value["threads"] = value["threads"] * (MAX_THREADS + 1)
    with pytest.raises(SchemaError, match="at most"):
        PersonBundle.from_bytes(cbor.encode(value))


def test_a_bundle_from_a_newer_version_says_so() -> None:
    value = cbor.decode(a_bundle(1).to_bytes(), max_size=MAX_BUNDLE_BYTES)
    value["v"] = 2
    with pytest.raises(SchemaError, match="newer version"):
        PersonBundle.from_bytes(cbor.encode(value))


@pytest.mark.parametrize("change", [
    lambda v: v.update(person=b"short"),
    lambda v: v.update(extra=1),
    lambda v: v["threads"][0].update(kind="folder"),
    lambda v: v["threads"][0]["keys"][0].update(key=bytes(48)),
    lambda v: v["threads"][0]["keys"][0].update(epoch=-1),
    lambda v: v["threads"][0]["keys"][0].update(epoch=True),
    lambda v: v["threads"][0].update(keys=[]),
    lambda v: v["threads"][0].update(name="a\nb"),
    lambda v: v["threads"][0].update(id=b"\x01\x70" + bytes(31)),
    lambda v: v.update(threads=v["threads"] * 2),
    lambda v: v["peers"][0].update(addrs=["not an address"]),
    lambda v: v["peers"][0].update(peer=bytes(38)),
    lambda v: v.update(devices=[b""]),
    lambda v: v.update(settings={"theme": "dark"}),
    lambda v: v.update(settings={"upnp": 1}),
])
def test_a_bundle_with_a_bad_field_is_refused(change: Any) -> None:
    value = cbor.decode(a_bundle(1).to_bytes(), max_size=MAX_BUNDLE_BYTES)
    change(value)
    with pytest.raises(SchemaError):
        PersonBundle.from_bytes(cbor.encode(value))


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=2048))
def test_any_bytes_give_a_bundle_or_a_clear_error(data: bytes) -> None:
    try:
        bundle = PersonBundle.from_bytes(data)
    except InvalidInputError:
        return
    assert PersonBundle.from_bytes(bundle.to_bytes()) == bundle


_ENCODED = a_bundle(1).to_bytes()


@settings(max_examples=300, deadline=None)
@given(st.integers(0, len(_ENCODED) - 1), st.integers(0, 255))
def test_a_bundle_with_any_byte_changed_is_read_checked_or_refused(position: int, value: int) -> None:
    data = bytearray(_ENCODED)
    data[position] = value
    try:
        bundle = PersonBundle.from_bytes(bytes(data))
    except InvalidInputError:
        return
    assert PersonBundle.from_bytes(bundle.to_bytes()) == bundle


_TEXT = st.text(st.characters(blacklist_categories=("Cc", "Cs")), min_size=1, max_size=40)


@settings(max_examples=100, deadline=None)
@given(seed=st.binary(min_size=32, max_size=32), name=st.none() | _TEXT,
       names=st.lists(st.none() | _TEXT, max_size=5), epochs=st.sets(st.integers(0, 1000), min_size=1, max_size=4),
       devices=st.lists(st.binary(min_size=1, max_size=512), max_size=6))
def test_any_bundle_made_reads_back(seed: bytes, name: str | None, names: list[str | None], epochs: set[int],
                                    devices: list[bytes]) -> None:
    threads = tuple(BundleThread(ThreadId.from_random(ThreadVariant.ACCESS_CONTROLLED, bytes([i]) * 32),
                                 ThreadKind.ALBUM, thread_name, tuple(ThreadKey(bytes(32), None, e) for e in epochs))
                    for i, thread_name in enumerate(names))
    bundle = PersonBundle(seed, name, tuple(devices), threads)
    assert PersonBundle.from_bytes(bundle.to_bytes()) == bundle
