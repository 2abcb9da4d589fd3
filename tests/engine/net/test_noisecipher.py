"""Noise messages sealed and opened in place (engine/net/noisecipher.py):
the same bytes and the same counter as the `noise` library's own."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from noise.connection import NoiseConnection
from noise.constants import MAX_NONCE
from noise.exceptions import NoiseInvalidMessage, NoiseMaxNonceError

from tests.engine.net.test_noiseio import _noise_pair
from threads_desktop.engine.net.noisecipher import TAG_BYTES, aead_of, open_into, seal_into


@settings(max_examples=40)
@given(st.lists(st.binary(max_size=5000), min_size=1, max_size=5))
def test_sealing_in_place_makes_the_librarys_bytes_and_it_opens_them(messages: list[bytes]) -> None:
    ours, theirs = _noise_pair()
    twin, _ = _noise_pair()
    state = ours.noise_protocol.cipher_state_encrypt
    aead = aead_of(state)
    assert aead is not None
    for message in messages:
        out = bytearray(len(message) + TAG_BYTES)
        n = state.n
        seal_into(state, aead, message, memoryview(out))
        assert state.n == n + 1
        assert theirs.decrypt(bytes(out)) == message
    # the library, from the same keys and counter, seals the same bytes
    twin.noise_protocol.cipher_state_encrypt.k = state.k
    twin.noise_protocol.cipher_state_encrypt.initialize_key(state.k)
    twin.noise_protocol.cipher_state_encrypt.n = state.n
    out = bytearray(3 + TAG_BYTES)
    seal_into(state, aead, b"abc", memoryview(out))
    assert bytes(out) == twin.encrypt(b"abc")


@settings(max_examples=40)
@given(st.lists(st.binary(max_size=5000), min_size=1, max_size=5))
def test_opening_in_place_reads_what_the_library_sealed(messages: list[bytes]) -> None:
    ours, theirs = _noise_pair()
    state = theirs.noise_protocol.cipher_state_decrypt
    aead = aead_of(state)
    assert aead is not None
    for message in messages:
        out = bytearray(len(message))
        open_into(state, aead, ours.encrypt(message), memoryview(out))
        assert bytes(out) == message


def test_a_tampered_message_is_refused_and_the_counter_stays() -> None:
    ours, theirs = _noise_pair()
    state = theirs.noise_protocol.cipher_state_decrypt
    aead = aead_of(state)
    assert aead is not None
    sealed = bytearray(ours.encrypt(b"hello"))
    sealed[0] ^= 1
    with pytest.raises(NoiseInvalidMessage):
        open_into(state, aead, bytes(sealed), memoryview(bytearray(5)))
    assert state.n == 0
    sealed[0] ^= 1
    out = bytearray(5)
    open_into(state, aead, bytes(sealed), memoryview(out))  # the genuine one still opens: same counter
    assert out == b"hello"


def test_a_spent_counter_seals_nothing() -> None:
    ours, _ = _noise_pair()
    state = ours.noise_protocol.cipher_state_encrypt
    aead = aead_of(state)
    assert aead is not None
    state.n = MAX_NONCE
    with pytest.raises(NoiseMaxNonceError):
        seal_into(state, aead, b"x", memoryview(bytearray(1 + TAG_BYTES)))


def test_a_state_without_a_key_is_not_sealed_here() -> None:
    fresh = NoiseConnection.from_name(b"Noise_NN_25519_ChaChaPoly_SHA256")
    fresh.set_as_initiator()
    fresh.start_handshake()
    assert aead_of(fresh.noise_protocol.cipher_state_encrypt) is None  # no handshake yet: no key
    assert aead_of(None) is None
