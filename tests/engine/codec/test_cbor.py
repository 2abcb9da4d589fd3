from __future__ import annotations

import hashlib
from typing import Any

import dag_cbor
import pytest
from hypothesis import given
from hypothesis import strategies as st
from multiformats import CID

from threads_desktop.engine.codec import cbor
from threads_desktop.engine.codec.cbor import Link
from threads_desktop.engine.codec.cid import cid_of_cbor, cid_of_raw, format_cid, parse_cid
from threads_desktop.engine.core.errors import CodecError, InvalidIdError

LIMIT = 1 << 20


def _links() -> st.SearchStrategy[Link]:
    return st.binary(min_size=1, max_size=40).map(lambda b: Link(cid_of_cbor(b)))


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
    assert format_cid(raw) == str(CID("base32", 1, "raw", ("sha2-256", hashlib.sha256(b"photo bytes").digest())))
    assert parse_cid(format_cid(ours)) == ours


@pytest.mark.parametrize("bad", ["", "b", "Bafy", "zdpu", "bafyreig" + "a" * 10])
def test_parse_cid_refuses_malformed_text(bad: str) -> None:
    with pytest.raises(InvalidIdError):
        parse_cid(bad)
