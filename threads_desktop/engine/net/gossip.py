"""Gossipsub: new records fanned out on a topic per thread.

The topic is derived from the thread's follow key, so it names nothing to
outsiders and changes when the follow key rotates (a removed follower can no
longer even find it). A message is a DAG-CBOR list of envelopes, checked on
arrival exactly like a page from a session. Gossip is best effort: py-libp2p
drops bursts silently (spam protection, 32-entry queues, ~1 MiB per RPC), so
the sessions' push and pull stay the source of truth and gossip only makes
delivery faster in groups where not every pair is connected.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import weakref
from collections.abc import Callable, Sequence
from typing import Any

import trio
from libp2p.abc import IHost, INetStream
from libp2p.peer.id import ID
from libp2p.pubsub.gossipsub import PROTOCOL_ID, PROTOCOL_ID_V11, PROTOCOL_ID_V12, GossipSub
from libp2p.pubsub.pubsub import Pubsub
from libp2p.tools.anyio_service import background_trio_service

from threads_desktop.engine.codec import cbor
from threads_desktop.engine.core.errors import CodecError, ProtocolError, ThreadsError
from threads_desktop.engine.core.ids import PeerId, ThreadId
from threads_desktop.engine.core.keys import ThreadKey
from threads_desktop.engine.logstore.envelopes import Envelope
from threads_desktop.engine.net.wire import as_envelope, envelope_value

log = logging.getLogger(__name__)

MAX_GOSSIP_BYTES = 900 * 1024  # under py-libp2p's ~1 MiB per RPC, which drops bigger ones silently
MAX_GOSSIP_RECORDS = 64
_TOPIC_LABEL = b"threads/1/topic"
Deliver = Callable[[ThreadId, PeerId, list[Envelope]], None]


def topic_of(thread_id: ThreadId, key: ThreadKey) -> str:
    mac = hmac.new(key.follow, _TOPIC_LABEL + thread_id.raw, hashlib.sha256).hexdigest()
    return f"/threads/1/{mac[:40]}"


def encode_records(envelopes: Sequence[Envelope]) -> list[bytes]:
    """Envelopes as messages within the size limit (an envelope too big for
    one is left to the sessions)."""
    messages: list[bytes] = []
    batch: list[list[bytes]] = []
    size = 0
    for envelope in envelopes:
        value = envelope_value(envelope)
        length = sum(map(len, value)) + 64
        if length > MAX_GOSSIP_BYTES:
            continue
        if batch and (size + length > MAX_GOSSIP_BYTES or len(batch) == MAX_GOSSIP_RECORDS):
            messages.append(cbor.encode(batch))
            batch, size = [], 0
        batch.append(value)
        size += length
    if batch:
        messages.append(cbor.encode(batch))
    return messages


def decode_records(data: bytes) -> list[Envelope]:
    try:
        value = cbor.decode(data, max_size=MAX_GOSSIP_BYTES + 4096, max_depth=4)
    except CodecError as exc:
        raise ProtocolError(f"a gossip message is not valid DAG-CBOR: {exc}") from exc
    if not isinstance(value, list) or not 0 < len(value) <= MAX_GOSSIP_RECORDS:
        raise ProtocolError("a gossip message is a list of 1 to 64 envelopes")
    try:
        return [as_envelope(v) for v in value]
    except (TypeError, ValueError) as exc:
        raise ProtocolError(f"a gossip message holds a malformed envelope: {exc}") from exc


class GuardedPubsub(Pubsub):
    """py-libp2p's Pubsub with two repairs (py-libp2p 0.8):

    - A peer's RPC that does not parse raises protobuf's DecodeError, which
      its stream handler does not catch: it ended the whole host, so any peer
      that could connect could take our network down with one bad frame.
      Here it ends that peer's pubsub stream only.
    - yamux locks each 64 KiB chunk of a write, not the write, and pubsub
      writes to a peer's stream from several tasks: two RPCs larger than a
      chunk (records with thumbnails) interleaved and corrupted the stream.
      Writes to one stream take turns here."""

    def __init__(self, host: IHost, router: GossipSub) -> None:
        super().__init__(host, router)
        self._write_turns: weakref.WeakKeyDictionary[INetStream, trio.Lock] = weakref.WeakKeyDictionary()

    async def stream_handler(self, stream: INetStream) -> None:
        try:
            await super().stream_handler(stream)
        except Exception as exc:  # noqa: BLE001 - whatever a peer's bytes raise ends its stream, not the host
            peer_id = stream.muxed_conn.peer_id
            log.info("gossip stream of %s ended: %s: %s", peer_id, type(exc).__name__, exc)
            with trio.move_on_after(1.0):
                await stream.reset()
            self._handle_dead_peer(peer_id)

    async def write_msg(self, stream: INetStream, rpc_msg: Any) -> bool:
        turn = self._write_turns.setdefault(stream, trio.Lock())
        async with turn:
            return await super().write_msg(stream, rpc_msg)


class Gossip:
    """Pubsub on a host; must be made before the host connects to anyone."""

    def __init__(self, host: IHost, me: PeerId, deliver: Deliver) -> None:
        self._router = GossipSub(protocols=[PROTOCOL_ID_V12, PROTOCOL_ID_V11, PROTOCOL_ID], degree=6, degree_low=4,
                                 degree_high=12, heartbeat_interval=1)
        self._pubsub = GuardedPubsub(host, self._router)
        # Pubsub tells every connected peer our topics and forwards it what
        # it subscribes to: only peers that proved a thread in a session take
        # part. py-libp2p has a blacklist, not an allowlist, so its check is
        # replaced by ours.
        self._allowed: set[bytes] = {me.raw}  # our own publications pass the same check
        self._pubsub.is_peer_blacklisted = self._refused  # type: ignore[method-assign]
        self._me = me
        self._deliver = deliver
        self._topics: dict[str, tuple[ThreadId, trio.CancelScope]] = {}
        self._nursery: trio.Nursery | None = None
        self.received = 0  # messages taken from peers (for tests and status)

    async def run(self, *, task_status: Any = trio.TASK_STATUS_IGNORED) -> None:
        async with background_trio_service(self._pubsub), background_trio_service(self._router):
            await self._pubsub.wait_until_ready()
            async with trio.open_nursery() as nursery:
                self._nursery = nursery
                task_status.started()
                await trio.sleep_forever()

    def _refused(self, peer_id: ID) -> bool:
        return peer_id.to_bytes() not in self._allowed

    def allow(self, peer: PeerId) -> None:
        """Let a peer that shares a thread with us take part (once proven)."""
        if peer.raw in self._allowed or self._nursery is None:
            return
        self._allowed.add(peer.raw)
        self._nursery.start_soon(self._pubsub.ensure_peer_stream, ID(peer.raw))

    async def follow(self, wanted: dict[str, ThreadId]) -> None:
        """Be subscribed to exactly these topics."""
        for topic in [t for t in self._topics if t not in wanted]:
            _thread, scope = self._topics.pop(topic)
            scope.cancel()
            await self._pubsub.unsubscribe(topic)
        for topic, thread_id in wanted.items():
            if topic not in self._topics and self._nursery is not None:
                subscription = await self._pubsub.subscribe(topic)
                scope = trio.CancelScope()
                self._topics[topic] = (thread_id, scope)
                self._nursery.start_soon(self._listen, subscription, thread_id, scope)

    async def _listen(self, subscription: Any, thread_id: ThreadId, scope: trio.CancelScope) -> None:
        with scope:
            while True:
                message = await subscription.get()
                try:
                    source = PeerId(bytes(message.from_id))
                except Exception:  # noqa: BLE001 - a malformed origin is dropped like any bad message
                    continue
                if source == self._me:
                    continue  # py-libp2p hands us our own messages too
                try:
                    envelopes = decode_records(bytes(message.data))
                except ProtocolError as exc:
                    log.info("dropped a gossip message from %s: %s", source, exc)
                    continue
                self.received += 1
                try:
                    self._deliver(thread_id, source, envelopes)
                except ThreadsError as exc:  # one message refused; the subscription lives on
                    log.warning("a gossip message from %s was not taken: %s", source, exc)

    async def publish(self, topic: str, envelopes: Sequence[Envelope]) -> None:
        for data in encode_records(envelopes):
            await self._pubsub.publish(topic, data)
