from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from threads_desktop.engine.core.errors import DecryptionError, InvalidInputError
from threads_desktop.engine.core.keys import Identity
from threads_desktop.engine.crypto.sealedbox import MAX_BOX_SIZE, MAX_PLAINTEXT_SIZE, OVERHEAD, open_sealed_box, seal_to


@pytest.fixture(scope="module")
def alice() -> Identity:
    # Module-scoped: Hypothesis runs each test many times on one fixture value.
    return Identity.generate()


def test_a_box_opens_with_the_recipients_key(alice: Identity) -> None:
    box = seal_to(alice.exchange_public_key(), b"thread keys")
    assert len(box) == len(b"thread keys") + OVERHEAD
    assert open_sealed_box(alice.exchange, box) == b"thread keys"


def test_each_box_is_fresh(alice: Identity) -> None:
    public = alice.exchange_public_key()
    assert seal_to(public, b"x") != seal_to(public, b"x")


def test_an_empty_plaintext_round_trips(alice: Identity) -> None:
    assert open_sealed_box(alice.exchange, seal_to(alice.exchange_public_key(), b"")) == b""


def test_another_recipient_cannot_open_it(alice: Identity) -> None:
    box = seal_to(alice.exchange_public_key(), b"secret")
    with pytest.raises(DecryptionError):
        open_sealed_box(Identity.generate().exchange, box)


@settings(max_examples=200)
@given(plaintext=st.binary(max_size=64), data=st.data())
def test_any_flipped_byte_fails(alice: Identity, plaintext: bytes, data: st.DataObject) -> None:
    box = seal_to(alice.exchange_public_key(), plaintext)
    index = data.draw(st.integers(0, len(box) - 1))
    mask = data.draw(st.integers(1, 255))
    altered = box[:index] + bytes([box[index] ^ mask]) + box[index + 1 :]
    with pytest.raises(DecryptionError):
        open_sealed_box(alice.exchange, altered)


@given(plaintext=st.binary(max_size=64), data=st.data())
def test_any_truncation_fails(alice: Identity, plaintext: bytes, data: st.DataObject) -> None:
    box = seal_to(alice.exchange_public_key(), plaintext)
    length = data.draw(st.integers(0, len(box) - 1))
    with pytest.raises(DecryptionError):
        open_sealed_box(alice.exchange, box[:length])


def test_a_wrong_length_public_key_is_refused(alice: Identity) -> None:
    for key in (b"", alice.exchange_public_key()[:31], alice.exchange_public_key() + b"\0"):
        with pytest.raises(InvalidInputError):
            seal_to(key, b"x")


def test_a_low_order_public_key_is_refused() -> None:
    with pytest.raises(InvalidInputError):
        seal_to(bytes(32), b"x")


def test_the_size_limit_holds_both_ways(alice: Identity) -> None:
    public = alice.exchange_public_key()
    box = seal_to(public, bytes(MAX_PLAINTEXT_SIZE))
    assert len(box) == MAX_BOX_SIZE
    assert open_sealed_box(alice.exchange, box) == bytes(MAX_PLAINTEXT_SIZE)
    with pytest.raises(InvalidInputError):
        seal_to(public, bytes(MAX_PLAINTEXT_SIZE + 1))
    with pytest.raises(InvalidInputError) as caught:
        open_sealed_box(alice.exchange, box + b"\0")
    assert not isinstance(caught.value, DecryptionError)  # refused before any decryption
