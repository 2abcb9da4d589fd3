"""The byte parsing of `/threads/1.0.0` (wire.py), against arbitrary input:
framing, strict DAG-CBOR, the message shape and the field checks."""

from __future__ import annotations

import itertools
from collections.abc import Coroutine
from typing import Any

import pytest
import trio
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.engine.net.hostile import uvarint  # written apart from the engine's, as a cross-check
from threads_desktop.engine.codec import cbor
from threads_desktop.engine.core.errors import ProtocolError
from threads_desktop.engine.net import paging, wire
from threads_desktop.engine.net.budgets import Budgets, Limits


class ChunkStream:
    """A `ByteStream` that hands out fixed chunks (each at most `n` bytes per
    read), then b"" for the end; `strict` fails a read past the chunks
    instead (to show a reader never asks for more than it may)."""

    def __init__(self, chunks: list[bytes], *, strict: bool = False) -> None:
        self._chunks = [c for c in chunks if c]
        self._strict = strict
        self.reads = 0

    async def read(self, n: int) -> bytes:
        self.reads += 1
        if not self._chunks:
            if self._strict:
                raise AssertionError("read past the bytes the reader needed")
            return b""
        chunk = self._chunks[0]
        self._chunks[0] = chunk[n:]
        if not self._chunks[0]:
            self._chunks.pop(0)
        return chunk[:n]

    async def write(self, data: bytes) -> None:
        raise AssertionError("the reader never writes")

    async def close(self) -> None:
        pass


def run(coroutine: Coroutine[Any, Any, Any]) -> Any:
    """Run a coroutine that never suspends (ChunkStream never blocks)."""
    try:
        coroutine.send(None)
    except StopIteration as done:
        return done.value
    coroutine.close()
    raise AssertionError("the coroutine suspended")


def split(data: bytes, cuts: list[int]) -> list[bytes]:
    """`data` cut at the given offsets (taken modulo its length)."""
    points = sorted({c % (len(data) + 1) for c in cuts} | {0, len(data)})
    return [data[a:b] for a, b in itertools.pairwise(points)]


def read_all(stream: ChunkStream, limit: int = paging.MAX_MESSAGE_BYTES) -> list[dict[str, Any]]:
    """Every message up to a clean end; ProtocolError passes through."""
    return drain(wire.MessageReader(stream, limit))


def drain(reader: wire.MessageReader) -> list[dict[str, Any]]:
    messages: list[dict[str, Any]] = []
    for _ in range(10_000):  # each message takes at least two bytes
        message = run(reader.read())
        if message is None:
            return messages
        messages.append(message)
    raise AssertionError("the reader never reached the end")


# --- values ------------------------------------------------------------------------------

_leaves = st.one_of(
    st.none(), st.booleans(), st.integers(min_value=-(2**64), max_value=2**64 - 1),
    st.binary(max_size=48), st.text(max_size=16),
)


def _values(depth: int) -> st.SearchStrategy[Any]:
    if depth == 0:
        return _leaves
    inner = _values(depth - 1)
    return st.one_of(_leaves, st.lists(inner, max_size=4), st.dictionaries(st.text(max_size=8), inner, max_size=4))


messages = st.builds(
    lambda t, fields: {**fields, "t": t},
    st.text(max_size=12),
    st.dictionaries(st.text(max_size=8), _values(3), max_size=5),  # the message map is the fourth level
)


_checks = {
    "bytes": wire.as_bytes(),
    "nonce": wire.as_bytes(wire.NONCE_LENGTH),
    "int": wire.as_int(0, 2**63 - 1),
    "proofs": wire.as_list(wire.as_bytes(wire.MAC_LENGTH), paging.MAX_PROOFS),
    "thread": wire.as_thread_id,
    "peer": wire.as_peer_id,
    "cid": wire.as_cid,
    "envelope": wire.as_envelope,
    "text": wire.as_text(256),
}


# --- any bytes -----------------------------------------------------------------------------


@settings(max_examples=200)
@given(st.binary(max_size=600), st.lists(st.integers(min_value=0), max_size=8))
def test_arbitrary_bytes_give_messages_a_clean_end_or_a_protocol_error(data: bytes, cuts: list[int]) -> None:
    try:
        got = read_all(ChunkStream(split(data, cuts)))
    except ProtocolError:
        return
    for message in got:
        assert isinstance(message, dict) and isinstance(message["t"], str)


@settings(max_examples=60)
@given(st.lists(messages, min_size=1, max_size=4), st.binary(max_size=40), st.lists(st.integers(min_value=0),
                                                                                     max_size=8))
def test_arbitrary_bytes_after_good_messages_still_give_them_first(
        sent: list[dict[str, Any]], tail: bytes, cuts: list[int]) -> None:
    data = b"".join(wire.frame(m) for m in sent) + tail
    reader = wire.MessageReader(ChunkStream(split(data, cuts)))
    for message in sent:
        assert run(reader.read()) == message
    try:
        drain(reader)
    except ProtocolError:
        pass


@settings(max_examples=100)
@given(st.lists(messages, min_size=1, max_size=3),
       st.lists(st.tuples(st.integers(min_value=0), st.binary(max_size=3)), min_size=1, max_size=4),
       st.lists(st.integers(min_value=0), max_size=6))
def test_corrupted_frames_give_messages_a_clean_end_or_a_protocol_error(
        sent: list[dict[str, Any]], edits: list[tuple[int, bytes]], cuts: list[int]) -> None:
    data = bytearray(b"".join(wire.frame(m) for m in sent))
    for position, replacement in edits:  # each replaces one byte with 0-3 bytes
        at = position % len(data)
        data[at:at + 1] = replacement
        if not data:
            break
    try:
        got = read_all(ChunkStream(split(bytes(data), cuts)))
    except ProtocolError:
        return
    for message in got:
        assert isinstance(message, dict) and isinstance(message["t"], str)


# --- round trip ----------------------------------------------------------------------------


@settings(max_examples=100)
@given(st.lists(messages, max_size=5), st.lists(st.integers(min_value=0), max_size=12))
def test_framed_messages_read_back_equal_however_the_bytes_arrive(
        sent: list[dict[str, Any]], cuts: list[int]) -> None:
    data = b"".join(wire.frame(m) for m in sent)
    assert read_all(ChunkStream(split(data, cuts))) == sent


@settings(max_examples=60)
@given(messages)
def test_a_frame_is_the_uvarint_length_of_the_canonical_encoding(message: dict[str, Any]) -> None:
    body = cbor.encode(message)
    assert wire.frame(message) == uvarint(len(body)) + body


def test_a_message_too_large_to_send_is_refused_before_it_is_framed() -> None:
    with pytest.raises(ProtocolError, match="exceeds"):
        wire.frame({"t": "push", "records": b"\0" * paging.MAX_MESSAGE_BYTES})


# --- lengths -------------------------------------------------------------------------------


@settings(max_examples=100)
@given(st.integers(min_value=paging.MAX_MESSAGE_BYTES + 1, max_value=2**70 - 1),
       st.lists(st.integers(min_value=0), max_size=4))
def test_an_oversized_length_is_refused_before_the_body_is_read(length: int, cuts: list[int]) -> None:
    prefix = uvarint(length)
    stream = ChunkStream(split(prefix, cuts), strict=True)  # no body at all: a read past the prefix fails
    with pytest.raises(ProtocolError, match=r"exceeds|uvarint"):
        run(wire.MessageReader(stream).read())


@given(st.integers(min_value=65, max_value=10_000))
def test_a_reader_limit_below_the_default_is_enforced_the_same_way(length: int) -> None:
    stream = ChunkStream([uvarint(length)], strict=True)
    with pytest.raises(ProtocolError, match="exceeds the limit of 64"):
        run(wire.MessageReader(stream, limit=64).read())


@given(st.integers(min_value=11, max_value=40))
def test_a_length_of_more_than_ten_uvarint_bytes_is_refused(count: int) -> None:
    stream = ChunkStream([b"\xff" * count], strict=True)
    with pytest.raises(ProtocolError, match="uvarint"):
        run(wire.MessageReader(stream).read())


@settings(max_examples=60)
@given(messages, st.integers(min_value=1, max_value=64))
def test_a_stream_that_ends_inside_a_message_is_an_error_not_an_end(message: dict[str, Any], cut: int) -> None:
    data = wire.frame(message)
    truncated = data[:max(1, len(data) - cut)]
    with pytest.raises(ProtocolError, match="ended inside"):
        read_all(ChunkStream([truncated]))


def test_an_empty_stream_is_a_clean_end_and_an_empty_message_is_not() -> None:
    assert read_all(ChunkStream([])) == []
    with pytest.raises(ProtocolError, match="not valid DAG-CBOR"):
        read_all(ChunkStream([b"\x00"]))


# --- shape -------------------------------------------------------------------------------


@pytest.mark.parametrize("value", [
    [1, 2, 3], "hello", 7, None, b"bytes", {}, {"type": "hello"}, {"t": 7}, {"t": b"hello"}, {"t": None},
    {"t": ["hello"]},
], ids=repr)
def test_valid_cbor_that_is_not_a_map_with_a_string_type_is_refused(value: object) -> None:
    body = cbor.encode(value)
    with pytest.raises(ProtocolError, match="a map with a string type"):
        read_all(ChunkStream([uvarint(len(body)) + body]))


def test_a_message_nested_deeper_than_eight_levels_is_refused() -> None:
    deep: Any = 1
    for _ in range(8):
        deep = [deep]
    body = cbor.encode({"t": "x", "v": deep})  # nine levels with the message map
    with pytest.raises(ProtocolError, match="deeper"):
        read_all(ChunkStream([uvarint(len(body)) + body]))


# --- non-canonical CBOR --------------------------------------------------------------------


_WIDTHS = ((0x18, 1), (0x19, 2), (0x1A, 4), (0x1B, 8))


def _head(major: int, n: int, *, loose: bool = False) -> bytes:
    """A CBOR head; `loose` spells it one size longer than needed (when a
    longer one exists)."""
    fits = [(info, width) for info, width in _WIDTHS if n < 1 << (8 * width)]
    if n < 24:
        if not loose:
            return bytes([major << 5 | n])
        info, width = fits[0]
    else:
        info, width = fits[1] if loose and len(fits) > 1 else fits[0]
    return bytes([major << 5 | info]) + n.to_bytes(width, "big")


def _encode(value: Any, *, unsorted: bool = False, loose: bool = False, indefinite: bool = False) -> bytes:
    """A small CBOR encoder that can break one rule of DAG-CBOR on request
    (and otherwise matches cbor.encode, checked below)."""
    if value is None:
        return b"\xf6"
    if isinstance(value, bool):
        return b"\xf5" if value else b"\xf4"
    if isinstance(value, int):
        major, n = (0, value) if value >= 0 else (1, -1 - value)
        return _head(major, n, loose=loose)
    if isinstance(value, bytes):
        return _head(2, len(value), loose=loose) + value
    if isinstance(value, str):
        raw = value.encode()
        return _head(3, len(raw), loose=loose) + raw
    if isinstance(value, list):
        items = b"".join(_encode(v, unsorted=unsorted, loose=loose) for v in value)
        return (b"\x9f" + items + b"\xff") if indefinite else _head(4, len(value), loose=loose) + items
    if isinstance(value, dict):
        keys = sorted(value, key=lambda k: (len(k.encode()), k.encode()), reverse=unsorted)
        items = b"".join(_encode(k, loose=loose) + _encode(value[k], unsorted=unsorted, loose=loose) for k in keys)
        return (b"\xbf" + items + b"\xff") if indefinite else _head(5, len(value), loose=loose) + items
    raise TypeError(type(value))


@settings(max_examples=60)
@given(messages)
def test_the_test_encoder_matches_the_codec_when_it_breaks_no_rule(message: dict[str, Any]) -> None:
    assert _encode(message) == cbor.encode(message)


def _refused(body: bytes) -> None:
    with pytest.raises(ProtocolError, match="not valid DAG-CBOR"):
        read_all(ChunkStream([uvarint(len(body)) + body]))


@settings(max_examples=60)
@given(messages.filter(lambda m: len(m) >= 2))
def test_map_keys_out_of_canonical_order_are_refused(message: dict[str, Any]) -> None:
    _refused(_encode(message, unsorted=True))


@settings(max_examples=60)
@given(messages)
def test_lengths_and_integers_spelt_longer_than_needed_are_refused(message: dict[str, Any]) -> None:
    _refused(_encode(message, loose=True))


@settings(max_examples=60)
@given(messages)
def test_indefinite_lengths_are_refused(message: dict[str, Any]) -> None:
    _refused(_encode(message, indefinite=True))


@settings(max_examples=60)
@given(messages, st.binary(min_size=1, max_size=8))
def test_bytes_after_the_value_inside_a_frame_are_refused(message: dict[str, Any], tail: bytes) -> None:
    _refused(cbor.encode(message) + tail)


def test_a_duplicated_key_is_refused() -> None:
    _refused(_head(5, 2) + _encode("t") + _encode("x") + _encode("t") + _encode("y"))


@pytest.mark.parametrize("value", [b"\xc1\x00", b"\xd8\x2a\x41\x00", b"\xd8\x2a\x40", b"\xf9\x3c\x00",
                                   b"\xfb\x7f\xf8\x00\x00\x00\x00\x00\x00"], ids=bytes.hex)
def test_foreign_tags_links_we_do_not_make_short_floats_and_nan_are_refused(value: bytes) -> None:
    _refused(_head(5, 2) + _encode("t") + _encode("x") + _encode("v") + value)


def test_a_float_is_dag_cbor_but_no_field_check_takes_it() -> None:
    body = _head(5, 2) + _encode("t") + _encode("x") + _encode("v") + b"\xfb\x3f\xf0\x00\x00\x00\x00\x00\x00"
    [message] = read_all(ChunkStream([uvarint(len(body)) + body]))
    assert message == {"t": "x", "v": 1.0}
    for check in _checks.values():
        with pytest.raises(ProtocolError):
            wire.field(message, "v", check)


# --- field checks ------------------------------------------------------------------------



@settings(max_examples=150)
@given(st.sampled_from(sorted(_checks)), _values(3))
def test_a_field_check_returns_or_raises_a_protocol_error_only(name: str, value: Any) -> None:
    try:
        wire.field({"t": "x", "f": value}, "f", _checks[name])
    except ProtocolError:
        pass


@given(st.sampled_from(sorted(_checks)))
def test_a_missing_field_is_a_protocol_error(name: str) -> None:
    with pytest.raises(ProtocolError, match="lacks"):
        wire.field({"t": "x"}, "f", _checks[name])


@given(st.dictionaries(st.text(max_size=6), st.none(), max_size=5), st.sets(st.text(max_size=6), max_size=5))
def test_only_refuses_exactly_the_fields_not_named(fields: dict[str, Any], allowed: set[str]) -> None:
    message = {**fields, "t": "x"}
    if set(message) - {"t"} <= allowed:
        wire.only(message, *allowed)
    else:
        with pytest.raises(ProtocolError, match="unknown fields"):
            wire.only(message, *allowed)


@pytest.mark.parametrize("value", [True, False, 1.0, -1, 2**63, "1"], ids=repr)
def test_an_integer_field_takes_neither_booleans_nor_floats_nor_out_of_range_values(value: object) -> None:
    with pytest.raises(ProtocolError):
        wire.field({"t": "x", "n": value}, "n", wire.as_int(0, 2**63 - 1))


# --- the reader within a node's budgets -------------------------------------------------------


@settings(max_examples=60, deadline=None)
@given(st.binary(max_size=300), st.lists(st.integers(min_value=0), max_size=6),
       st.integers(min_value=0, max_value=2 << 20))
def test_whatever_arrives_the_reader_gives_back_every_byte_it_reserved(
        data: bytes, cuts: list[int], declared: int) -> None:
    """Arbitrary bytes, then a message declared but cut short: messages, a
    clean end or a ProtocolError, and the shared budget is whole again."""
    node = Budgets(lambda _: False, Limits(partial_bytes_total=1 << 20, partial_bytes_per_address=1 << 20,
                                            stall_seconds=0.05, frame_base_seconds=0.05))

    async def main() -> None:
        reader = wire.MessageReader(ChunkStream(split(data + uvarint(declared) + b"x", cuts)), budgets=node,
                                    address="127.0.0.1")
        try:
            while await reader.read(idle_seconds=0.05) is not None:
                pass
        except ProtocolError:
            pass

    trio.run(main)
    assert node.partial.used == 0 and node.partial.by_address == {}


def test_a_message_larger_than_the_address_may_hold_is_refused_before_it_is_read() -> None:
    node = Budgets(lambda _: False, Limits(partial_bytes_per_address=1 << 20))

    async def main() -> None:
        stream = ChunkStream([uvarint(2 << 20) + b"x"], strict=True)
        reader = wire.MessageReader(stream, budgets=node, address="127.0.0.1")
        with pytest.raises(ProtocolError, match="busy: too many large messages"):
            await reader.read()
        assert stream.reads == 1

    trio.run(main)


# --- a blocks reply written in parts (transfer18) ---------------------------------------------

_block_lengths = st.sampled_from([0, 1, 23, 24, 255, 256, 65535, 65536, 70_000])


@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(st.binary(min_size=36, max_size=36), _block_lengths, st.integers(0, 255)), max_size=6))
def test_a_blocks_reply_in_parts_is_exactly_the_frame_of_the_reply(blocks: list[tuple[bytes, int, int]]) -> None:
    pairs = [(cid, bytes([fill]) * length) for cid, length, fill in blocks]
    parts = wire.blocks_frame(pairs)
    assert b"".join(parts) == wire.frame({"t": "blocks", "blocks": [[cid, data] for cid, data in pairs]})
    # Each block's data is a part of its own, the very object handed in: it is not copied.
    assert all(any(part is data for part in parts) for _cid, data in pairs if len(data) > 0)


def test_a_blocks_reply_in_parts_is_read_back_as_the_reply() -> None:
    pairs = [(bytes(36), b"x" * 300_000), (bytes([1]) * 36, b"y" * 5)]
    message = trio.run(wire.MessageReader(ChunkStream(wire.blocks_frame(pairs))).read)
    assert message == {"t": "blocks", "blocks": [list(p) for p in pairs]}


def test_a_blocks_reply_over_the_message_limit_is_refused_before_any_byte_is_written() -> None:
    with pytest.raises(ProtocolError):
        wire.blocks_frame([(bytes(36), bytes(1 << 20))] * 9)


def test_a_large_message_already_on_hand_is_taken_in_one_read() -> None:
    # A libp2p stream hands over what it holds, up to what is asked, and every
    # read costs a window update: the rest of a 4 MiB reply is asked for whole.
    body = cbor.encode({"t": "blocks", "blocks": [[bytes(36), bytes(4 << 20)]]})
    stream = ChunkStream([uvarint(len(body)) + body], strict=True)

    async def main() -> None:
        assert (await wire.MessageReader(stream).read())["t"] == "blocks"

    trio.run(main)
    assert stream.reads == 2  # the first megabyte (the length and a start), then all the rest


def test_a_large_reply_and_the_next_ones_first_bytes_in_one_read_both_arrive_whole() -> None:
    # Two block replies in flight: a read that finishes the first brings the
    # start of the second; it stays for the next message, not lost or copied in.
    first = wire.frame({"t": "blocks", "blocks": [[bytes(36), b"a" * 700_000]]})
    second = wire.frame({"t": "blocks", "blocks": [[bytes([1]) * 36, b"b" * 500_000]]})
    data = first + second
    stream = ChunkStream(split(data, [100, len(first) + 10_000, len(first) + 400_000]), strict=True)

    async def main() -> list[dict[str, Any] | None]:
        reader = wire.MessageReader(stream)
        return [await reader.read(), await reader.read()]

    got = trio.run(main)
    assert got == [{"t": "blocks", "blocks": [[bytes(36), b"a" * 700_000]]},
                   {"t": "blocks", "blocks": [[bytes([1]) * 36, b"b" * 500_000]]}]
