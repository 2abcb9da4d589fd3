"""Writes a large piece of a yamux stream in frames of up to LARGE_FRAME.

py-libp2p's yamux cuts every write into frames of at most 64 KiB
(`YamuxStream.write`, stream_muxer/yamux/yamux.py:229-292, MAX_MESSAGE_SIZE
at :150), and both sides pay per frame in Python: the writer a lock round,
a header, a write; the reader a header read, a timeout scope, its debug
messages' f-strings (built even with debug off, :1187-1191, :1503-1536),
a buffer append, a wake-up of the stream's reader and a window update back.
Profiled on a 310 MB photo transfer these were most of both processes'
CPU per byte (docs/LIBP2P-NOTES.md, transfer18c).

Yamux itself bounds a frame only by the receiver's window (a DATA frame's
length is 32 bits), and py-libp2p reads a frame of any length
(`_read_data_body`, :1177-1180); Noise still cuts what goes on the wire into
its own messages of at most 65,535 bytes. So a block goes out as one frame
while the window allows, and the bytes on the wire are the same stream
bytes as before: a peer on older code reads them unchanged."""

from __future__ import annotations

import struct
from typing import Any

import trio
from libp2p.stream_muxer.exceptions import MuxedStreamError
from libp2p.stream_muxer.yamux.yamux import TYPE_DATA, YAMUX_HEADER_FORMAT, YamuxStream

LARGE_FRAME = 1 << 20  # bytes of data in one frame at most (plus the header)
WINDOW_WAIT_SECONDS = 5.0  # as yamux.py waits for a window update (:279)
WINDOW_POLL_SECONDS = 0.002


async def write_large(stream: YamuxStream, data: bytes | memoryview, frame_bytes: int = LARGE_FRAME) -> None:
    """`stream.write(data)` in frames of up to `frame_bytes` (within the
    peer's window): the same locks, checks and errors as yamux.py:229-292."""
    view = memoryview(data)
    sent = 0
    while sent < len(view):
        frame: tuple[bytes, memoryview] | None = None
        with trio.move_on_after(WINDOW_WAIT_SECONDS):
            while True:
                async with stream.rw_lock.write_lock():
                    if stream.send_closed:
                        raise MuxedStreamError("Stream is closed for sending")
                    async with stream.window_lock:
                        if stream.closed:
                            raise MuxedStreamError("Stream is closed")
                        if stream.send_window > 0:
                            size = min(stream.send_window, frame_bytes, len(view) - sent)
                            stream.send_window -= size
                            header = struct.pack(YAMUX_HEADER_FORMAT, 0, TYPE_DATA, 0, stream.stream_id, size)
                            frame = header, view[sent:sent + size]
                if frame is not None:
                    break
                await trio.sleep(WINDOW_POLL_SECONDS)  # the peer has not opened its window yet
        if frame is None:
            raise MuxedStreamError(f"Timed out waiting for window update after {WINDOW_WAIT_SECONDS:g} seconds.")
        await _write_frame(stream.conn, *frame)
        sent += len(frame[1])


async def _write_frame(conn: Any, header: bytes, body: memoryview) -> None:
    """As Yamux._write_frame (yamux.py:874-876), the header and body handed
    down as two parts, so a Noise session seals the body where it lies
    (noiseio.JoinedReads.write_parts) instead of a join copying it first."""
    write_parts = getattr(conn.secured_conn, "write_parts", None)
    if write_parts is None:
        await conn._write_frame(b"".join((header, body)))
        return
    async with conn._write_lock:
        await write_parts((header, body))
    await trio.lowlevel.checkpoint()
