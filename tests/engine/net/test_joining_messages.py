"""The byte parsing of `/threads/join/1.0.0` against arbitrary input:
requests, answers and the frame limits both sides read with."""

from __future__ import annotations

from typing import Any

import pytest
import trio
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.engine.net.hostile import uvarint
from threads_desktop.engine.codec import cbor
from threads_desktop.engine.core.errors import PeerError, ProtocolError
from threads_desktop.engine.net import joining, wire
from threads_desktop.engine.net.joining import answer_message, parse_answer, parse_request, request_message

values = st.recursive(
    st.one_of(st.none(), st.booleans(), st.integers(-2**63, 2**64 - 1), st.binary(max_size=64), st.text(max_size=40)),
    lambda inner: st.one_of(st.lists(inner, max_size=6), st.dictionaries(st.text(max_size=8), inner, max_size=4)),
    max_leaves=12)
messages = st.one_of(
    st.dictionaries(st.sampled_from(["t", "request", "answer", "message", "x"]), values, max_size=4),
    st.fixed_dictionaries({"t": st.sampled_from(["join", "answer", "error"]),
                           "request": st.binary(max_size=5000)}),
    st.fixed_dictionaries({"t": st.sampled_from(["join", "answer", "error"]),
                           "answer": st.binary(max_size=9000)}),
    st.fixed_dictionaries({"t": st.just("error"), "message": st.text(max_size=600)}))


@given(messages)
def test_a_request_is_read_or_refused_with_a_protocol_error(message: dict[str, Any]) -> None:
    try:
        request = parse_request(message)
    except ProtocolError:
        return
    assert 0 < len(request) <= joining.MAX_REQUEST_BYTES
    assert message == request_message(request)


@given(messages)
def test_an_answer_is_read_or_refused_with_a_clear_error(message: dict[str, Any]) -> None:
    try:
        answer = parse_answer(message)
    except PeerError as exc:
        assert message["t"] == "error" and len(str(exc)) < 300
        return
    except ProtocolError:
        return
    assert 0 < len(answer) <= joining.MAX_ANSWER_BYTES
    assert message == answer_message(answer)


@given(st.binary(min_size=1, max_size=3000))
def test_requests_and_answers_round_trip_through_their_frames(payload: bytes) -> None:
    async def main() -> tuple[bytes, bytes]:
        request_frame = joining.frame(request_message(payload), joining.MAX_REQUEST_BYTES)
        answer_frame = joining.frame(answer_message(payload), joining.MAX_ANSWER_BYTES)
        request = await wire.MessageReader(_Bytes(request_frame), joining.MAX_REQUEST_BYTES).read()
        answer = await wire.MessageReader(_Bytes(answer_frame), joining.MAX_ANSWER_BYTES).read()
        assert request is not None and answer is not None
        return parse_request(request), parse_answer(answer)

    assert trio.run(main) == (payload, payload)


def test_a_request_larger_than_four_kib_is_never_framed_or_read() -> None:
    big = request_message(b"x" * joining.MAX_REQUEST_BYTES)
    with pytest.raises(ProtocolError, match="exceeds"):
        joining.frame(big, joining.MAX_REQUEST_BYTES)
    body = cbor.encode(big)

    async def main() -> None:
        await wire.MessageReader(_Bytes(uvarint(len(body)) + body), joining.MAX_REQUEST_BYTES).read()

    with pytest.raises(ProtocolError, match="exceeds"):
        trio.run(main)


@settings(max_examples=200, deadline=None)
@given(st.one_of(st.binary(max_size=600), messages.map(lambda m: uvarint(len(cbor.encode(m))) + cbor.encode(m))))
def test_any_bytes_read_as_a_request_give_a_request_or_a_protocol_error(sent: bytes) -> None:
    async def main() -> bytes | None:
        message = await wire.MessageReader(_Bytes(sent), joining.MAX_REQUEST_BYTES).read()
        return None if message is None else parse_request(message)

    try:
        request = trio.run(main)
    except ProtocolError:
        return
    assert request is None or 0 < len(request) <= joining.MAX_REQUEST_BYTES


class _Bytes:
    """One side of a stream as bytes already sent, then its end."""

    def __init__(self, data: bytes) -> None:
        self._data = data

    async def read(self, n: int) -> bytes:
        chunk, self._data = self._data[:n], self._data[n:]
        return chunk

    async def write(self, data: bytes) -> None:
        raise AssertionError("nothing is written here")

    async def close(self) -> None:
        pass
