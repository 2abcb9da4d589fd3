"""Messages of `/threads/1.0.0`: uvarint-length-prefixed DAG-CBOR maps.

Every message is a map with a type `t`. Requests go one at a time on a
session stream and each gets one reply (`ok` with the type's fields, or
`error`). Everything read from a peer goes through `parse_*` here, which
checks sizes and field types strictly and raises `ProtocolError`; the caller
answers with an error and goes on, or closes the stream.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

import trio

from threads_desktop.engine.codec import cbor
from threads_desktop.engine.codec.cid import CID_LENGTH
from threads_desktop.engine.core.errors import CodecError, ProtocolError
from threads_desktop.engine.core.ids import PeerId, ThreadId
from threads_desktop.engine.logstore.blobs import BlockEntry
from threads_desktop.engine.logstore.envelopes import Envelope
from threads_desktop.engine.net.budgets import Budgets, Limits
from threads_desktop.engine.net.paging import MAX_MESSAGE_BYTES

PROTOCOL_ID = "/threads/1.0.0"
NONCE_LENGTH = 16
MAC_LENGTH = 32
_MAX_VARINT_BYTES = 10

# The four blocks of an envelope, each within the node limits the log store
# enforces again on ingest; here only their types and a coarse size.
_MAX_BLOCK = 3 << 20


class ByteStream(Protocol):
    """A bidirectional byte stream (a libp2p stream, or an in-memory pair)."""

    async def read(self, n: int) -> bytes: ...
    async def write(self, data: bytes) -> None: ...
    async def close(self) -> None: ...


def _uvarint(n: int) -> bytes:
    out = bytearray()
    while True:
        byte = n & 0x7F
        n >>= 7
        if n:
            out.append(byte | 0x80)
        else:
            out.append(byte)
            return bytes(out)


def frame(message: dict[str, Any]) -> bytes:
    body = cbor.encode(message)
    if len(body) > MAX_MESSAGE_BYTES:
        raise ProtocolError(f"a message of {len(body)} bytes exceeds the limit of {MAX_MESSAGE_BYTES}")
    return _uvarint(len(body)) + body


def cbor_head(major: int, n: int) -> bytes:
    """A canonical (shortest) CBOR head: major type and length."""
    if n < 24:
        return bytes([major << 5 | n])
    for info, width in ((24, 1), (25, 2), (26, 4), (27, 8)):
        if n < 1 << (8 * width):
            return bytes([major << 5 | info]) + n.to_bytes(width, "big")
    raise ProtocolError("a length beyond CBOR's")


BLOCKS_REPLY_HEAD = bytes.fromhex("a2") + b"\x61t" + b"\x66blocks" + b"\x66blocks"  # {"t": "blocks", "blocks":


def blocks_frame(blocks: Sequence[tuple[bytes, bytes]]) -> list[bytes]:
    """`frame({"t": "blocks", "blocks": [[cid, data], ...]})` as parts whose
    concatenation is exactly those bytes, with each block's data a part of
    its own, as read from the store: a 4 MiB reply is not copied into one
    buffer (by the encoder, then again for the length prefix) before the
    stream splits it into frames anyway."""
    parts: list[bytes] = []
    head = bytearray(BLOCKS_REPLY_HEAD + cbor_head(4, len(blocks)))
    for cid, data in blocks:
        head += b"\x82" + cbor_head(2, len(cid)) + cid + cbor_head(2, len(data))
        parts += [bytes(head), data]
        head = bytearray()
    if head:
        parts.append(bytes(head))
    length = sum(map(len, parts))
    if length > MAX_MESSAGE_BYTES:
        raise ProtocolError(f"a message of {length} bytes exceeds the limit of {MAX_MESSAGE_BYTES}")
    parts[0] = _uvarint(length) + parts[0]
    return parts


def uvarint_at_start(buffer: bytes | bytearray) -> tuple[int, int] | None:
    """The uvarint the buffer starts with and its length in bytes; None
    while it is incomplete; ProtocolError if it is not a minimal one."""
    value = 0
    for i in range(min(len(buffer), _MAX_VARINT_BYTES)):
        byte = buffer[i]
        value |= (byte & 0x7F) << (7 * i)
        if not byte & 0x80:
            if i and not byte:
                raise ProtocolError("a message length is not a minimal uvarint")
            return value, i + 1
    if len(buffer) >= _MAX_VARINT_BYTES:
        raise ProtocolError("a message length is not a valid uvarint")
    return None


class MessageReader:
    """Reads framed messages from a stream, buffering what arrives early.

    With `memory`, a message still on its way holds its declared size from
    that shared budget (refused when none is left), and must keep coming:
    STALL_SECONDS without a byte, or longer than its size allows, ends it.
    `limit` may change between messages (a session that proved a thread
    may send larger ones)."""

    def __init__(self, stream: ByteStream, limit: int = MAX_MESSAGE_BYTES, *,
                 budgets: Budgets | None = None, address: str = "") -> None:
        self._stream = stream
        self.limit = limit
        self._buffer: bytes | bytearray = bytearray()
        self._memory = budgets.partial if budgets is not None else None
        self._limits = budgets.limits if budgets is not None else Limits()
        self._address = address

    async def _chunk(self, *, waiting: bool = False, wanted: int = 1 << 20) -> bytes:
        if self._memory is None or waiting:
            return await self._stream.read(wanted)
        with trio.move_on_after(self._limits.stall_seconds) as stalled:
            chunk = await self._stream.read(wanted)
        if stalled.cancelled_caught:
            raise ProtocolError(f"a message stopped arriving for {self._limits.stall_seconds:g} s")
        return chunk

    async def _fill(self, *, waiting: bool = False) -> bool:
        chunk = await self._chunk(waiting=waiting)
        if not chunk:
            return False
        if not self._buffer:
            self._buffer = chunk  # kept as it came: a large message's first piece is not copied in and out
        else:
            if isinstance(self._buffer, bytes):
                self._buffer = bytearray(self._buffer)
            self._buffer += chunk
        return True

    async def read(self, idle_seconds: float = math.inf) -> dict[str, Any] | None:
        """The next message, or None at a clean end of stream, or after
        `idle_seconds` without its first byte."""
        if not self._buffer and idle_seconds < math.inf:
            with trio.move_on_after(idle_seconds):
                if not await self._fill(waiting=True):
                    return None
            if not self._buffer:
                return None  # idle too long: as good as closed
        while (head := uvarint_at_start(self._buffer)) is None:  # bounded: a fill adds a byte, 10 are the most
            if not await self._fill():
                if self._buffer:
                    raise ProtocolError("the stream ended inside a message")
                return None
        length, used = head
        if length > self.limit:
            raise ProtocolError(f"a message of {length} bytes exceeds the limit of {self.limit}")
        return self._decode(await self._body(used, length))

    async def _body(self, used: int, length: int) -> bytes:
        """The body of the message whose `used`-byte length says `length`."""
        if len(self._buffer) < used + length:
            return await self._rest(used, length)
        body = bytes(memoryview(self._buffer)[used:used + length])
        self._consume(used + length)
        return body

    def _consume(self, n: int) -> None:
        """Drop the buffer's first n bytes."""
        if len(self._buffer) == n:
            self._buffer = bytearray()
        elif isinstance(self._buffer, bytes):  # once a bytearray, later messages are cut off its front cheaply
            self._buffer = bytearray(memoryview(self._buffer)[n:])
        else:
            del self._buffer[:n]

    def _decode(self, body: bytes) -> dict[str, Any]:
        try:
            message = cbor.decode(body, max_size=self.limit, max_depth=8)
        except CodecError as exc:
            raise ProtocolError(f"a message is not valid DAG-CBOR: {exc}") from exc
        if not isinstance(message, dict) or not isinstance(message.get("t"), str):
            raise ProtocolError("a message is a map with a string type 't'")
        return message

    async def _rest(self, used: int, length: int) -> bytes:
        """The body of a message whose first bytes are in the buffer after
        its `used`-byte length: read until it is whole, within the budgets.
        The pieces are kept as they came and joined once (a large reply is
        copied once here, not grown in a buffer and copied out of it), and
        what came after the body stays in the buffer. Each read asks for all
        that is still missing: a libp2p stream hands over what it holds, and
        each read costs a window update (docs/LIBP2P-NOTES.md, transfer18)."""
        parts: list[bytes | memoryview] = [memoryview(self._buffer)[used:]]  # joined once with the rest
        self._buffer = bytearray()
        if self._memory is None:  # our own side of a session: the caller's deadlines apply
            return await self._gather(parts, length)
        reservation = self._memory.reserve(self._address, used + length)
        if reservation is None:
            raise ProtocolError("busy: too many large messages on their way, try again later")
        seconds = self._limits.frame_base_seconds + (used + length) / self._limits.frame_min_bytes_per_second
        try:
            with trio.move_on_after(seconds) as late:
                body = await self._gather(parts, length)
            if late.cancelled_caught:
                raise ProtocolError(f"a message of {used + length} bytes took longer than {seconds:.0f} s")
            return body
        except ProtocolError:
            self._buffer = bytearray()  # a broken session keeps nothing
            raise
        finally:
            reservation.release()

    async def _gather(self, parts: list[bytes | memoryview], length: int) -> bytes:
        have = len(parts[0])
        while have < length:
            chunk = await self._chunk(wanted=max(1 << 20, length - have))
            if not chunk:
                raise ProtocolError("the stream ended inside a message")
            if have + len(chunk) > length:  # the next message's first bytes
                cut = length - have
                self._buffer = bytearray(memoryview(chunk)[cut:])
                parts.append(memoryview(chunk)[:cut])
            else:
                parts.append(chunk)
            have += len(parts[-1])
        pieces = [part for part in parts if len(part)]
        if len(pieces) == 1 and isinstance(pieces[0], bytes):
            return pieces[0]  # one read brought the whole body
        return b"".join(pieces)


# --- field checks ---------------------------------------------------------------------------


def field(message: dict[str, Any], name: str, check: Callable[[Any], Any]) -> Any:
    if name not in message:
        raise ProtocolError(f"message {message.get('t')!r} lacks {name!r}")
    try:
        return check(message[name])
    except (TypeError, ValueError) as exc:
        raise ProtocolError(f"field {name!r} of {message.get('t')!r}: {exc}") from exc


def only(message: dict[str, Any], *names: str) -> None:
    extra = set(message) - {"t", *names}
    if extra:
        raise ProtocolError(f"message {message.get('t')!r} has unknown fields {sorted(extra)[:4]}")


def as_bytes(length: int | None = None, max_length: int = _MAX_BLOCK) -> Callable[[Any], bytes]:
    def check(value: Any) -> bytes:
        if not isinstance(value, bytes):
            raise TypeError("expected bytes")
        if length is not None and len(value) != length:
            raise ValueError(f"expected {length} bytes")
        if len(value) > max_length:
            raise ValueError("too long")
        return value
    return check


def as_int(low: int, high: int) -> Callable[[Any], int]:
    def check(value: Any) -> int:
        if type(value) is not int or not low <= value <= high:
            raise ValueError(f"expected an integer in [{low}, {high}]")
        return value
    return check


def as_list(item: Callable[[Any], Any], max_items: int) -> Callable[[Any], list[Any]]:
    def check(value: Any) -> list[Any]:
        if not isinstance(value, list) or len(value) > max_items:
            raise ValueError(f"expected a list of at most {max_items} items")
        return [item(v) for v in value]
    return check


def as_thread_id(value: Any) -> ThreadId:
    try:
        return ThreadId(as_bytes(max_length=64)(value))
    except ProtocolError:
        raise
    except Exception as exc:
        raise ValueError(f"not a thread ID: {exc}") from exc


def as_peer_id(value: Any) -> PeerId:
    try:
        return PeerId(as_bytes(max_length=128)(value))
    except Exception as exc:
        raise ValueError(f"not a peer ID: {exc}") from exc


def as_cid(value: Any) -> bytes:
    return as_bytes(CID_LENGTH)(value)


def as_envelope(value: Any) -> Envelope:
    if not isinstance(value, list) or len(value) != 4:
        raise ValueError("an envelope is a list of four blocks")
    record, event, header, body = (as_bytes()(v) for v in value)
    return Envelope(record, event, header, body)


def as_block_entry(value: Any) -> BlockEntry:
    if not isinstance(value, list) or len(value) != 4:
        raise ValueError("an inventory entry is [cid, blob, size, priority]")
    return BlockEntry(as_cid(value[0]), as_cid(value[1]), as_int(0, 2 << 20)(value[2]), as_int(0, 1)(value[3]))


def envelope_value(envelope: Envelope) -> list[bytes]:
    return list(envelope.blocks())


def as_text(max_length: int) -> Callable[[Any], str]:
    def check(value: Any) -> str:
        if not isinstance(value, str) or len(value) > max_length:
            raise ValueError(f"expected a string of at most {max_length} characters")
        return value
    return check


@dataclass(frozen=True, slots=True)
class RemoteError:
    """The `error` reply of a peer, kept as text: it is the peer's word."""

    message: str


def reply_ok(t: str, **fields: Any) -> dict[str, Any]:
    return {"t": t, **fields}


def reply_error(text: str) -> dict[str, Any]:
    return {"t": "error", "message": text[:500]}
