"""Reading a `blocks` reply with each block's bytes as they came.

A peer writes a `blocks` reply as its parts (wire.blocks_frame): the
message's small heads, then each block's data in a yamux frame of its own
(largeframes.py). Read as one message, those frames were joined by the
stream (`bytes(buffer)` of all it held), joined again into the 4 MiB body,
and each block copied out of it by the CBOR decoder: three copies of every
byte on the receiver's engine thread (docs/BENCHMARKS.md transfer18e).
Here the reply is read in the order it was written: each read asks for
what is still missing of the next piece, or for the whole piece the stream
holds first (a small frame of heads), never into the piece after, so a
block that came as one frame is that frame's bytes object, uncopied.

What is accepted is exactly the canonical DAG-CBOR of
`{"t": "blocks", "blocks": [[cid, data], ...]}` with 36-byte CIDs (the only
ones a reply may hold): the fixed head, shortest lengths, nothing after.
Any other message (an error, another encoder's reply) is read and decoded
as MessageReader reads it. Only on our own side of a session: a stranger's
messages keep the general path, with its memory and time budgets.
"""

from __future__ import annotations

from typing import Any

from threads_desktop.engine.codec.cid import CID_LENGTH
from threads_desktop.engine.core.errors import ProtocolError
from threads_desktop.engine.net.wire import BLOCKS_REPLY_HEAD, MessageReader, cbor_head, uvarint_at_start

_ITEM_HEAD = b"\x82" + cbor_head(2, CID_LENGTH)  # [ and the CID's byte-string head
_FIRST_READ = 20  # bytes of a message of >= 128: its length, the fixed head and the list's head
_WIDTHS = {24: 1, 25: 2, 26: 4, 27: 8}  # CBOR's additional information -> bytes of length that follow


class BlockReplies(MessageReader):
    """A MessageReader that reads a `blocks` reply block by block."""

    async def read_blocks(self) -> dict[str, Any] | None:
        """The next message (a `blocks` reply read as above, any other as
        `read` reads it), or None at a clean end of stream."""
        if self._memory is not None:
            return await self.read()
        if not await self._need(1):
            return None
        # A length byte with its high bit set says the message is >= 128 bytes long: the rest of the
        # length and of the fixed head can be asked for at once. Never ask past the message: the peer
        # sends nothing more until we ask again.
        if self._buffer[0] & 0x80 and not await self._need(_FIRST_READ):
            raise ProtocolError("the stream ended inside a message")
        head = uvarint_at_start(self._buffer)
        if head is None:
            raise ProtocolError("a message length is not a valid uvarint")
        length, used = head
        if length > self.limit:
            raise ProtocolError(f"a message of {length} bytes exceeds the limit of {self.limit}")
        if not await self._need(used + min(length, len(BLOCKS_REPLY_HEAD))):
            raise ProtocolError("the stream ended inside a message")
        if bytes(self._buffer[used:used + len(BLOCKS_REPLY_HEAD)]) != BLOCKS_REPLY_HEAD:
            return self._decode(await self._body(used, length))
        self._consume(used + len(BLOCKS_REPLY_HEAD))
        left = length - len(BLOCKS_REPLY_HEAD)
        count, left = await self._length(4, left)
        if count * (len(_ITEM_HEAD) + CID_LENGTH + 1) > left:
            raise ProtocolError("a blocks reply lists more blocks than it holds")
        blocks: list[list[bytes]] = []
        for _ in range(count):
            if left < len(_ITEM_HEAD) + CID_LENGTH or not await self._need(len(_ITEM_HEAD) + CID_LENGTH):
                raise ProtocolError("the stream ended inside a message")
            if bytes(self._buffer[:len(_ITEM_HEAD)]) != _ITEM_HEAD:
                raise ProtocolError("a block is [cid, data] with a 36-byte CID")
            cid = bytes(self._buffer[len(_ITEM_HEAD):len(_ITEM_HEAD) + CID_LENGTH])
            self._consume(len(_ITEM_HEAD) + CID_LENGTH)
            size, left = await self._length(2, left - len(_ITEM_HEAD) - CID_LENGTH)
            if size > left:
                raise ProtocolError("a block is longer than its reply")
            blocks.append([cid, await self._exactly(size)])
            left -= size
        if left:
            raise ProtocolError("a blocks reply has bytes after its blocks")
        return {"t": "blocks", "blocks": blocks}

    async def _length(self, major: int, left: int) -> tuple[int, int]:
        """A CBOR head of `major` type at the buffer's start, in its
        shortest form: its length, and what is left of the message after it."""
        if left < 1 or not await self._need(1):
            raise ProtocolError("the stream ended inside a message")
        first = self._buffer[0]
        info = first & 0x1F
        width = _WIDTHS.get(info, 0 if info < 24 else -1)
        if first >> 5 != major or width < 0:
            raise ProtocolError("a blocks reply is not canonical DAG-CBOR")
        if left < 1 + width or not await self._need(1 + width):
            raise ProtocolError("the stream ended inside a message")
        value = info if not width else int.from_bytes(self._buffer[1:1 + width], "big")
        if cbor_head(major, value) != bytes(self._buffer[:1 + width]):
            raise ProtocolError("a blocks reply is not canonical DAG-CBOR")
        self._consume(1 + width)
        return value, left - 1 - width

    async def _need(self, n: int) -> bool:
        """At least n bytes in the buffer; False if the stream ended first.
        Each read asks for what is missing, or for the whole piece the stream
        holds first when that is more, never into the piece after (a block's
        frame stays whole for `_exactly`). Callers need only bytes of the
        message being read: the peer sends no more until we ask again."""
        piece = getattr(self._stream, "buffered_piece", None)
        for _ in range(n + 1):  # bounded: each read gives at least a byte
            if len(self._buffer) >= n:
                return True
            # A whole piece the stream holds (a small frame of heads, say) costs one read, not several:
            # each read may cost a window update (docs/LIBP2P-NOTES.md, transfer18e).
            chunk = await self._chunk(wanted=max(n - len(self._buffer), piece() if piece is not None else 0))
            if not chunk:
                return False
            if not self._buffer:
                self._buffer = chunk
            else:
                if isinstance(self._buffer, bytes):
                    self._buffer = bytearray(self._buffer)
                self._buffer += chunk
        return len(self._buffer) >= n

    async def _exactly(self, n: int) -> bytes:
        """The next n bytes of the stream: one read's bytes object as it came
        when the buffer is empty and that read brings them all."""
        if len(self._buffer) >= n:
            data = bytes(self._buffer[:n])
            self._consume(n)
            return data
        parts: list[bytes] = [bytes(self._buffer)] if self._buffer else []
        self._buffer = bytearray()
        have = len(parts[0]) if parts else 0
        while have < n:  # bounded: each read gives at least a byte
            chunk = await self._chunk(wanted=n - have)
            if not chunk:
                raise ProtocolError("the stream ended inside a message")
            parts.append(chunk)
            have += len(chunk)
        return parts[0] if len(parts) == 1 else b"".join(parts)
