"""Large yamux frames (engine/net/largeframes.py) between two real hosts on
127.0.0.1: a block goes in few frames and arrives byte for byte; small
writes keep py-libp2p's own path."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

import multiaddr
import trio
from libp2p.abc import IHost
from libp2p.peer.peerinfo import info_from_p2p_addr
from libp2p.stream_muxer.yamux.yamux import HEADER_SIZE, Yamux

from threads_desktop.engine.core.ids import PeerId
from threads_desktop.engine.core.keys import Identity
from threads_desktop.engine.net.host import Libp2pStream, build_host, listen_addresses, new_stream, set_handler

PROTOCOL = "/test/largeframes"


def _count_data_frames(host: IHost) -> list[int]:
    """The payload sizes of the DATA frames the host's one connection writes
    (yamux's own, and the large ones handed to the secure session in parts)."""
    sizes: list[int] = []
    conn = next(iter(host.get_network().connections.values()))
    conn = conn[0] if isinstance(conn, list) else conn
    muxer = conn.muxed_conn
    assert isinstance(muxer, Yamux)
    genuine = muxer._write_frame

    async def counted(data: bytes) -> None:
        if data[1] == 0 and len(data) > HEADER_SIZE:  # type 0: DATA
            sizes.append(len(data) - HEADER_SIZE)
        await genuine(data)

    session = muxer.secured_conn
    genuine_parts = session.write_parts  # a large frame's header and body (largeframes._write_frame)

    async def counted_parts(parts: tuple[bytes, memoryview]) -> None:
        header, body = parts
        assert header[1] == 0 and int.from_bytes(header[8:12], "big") == len(body)  # DATA, its length
        sizes.append(len(body))
        await genuine_parts(parts)

    muxer._write_frame = counted  # type: ignore[method-assign]
    session.write_parts = counted_parts  # type: ignore[attr-defined]
    return sizes


def _exchange(payloads: list[bytes], check: Callable[[list[bytes], list[int]], None]) -> None:
    async def main() -> None:
        a, b = build_host(Identity.generate()), build_host(Identity.generate())
        received: list[bytes] = []
        done = trio.Event()
        total = sum(len(p) for p in payloads)

        async def take(stream: Libp2pStream) -> None:
            data = b""
            for _ in range(total + 1):  # bounded: each read gives at least a byte
                if len(data) >= total:
                    break
                piece = await stream.read(1 << 20)
                assert piece
                data += piece
            received.append(data)
            done.set()

        handler: Callable[[Libp2pStream], Awaitable[None]] = take
        set_handler(b, PROTOCOL, handler)
        listen = [multiaddr.Multiaddr("/ip4/127.0.0.1/tcp/0")]
        async with a.run(listen_addrs=listen), b.run(listen_addrs=listen):
            await a.connect(info_from_p2p_addr(multiaddr.Multiaddr(listen_addresses(b)[0])))
            stream = await new_stream(a, PeerId(b.get_id().to_bytes()), PROTOCOL)
            sizes = _count_data_frames(a)
            for payload in payloads:
                await stream.write(payload)
            with trio.fail_after(20):
                await done.wait()
            check(received, sizes)
            with trio.CancelScope(shield=True):
                await a.close()
                await b.close()

    trio.run(main)


def test_a_block_goes_in_few_large_frames_and_arrives_byte_for_byte() -> None:
    blocks = [bytes([i]) * (1 << 20) + bytes(range(256)) for i in range(4)]

    def check(received: list[bytes], sizes: list[int]) -> None:
        assert received == [b"".join(blocks)]
        assert sum(sizes) == sum(len(b) for b in blocks)
        # 64 KiB frames would be 65 of them; the peer's window (256 KiB at
        # first, growing) bounds the first ones.
        assert len(sizes) <= 24
        assert max(sizes) > 64 << 10

    _exchange(blocks, check)


def test_small_writes_keep_yamuxs_own_frames() -> None:
    pieces = [bytes([i]) * 1000 for i in range(50)]

    def check(received: list[bytes], sizes: list[int]) -> None:
        assert received == [b"".join(pieces)]
        assert sizes == [1000] * 50

    _exchange(pieces, check)
