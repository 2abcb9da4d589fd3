"""One request, one answer, then the stream closes: the shape shared by
`/threads/join/1.0.0` (joining.py) and `/threads/device/1.0.0`
(devicing.py), and the limits a stranger meets there.

    request  {"t": <kind>, "request": <opaque bytes>}
    answer   {"t": "answer", "answer": <opaque bytes>}
             or {"t": "error", "message": text}

Each request costs the node real work (a signature check, maybe a write
transaction, a sealed bundle), and anyone may ask under identities that
cost nothing: per-peer, per-address and total token buckets, one request in
flight per peer, a bounded number in flight, the request read within
`request_seconds` (a silent stream gives its place to a newcomer), the
whole exchange within `exchange_seconds`, and the stream reset afterwards.
"""

from __future__ import annotations

import logging
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

import trio

from threads_desktop.engine.core.errors import PeerError, ProtocolError, ThreadsError
from threads_desktop.engine.core.ids import PeerId
from threads_desktop.engine.net import wire
from threads_desktop.engine.net.budgets import Budgets, TokenBucket

log = logging.getLogger(__name__)

MAX_ERROR_CHARACTERS = 200


@dataclass(frozen=True)
class ExchangeLimits:
    """How many requests are answered; tests scale them down."""

    per_peer_per_second: float = 0.5  # a joiner asks every 10 s while it waits for approval
    per_peer_burst: float = 4.0
    per_address_per_second: float = 2.0  # a few joiners behind one NAT
    per_address_burst: float = 16.0
    total_per_second: float = 20.0  # all peers together: at most ~20 answers a second
    total_burst: float = 64.0
    in_flight: int = 16  # requests being read or answered at once
    tracked: int = 1024  # per-peer and per-address buckets kept (least recently used dropped)


class Buckets:
    """Token buckets by key, at most `tracked` of them (a forgotten key comes
    back with a full bucket: the total bucket still bounds the work)."""

    def __init__(self, rate: float, burst: float, tracked: int, clock: Callable[[], float]) -> None:
        self._rate, self._burst, self._tracked, self._clock = rate, burst, tracked, clock
        self._buckets: OrderedDict[object, TokenBucket] = OrderedDict()

    def take(self, key: object) -> bool:
        bucket = self._buckets.get(key)
        if bucket is None:
            bucket = self._buckets[key] = TokenBucket(self._rate, self._burst, self._clock)
            while len(self._buckets) > self._tracked:
                self._buckets.popitem(last=False)
        self._buckets.move_to_end(key)
        return bucket.take(1.0)


class ExchangeStream(wire.ByteStream, Protocol):
    async def reset(self) -> None: ...


def answer_message(answer: bytes) -> dict[str, Any]:
    return {"t": "answer", "answer": answer}


@dataclass(frozen=True)
class Exchange:
    """One protocol of this shape: its request's kind, bounds and the words
    its errors use."""

    kind: str  # the request's "t", and the word in messages ("join", "device")
    max_request: int  # the framed request
    max_answer: int  # the framed answer
    request_seconds: float  # the request (sent at once) must arrive within this
    exchange_seconds: float  # ...and the answer come back within this
    declined: str  # what a PeerError says when the peer answers with an error
    closed: str  # ...and when it closes the stream without an answer

    def request_message(self, request: bytes) -> dict[str, Any]:
        return {"t": self.kind, "request": request}

    def parse_request(self, message: dict[str, Any]) -> bytes:
        """The request's bytes (ProtocolError for anything else)."""
        if message.get("t") != self.kind:
            raise ProtocolError(f"expected a {self.kind} request, got {str(message.get('t'))[:32]!r}")
        wire.only(message, "request")
        request: bytes = wire.field(message, "request", wire.as_bytes(max_length=self.max_request))
        if not request:
            raise ProtocolError(f"an empty {self.kind} request")
        return request

    def parse_answer(self, message: dict[str, Any]) -> bytes:
        """The answer's bytes; PeerError if the peer answered with an error."""
        kind = message.get("t")
        if kind == "error":
            wire.only(message, "message")
            text = wire.field(message, "message", wire.as_text(500))
            raise PeerError(f"{self.declined}: {text[:MAX_ERROR_CHARACTERS]}")
        if kind != "answer":
            raise ProtocolError(f"expected a {self.kind} answer, got {str(kind)[:32]!r}")
        wire.only(message, "answer")
        answer: bytes = wire.field(message, "answer", wire.as_bytes(max_length=self.max_answer))
        if not answer:
            raise ProtocolError(f"an empty {self.kind} answer")
        return answer

    def frame(self, message: dict[str, Any], limit: int) -> bytes:
        data = wire.frame(message)
        if len(data) > limit:
            raise ProtocolError(f"a {self.kind} message of {len(data)} bytes exceeds the limit of {limit}")
        return data

    async def ask(self, stream: wire.ByteStream, request: bytes) -> bytes:
        """Send one request on a fresh stream and read the answer's bytes
        (PeerError if the peer declines or goes, ProtocolError if it breaks
        the protocol, trio.TooSlowError after `exchange_seconds`)."""
        with trio.fail_after(self.exchange_seconds):
            await stream.write(self.frame(self.request_message(request), self.max_request))
            message = await wire.MessageReader(stream, self.max_answer).read()
        if message is None:
            raise PeerError(self.closed)
        return self.parse_answer(message)


class ExchangeServer:
    """Answers requests of one exchange with `answer(request, peer)` (on the
    engine thread, between awaits: never interleaved with other node calls)."""

    def __init__(self, exchange: Exchange, answer: Callable[[bytes, PeerId], bytes], budgets: Budgets,
                 limits: ExchangeLimits | None = None, clock: Callable[[], float] = time.monotonic) -> None:
        self.exchange = exchange
        self.budgets = budgets
        self.limits = limits = limits or ExchangeLimits()
        self.answered = 0
        self.refused = 0  # requests turned away by the limits
        self._answer = answer
        self._in_flight = 0
        self._asking: set[PeerId] = set()  # peers with a request in flight: one each
        self._reading: OrderedDict[object, trio.CancelScope] = OrderedDict()  # oldest first
        self._peers = Buckets(limits.per_peer_per_second, limits.per_peer_burst, limits.tracked, clock)
        self._addresses = Buckets(limits.per_address_per_second, limits.per_address_burst, limits.tracked, clock)
        self._total = TokenBucket(limits.total_per_second, limits.total_burst, clock)

    def _refusal(self, peer: PeerId, address: str) -> str | None:
        kind = self.exchange.kind
        if peer in self._asking:
            return f"busy: one {kind} request at a time"
        if self._in_flight >= self.limits.in_flight and not self._drop_oldest_reading():
            return f"busy: too many {kind} requests at once, try again later"
        # "" is every relayed stream: only the per-peer and total buckets apply to them
        if not self._peers.take(peer) or (address and not self._addresses.take(address)) or \
                not self._total.take(1.0):
            return f"busy: too many {kind} requests, try again later"
        return None

    def _drop_oldest_reading(self) -> bool:
        """Make room by ending the oldest request still being read: places
        held by streams that send nothing (anyone can open many, under
        identities that cost nothing) never keep an honest asker out, whose
        request arrives at once."""
        if not self._reading:
            return False
        _token, scope = self._reading.popitem(last=False)
        scope.cancel()
        return True

    async def serve(self, stream: ExchangeStream, peer: PeerId, address: str) -> None:
        exchange, kind = self.exchange, self.exchange.kind
        refusal = self._refusal(peer, address)
        if refusal is not None:
            self.refused += 1
            await say_and_close(stream, exchange.frame(wire.reply_error(refusal), exchange.max_answer))
            return
        self._in_flight += 1
        self._asking.add(peer)
        token = object()
        try:
            with trio.move_on_after(exchange.exchange_seconds):
                reader = wire.MessageReader(stream, exchange.max_request, budgets=self.budgets, address=address)
                try:
                    reading = self._reading[token] = trio.CancelScope(
                        deadline=trio.current_time() + exchange.request_seconds)
                    message = None
                    with reading:
                        message = await reader.read()
                    self._reading.pop(token, None)
                    if message is None:
                        return
                    reply = answer_message(self._answer(exchange.parse_request(message), peer))
                    self.answered += 1
                except (ProtocolError, PeerError) as exc:
                    log.info("%s request from %s refused: %s", kind, peer, exc)
                    reply = wire.reply_error(str(exc)[:MAX_ERROR_CHARACTERS])
                except ThreadsError as exc:  # the node could not answer (a full disk, say): no detail out
                    log.warning("%s request from %s not answered: %s", kind, peer, exc)
                    reply = wire.reply_error("cannot answer now, try again later")
                except Exception:  # our bug: the stranger gets no detail, the node goes on serving
                    log.exception("answering the %s request of %s hit a bug", kind, peer)
                    reply = wire.reply_error("cannot answer now, try again later")
                await stream.write(exchange.frame(reply, exchange.max_answer))
        except PeerError as exc:
            log.debug("%s stream of %s broke: %s", kind, peer, exc)
        finally:
            self._in_flight -= 1
            self._asking.discard(peer)
            self._reading.pop(token, None)
            with trio.CancelScope(shield=True):
                # Reset too: py-libp2p's yamux would keep whatever the peer
                # still sends on the stream, unread (up to 16 MiB a stream).
                await close(stream, reset=True)


async def say_and_close(stream: ExchangeStream, framed: bytes) -> None:
    """Answer, then close and reset (what the peer still sends is dropped)."""
    try:
        with trio.move_on_after(1.0):
            await stream.write(framed)
    except PeerError:
        pass
    with trio.CancelScope(shield=True):
        await close(stream, reset=True)


async def close(stream: ExchangeStream, *, reset: bool = False) -> None:
    try:
        with trio.move_on_after(1.0):
            await stream.close()
            if reset:
                await stream.reset()
    except PeerError:
        pass
