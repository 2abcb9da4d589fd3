"""Noise messages sealed and opened in place (engine/net/noisecipher.py):
the same bytes and the same counter as the `noise` library's own, with
either of Noise's ciphers (libp2p's ChaChaPoly, our AESGCM)."""

from __future__ import annotations

import pytest
from cryptography.hazmat.primitives.ciphers.aead import AESGCM, ChaCha20Poly1305
from hypothesis import given, settings
from hypothesis import strategies as st
from noise.connection import NoiseConnection
from noise.constants import MAX_NONCE
from noise.exceptions import NoiseInvalidMessage, NoiseMaxNonceError

from tests.engine.net.test_noiseio import _noise_pair
from threads_desktop.engine.net.noisecipher import TAG_BYTES, aead_of, open_into, seal_into

CIPHERS = pytest.mark.parametrize("cipher", ["ChaChaPoly", "AESGCM"])


@CIPHERS
@settings(max_examples=40)
@given(st.lists(st.binary(max_size=5000), min_size=1, max_size=5))
def test_sealing_in_place_makes_the_librarys_bytes_and_it_opens_them(cipher: str, messages: list[bytes]) -> None:
    ours, theirs = _noise_pair(cipher)
    twin, _ = _noise_pair(cipher)
    state = ours.noise_protocol.cipher_state_encrypt
    aead = aead_of(state)
    assert isinstance(aead, AESGCM if cipher == "AESGCM" else ChaCha20Poly1305)
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


@CIPHERS
@settings(max_examples=40)
@given(st.lists(st.binary(max_size=5000), min_size=1, max_size=5))
def test_opening_in_place_reads_what_the_library_sealed(cipher: str, messages: list[bytes]) -> None:
    ours, theirs = _noise_pair(cipher)
    state = theirs.noise_protocol.cipher_state_decrypt
    aead = aead_of(state)
    assert aead is not None
    for message in messages:
        out = bytearray(len(message))
        open_into(state, aead, ours.encrypt(message), memoryview(out))
        assert bytes(out) == message


@CIPHERS
def test_a_tampered_message_is_refused_and_the_counter_stays(cipher: str) -> None:
    ours, theirs = _noise_pair(cipher)
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


@CIPHERS
def test_a_spent_counter_seals_nothing(cipher: str) -> None:
    ours, _ = _noise_pair(cipher)
    state = ours.noise_protocol.cipher_state_encrypt
    aead = aead_of(state)
    assert aead is not None
    state.n = MAX_NONCE
    with pytest.raises(NoiseMaxNonceError):
        seal_into(state, aead, b"x", memoryview(bytearray(1 + TAG_BYTES)))


@CIPHERS
def test_a_state_without_a_key_is_not_sealed_here(cipher: str) -> None:
    fresh = NoiseConnection.from_name(f"Noise_NN_25519_{cipher}_SHA256".encode())
    fresh.set_as_initiator()
    fresh.start_handshake()
    assert aead_of(fresh.noise_protocol.cipher_state_encrypt) is None  # no handshake yet: no key
    assert aead_of(None) is None
