"""The byte parsing of `/threads/dialback/1.0.0` against arbitrary input:
addresses, requests, replies, and a whole request stream served."""

from __future__ import annotations

import ipaddress
from typing import Any

import pytest
import trio
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.engine.net.hostile import uvarint
from threads_desktop.engine.codec import cbor
from threads_desktop.engine.core.errors import PeerError, ProtocolError
from threads_desktop.engine.core.ids import PeerId
from threads_desktop.engine.core.keys import Identity
from threads_desktop.engine.net import dialback, wire
from threads_desktop.engine.net.dialback import (
    DialBackAnswer,
    DialBackServer,
    TcpAddress,
    parse_address,
    parse_reply,
    parse_request,
    reply_message,
    request_message,
)

ips = st.one_of(st.ip_addresses(v=4), st.ip_addresses(v=6))
tcp_addresses = st.builds(TcpAddress, ips, st.integers(1, 65535))
texts = st.one_of(
    st.text(max_size=80),
    st.builds(lambda v, ip, p: f"/{v}/{ip}/tcp/{p}", st.sampled_from(["ip4", "ip6", "dns4", "ip"]),
              st.one_of(ips.map(str), st.text(max_size=20)), st.one_of(st.integers(-5, 70000).map(str),
                                                                        st.text(max_size=6))))
values = st.recursive(
    st.one_of(st.none(), st.booleans(), st.integers(-2**63, 2**64 - 1), st.binary(max_size=40), texts),
    lambda inner: st.one_of(st.lists(inner, max_size=6), st.dictionaries(st.text(max_size=8), inner, max_size=4)),
    max_leaves=12)
messages = st.one_of(
    st.dictionaries(st.sampled_from(["t", "addrs", "observed", "results", "message", "x"]), values, max_size=5),
    st.fixed_dictionaries({"t": st.sampled_from(["dialback", "error"]),
                           "addrs": st.lists(texts, max_size=6)}),
    st.fixed_dictionaries({"t": st.just("dialback"), "observed": texts,
                           "results": st.lists(st.integers(-1, 4), max_size=6)}))


@given(tcp_addresses)
def test_every_tcp_address_reads_back_as_written(address: TcpAddress) -> None:
    assert parse_address(str(address)) == address


@given(texts)
def test_an_address_is_read_strictly_or_refused(text: str) -> None:
    try:
        address = parse_address(text)
    except ProtocolError:
        return
    assert str(address) == text  # only the canonical spelling is taken
    assert 1 <= address.port <= 65535 and isinstance(address.ip, ipaddress.IPv4Address | ipaddress.IPv6Address)


@given(messages)
def test_a_request_is_read_or_refused_with_a_protocol_error(message: dict[str, Any]) -> None:
    try:
        addresses = parse_request(message)
    except ProtocolError:
        return
    assert 1 <= len(addresses) <= dialback.MAX_ADDRESSES
    assert parse_request(request_message(addresses)) == addresses


@given(messages, st.integers(0, 5))
def test_a_reply_is_read_or_refused_with_a_clear_error(message: dict[str, Any], asked: int) -> None:
    try:
        answer = parse_reply(message, asked)
    except (ProtocolError, PeerError):
        return
    assert len(answer.results) == asked
    assert parse_reply(reply_message(answer), asked) == answer


@given(st.lists(tcp_addresses, min_size=1, max_size=4), tcp_addresses, st.data())
def test_requests_and_replies_round_trip(addresses: list[TcpAddress], observed: TcpAddress, data: Any) -> None:
    assert parse_request(request_message(addresses)) == addresses
    results = tuple(data.draw(st.lists(st.integers(0, 2), min_size=len(addresses), max_size=len(addresses))))
    answer = DialBackAnswer(observed, results)
    assert parse_reply(reply_message(answer), len(addresses)) == answer


class BytesStream:
    """The asker's side as bytes: what it sent, then the end; what the
    server writes is kept."""

    def __init__(self, sent: bytes, remote: PeerId) -> None:
        self._sent = sent
        self.written: list[bytes] = []
        self.closed = False
        self._remote = remote

    @property
    def remote(self) -> PeerId:
        return self._remote

    @property
    def remote_address(self) -> tuple[str, int] | None:
        return ("127.0.0.1", 40000)

    async def read(self, n: int) -> bytes:
        chunk, self._sent = self._sent[:n], self._sent[n:]
        return chunk

    async def write(self, data: bytes) -> None:
        self.written.append(data)

    async def close(self) -> None:
        self.closed = True


ASKER = Identity.generate().peer_id
framed_messages = messages.map(lambda m: uvarint(len(cbor.encode(m))) + cbor.encode(m))


@settings(max_examples=200, deadline=None)
@given(st.one_of(st.binary(max_size=600), framed_messages, st.lists(framed_messages, max_size=3).map(b"".join)))
def test_any_bytes_get_at_most_one_reply_and_dial_only_the_askers_ip(sent: bytes) -> None:
    dialled: list[TcpAddress] = []

    async def dial(target: TcpAddress, peer: PeerId) -> bool:
        dialled.append(target)
        return False  # nothing is dialled for real here: 127.0.0.1 is only named

    async def main() -> BytesStream:
        stream = BytesStream(sent, ASKER)
        server = DialBackServer(proven=lambda p: p == ASKER, dial=dial)
        with trio.fail_after(10):
            await server.serve(stream)
        return stream

    stream = trio.run(main)
    assert stream.closed and len(stream.written) <= 1
    assert all(str(t.ip) == "127.0.0.1" for t in dialled) and len(dialled) <= dialback.MAX_ADDRESSES


def test_an_oversized_request_is_refused_unread() -> None:
    body = cbor.encode({"t": "dialback", "addrs": ["/ip4/127.0.0.1/tcp/1"] * 40})
    stream = BytesStream(uvarint(len(body)) + body, ASKER)

    async def main() -> dict[str, Any] | None:
        server = DialBackServer(proven=lambda p: True, dial=dialback.noise_dial)
        await server.serve(stream)
        [reply] = stream.written
        return await wire.MessageReader(BytesStream(reply, ASKER)).read()

    reply = trio.run(main)
    assert reply is not None
    with pytest.raises(PeerError, match="exceeds"):
        parse_reply(reply, 1)
