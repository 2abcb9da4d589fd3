"""Yamux that hands a large frame to its reader without copying it.

py-libp2p's yamux copies every DATA frame's body four times on its way to a
stream's reader: `read_exactly` grows a bytearray and copies it out
(io/utils.py:46-55, from `_read_data_body`, yamux.py:1177-1180), the
stream's bytearray buffer copies it in (:1542), and `read_stream` copies it
out (:1110-1116). For a photo transfer in 1 MiB frames (largeframes.py)
those were four of the receiver's dozen copies of each byte, each out of the
CPU's caches (docs/LIBP2P-NOTES.md, transfer18d). Here a frame's body is
read in one piece when the secure session has it whole (noiseio.JoinedReads
joins a large read once), and a stream's buffer keeps the frames it was given
and hands a whole frame back as it came. Nothing on the wire changes."""

from __future__ import annotations

from collections import deque
from typing import Any, SupportsIndex

import trio
from libp2p.abc import IMuxedConn, ISecureConn
from libp2p.io.utils import read_exactly
from libp2p.peer.id import ID
from libp2p.stream_muxer.muxer_multistream import MuxerMultistream
from libp2p.stream_muxer.yamux.yamux import Yamux, _yamux_data_read_timeout

SMALL_PIECE = 16 << 10  # bytes: pieces under this are gathered into one, so tiny frames cost no object each


class Frames:
    """A stream's unread bytes as the frames that brought them: the part of
    bytearray's interface yamux.py uses (len, truth, extend, clear,
    `buffer[:n]`, `del buffer[:n]`, `bytes(buffer)`). A large frame is kept
    as the object it came in; small ones are gathered into a bytearray, so a
    peer sending one-byte frames costs memory by bytes, as before."""

    __slots__ = ("_parts", "_size", "_skip")

    def __init__(self, data: bytes | bytearray = b"") -> None:
        self._parts: deque[bytes | bytearray] = deque()
        self._size = 0
        self._skip = 0  # bytes of the first part already read
        self.extend(data)

    def __len__(self) -> int:
        return self._size

    def extend(self, data: bytes | bytearray | memoryview) -> None:
        if not data:
            return
        if len(data) < SMALL_PIECE:
            tail = self._parts[-1] if self._parts else None
            if isinstance(tail, bytearray):
                tail += data
            else:
                self._parts.append(bytearray(data))
        else:
            self._parts.append(data if isinstance(data, bytes) else bytes(data))
        self._size += len(data)

    def first_size(self) -> int:
        """Bytes of the first piece still unread: a large frame as it came, or small ones gathered."""
        return len(self._parts[0]) - self._skip if self._parts else 0

    def clear(self) -> None:
        self._parts.clear()
        self._size = self._skip = 0

    def __bytes__(self) -> bytes:
        return self._take(self._size)

    def __getitem__(self, key: slice | SupportsIndex) -> bytes:
        if not isinstance(key, slice) or key.start not in (None, 0) or key.step not in (None, 1):
            raise TypeError("a stream buffer is read from its start only")
        return self._take(self._size if key.stop is None else max(0, min(int(key.stop), self._size)))

    def __delitem__(self, key: slice) -> None:
        if not isinstance(key, slice) or key.start not in (None, 0) or key.step not in (None, 1):
            raise TypeError("a stream buffer is consumed from its start only")
        n = self._size if key.stop is None else max(0, min(int(key.stop), self._size))
        self._size -= n
        while n:
            first = len(self._parts[0]) - self._skip
            if n < first:
                self._skip += n
                return
            n -= first
            self._parts.popleft()
            self._skip = 0

    def _take(self, n: int) -> bytes:
        """The first n bytes, without consuming them: the first frame itself
        when it is exactly that, else one join."""
        if n == 0:
            return b""
        first = self._parts[0]
        if self._skip == 0 and len(first) == n and isinstance(first, bytes):
            return first
        if len(first) - self._skip >= n:
            return bytes(memoryview(first)[self._skip:self._skip + n])
        pieces: list[Any] = [memoryview(first)[self._skip:]]
        have = len(pieces[0])
        for part in list(self._parts)[1:]:
            piece = memoryview(part)[:n - have]
            pieces.append(piece)
            have += len(piece)
            if have >= n:
                break
        return b"".join(pieces)


class FrameBuffers(dict):  # type: ignore[type-arg]  # yamux.py's dict[int, bytearray], values swapped
    """Yamux's `stream_buffers`: each new stream's bytearray (yamux.py:890,
    :1295) becomes Frames as it is stored."""

    def __setitem__(self, stream_id: int, buffer: Any) -> None:
        super().__setitem__(stream_id, Frames(buffer) if isinstance(buffer, bytearray) else buffer)


class LeanYamux(Yamux):
    """py-libp2p's Yamux with frame-keeping stream buffers (see `lean`) and
    a DATA body read in one piece."""

    async def _read_data_body(self, length: int) -> bytes:
        """As yamux.py:1177-1180, without read_exactly's two copies when the
        secure session gives the body whole (it does unless the connection
        ends inside it)."""
        with trio.fail_after(_yamux_data_read_timeout()):
            body = await self.secured_conn.read(length)
            if len(body) >= length:
                return body
            return body + await read_exactly(self.secured_conn, length - len(body))


def lean(muxed: IMuxedConn) -> IMuxedConn:
    """Make a new yamux connection a LeanYamux, before it reads a frame."""
    if type(muxed) is Yamux:
        muxed.__class__ = LeanYamux
        muxed.stream_buffers = FrameBuffers({k: Frames(v) for k, v in muxed.stream_buffers.items()})
    return muxed


class LeanMuxers(MuxerMultistream):
    """The upgrader's muxer choice, its yamux connections made lean: py-libp2p
    builds its own Yamux class whatever class `muxer_opt` names
    (stream_muxer/muxer_multistream.py:137-148)."""

    async def new_conn(self, conn: ISecureConn, peer_id: ID) -> IMuxedConn:
        return lean(await super().new_conn(conn, peer_id))


def use_lean_yamux(network: object) -> None:
    """Swap LeanMuxers in under a swarm's upgrader (other networks as they are)."""
    muxers = getattr(getattr(network, "upgrader", None), "muxer_multistream", None)
    if type(muxers) is MuxerMultistream:
        muxers.__class__ = LeanMuxers
