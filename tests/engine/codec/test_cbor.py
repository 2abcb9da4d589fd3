from __future__ import annotations

import hashlib
from typing import Any

import blake3
import dag_cbor
import pytest
from hypothesis import given
from hypothesis import strategies as st
from multiformats import CID

from threads_desktop.engine.codec import cbor
from threads_desktop.engine.codec.cbor import Link
from threads_desktop.engine.codec.cid import cid_matches, cid_of_cbor, cid_of_raw, format_cid, parse_cid
from threads_desktop.engine.core.errors import CodecError, InvalidIdError

LIMIT = 1 << 20


def _links() -> st.SearchStrategy[Link]:
    return st.binary(min_size=1, max_size=40).flatmap(
        lambda b: st.sampled_from([cid_of_cbor(b), cid_of_raw(b), _raw_sha256(b)]).map(Link))


def _raw_sha256(data: bytes) -> bytes:
    """A raw CID as raw blocks were named before BLAKE3 (sha2-256)."""
    return bytes(CID("base32", 1, "raw", ("sha2-256", hashlib.sha256(data).digest())))


def dag_values() -> st.SearchStrategy[Any]:
    scalars = st.one_of(
        st.none(), st.booleans(), st.integers(-(2**64), 2**64 - 1),
        st.floats(allow_nan=False, allow_infinity=False), st.text(max_size=20),
        st.binary(max_size=40), _links(),
    )
    return st.recursive(scalars, lambda inner: st.one_of(
        st.lists(inner, max_size=5), st.dictionaries(st.text(max_size=8), inner, max_size=5)), max_leaves=25)


def _to_reference(value: Any) -> Any:
    """The same value in the pure-Python dag-cbor package's terms."""
    if isinstance(value, Link):
        return CID.decode(bytes(value.cid_bytes))
    if isinstance(value, list):
        return [_to_reference(v) for v in value]
    if isinstance(value, dict):
        return {k: _to_reference(v) for k, v in value.items()}
    return value


@given(dag_values())
def test_fast_encoder_matches_the_reference_encoder(value: Any) -> None:
    assert cbor.encode(value) == dag_cbor.encode(_to_reference(value))


@given(dag_values())
def test_decode_inverts_encode(value: Any) -> None:
    encoded = cbor.encode(value)
    assert cbor.encode(cbor.decode(encoded, max_size=LIMIT)) == encoded


@pytest.mark.parametrize("hex_bytes, why", [
    ("a2616201616101", "map keys out of order"),
    ("a2616101616102", "duplicate map key"),
    ("1817", "integer not minimally encoded"),
    ("5f41014102ff", "indefinite length"),
    ("f93c00", "half-precision float"),
    ("fb7ff8000000000000", "NaN"),
    ("f7", "undefined"),
    ("c06161", "tag other than 42"),
    ("0000", "trailing bytes"),
    ("61ff", "invalid UTF-8"),
    ("a10101", "integer map key"),
    ("d82a4100", "empty CID"),
    ("d82a5822000155122000", "truncated CID"),
    ("d82a582500017112ff" + "00" * 32, "CID of another hash length"),
    ("d82a58250001711e20" + "00" * 32, "dag-cbor CID named by BLAKE3"),
    ("5bffffffffffffffff", "length beyond the input"),
])
def test_decode_refuses_non_canonical_or_malformed_input(hex_bytes: str, why: str) -> None:
    with pytest.raises(CodecError):
        cbor.decode(bytes.fromhex(hex_bytes), max_size=LIMIT)


def test_decode_refuses_input_over_the_size_limit() -> None:
    with pytest.raises(CodecError, match="exceeds"):
        cbor.decode(cbor.encode(b"x" * 100), max_size=50)


def test_decode_refuses_nesting_deeper_than_the_limit() -> None:
    deep = b"\x81" * 100_000 + b"\x00"
    with pytest.raises(CodecError, match="nested"):
        cbor.decode(deep, max_size=LIMIT)
    assert cbor.decode(b"\x81" * 31 + b"\x00", max_size=LIMIT, max_depth=32) is not None


@given(st.binary(max_size=200))
def test_decode_of_arbitrary_bytes_raises_only_codec_error(data: bytes) -> None:
    try:
        cbor.decode(data, max_size=LIMIT)
    except CodecError:
        pass


def test_cids_match_the_multiformats_library() -> None:
    block = cbor.encode({"hello": "world"})
    ours = cid_of_cbor(block)
    theirs = CID("base32", 1, "dag-cbor", ("sha2-256", hashlib.sha256(block).digest()))
    assert ours == bytes(theirs)
    assert format_cid(ours) == str(theirs)
    raw = cid_of_raw(b"photo bytes")
    assert format_cid(raw) == str(CID("base32", 1, "raw", ("blake3", blake3.blake3(b"photo bytes").digest())))
    for cid in (ours, raw, _raw_sha256(b"photo bytes")):
        assert parse_cid(format_cid(cid)) == cid


@given(st.binary(max_size=3000), st.integers(0, 35), st.integers(1, 255))
def test_a_block_matches_its_cid_by_the_hash_the_cid_names_and_nothing_else(
        data: bytes, at: int, flip: int) -> None:
    named = [cid_of_cbor(data), cid_of_raw(data), _raw_sha256(data)]
    for cid in named:
        assert cid_matches(cid, data) and cid_matches(cid, memoryview(data))
        assert not cid_matches(cid, data + b"x")
        changed = bytearray(cid)
        changed[at] ^= flip  # any other CID: another digest, hash, codec or version
        assert not cid_matches(bytes(changed), data)
    # the same digest under another hash's name does not match
    sha, b3 = hashlib.sha256(data).digest(), blake3.blake3(data).digest()
    assert not cid_matches(bytes([1, 0x55, 0x1E, 0x20]) + sha, data)
    assert not cid_matches(bytes([1, 0x71, 0x1E, 0x20]) + b3, data)  # dag-cbor is sha2-256 only
    assert not cid_matches(cid_of_raw(data)[:-1], data)


@pytest.mark.parametrize("bad", ["", "b", "Bafy", "zdpu", "bafyreig" + "a" * 10])
def test_parse_cid_refuses_malformed_text(bad: str) -> None:
    with pytest.raises(InvalidIdError):
        parse_cid(bad)
