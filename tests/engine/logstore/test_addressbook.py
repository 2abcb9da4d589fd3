from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from threads_desktop.engine.core.errors import InvalidInputError
from threads_desktop.engine.core.keys import SigningKey
from threads_desktop.engine.logstore.addressbook import MAX_ADDRESSES_PER_PEER, AddressBook, canonical_address
from threads_desktop.engine.logstore.database import Database


@pytest.fixture
def book_and_clock(tmp_path: Path) -> Iterator[tuple[AddressBook, list[float]]]:
    now = [1_000_000.0]
    database = Database.open(tmp_path / "db.sqlite3")
    yield AddressBook(database, lambda: now[0]), now
    database.close()


def test_addresses_expire_after_their_ttl(book_and_clock: tuple[AddressBook, list[float]]) -> None:
    book, now = book_and_clock
    peer = SigningKey.generate().peer_id
    book.add(peer, ["/ip4/127.0.0.1/tcp/4001"], ttl_seconds=60)
    book.add(peer, ["/ip4/127.0.0.1/tcp/4002"], ttl_seconds=600)
    assert book.addresses(peer) == ["/ip4/127.0.0.1/tcp/4001", "/ip4/127.0.0.1/tcp/4002"]
    now[0] += 61
    assert book.addresses(peer) == ["/ip4/127.0.0.1/tcp/4002"]
    assert book.prune() == 1
    now[0] += 600
    assert book.addresses(peer) == []


def test_a_shorter_ttl_never_cuts_a_longer_one(book_and_clock: tuple[AddressBook, list[float]]) -> None:
    book, now = book_and_clock
    peer = SigningKey.generate().peer_id
    book.add(peer, ["/ip4/127.0.0.1/tcp/1"], ttl_seconds=3600)
    book.add(peer, ["/ip4/127.0.0.1/tcp/1"], ttl_seconds=10)
    now[0] += 100
    assert book.addresses(peer) == ["/ip4/127.0.0.1/tcp/1"]


def test_a_peer_keeps_at_most_a_bounded_number_of_addresses(book_and_clock: tuple[AddressBook, list[float]]) -> None:
    book, _ = book_and_clock
    peer = SigningKey.generate().peer_id
    book.add(peer, [f"/ip4/127.0.0.1/tcp/{port}" for port in range(1, 100)], ttl_seconds=60)
    book.add(peer, ["/ip4/127.0.0.1/tcp/9999"], ttl_seconds=600)
    kept = book.addresses(peer)
    assert len(kept) == MAX_ADDRESSES_PER_PEER
    assert "/ip4/127.0.0.1/tcp/9999" in kept


def test_a_malformed_address_refuses_the_whole_call(book_and_clock: tuple[AddressBook, list[float]]) -> None:
    book, _ = book_and_clock
    peer = SigningKey.generate().peer_id
    with pytest.raises(InvalidInputError):
        book.add(peer, ["/ip4/127.0.0.1/tcp/1", "/ip4/999.0.0.1/tcp/1"], ttl_seconds=60)
    with pytest.raises(InvalidInputError):
        book.add(peer, ["/ip4/127.0.0.1/tcp/1"], ttl_seconds=0)
    assert book.addresses(peer) == []


@given(st.text(max_size=60))
def test_address_parsing_raises_only_invalid_input(text: str) -> None:
    try:
        assert canonical_address(text).startswith("/")
    except InvalidInputError:
        pass
