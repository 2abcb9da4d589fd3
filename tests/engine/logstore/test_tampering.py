"""Every byte of an envelope is covered: by a CID, the record's AEAD tag or
its signature. A change anywhere is refused, and refusal changes nothing."""

from __future__ import annotations

import os
from collections.abc import Callable

import pytest

from tests.engine.logstore.helpers import all_envelopes, append_messages, new_chat, share, snapshot
from threads_desktop.engine.codec import cbor, nodes
from threads_desktop.engine.codec.cbor import Link
from threads_desktop.engine.core.errors import SignatureError, ThreadsError
from threads_desktop.engine.core.ids import PeerId, ThreadId, ThreadVariant
from threads_desktop.engine.core.keys import ThreadKey
from threads_desktop.engine.crypto import aead
from threads_desktop.engine.logstore.envelopes import Envelope
from threads_desktop.engine.node import Node

OpenNode = Callable[[str], Node]


def _flip(block: bytes, position: int) -> bytes:
    return block[:position] + bytes([block[position] ^ 0x01]) + block[position + 1:]


def test_flipping_any_byte_of_any_block_is_refused(open_node: OpenNode) -> None:
    writer, reader = open_node("writer"), open_node("reader")
    thread = new_chat(writer)
    append_messages(writer, thread, 1)
    share(writer, reader, thread)
    *earlier, second = all_envelopes(writer, thread)
    reader.store.ingest_many(thread, earlier)
    before = snapshot(reader)
    attempts = 0
    for index, block in enumerate(second.blocks()):
        for position in range(len(block)):
            blocks = list(second.blocks())
            blocks[index] = _flip(block, position)
            with pytest.raises(ThreadsError):
                reader.store.ingest(thread, Envelope(*blocks))
            attempts += 1
    assert attempts == sum(len(b) for b in second.blocks())
    assert snapshot(reader) == before


def _reseal_record(envelope: Envelope, key: ThreadKey, **changes: object) -> Envelope:
    """Re-encrypt the record with fields changed but the signature kept."""
    plain = aead.open_sealed(key.follow_cipher, nodes.decode_sealed(envelope.record, 4096), aead.AAD_RECORD)
    record = cbor.decode(plain, max_size=4096)
    record.update(changes)
    sealed = aead.seal(key.follow_cipher, cbor.encode(record), aead.AAD_RECORD, os.urandom)
    return Envelope(nodes.encode_sealed(sealed), envelope.event, envelope.header, envelope.body)


def test_a_record_replayed_at_another_position_is_refused(open_node: OpenNode) -> None:
    writer, reader = open_node("writer"), open_node("reader")
    thread = new_chat(writer)
    append_messages(writer, thread, 1)
    share(writer, reader, thread)
    first, second, third = all_envelopes(writer, thread)  # the two founding events, then a message
    key = writer.store.thread_keys(thread)[0]
    reader.store.ingest_many(thread, [first, second])
    first_cid, second_cid = (r.record_cid for r in reader.store.records_after(thread, _log(writer, thread), 0))
    before = snapshot(reader)
    replays = [
        _reseal_record(second, key, seq=3, prev=Link(second_cid)),  # record 2 moved to seq 3
        _reseal_record(third, key, prev=Link(first_cid)),            # record 3 hung after record 1
    ]
    for replay in replays:
        with pytest.raises(SignatureError):
            reader.store.ingest(thread, replay)
    assert snapshot(reader) == before


def _log(node: Node, thread: ThreadId) -> PeerId:
    log_id = node.store.own_log(thread)
    assert log_id is not None
    return log_id


def test_a_record_replayed_into_another_thread_is_refused(open_node: OpenNode) -> None:
    writer, reader = open_node("writer"), open_node("reader")
    thread = new_chat(writer)
    key = writer.store.thread_keys(thread)[0]
    # Another thread with the very same keys: only the signature tells them apart.
    other = ThreadId.from_random(ThreadVariant.ACCESS_CONTROLLED, bytes(32))
    reader.store.create_thread(other, key)
    before = snapshot(reader)
    with pytest.raises(SignatureError):
        reader.store.ingest(other, all_envelopes(writer, thread)[0])
    assert snapshot(reader) == before
