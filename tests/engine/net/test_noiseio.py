"""Noise in large pieces (engine/net/noiseio.py): the bytes Noise asks for
come out whole and in order, in fewer socket reads; two real hosts on
127.0.0.1 talk through it, large writes included."""

from __future__ import annotations

import itertools
import tracemalloc
from types import SimpleNamespace

import multiaddr
import pytest
import trio
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from hypothesis import given, settings
from hypothesis import strategies as st
from libp2p import new_host
from libp2p.abc import IHost, INetStream
from libp2p.crypto.ed25519 import create_new_key_pair
from libp2p.crypto.x25519 import create_new_key_pair as create_x25519_key_pair
from libp2p.custom_types import TProtocol
from libp2p.io.exceptions import ConnectionClosedError, IncompleteReadError
from libp2p.io.trio import TrioTCPStream
from libp2p.peer.peerinfo import info_from_p2p_addr
from libp2p.security.noise.io import MAX_PLAINTEXT_LENGTH
from libp2p.security.noise.transport import PROTOCOL_ID as NOISE_ID
from libp2p.security.noise.transport import Transport as NoiseTransport
from libp2p.stream_muxer.yamux.yamux import PROTOCOL_ID as YAMUX_ID
from libp2p.stream_muxer.yamux.yamux import Yamux
from noise.connection import NoiseConnection
from noise.exceptions import NoiseInvalidMessage

from threads_desktop.engine.core.ids import PeerId
from threads_desktop.engine.core.keys import Identity
from threads_desktop.engine.net.host import build_host, listen_addresses, new_stream, set_handler
from threads_desktop.engine.net.noisecipher import aead_of
from threads_desktop.engine.net.noiseio import (
    KEEP_BUFFER,
    NOISE_AESGCM,
    NOISE_AESGCM_ID,
    NOISE_CHACHAPOLY,
    CoalescedWrites,
    JoinedReads,
    ReadAhead,
    SpareBuffers,
)
from threads_desktop.engine.net.yamuxio import LeanYamux


class SocketChunks:
    """What a socket hands out: up to `n` bytes of what has arrived, per read."""

    def __init__(self, arrivals: list[bytes]) -> None:
        self._arrivals = [a for a in arrivals if a]
        self.reads = 0
        self.closed = False

    async def read(self, n: int | None = None) -> bytes:
        self.reads += 1
        if not self._arrivals:
            return b""
        head = self._arrivals[0]
        take = len(head) if n is None else n
        self._arrivals[0] = head[take:]
        if not self._arrivals[0]:
            self._arrivals.pop(0)
        return head[:take]

    async def close(self) -> None:
        self.closed = True


@settings(max_examples=80)
@given(st.binary(min_size=0, max_size=3000), st.lists(st.integers(0, 3000), max_size=8),
       st.lists(st.integers(1, 700), min_size=1, max_size=40), st.integers(1, 900))
def test_reads_give_every_byte_in_order_however_they_are_asked_and_arrive(
        data: bytes, cuts: list[int], asks: list[int], size: int) -> None:
    points = sorted({c % (len(data) + 1) for c in cuts} | {0, len(data)})
    socket = SocketChunks([data[a:b] for a, b in itertools.pairwise(points)])
    reader = ReadAhead(socket, size)

    async def main() -> bytes:
        got = bytearray()
        for i in range(len(data) + 2):  # bounded: every read but the last gives a byte
            piece = await reader.read(asks[i % len(asks)])
            assert len(piece) <= asks[i % len(asks)]
            if not piece:
                return bytes(got)
            got += piece
        raise AssertionError("the reader never ended")

    assert trio.run(main) == data


@settings(max_examples=80)
@given(st.binary(min_size=0, max_size=3000), st.lists(st.integers(0, 3000), max_size=8),
       st.lists(st.integers(1, 900), min_size=1, max_size=40), st.integers(1, 900))
def test_exact_reads_give_each_piece_whole_and_in_order_then_an_error_at_the_end(
        data: bytes, cuts: list[int], asks: list[int], size: int) -> None:
    points = sorted({c % (len(data) + 1) for c in cuts} | {0, len(data)})
    reader = ReadAhead(SocketChunks([data[a:b] for a, b in itertools.pairwise(points)]), size)

    async def main() -> None:
        at = 0
        for i in range(len(data) + 1):  # bounded: a read of n > 0 takes n bytes
            ask = asks[i % len(asks)]
            if at + ask > len(data):
                with pytest.raises(IncompleteReadError):
                    await reader.read_exactly(ask)
                return
            assert bytes(await reader.read_exactly(ask)) == data[at:at + ask]
            at += ask
        raise AssertionError("the reads never ended")

    trio.run(main)


def test_small_reads_are_served_from_one_large_socket_read() -> None:
    # Noise reads a 2-byte length, then the body: 200 frames of 1,000 bytes.
    frames = [len(b"x" * 998).to_bytes(2, "big") + b"x" * 998 for _ in range(200)]
    socket = SocketChunks([b"".join(frames)])
    reader = ReadAhead(socket, 64 << 10)

    async def exactly(n: int) -> bytes:  # as py-libp2p's read_exactly asks (io/utils.py:47)
        got = b""
        for _ in range(n):
            if len(got) == n:
                break
            got += await reader.read(n - len(got))
        return got

    async def main() -> None:
        for _ in range(200):
            length = int.from_bytes(await exactly(2), "big")
            assert await exactly(length) == b"x" * 998

    trio.run(main)
    assert socket.reads <= 4  # 200 KB in 64 KiB socket reads, not 400 reads


def test_everything_but_reading_is_the_streams_own() -> None:
    socket = SocketChunks([])
    trio.run(ReadAhead(socket).close)
    assert socket.closed


def test_two_hosts_on_loopback_talk_through_sockets_read_ahead() -> None:
    async def main() -> None:
        a, b = build_host(Identity.generate()), build_host(Identity.generate())
        got: list[bytes] = []
        done = trio.Event()

        async def echo(stream: object) -> None:
            from threads_desktop.engine.net.host import Libp2pStream
            assert isinstance(stream, Libp2pStream)
            data = b""
            while len(data) < 3 << 20:
                piece = await stream.read(1 << 20)
                assert piece
                data += piece
            got.append(data)
            await stream.write(data[:1000])
            done.set()

        set_handler(b, "/test/noiseio", echo)
        listen = [multiaddr.Multiaddr("/ip4/127.0.0.1/tcp/0")]
        async with a.run(listen_addrs=listen), b.run(listen_addrs=listen):
            await a.connect(info_from_p2p_addr(multiaddr.Multiaddr(listen_addresses(b)[0])))
            stream = await new_stream(a, PeerId(b.get_id().to_bytes()), "/test/noiseio")
            payload = bytes(range(256)) * (3 << 12)
            await stream.write(payload)
            with trio.fail_after(20):
                await done.wait()
                answer = await stream.read(1000)
            assert got == [payload] and answer == payload[:1000]
            for host in (a, b):
                conn = next(iter(host.get_network().connections.values()))
                conn = conn[0] if isinstance(conn, list) else conn
                raw = conn.muxed_conn.secured_conn.conn.read_writer.read_write_closer
                assert isinstance(raw.stream, ReadAhead)
                assert isinstance(raw.stream._stream, TrioTCPStream)
                assert type(conn.muxed_conn.secured_conn.conn) is CoalescedWrites
                assert type(conn.muxed_conn.secured_conn) is JoinedReads
                assert type(conn.muxed_conn) is LeanYamux
                assert conn.muxed_conn.secured_conn.spares is conn.muxed_conn.secured_conn.conn.spares
                # our Noise, with AES-GCM both ways
                assert conn.muxed_conn.secured_conn.negotiated_security_protocol == NOISE_AESGCM_ID
                protocol = conn.muxed_conn.secured_conn.conn.noise_state.noise_protocol
                assert protocol.name == NOISE_AESGCM
                for state in (protocol.cipher_state_encrypt, protocol.cipher_state_decrypt):
                    assert isinstance(aead_of(state), AESGCM)
            with trio.CancelScope(shield=True):
                await a.close()
                await b.close()

    trio.run(main)


def _plain_libp2p_host() -> IHost:
    """A py-libp2p host as the library makes it: libp2p's Noise (ChaChaPoly) only."""
    key_pair = create_new_key_pair()
    return new_host(key_pair=key_pair,
                    sec_opt={NOISE_ID: NoiseTransport(key_pair, noise_privkey=create_x25519_key_pair().private_key)},
                    muxer_opt={TProtocol(YAMUX_ID): Yamux})


@pytest.mark.parametrize("we_dial", [True, False])
def test_a_peer_with_only_libp2ps_noise_still_connects_and_talks(we_dial: bool) -> None:
    async def main() -> None:
        ours, theirs = build_host(Identity.generate()), _plain_libp2p_host()

        size = 300 << 10  # past one Noise message each way: libp2p's cipher sealed and opened in place too

        async def read_all(stream: INetStream) -> bytes:
            data = b""
            while len(data) < size:
                piece = await stream.read(size - len(data))
                assert piece
                data += piece
            return data

        async def echo(stream: INetStream) -> None:
            await stream.write((await read_all(stream))[::-1])
            await stream.close()

        ours.set_stream_handler(TProtocol("/test/echo"), echo)
        theirs.set_stream_handler(TProtocol("/test/echo"), echo)
        listen = [multiaddr.Multiaddr("/ip4/127.0.0.1/tcp/0")]
        async with ours.run(listen_addrs=listen), theirs.run(listen_addrs=listen):
            dialer, dialed = (ours, theirs) if we_dial else (theirs, ours)
            address = f"{dialed.get_transport_addrs()[0]}/p2p/{dialed.get_id()}"
            with trio.fail_after(20):
                await dialer.connect(info_from_p2p_addr(multiaddr.Multiaddr(address)))
                stream = await dialer.new_stream(dialed.get_id(), [TProtocol("/test/echo")])
                payload = bytes(range(256)) * (size // 256)
                await stream.write(payload)
                assert await read_all(stream) == payload[::-1]
            conn = ours.get_network().get_connections(theirs.get_id())[0]
            assert conn.muxed_conn.secured_conn.negotiated_security_protocol == NOISE_ID
            assert conn.muxed_conn.secured_conn.conn.noise_state.noise_protocol.name == NOISE_CHACHAPOLY
            with trio.CancelScope(shield=True):
                await ours.close()
                await theirs.close()

    trio.run(main)


class NoiseMessages:
    """A Noise transport's read side: opened messages, then b"" at the end."""

    def __init__(self, messages: list[bytes]) -> None:
        self._messages = list(messages)

    async def read_msg(self) -> bytes:
        return self._messages.pop(0) if self._messages else b""


def _session(messages: list[bytes]) -> JoinedReads:
    session = JoinedReads.__new__(JoinedReads)  # its keys and peers play no part in reading
    session.conn = NoiseMessages(messages)  # type: ignore[assignment]
    session._reset_internal_buffer()
    return session


@settings(max_examples=60)
@given(st.lists(st.integers(1, 70_000), min_size=1, max_size=12), st.lists(st.integers(1, 300_000), max_size=8))
def test_large_reads_join_noise_messages_and_keep_what_follows(sizes: list[int], asks: list[int]) -> None:
    messages = [bytes([i % 251]) * size for i, size in enumerate(sizes)]
    data = b"".join(messages)
    session = _session(messages)

    async def main() -> bytes:
        got = b""
        for ask in [*asks, len(data)]:
            if len(got) == len(data):
                break
            got += await session.read(min(ask, len(data) - len(got)))
        return got

    assert trio.run(main) == data


def test_a_large_read_cut_short_by_the_end_gives_what_came_then_the_end_is_an_error() -> None:
    session = _session([b"a" * 70_000, b"b" * 5])

    async def main() -> None:
        assert await session.read(200_000) == b"a" * 70_000 + b"b" * 5
        with pytest.raises(ConnectionClosedError):
            await session.read(200_000)

    trio.run(main)


def _noise_pair(cipher: str = "ChaChaPoly") -> tuple[NoiseConnection, NoiseConnection]:
    """Two ends of a finished Noise handshake, in memory; `cipher` as Noise names it."""
    ends = []
    for initiator in (True, False):
        end = NoiseConnection.from_name(f"Noise_NN_25519_{cipher}_SHA256".encode())
        end.set_as_initiator() if initiator else end.set_as_responder()
        end.start_handshake()
        ends.append(end)
    sender, receiver = ends
    receiver.read_message(sender.write_message())
    sender.read_message(receiver.write_message())
    return sender, receiver


def _reader(receiver: NoiseConnection, arrivals: list[bytes], read_ahead: int = 1000) -> CoalescedWrites:
    """Our Noise reader over a socket that hands out `arrivals`, `read_ahead` bytes at most per read."""
    reader = CoalescedWrites.__new__(CoalescedWrites)  # its handshake already done (above)
    reader.noise_state = receiver
    reader.read_writer = SimpleNamespace(read_write_closer=SimpleNamespace(
        stream=ReadAhead(SocketChunks(arrivals), read_ahead)))  # type: ignore[assignment]
    return reader


@settings(max_examples=40)
@given(st.lists(st.binary(max_size=3000), min_size=1, max_size=6), st.lists(st.integers(0, 20_000), max_size=6))
def test_noise_messages_open_where_they_landed_however_the_socket_cut_them(
        messages: list[bytes], cuts: list[int]) -> None:
    sender, receiver = _noise_pair()
    wire = b"".join(len(sealed).to_bytes(2, "big") + sealed for sealed in map(sender.encrypt, messages))
    points = sorted({c % (len(wire) + 1) for c in cuts} | {0, len(wire)})
    reader = _reader(receiver, [wire[a:b] for a, b in itertools.pairwise(points)])

    async def main() -> None:
        for message in messages:
            assert await reader.read_msg() == message
        with pytest.raises(IncompleteReadError):  # the end, as py-libp2p says it: yamux ends cleanly on it
            await reader.read_msg()

    trio.run(main)


def test_a_tampered_noise_message_is_refused() -> None:
    sender, receiver = _noise_pair()
    sealed = bytearray(sender.encrypt(b"hello"))
    sealed[3] ^= 1
    reader = _reader(receiver, [len(sealed).to_bytes(2, "big") + bytes(sealed)])
    with pytest.raises(NoiseInvalidMessage):
        trio.run(reader.read_msg)


class SocketWrites:
    """A socket's write side: what was written, copied as it was written."""

    def __init__(self) -> None:
        self.written: list[bytes] = []

    async def write(self, data: bytes | memoryview) -> None:
        self.written.append(bytes(data))


def _writer(sender: NoiseConnection) -> tuple[CoalescedWrites, SocketWrites]:
    writer = CoalescedWrites.__new__(CoalescedWrites)  # its handshake already done (_noise_pair)
    writer.noise_state = sender
    writer.spares = SpareBuffers()
    socket = SocketWrites()
    writer.read_writer = SimpleNamespace(read_write_closer=socket)  # type: ignore[assignment]
    return writer, socket


def _opened(receiver: NoiseConnection, wire: bytes) -> list[bytes]:
    """Each Noise message of `wire` opened by the `noise` library itself."""
    messages, at = [], 0
    while at < len(wire):
        length = int.from_bytes(wire[at:at + 2], "big")
        messages.append(receiver.decrypt(wire[at + 2:at + 2 + length]))
        at += 2 + length
    return messages


@settings(max_examples=30, deadline=None)
@given(st.lists(st.lists(st.integers(0, 200_000), min_size=1, max_size=3), min_size=1, max_size=3),
       st.sampled_from(["ChaChaPoly", "AESGCM"]))
def test_large_writes_are_noise_messages_the_library_opens_each_part_in_its_own(
        writes: list[list[int]], cipher: str) -> None:
    sender, receiver = _noise_pair(cipher)
    writer, socket = _writer(sender)
    made = [[bytes([(w * 7 + p) % 256]) * size for p, size in enumerate(sizes)] for w, sizes in enumerate(writes)]

    async def main() -> None:
        for parts in made:  # one after another: the second reuses the first's buffer
            await writer.write_parts(parts)

    trio.run(main)
    assert len(socket.written) == len(made)  # one socket write each
    for parts, wire in zip(made, socket.written, strict=True):
        messages = _opened(receiver, wire)
        assert b"".join(messages) == b"".join(parts)
        assert all(len(m) <= MAX_PLAINTEXT_LENGTH for m in messages)
        assert len(messages) == sum(-(-len(p) // MAX_PLAINTEXT_LENGTH) for p in parts)  # no message spans two parts


@settings(max_examples=40, deadline=None)
@given(st.lists(st.integers(1, MAX_PLAINTEXT_LENGTH), min_size=1, max_size=12),  # py-libp2p takes b"" for the end
       st.lists(st.integers(0, 900_000), max_size=6), st.lists(st.integers(1, 300_000), min_size=1, max_size=6),
       st.sampled_from([1000, 1 << 20]),  # messages cut across socket reads, or many whole in one
       st.sampled_from(["ChaChaPoly", "AESGCM"]))
def test_large_reads_open_real_noise_messages_in_place_however_the_socket_cut_them(
        sizes: list[int], cuts: list[int], asks: list[int], read_ahead: int, cipher: str) -> None:
    sender, receiver = _noise_pair(cipher)
    messages = [bytes([i % 251]) * size for i, size in enumerate(sizes)]
    data = b"".join(messages)
    wire = b"".join(len(sealed).to_bytes(2, "big") + sealed for sealed in map(sender.encrypt, messages))
    points = sorted({c % (len(wire) + 1) for c in cuts} | {0, len(wire)})
    session = JoinedReads.__new__(JoinedReads)  # its keys and peers play no part in reading
    session.conn = _reader(receiver, [wire[a:b] for a, b in itertools.pairwise(points)], read_ahead)
    session.spares = SpareBuffers()  # a buffer kept from a longer read is longer than the next one
    session._reset_internal_buffer()

    async def main() -> bytes:
        got = b""
        for i in range(len(data) + 1):  # bounded: each read gives at least a byte
            if len(got) == len(data):
                return got
            got += await session.read(min(asks[i % len(asks)], len(data) - len(got)))
        raise AssertionError("the reads never ended")

    assert trio.run(main) == data


@pytest.mark.parametrize("cipher", ["ChaChaPoly", "AESGCM"])
@pytest.mark.parametrize("read_ahead", [1000, 1 << 20])
def test_a_tampered_message_inside_a_large_read_is_refused(read_ahead: int, cipher: str) -> None:
    sender, receiver = _noise_pair(cipher)
    sealed = [bytearray(sender.encrypt(b"x" * MAX_PLAINTEXT_LENGTH)) for _ in range(3)]
    sealed[1][100] ^= 1
    session = JoinedReads.__new__(JoinedReads)
    session.conn = _reader(receiver, [b"".join(len(s).to_bytes(2, "big") + bytes(s) for s in sealed)], read_ahead)
    session._reset_internal_buffer()
    with pytest.raises(NoiseInvalidMessage):
        trio.run(session.read, 3 * MAX_PLAINTEXT_LENGTH)


def test_spare_buffers_lend_each_buffer_once_and_keep_a_bounded_few() -> None:
    spares = SpareBuffers(keep=2)
    first, second = spares.take(100), spares.take(100)
    assert first is not second
    for buffer in (first, second, bytearray(100)):
        spares.give(buffer)
    assert spares.take(50) is first and spares.take(100) is second  # kept, then lent out again
    assert spares.take(100) is not first  # the third was not kept
    spares.give(bytearray(KEEP_BUFFER + 1))
    assert len(spares.take(10)) == 10  # a buffer too large to keep was dropped


def test_the_messages_one_socket_read_brought_open_without_another_read() -> None:
    sender, receiver = _noise_pair()
    messages = [bytes([i]) * 50_000 for i in range(8)]
    socket = SocketChunks([b"".join(len(s).to_bytes(2, "big") + s for s in map(sender.encrypt, messages))])
    reader = _reader(receiver, [], 1 << 20)
    reader.read_writer.read_write_closer.stream = ReadAhead(socket, 1 << 20)
    session = JoinedReads.__new__(JoinedReads)
    session.conn = reader
    session._reset_internal_buffer()
    assert trio.run(session.read, 400_000) == b"".join(messages)
    assert socket.reads == 1


def test_a_frame_claimed_far_longer_than_what_comes_costs_memory_by_what_came() -> None:
    # A yamux DATA header may claim up to 4 GiB (py-libp2p reads the body before it checks the window):
    # the buffer follows the bytes that arrive, not the length claimed.
    sender, receiver = _noise_pair()
    sealed = [sender.encrypt(bytes([i]) * MAX_PLAINTEXT_LENGTH) for i in range(3)]
    session = JoinedReads.__new__(JoinedReads)
    session.conn = _reader(receiver, [b"".join(len(s).to_bytes(2, "big") + s for s in sealed)], 1 << 20)
    session.spares = SpareBuffers()
    session._reset_internal_buffer()
    tracemalloc.start()
    try:
        with pytest.raises(IncompleteReadError):  # the connection ends inside the frame, as py-libp2p says it
            trio.run(session.read, 1 << 30)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 16 << 20, peak


def test_a_frame_longer_than_a_kept_buffer_is_read_whole_in_pieces() -> None:
    sender, receiver = _noise_pair()
    messages = [bytes([i]) * MAX_PLAINTEXT_LENGTH for i in range(2 * (KEEP_BUFFER // MAX_PLAINTEXT_LENGTH) + 5)]
    session = JoinedReads.__new__(JoinedReads)
    session.conn = _reader(receiver, [b"".join(len(s).to_bytes(2, "big") + s for s in map(sender.encrypt, messages))],
                           1 << 20)
    session.spares = SpareBuffers()
    session._reset_internal_buffer()
    data = b"".join(messages)
    assert len(data) > 2 * KEEP_BUFFER
    assert trio.run(session.read, len(data)) == data
