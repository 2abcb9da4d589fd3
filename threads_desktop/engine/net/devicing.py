"""`/threads/device/1.0.0`: a new installation asks one of a person's devices
to become another device of that person (issue 19), with a device link.

One request, one answer, then the stream closes, as `/threads/join/1.0.0`
(joining.py) and under the same limits (JoinLimits: per peer, per address,
in total, in flight; the oldest request still being read gives way):

    request  {"t": "device", "request": <DeviceRequest DAG-CBOR, <= 1 KiB>}
    answer   {"t": "answer", "answer": <DeviceAnswer DAG-CBOR: refused, or the sealed bundle>}
             or {"t": "error", "message": text}

The payloads are opaque here: their strict codecs are
engine/persons/device_links.py's, reached through the `Devicing` port. A
request without a valid signature of a link this device issued costs a
signature check and one lookup; only an unspent, unexpired link makes the
device build and send the bundle (once: the link is spent then).
"""

from __future__ import annotations

import logging
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

import trio

from threads_desktop.engine.core.errors import PeerError, ProtocolError, ThreadsError
from threads_desktop.engine.core.ids import PeerId
from threads_desktop.engine.net import wire
from threads_desktop.engine.net.budgets import Budgets, TokenBucket
from threads_desktop.engine.net.joining import JoinLimits, JoinStream
from threads_desktop.engine.net.joining import _Buckets as Buckets
from threads_desktop.engine.net.paging import MAX_MESSAGE_BYTES

log = logging.getLogger(__name__)

PROTOCOL_ID = "/threads/device/1.0.0"
MAX_REQUEST_BYTES = 2 << 10  # the framed request: a DeviceRequest is ~230 bytes
MAX_ANSWER_BYTES = MAX_MESSAGE_BYTES  # the framed answer: a sealed bundle (10,000 albums: ~1.5 MiB)
REQUEST_SECONDS = 2.0  # the request (sent at once) must arrive within this
EXCHANGE_SECONDS = 60.0  # ...and the answer come back: a large bundle over a slow link
MAX_ERROR_CHARACTERS = 200
MAX_PEERS_ASKED = 8  # a link's addresses name one device; each may cost CONNECT + EXCHANGE seconds


class Devicing(Protocol):
    """The issuing device's side, as the network sees it (engine/persons)."""

    def answer(self, request: bytes, peer: PeerId) -> bytes:
        """Judge a DeviceRequest `peer` sent and answer it (an encoded
        DeviceAnswer). ProtocolError for malformed bytes or a request that
        is not the sender's own."""
        ...


def request_message(request: bytes) -> dict[str, Any]:
    return {"t": "device", "request": request}


def parse_request(message: dict[str, Any]) -> bytes:
    if message.get("t") != "device":
        raise ProtocolError(f"expected a device request, got {str(message.get('t'))[:32]!r}")
    wire.only(message, "request")
    request: bytes = wire.field(message, "request", wire.as_bytes(max_length=MAX_REQUEST_BYTES))
    if not request:
        raise ProtocolError("an empty device request")
    return request


def parse_answer(message: dict[str, Any]) -> bytes:
    """The DeviceAnswer's bytes; PeerError if the peer answered with an error."""
    kind = message.get("t")
    if kind == "error":
        wire.only(message, "message")
        text = wire.field(message, "message", wire.as_text(500))
        raise PeerError(f"the device did not answer: {text[:MAX_ERROR_CHARACTERS]}")
    if kind != "answer":
        raise ProtocolError(f"expected a device answer, got {str(kind)[:32]!r}")
    wire.only(message, "answer")
    answer: bytes = wire.field(message, "answer", wire.as_bytes(max_length=MAX_ANSWER_BYTES))
    if not answer:
        raise ProtocolError("an empty device answer")
    return answer


@dataclass
class DeviceServer:
    """Answers device requests, bounded as the join server is."""

    devicing: Devicing
    budgets: Budgets
    limits: JoinLimits = field(default_factory=JoinLimits)
    clock: Callable[[], float] = time.monotonic
    answered: int = 0
    refused: int = 0  # requests turned away by the limits
    _in_flight: int = 0
    _asking: set[PeerId] = field(default_factory=set)
    _reading: OrderedDict[object, trio.CancelScope] = field(default_factory=OrderedDict)  # oldest first
    _peers: Buckets = field(init=False)
    _addresses: Buckets = field(init=False)
    _total: TokenBucket = field(init=False)

    def __post_init__(self) -> None:
        limits = self.limits
        self._peers = Buckets(limits.per_peer_per_second, limits.per_peer_burst, limits.tracked, self.clock)
        self._addresses = Buckets(limits.per_address_per_second, limits.per_address_burst, limits.tracked,
                                  self.clock)
        self._total = TokenBucket(limits.total_per_second, limits.total_burst, self.clock)

    def _refusal(self, peer: PeerId, address: str) -> str | None:
        if peer in self._asking:
            return "busy: one device request at a time"
        if self._in_flight >= self.limits.in_flight and not self._drop_oldest_reading():
            return "busy: too many device requests at once, try again later"
        if not self._peers.take(peer) or (address and not self._addresses.take(address)) or \
                not self._total.take(1.0):
            return "busy: too many device requests, try again later"
        return None

    def _drop_oldest_reading(self) -> bool:
        if not self._reading:
            return False
        _token, scope = self._reading.popitem(last=False)
        scope.cancel()
        return True

    async def serve(self, stream: JoinStream, peer: PeerId, address: str) -> None:
        refusal = self._refusal(peer, address)
        if refusal is not None:
            self.refused += 1
            await _say_and_close(stream, wire.reply_error(refusal))
            return
        self._in_flight += 1
        self._asking.add(peer)
        token = object()
        try:
            with trio.move_on_after(EXCHANGE_SECONDS):
                reader = wire.MessageReader(stream, MAX_REQUEST_BYTES, budgets=self.budgets, address=address)
                try:
                    reading = self._reading[token] = trio.CancelScope(deadline=trio.current_time() + REQUEST_SECONDS)
                    message = None
                    with reading:
                        message = await reader.read()
                    self._reading.pop(token, None)
                    if message is None:
                        return
                    # On the engine thread, between awaits: never interleaved with other node calls.
                    reply = {"t": "answer", "answer": self.devicing.answer(parse_request(message), peer)}
                    self.answered += 1
                except (ProtocolError, PeerError) as exc:
                    log.info("device request from %s refused: %s", peer, exc)
                    reply = wire.reply_error(str(exc)[:MAX_ERROR_CHARACTERS])
                except ThreadsError as exc:  # the node could not answer (a full disk): no detail out
                    log.warning("device request from %s not answered: %s", peer, exc)
                    reply = wire.reply_error("cannot answer now, try again later")
                except Exception:  # our bug: the stranger gets no detail, the node goes on serving
                    log.exception("answering the device request of %s hit a bug", peer)
                    reply = wire.reply_error("cannot answer now, try again later")
                await stream.write(_frame(reply, MAX_ANSWER_BYTES))
        except PeerError as exc:
            log.debug("device stream of %s broke: %s", peer, exc)
        finally:
            self._in_flight -= 1
            self._asking.discard(peer)
            self._reading.pop(token, None)
            with trio.CancelScope(shield=True):
                await _close(stream, reset=True)  # what the peer still sends is dropped (yamux keeps it)


async def ask(stream: wire.ByteStream, request: bytes) -> bytes:
    """Send one request on a fresh device stream and read the answer's bytes
    (PeerError if the peer declines or goes, ProtocolError if it breaks the
    protocol, trio.TooSlowError after EXCHANGE_SECONDS)."""
    with trio.fail_after(EXCHANGE_SECONDS):
        await stream.write(_frame(request_message(request), MAX_REQUEST_BYTES))
        message = await wire.MessageReader(stream, MAX_ANSWER_BYTES).read()
    if message is None:
        raise PeerError("the device closed the stream without an answer")
    return parse_answer(message)


def _frame(message: dict[str, Any], limit: int) -> bytes:
    data = wire.frame(message)
    if len(data) > limit:
        raise ProtocolError(f"a device message of {len(data)} bytes exceeds the limit of {limit}")
    return data


async def _say_and_close(stream: JoinStream, message: dict[str, Any]) -> None:
    try:
        with trio.move_on_after(1.0):
            await stream.write(_frame(message, MAX_ANSWER_BYTES))
    except PeerError:
        pass
    with trio.CancelScope(shield=True):
        await _close(stream, reset=True)


async def _close(stream: JoinStream, *, reset: bool = False) -> None:
    try:
        with trio.move_on_after(1.0):
            await stream.close()
            if reset:
                await stream.reset()
    except PeerError:
        pass
