"""Fixed keys and nonces give fixed blocks and CIDs (tests/engine/data/).

The vectors pin the wire format: a change that alters any byte fails here.
Regenerate only for a deliberate format change:
    THREADS_WRITE_GOLDEN=1 .venv/bin/python -m pytest tests/engine/codec/test_golden_vectors.py
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import dag_cbor
import pytest

from tests.conftest import deterministic_bytes
from threads_desktop.engine.codec import cbor, nodes
from threads_desktop.engine.codec.cid import cid_of_cbor, format_cid
from threads_desktop.engine.core.ids import PeerId, ThreadId, ThreadVariant
from threads_desktop.engine.core.keys import SigningKey, ThreadKey
from threads_desktop.engine.crypto import aead
from threads_desktop.engine.logstore.envelopes import (
    DecodedEnvelope,
    Envelope,
    build_envelope,
    check_envelope,
    open_event,
)

VECTORS = Path(__file__).parents[1] / "data" / "golden_vectors.json"
PAYLOADS: list[Any] = [
    {"type": "thread.created", "kind": "album", "name": "Summer"},
    {"type": "chat.message", "text": "héllo 👋", "reply_to": None, "n": [1, -2, 3.5, True]},
]


def build_vectors() -> dict[str, Any]:
    random_bytes = deterministic_bytes(b"golden")
    thread_id = ThreadId.from_random(ThreadVariant.ACCESS_CONTROLLED, bytes(range(32)))
    key = ThreadKey(bytes([1]) * 32, bytes([2]) * 32, epoch=0)
    log_key = SigningKey.from_seed(bytes([3]) * 32)
    other_log = SigningKey.from_seed(bytes([4]) * 32).peer_id
    events = []
    prev: bytes | None = None
    for seq, payload in enumerate(PAYLOADS, 1):
        built = build_envelope(thread_id=thread_id, key=key, log_key=log_key, prev_cid=prev, seq=seq,
                               payload=payload, hlc=(1_790_000_000_000 << 16) + seq,
                               deps=[(other_log, 7)] if seq == 2 else [], random_bytes=random_bytes)
        prev = built.record_cid
        events.append({
            "seq": seq,
            "record_cid": format_cid(built.record_cid),
            "event_cid": format_cid(built.record.event_cid),
            "header_cid": format_cid(built.header_cid),
            "body_cid": format_cid(built.body_cid),
            **{name: block.hex() for name, block in zip(("record", "event", "header", "body"),
                                                        built.envelope.blocks(), strict=True)},
        })
    return {
        "thread_id": str(thread_id),
        "follow_key": key.follow.hex(),
        "read_key": key.read.hex() if key.read else None,
        "log_seed": log_key.seed().hex(),
        "log_id": str(log_key.peer_id),
        "events": events,
    }


def test_blocks_and_cids_match_the_committed_vectors() -> None:
    vectors = build_vectors()
    if os.environ.get("THREADS_WRITE_GOLDEN") == "1":
        VECTORS.write_text(json.dumps(vectors, indent=2) + "\n")
    assert vectors == json.loads(VECTORS.read_text())


def test_committed_vectors_verify_and_decrypt() -> None:
    vectors = json.loads(VECTORS.read_text())
    thread_id = ThreadId.parse(vectors["thread_id"])
    key = ThreadKey(bytes.fromhex(vectors["follow_key"]), bytes.fromhex(vectors["read_key"]))
    for event, payload in zip(vectors["events"], PAYLOADS, strict=True):
        envelope = Envelope(*(bytes.fromhex(event[n]) for n in ("record", "event", "header", "body")))
        checked = check_envelope(thread_id, envelope, [key])
        assert str(checked.log_id) == vectors["log_id"]
        assert format_cid(checked.record_cid) == event["record_cid"]
        assert open_event(envelope.header, envelope.body, [key]).payload == payload


def _plaintexts(built: DecodedEnvelope, key: ThreadKey) -> dict[str, bytes]:
    env = built.envelope
    assert key.read_cipher is not None
    header = aead.open_sealed(key.read_cipher, nodes.decode_sealed(env.header, 1 << 20), aead.AAD_HEADER)
    content_key = nodes.decode_header_plaintext(header).content_key
    return {
        "record": aead.open_sealed(key.follow_cipher, nodes.decode_sealed(env.record, 1 << 20), aead.AAD_RECORD),
        "event": env.event,
        "header": header,
        "body": aead.open_sealed(content_key, nodes.decode_sealed(env.body, 1 << 20), aead.AAD_BODY),
        "sealed_record": env.record,
        "sealed_header": env.header,
        "sealed_body": env.body,
    }


@pytest.mark.parametrize("payload", PAYLOADS)
def test_every_node_kind_encodes_as_the_reference_encoder_does(payload: Any) -> None:
    key = ThreadKey(os.urandom(32), os.urandom(32))
    thread_id = ThreadId.from_random(ThreadVariant.ACCESS_CONTROLLED, os.urandom(32))
    first = build_envelope(thread_id=thread_id, key=key, log_key=SigningKey.generate(), prev_cid=None, seq=1,
                           payload=payload, hlc=5, deps=[(PeerId.from_public_key(bytes(32)), 3)],
                           random_bytes=os.urandom)
    for name, encoded in _plaintexts(first, key).items():
        # Decode with the reference codec and encode again: same bytes.
        assert dag_cbor.encode(dag_cbor.decode(encoded)) == encoded, name
        assert cid_of_cbor(encoded) == cid_of_cbor(cbor.encode(cbor.decode(encoded, max_size=1 << 22)))
