"""Building and checking envelopes: the four blocks of one log entry.

Checks run cheapest first and need no database: sizes, CIDs, the record's
decryption and schema, then the signature. The chain (seq and prev) is the
store's job, since it depends on what the store already holds.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from threads_desktop.engine.codec import cbor, nodes
from threads_desktop.engine.codec.cid import cid_of_cbor
from threads_desktop.engine.core.errors import (
    DecryptionError,
    IntegrityError,
    InvalidInputError,
    MissingKeyError,
    SchemaError,
)
from threads_desktop.engine.core.ids import PeerId, ThreadId
from threads_desktop.engine.core.keys import SigningKey, ThreadKey
from threads_desktop.engine.crypto import aead
from threads_desktop.engine.crypto.aead import RandomBytes
from threads_desktop.engine.crypto.signing import record_signing_message, verify_record_signature

# Encoded size of a sealed node: plaintext limit, nonce and tag, CBOR head.
_SEALED_RECORD_LIMIT = nodes.MAX_RECORD_BYTES + aead.OVERHEAD + 9
_SEALED_HEADER_LIMIT = nodes.MAX_HEADER_BYTES + aead.OVERHEAD + 9
_SEALED_BODY_LIMIT = nodes.MAX_BODY_BYTES + aead.OVERHEAD + 9


@dataclass(frozen=True, slots=True)
class Envelope:
    """What travels on the wire: the encoded blocks, nothing else trusted."""

    record: bytes
    event: bytes
    header: bytes
    body: bytes

    def blocks(self) -> tuple[bytes, bytes, bytes, bytes]:
        return (self.record, self.event, self.header, self.body)


@dataclass(frozen=True, slots=True)
class DecodedEnvelope:
    """An envelope whose blocks are well formed and match their CIDs. Its
    signature is not verified yet: `verify_signature` does that, apart, so a
    batch can skip duplicates and verify the rest on several cores."""

    envelope: Envelope
    record: nodes.Record
    record_cid: bytes
    header_cid: bytes
    body_cid: bytes
    follow_epoch: int
    # What a record we sealed ourselves holds (build_envelope); None for a
    # peer's record, whose event is opened later with the keys held then.
    sealed: SealedEvent | None = None

    @property
    def log_id(self) -> PeerId:
        return self.record.log_id


@dataclass(frozen=True, slots=True)
class OpenedEvent:
    header: nodes.Header
    payload: Any
    control: bool = False  # header sealed with the follow key: every member opens it


@dataclass(frozen=True, slots=True)
class SealedEvent:
    """The plaintext of an event we sealed: applying our own write opens
    nothing. The body is decoded only when asked (an append alone never is)."""

    header: nodes.Header
    plain_body: bytes
    control: bool

    def opened(self) -> OpenedEvent:
        # Decoded as a reader decodes it (lists, not tuples): applied alike.
        return OpenedEvent(self.header, nodes.decode_body_plaintext(self.plain_body), self.control)


def build_envelope(
    *,
    thread_id: ThreadId,
    key: ThreadKey,
    log_key: SigningKey,
    prev_cid: bytes | None,
    seq: int,
    payload: Any,
    hlc: int,
    deps: Sequence[tuple[PeerId, int]],
    random_bytes: RandomBytes,
    control: bool = False,
) -> DecodedEnvelope:
    """Seal, link and sign one event (the result needs no decoding: we made it).
    A control event's header is sealed with the follow key, so followers can
    open it too; content needs the read key."""
    if key.read_cipher is None and not control:
        raise MissingKeyError("writing needs the thread's read key")
    plain_body = cbor.encode(payload)
    if len(plain_body) > nodes.MAX_BODY_BYTES:
        # Refused here: peers would refuse it, and the log could not go on.
        raise SchemaError(f"an event is at most {nodes.MAX_BODY_BYTES >> 20} MiB")
    content_key = random_bytes(32)
    body = nodes.encode_sealed(aead.seal(content_key, plain_body, aead.AAD_BODY, random_bytes))
    header_node = nodes.Header(content_key, hlc, tuple(sorted(deps, key=lambda d: d[0].raw)), key.epoch)
    header_plain = nodes.encode_header_plaintext(header_node)
    if control:
        sealed_header = aead.seal(key.follow_cipher, header_plain, aead.AAD_CONTROL_HEADER, random_bytes)
    else:
        assert key.read_cipher is not None  # checked above
        sealed_header = aead.seal(key.read_cipher, header_plain, aead.AAD_HEADER, random_bytes)
    header = nodes.encode_sealed(sealed_header)
    header_cid, body_cid = cid_of_cbor(header), cid_of_cbor(body)
    event = nodes.encode_event(nodes.Event(header_cid, body_cid))
    event_cid = cid_of_cbor(event)
    signature = log_key.sign(record_signing_message(thread_id, event_cid, prev_cid, seq))
    record_node = nodes.Record(event_cid, prev_cid, seq, signature, log_key.peer_id)
    record_plain = cbor.encode(nodes.record_map(record_node))
    record = nodes.encode_sealed(aead.seal(key.follow_cipher, record_plain, aead.AAD_RECORD, random_bytes))
    return DecodedEnvelope(Envelope(record, event, header, body), record_node, cid_of_cbor(record),
                           header_cid, body_cid, key.epoch, SealedEvent(header_node, plain_body, control))


def decode_envelope(envelope: Envelope, keys: Sequence[ThreadKey]) -> DecodedEnvelope:
    """Check form and CIDs, and open the record. `keys` newest first."""
    if not isinstance(envelope, Envelope) or not all(isinstance(b, bytes) for b in envelope.blocks()):
        raise InvalidInputError("an envelope is four byte strings")
    sealed_record = nodes.decode_sealed(envelope.record, _SEALED_RECORD_LIMIT)
    record_plain, follow_epoch = _open_with_any(sealed_record, keys)
    record = nodes.decode_record_plaintext(record_plain)
    if cid_of_cbor(envelope.event) != record.event_cid:
        raise IntegrityError("the event block does not match the record's link")
    event = nodes.decode_event(envelope.event)
    header_cid, body_cid = cid_of_cbor(envelope.header), cid_of_cbor(envelope.body)
    if header_cid != event.header_cid or body_cid != event.body_cid:
        raise IntegrityError("a header or body block does not match the event's links")
    # Their contents are unreadable to followers, but their form is checkable.
    nodes.decode_sealed(envelope.header, _SEALED_HEADER_LIMIT)
    nodes.decode_sealed(envelope.body, _SEALED_BODY_LIMIT)
    return DecodedEnvelope(envelope, record, cid_of_cbor(envelope.record), header_cid, body_cid,
                           follow_epoch)


def verify_signature(thread_id: ThreadId, decoded: DecodedEnvelope) -> None:
    record = decoded.record
    verify_record_signature(
        record.log_id, record.signature,
        record_signing_message(thread_id, record.event_cid, record.prev_cid, record.seq))


def check_envelope(thread_id: ThreadId, envelope: Envelope, keys: Sequence[ThreadKey]) -> DecodedEnvelope:
    """Everything that does not depend on the store, the signature included."""
    decoded = decode_envelope(envelope, keys)
    verify_signature(thread_id, decoded)
    return decoded


def open_event(header_block: bytes, body_block: bytes, keys: Sequence[ThreadKey]) -> OpenedEvent:
    """Decrypt header and body. Content needs a read key; a control event
    opens with a follow key. Raises MissingKeyError when no read key is held
    and the event is not a control event (a follower's lot), DecryptionError
    when keys are held but none opens it (a later epoch may)."""
    sealed_header = nodes.decode_sealed(header_block, _SEALED_HEADER_LIMIT)
    readable = [k for k in keys if k.read_cipher is not None]
    # Content first: it is the common case for readers.
    attempts = [(k.read_cipher, k.read, aead.AAD_HEADER, False) for k in readable] \
        + [(k.follow_cipher, k.follow, aead.AAD_CONTROL_HEADER, True) for k in keys]
    by_epoch: dict[int, list[ThreadKey]] = {}
    for k in keys:  # an epoch may have several candidate keys (lent by several members)
        by_epoch.setdefault(k.epoch, []).append(k)
    for cipher, secret, aad, control in attempts:
        assert cipher is not None
        try:
            plain = aead.open_sealed(cipher, sealed_header, aad)
        except DecryptionError:
            continue
        header = nodes.decode_header_plaintext(plain)
        # Epochs may share a key (a read rotation keeps the follow key), so the
        # header's epoch must be one whose key is the one that opened it. A
        # control event may name an epoch we do not hold yet: it may be the
        # very event that brings us that epoch's keys.
        named = by_epoch.get(header.epoch)
        if (named is None and not control) or (
                named is not None and all((k.follow if control else k.read) != secret for k in named)):
            raise SchemaError("header epoch differs from the epoch of the key that opened it")
        sealed_body = nodes.decode_sealed(body_block, _SEALED_BODY_LIMIT)
        body_plain = aead.open_sealed(AESGCM(header.content_key), sealed_body, aead.AAD_BODY)
        return OpenedEvent(header, nodes.decode_body_plaintext(body_plain), control)
    if not readable:
        raise MissingKeyError("this profile follows the thread and cannot read its events")
    raise DecryptionError("no read key of this thread opens the header")


def _open_with_any(sealed: bytes, keys: Sequence[ThreadKey]) -> tuple[bytes, int]:
    # The node names no epoch (its bytes stay as DESIGN §3 has them), so try the
    # keys we hold, newest first; GCM's tag tells a wrong key at once.
    for key in keys:
        try:
            return aead.open_sealed(key.follow_cipher, sealed, aead.AAD_RECORD), key.epoch
        except DecryptionError:
            continue
    raise DecryptionError("no follow key of this thread opens the record")
