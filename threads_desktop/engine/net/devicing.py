"""`/threads/device/1.0.0`: a new installation asks one of a person's devices
to become another device of that person (issue 19), with a device link.

One request, one answer, then the stream closes, as `/threads/join/1.0.0`
(joining.py) and under the same limits (exchange.py's ExchangeLimits: per peer, per address,
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

import time
from collections.abc import Callable
from typing import Any, Protocol

from threads_desktop.engine.core.ids import PeerId
from threads_desktop.engine.net import wire
from threads_desktop.engine.net.budgets import Budgets
from threads_desktop.engine.net.exchange import Exchange, ExchangeLimits, ExchangeServer
from threads_desktop.engine.net.paging import MAX_MESSAGE_BYTES

PROTOCOL_ID = "/threads/device/1.0.0"
MAX_REQUEST_BYTES = 2 << 10  # the framed request: a DeviceRequest is ~230 bytes
MAX_ANSWER_BYTES = MAX_MESSAGE_BYTES  # the framed answer: a sealed bundle (10,000 albums: ~1.5 MiB)
REQUEST_SECONDS = 2.0  # the request (sent at once) must arrive within this
EXCHANGE_SECONDS = 60.0  # ...and the answer come back: a large bundle over a slow link
DEVICE = Exchange("device", MAX_REQUEST_BYTES, MAX_ANSWER_BYTES, REQUEST_SECONDS, EXCHANGE_SECONDS,
                  declined="the device did not answer", closed="the device closed the stream without an answer")
MAX_PEERS_ASKED = 8  # a link's addresses name one device; each may cost CONNECT + EXCHANGE seconds


class Devicing(Protocol):
    """The issuing device's side, as the network sees it (engine/persons)."""

    def answer(self, request: bytes, peer: PeerId) -> bytes:
        """Judge a DeviceRequest `peer` sent and answer it (an encoded
        DeviceAnswer). ProtocolError for malformed bytes or a request that
        is not the sender's own."""
        ...


def request_message(request: bytes) -> dict[str, Any]:
    return DEVICE.request_message(request)


def parse_request(message: dict[str, Any]) -> bytes:
    return DEVICE.parse_request(message)


def parse_answer(message: dict[str, Any]) -> bytes:
    """The DeviceAnswer's bytes; PeerError if the peer answered with an error."""
    return DEVICE.parse_answer(message)


class DeviceServer(ExchangeServer):
    """Answers device requests, bounded as the join server is."""

    def __init__(self, devicing: Devicing, budgets: Budgets, limits: ExchangeLimits | None = None,
                 clock: Callable[[], float] = time.monotonic) -> None:
        super().__init__(DEVICE, devicing.answer, budgets, limits, clock)
        self.devicing = devicing


async def ask(stream: wire.ByteStream, request: bytes) -> bytes:
    """Send one request on a fresh device stream and read the answer's bytes
    (PeerError if the peer declines or goes, ProtocolError if it breaks the
    protocol, trio.TooSlowError after EXCHANGE_SECONDS)."""
    return await DEVICE.ask(stream, request)
