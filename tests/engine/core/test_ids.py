from __future__ import annotations

import os

import pytest
from hypothesis import given
from hypothesis import strategies as st

from threads_desktop.engine.core.errors import InvalidIdError
from threads_desktop.engine.core.ids import PeerId, ThreadId, ThreadVariant
from threads_desktop.engine.core.keys import SigningKey


def test_thread_id_round_trips_through_its_text_form() -> None:
    thread_id = ThreadId.from_random(ThreadVariant.ACCESS_CONTROLLED, os.urandom(32))
    text = str(thread_id)
    assert text.startswith("b") and text == text.lower()
    assert ThreadId.parse(text) == thread_id
    assert thread_id.variant is ThreadVariant.ACCESS_CONTROLLED


def test_thread_id_bytes_are_version_variant_and_32_random_bytes() -> None:
    random32 = bytes(range(32))
    assert ThreadId.from_random(ThreadVariant.RAW, random32).raw == b"\x01\x55" + random32


@pytest.mark.parametrize("bad", [
    "",                                   # empty
    "b",                                  # no bytes
    "zabc",                               # other multibase
    str(ThreadId.from_random(ThreadVariant.RAW, bytes(32))).upper(),   # upper case
    str(ThreadId.from_random(ThreadVariant.RAW, bytes(32))) + "====",  # padding
    str(ThreadId.from_random(ThreadVariant.RAW, bytes(32)))[:-2],      # truncated
    "b" + "a" * 56,                       # wrong version byte (0)
])
def test_thread_id_parse_refuses_malformed_text(bad: str) -> None:
    with pytest.raises(InvalidIdError):
        ThreadId.parse(bad)


def test_thread_id_refuses_unknown_variant_and_version() -> None:
    with pytest.raises(InvalidIdError):
        ThreadId(b"\x01\x56" + bytes(32))
    with pytest.raises(InvalidIdError):
        ThreadId(b"\x02\x55" + bytes(32))


def test_thread_id_refuses_a_second_spelling_with_nonzero_padding_bits() -> None:
    text = str(ThreadId.from_random(ThreadVariant.RAW, bytes(32)))
    # 34 bytes = 272 bits in 55 base32 characters: the last one carries 3 spare
    # bits. Setting them gives the same bytes from different text.
    alphabet = "abcdefghijklmnopqrstuvwxyz234567"
    last = alphabet.index(text[-1])
    sibling = text[:-1] + alphabet[last | 1]
    assert sibling != text
    with pytest.raises(InvalidIdError):
        ThreadId.parse(sibling)


@given(st.text(max_size=80))
def test_thread_id_parse_raises_only_invalid_id_error(text: str) -> None:
    try:
        ThreadId.parse(text)
    except InvalidIdError:
        pass


def test_peer_id_matches_what_libp2p_computes() -> None:
    from libp2p.crypto.ed25519 import Ed25519PublicKey
    from libp2p.peer.id import ID

    for _ in range(5):
        key = SigningKey.generate()
        theirs = ID.from_pubkey(Ed25519PublicKey.from_bytes(key.peer_id.public_key))
        assert str(key.peer_id) == theirs.to_base58()
        assert key.peer_id.raw == theirs.to_bytes()
        assert str(key.peer_id).startswith("12D3KooW")


def test_peer_id_round_trips_and_refuses_other_key_types() -> None:
    peer_id = SigningKey.generate().peer_id
    assert PeerId.parse(str(peer_id)) == peer_id
    with pytest.raises(InvalidIdError):
        PeerId.parse("QmYyQSo1c1Ym7orWxLYvCrM2EmxFTANf8wXmmE7DWjhx5N")  # an RSA-style sha256 ID
    with pytest.raises(InvalidIdError):
        PeerId.parse("not base58 0OIl")


@given(st.text(max_size=60))
def test_peer_id_parse_raises_only_invalid_id_error(text: str) -> None:
    try:
        PeerId.parse(text)
    except InvalidIdError:
        pass
