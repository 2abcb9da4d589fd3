"""Noise over a TCP socket in large pieces: reads ahead, and writes a large
message's Noise messages in one socket write.

py-libp2p's Noise reads each message as two socket reads (its 2-byte
length, then its body: io/msgio.py:42-44, io/utils.py:11-55), so a photo
transfer made two or three `recv` calls, each a trio checkpoint, per 64 KiB
frame; profiled, the receiver's `recv` calls were a quarter of the yamux
reader's time (docs/LIBP2P-NOTES.md, transfer18c). Here one `recv` asks
for up to READ_AHEAD bytes and the reads under it are served from what
came; at most READ_AHEAD bytes wait in memory per connection, bytes the
kernel had already accepted for it (its own receive buffer for the
connection grows to several MiB). Likewise a large write (a large yamux
frame, largeframes.py) was one socket write per 64 KiB Noise message
(security/noise/io.py:59-79); here its messages are sealed in place
(noisecipher.py), in order, into a buffer the host's connections share
(SpareBuffers), and written together. The same bytes on the wire, except
that a large frame's header goes in a Noise message of its own.

Two Noise protocols are offered, ours first: Noise_XX_25519_AESGCM_SHA256
(NOISE_AESGCM_ID; AES-256-GCM costs 0.09 s/GB here against ChaCha20-
Poly1305's 0.32, each side: docs/BENCHMARKS.md transfer18h), then libp2p's
`/noise` (ChaChaPoly), which a peer without ours gets. The cipher's name is
hashed into the handshake, so the two ends cannot disagree on it."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from cryptography.exceptions import InvalidTag
from libp2p.abc import IRawConnection, ISecureConn
from libp2p.custom_types import TProtocol
from libp2p.io.exceptions import ConnectionClosedError, IncompleteReadError, IOException
from libp2p.io.trio import TrioTCPStream
from libp2p.network.connection.exceptions import RawConnError
from libp2p.peer.id import ID
from libp2p.security.noise.exceptions import NoiseStateError
from libp2p.security.noise.io import MAX_PLAINTEXT_LENGTH, SIZE_NOISE_MESSAGE_LEN, NoiseTransportReadWriter
from libp2p.security.noise.patterns import IPattern, PatternXX
from libp2p.security.noise.transport import Transport as NoiseTransport
from libp2p.security.secure_session import SecureSession
from noise.exceptions import NoiseInvalidMessage

from threads_desktop.engine.net.noisecipher import TAG_BYTES, Aead, aead_of, open_into, seal_into

READ_AHEAD = 1 << 20  # bytes asked of the socket at once (a large frame in one recv: 256 KiB measured 3-10% slower)
KEEP_BUFFER = 2 << 20  # bytes: a buffer larger than this is not kept for the next large read or write
KEPT_BUFFERS = 8  # buffers a host keeps for its connections' large reads and writes (at most 16 MiB)
NOISE_AESGCM_ID = TProtocol("/threads/noise-aesgcm/1.0.0")
NOISE_AESGCM = b"Noise_XX_25519_AESGCM_SHA256"
NOISE_CHACHAPOLY = b"Noise_XX_25519_ChaChaPoly_SHA256"  # libp2p's `/noise` (patterns.py:218)


class SpareBuffers:
    """The buffers a host's connections seal large writes into and open
    large reads into, kept for the next (memory touched before comes back
    warm: freed_memory.py): each lent to one read or write at a time, at
    most KEPT_BUFFERS kept, each of at most KEEP_BUFFER bytes."""

    def __init__(self, keep: int = KEPT_BUFFERS) -> None:
        self._kept: list[bytearray] = []
        self._keep = keep

    def take(self, size: int) -> bytearray:
        for i, buffer in enumerate(self._kept):
            if len(buffer) >= size:
                return self._kept.pop(i)
        return bytearray(size)

    def give(self, buffer: bytearray) -> None:
        if len(buffer) <= KEEP_BUFFER and len(self._kept) < self._keep:
            self._kept.append(buffer)


class ReadAhead:
    """A TrioTCPStream whose reads take up to READ_AHEAD bytes from the
    socket and hand them out as asked; everything else is the stream's."""

    def __init__(self, stream: Any, size: int = READ_AHEAD) -> None:
        self._stream = stream
        self._size = size
        self._held = b""
        self._at = 0

    def __getattr__(self, name: str) -> Any:  # write, close, get_remote_address, locks...
        return getattr(self._stream, name)

    async def read(self, n: int | None = None) -> bytes:
        if n == 0:
            return b""
        if self._at >= len(self._held):
            if n is not None and n >= self._size:
                return await self._stream.read(n)  # type: ignore[no-any-return]  # a large read needs no buffer
            self._held = await self._stream.read(self._size)
            self._at = 0
            if not self._held:
                return b""  # the end of the stream, as the stream tells it
        end = len(self._held) if n is None else min(len(self._held), self._at + n)
        whole = self._at == 0 and end == len(self._held)
        chunk = self._held if whole else self._held[self._at:end]  # all of it: no copy
        self._at = end
        if self._at >= len(self._held):
            self._held, self._at = b"", 0
        return chunk

    def next_held(self, most: int) -> memoryview | None:
        """The next length-prefixed Noise message when what the socket read
        brought holds all of it and it is at most `most` bytes (a view,
        consumed); else None, and nothing is consumed."""
        at, held = self._at, self._held
        if len(held) - at < SIZE_NOISE_MESSAGE_LEN:
            return None
        length = int.from_bytes(held[at:at + SIZE_NOISE_MESSAGE_LEN], "big")
        end = at + SIZE_NOISE_MESSAGE_LEN + length
        if length > most or end > len(held):
            return None
        self._at = end
        view = memoryview(held)[end - length:end]
        if end >= len(held):
            self._held, self._at = b"", 0
        return view

    async def read_exactly(self, n: int) -> bytes | memoryview:
        """n bytes: a view of what came when it holds them (no copy), else
        joined; IncompleteReadError if the stream ends first (as
        io/utils.py:11-55 says it)."""
        if len(self._held) - self._at >= n:
            view = memoryview(self._held)[self._at:self._at + n]
            self._at += n
            if self._at >= len(self._held):
                self._held, self._at = b"", 0
            return view
        parts: list[bytes] = []
        have = 0
        while have < n:
            chunk = await self.read(n - have)
            if not chunk:
                raise IncompleteReadError(f"the connection ended {have} bytes into a read of {n}")
            parts.append(chunk)
            have += len(chunk)
        return parts[0] if len(parts) == 1 else b"".join(parts)


def read_ahead(conn: IRawConnection) -> None:
    """Put ReadAhead under a TCP connection's reads (other transports as they are)."""
    stream = getattr(conn, "stream", None)
    if isinstance(stream, TrioTCPStream):
        conn.stream = ReadAhead(stream)  # type: ignore[attr-defined]


class CoalescedWrites(NoiseTransportReadWriter):
    """Noise's transport reader-writer, sealing a large write's Noise
    messages into one reused buffer (beside their length prefixes, as
    io.py:59-79 frames them) written with one socket write, and opening each
    message it reads where it came in: py-libp2p reads a message's length
    and body each through `read_exactly`, which grows a bytearray and copies
    it out (io/msgio.py:42-44, io/utils.py:46-55), then hands the copy to
    `NoiseConnection.decrypt`, which takes only bytes and returns a new
    object (noise/connection.py:137-145)."""

    spares: SpareBuffers | None = None  # the host's (`tune`); None: a new buffer each time

    def _state(self, direction: str) -> tuple[Any, Aead] | None:
        protocol = getattr(self.noise_state, "noise_protocol", None)
        state = getattr(protocol, direction, None)
        aead = aead_of(state) if getattr(self.noise_state, "handshake_finished", False) else None
        return None if aead is None else (state, aead)

    async def _read_sealed(self, source: ReadAhead) -> bytes | memoryview:
        """The next sealed message, a view of where the socket read put it."""
        try:  # as RawConnection.read maps errors (network/connection/raw_connection.py:55-68)
            length = int.from_bytes(await source.read_exactly(SIZE_NOISE_MESSAGE_LEN), "big")
            return await source.read_exactly(length)
        except (ConnectionClosedError, IncompleteReadError):
            raise  # the end of the connection, as py-libp2p's read_exactly says it (yamux ends cleanly on it)
        except (IOException, ConnectionResetError) as error:
            raise RawConnError from error

    def _source(self) -> ReadAhead | None:
        source = getattr(self.read_writer.read_write_closer, "stream", None)
        return source if isinstance(source, ReadAhead) else None

    async def read_msg(self, prefix_encoded: bool = False) -> bytes:
        source = self._source()
        cipher = getattr(getattr(self.noise_state, "noise_protocol", None), "cipher_state_decrypt", None)
        if prefix_encoded or source is None or cipher is None:
            return await super().read_msg(prefix_encoded)
        sealed = await self._read_sealed(source)
        try:  # NoiseConnection.decrypt's own step, on the view (noise/connection.py:143-145)
            return cipher.decrypt_with_ad(None, sealed)  # type: ignore[no-any-return]
        except InvalidTag as error:
            raise NoiseInvalidMessage("Failed authentication of message") from error

    async def read_into(self, out: memoryview) -> int | bytes:
        """The next message opened into the start of `out` when it fits
        (its length is returned), else returned as read_msg returns it."""
        source, opening = self._source(), self._state("cipher_state_decrypt")
        if source is None or opening is None:
            return await self.read_msg()
        sealed = await self._read_sealed(source)
        size = len(sealed) - TAG_BYTES
        if size < 0 or size > len(out):
            try:
                return opening[0].decrypt_with_ad(None, sealed)  # type: ignore[no-any-return]
            except InvalidTag as error:
                raise NoiseInvalidMessage("Failed authentication of message") from error
        open_into(*opening, sealed, out[:size])
        return size

    def open_held(self, out: memoryview) -> int:
        """Open into `out`, from its start, the whole messages the last
        socket read already brought, while each fits: one loop, no await
        per message (a large frame is ~16 of them). The bytes opened."""
        source, opening = self._source(), self._state("cipher_state_decrypt")
        if source is None or opening is None:
            return 0
        done = 0
        for _ in range(len(out) + 1):  # bounded: each message but an empty one opens at least a byte
            sealed = source.next_held(len(out) - done + TAG_BYTES)
            if sealed is None:
                break
            size = len(sealed) - TAG_BYTES
            if size < 0:  # shorter than its tag: as the cipher refuses it
                raise NoiseInvalidMessage("Failed authentication of message")
            open_into(*opening, sealed, out[done:done + size])
            done += size
        return done

    async def write_msg(self, msg: bytes, prefix_encoded: bool = False) -> None:
        if len(msg) <= MAX_PLAINTEXT_LENGTH or prefix_encoded:
            await super().write_msg(msg, prefix_encoded)
        else:
            await self.write_parts((msg,))

    async def write_parts(self, parts: Sequence[bytes | memoryview]) -> None:
        """Write the parts' concatenation, each part in Noise messages of its
        own, with one socket write."""
        sealing = self._state("cipher_state_encrypt")
        if sealing is None:
            await super().write_msg(b"".join(parts))
            return
        pieces = [memoryview(part)[at:at + MAX_PLAINTEXT_LENGTH]
                  for part in parts for at in range(0, len(part), MAX_PLAINTEXT_LENGTH)]
        need = sum(map(len, pieces)) + len(pieces) * (SIZE_NOISE_MESSAGE_LEN + TAG_BYTES)
        out = self.spares.take(need) if self.spares is not None else bytearray(need)
        view = memoryview(out)
        at = 0
        for piece in pieces:
            sealed = len(piece) + TAG_BYTES
            view[at:at + SIZE_NOISE_MESSAGE_LEN] = sealed.to_bytes(SIZE_NOISE_MESSAGE_LEN, "big")
            at += SIZE_NOISE_MESSAGE_LEN
            seal_into(*sealing, piece, view[at:at + sealed])
            at += sealed
        try:
            await self.read_writer.read_write_closer.write(view[:at])  # type: ignore[arg-type]  # bytes-like
        finally:
            if self.spares is not None:
                self.spares.give(out)


class JoinedReads(SecureSession):
    """A secure session whose large reads (a large yamux frame's body) open
    the Noise messages straight into the bytes they make up, where
    secure_session.py:95-140 grows a bytearray and copies it out, and whose
    large writes reach CoalescedWrites in parts (no join first)."""

    spares: SpareBuffers | None = None  # the host's (`tune`); None: a new buffer each time

    async def read(self, n: int | None = None) -> bytes:
        if n is None or n <= MAX_PLAINTEXT_LENGTH:
            return await super().read(n)
        pieces: list[bytes] = []
        have = 0
        while have < n:  # bounded: each piece is KEEP_BUFFER bytes, or the last
            # In pieces of at most KEEP_BUFFER (one for any frame of ours): memory follows the bytes
            # that come, not the length a peer's yamux header claims (up to 4 GiB, read before the
            # window is checked: docs/LIBP2P-NOTES.md transfer18e).
            size = min(n - have, KEEP_BUFFER)
            first = self._drain(size)  # a message cut at the last piece's end left its rest here
            out = self.spares.take(size) if self.spares is not None else bytearray(size)
            try:
                piece = await self._open_into(memoryview(out)[:size], first)  # a kept buffer may be longer
            except ConnectionClosedError:
                if pieces:
                    break  # as secure_session.py:129-132: what came, then the end
                raise
            finally:
                if self.spares is not None:
                    self.spares.give(out)
            pieces.append(piece)
            have += len(piece)
            if len(piece) < size:
                break  # the end came inside this piece
        return pieces[0] if len(pieces) == 1 else b"".join(pieces)

    async def _open_into(self, view: memoryview, first: bytes) -> bytes:
        """The bytes of `view`'s length: `first` (drained already), then Noise messages opened into it."""
        n = len(view)
        view[:len(first)] = first
        have = len(first)
        reader = self.conn if isinstance(self.conn, CoalescedWrites) else None
        for _ in range(n):  # bounded: a message gives at least a byte, or an empty one costs its 18
            if reader is not None and have < n:
                have += reader.open_held(view[have:])
            if have >= n:
                break
            message = await reader.read_into(view[have:]) if reader is not None else await self.conn.read_msg()
            if isinstance(message, int):
                have += message
                continue
            if message == b"":
                if have:
                    break  # as secure_session.py:129-132: what came, then the end
                raise ConnectionClosedError("Connection closed")
            if have + len(message) > n:
                cut = n - have
                self._fill(message[cut:])  # the buffer is empty here: all of it was drained
                message = message[:cut]
            view[have:have + len(message)] = message
            have += len(message)
        return bytes(view[:have])

    async def write_parts(self, parts: Sequence[bytes | memoryview]) -> None:
        if isinstance(self.conn, CoalescedWrites):
            await self.conn.write_parts(parts)
        else:
            await self.conn.write_msg(b"".join(parts))


def tune(secured: ISecureConn, spares: SpareBuffers) -> ISecureConn:
    """Make a Noise session's large writes one socket write each, and its
    large reads open in place, in the host's spare buffers."""
    transport = getattr(secured, "conn", None)
    if type(transport) is NoiseTransportReadWriter:
        transport.__class__ = CoalescedWrites
        transport.spares = spares  # type: ignore[attr-defined]  # a CoalescedWrites now
    if type(secured) is SecureSession:
        secured.__class__ = JoinedReads
        secured.spares = spares  # type: ignore[attr-defined]  # a JoinedReads now
    return secured


class BufferedNoise(NoiseTransport):
    """py-libp2p's Noise transport over connections that read ahead, write
    large messages whole and join large reads once; `protocol_name` picks
    the Noise protocol (libp2p's ChaChaPoly by default)."""

    def __init__(self, *args: Any, spares: SpareBuffers | None = None,
                 protocol_name: bytes = NOISE_CHACHAPOLY, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.spares = spares if spares is not None else SpareBuffers()
        self.protocol_name = protocol_name

    def get_pattern(self) -> IPattern:
        pattern = super().get_pattern()
        if not isinstance(pattern, PatternXX):  # the library's only pattern (transport.py:82-90)
            raise NoiseStateError("py-libp2p's Noise made a pattern whose cipher we cannot choose")
        pattern.protocol_name = self.protocol_name  # never a protocol ID over another cipher
        return pattern

    async def secure_inbound(self, conn: IRawConnection) -> ISecureConn:
        read_ahead(conn)
        return tune(await super().secure_inbound(conn), self.spares)

    async def secure_outbound(self, conn: IRawConnection, peer_id: ID) -> ISecureConn:
        read_ahead(conn)
        return tune(await super().secure_outbound(conn, peer_id), self.spares)
