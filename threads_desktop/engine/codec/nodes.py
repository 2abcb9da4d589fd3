"""The four nodes of an event and their strict decoders (DESIGN §3).

record  = sealed(follow key, {block, prev?, seq, sig, pubKey})
event   = {header: CID, body: CID}                       (plain)
header  = sealed(read key, {key, hlc, deps, epoch})
body    = sealed(content key, payload)

A sealed node is a DAG-CBOR byte string holding `nonce || ciphertext || tag`.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field
from typing import Any

from threads_desktop.engine.codec import cbor
from threads_desktop.engine.codec.cbor import Link
from threads_desktop.engine.codec.cid import CID_LENGTH, CODEC_DAG_CBOR
from threads_desktop.engine.core.errors import SchemaError
from threads_desktop.engine.core.hlc import MAX_HLC
from threads_desktop.engine.core.ids import PeerId
from threads_desktop.engine.crypto.aead import OVERHEAD

MAX_RECORD_BYTES = 1024
MAX_EVENT_BYTES = 256
MAX_HEADER_BYTES = 64 * 1024
MAX_BODY_BYTES = 2 * 1024 * 1024
MAX_DEPS = 1024
MAX_SEQ = (1 << 63) - 1
SIGNATURE_LENGTH = 64


@dataclass(frozen=True, slots=True)
class Record:
    event_cid: bytes
    prev_cid: bytes | None
    seq: int
    signature: bytes
    log_id: PeerId


@dataclass(frozen=True, slots=True)
class Event:
    header_cid: bytes
    body_cid: bytes


@dataclass(frozen=True, slots=True)
class Header:
    content_key: bytes = field(repr=False)
    hlc: int
    deps: tuple[tuple[PeerId, int], ...]
    epoch: int


# --- sealed nodes ---------------------------------------------------------

def encode_sealed(sealed: bytes) -> bytes:
    return cbor.encode(sealed)


def decode_sealed(block: bytes, max_size: int) -> bytes:
    value = cbor.decode(block, max_size=max_size)
    if not isinstance(value, bytes) or len(value) < OVERHEAD:
        raise SchemaError("a sealed node is a byte string of nonce, ciphertext and tag")
    return value


# --- record ---------------------------------------------------------------

def record_map(record: Record) -> dict[str, Any]:
    node: dict[str, Any] = {
        "block": Link(record.event_cid),
        "seq": record.seq,
        "sig": record.signature,
        "pubKey": record.log_id.marshalled_key,
    }
    if record.prev_cid is not None:
        node["prev"] = Link(record.prev_cid)
    return node


def decode_record_plaintext(plaintext: bytes) -> Record:
    node = _map(cbor.decode(plaintext, max_size=MAX_RECORD_BYTES), "record",
                required={"block", "seq", "sig", "pubKey"}, optional={"prev"})
    seq = _int(node["seq"], "record seq", 1, MAX_SEQ)
    prev = _dag_cbor_link(node["prev"], "record prev") if "prev" in node else None
    if (seq == 1) != (prev is None):
        raise SchemaError("only the first record of a log has no prev")
    signature = _bytes(node["sig"], "record sig", SIGNATURE_LENGTH)
    pub_key = _bytes(node["pubKey"], "record pubKey", 36)
    return Record(_dag_cbor_link(node["block"], "record block"), prev, seq, signature,
                  PeerId.from_marshalled_key(pub_key))


# --- event ----------------------------------------------------------------

def encode_event(event: Event) -> bytes:
    return cbor.encode({"header": Link(event.header_cid), "body": Link(event.body_cid)})


def decode_event(block: bytes) -> Event:
    node = _map(cbor.decode(block, max_size=MAX_EVENT_BYTES), "event",
                required={"header", "body"}, optional=set())
    return Event(_dag_cbor_link(node["header"], "event header"),
                 _dag_cbor_link(node["body"], "event body"))


# --- header ---------------------------------------------------------------

def encode_header_plaintext(header: Header) -> bytes:
    return cbor.encode({
        "key": header.content_key,
        "hlc": header.hlc,
        "deps": [[log_id.raw, seq] for log_id, seq in header.deps],
        "epoch": header.epoch,
    })


def decode_header_plaintext(plaintext: bytes) -> Header:
    node = _map(cbor.decode(plaintext, max_size=MAX_HEADER_BYTES), "header",
                required={"key", "hlc", "deps", "epoch"}, optional=set())
    raw_deps = node["deps"]
    if not isinstance(raw_deps, list) or len(raw_deps) > MAX_DEPS:
        raise SchemaError(f"header deps must be a list of at most {MAX_DEPS} entries")
    deps: list[tuple[PeerId, int]] = []
    for entry in raw_deps:
        if not isinstance(entry, list) or len(entry) != 2:
            raise SchemaError("a header dep is [log ID, seq]")
        deps.append((PeerId(_bytes(entry[0], "dep log ID", None)), _int(entry[1], "dep seq", 1, MAX_SEQ)))
    # One canonical spelling: sorted by log ID, each log once.
    if any(a[0].raw >= b[0].raw for a, b in itertools.pairwise(deps)):
        raise SchemaError("header deps must be sorted by log ID without repeats")
    return Header(_bytes(node["key"], "content key", 32), _int(node["hlc"], "hlc", 0, MAX_HLC),
                  tuple(deps), _int(node["epoch"], "epoch", 0, MAX_SEQ))


def decode_body_plaintext(plaintext: bytes) -> Any:
    return cbor.decode(plaintext, max_size=MAX_BODY_BYTES)


# --- field checks ---------------------------------------------------------

def _map(value: Any, what: str, *, required: set[str], optional: set[str]) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise SchemaError(f"a {what} is a map")
    keys = set(value)
    if not required <= keys or not keys <= required | optional:
        raise SchemaError(f"a {what} has fields {sorted(required | optional)}, got {sorted(keys)}")
    return value


def _int(value: Any, what: str, low: int, high: int) -> int:
    if type(value) is not int or not low <= value <= high:
        raise SchemaError(f"{what} must be an integer in [{low}, {high}]")
    return value


def _bytes(value: Any, what: str, length: int | None) -> bytes:
    if not isinstance(value, bytes) or (length is not None and len(value) != length):
        raise SchemaError(f"{what} must be {length or 'some'} bytes")
    return value


def _dag_cbor_link(value: Any, what: str) -> bytes:
    if not isinstance(value, Link) or len(value.cid_bytes) != CID_LENGTH or value.cid_bytes[1] != CODEC_DAG_CBOR:
        raise SchemaError(f"{what} must link to a DAG-CBOR block")
    return bytes(value.cid_bytes)
