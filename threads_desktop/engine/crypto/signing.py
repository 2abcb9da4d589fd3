"""The record signature: Ed25519 by the log key over a domain-separated
message that binds the thread, the event, the previous record and the seq, so a
record cannot be replayed into another thread or at another position."""

from __future__ import annotations

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from threads_desktop.engine.codec import cbor
from threads_desktop.engine.core.errors import SignatureError
from threads_desktop.engine.core.ids import PeerId, ThreadId

RECORD_SIGNATURE_DOMAIN = "threads/1/record-signature"


def record_signing_message(thread_id: ThreadId, event_cid: bytes, prev_cid: bytes | None, seq: int) -> bytes:
    # A DAG-CBOR array is self-delimiting, so no two inputs share a message.
    return cbor.encode([RECORD_SIGNATURE_DOMAIN, thread_id.raw, event_cid, prev_cid, seq])


def verify_record_signature(log_id: PeerId, signature: bytes, message: bytes) -> None:
    try:
        Ed25519PublicKey.from_public_bytes(log_id.public_key).verify(signature, message)
    except (InvalidSignature, ValueError):
        raise SignatureError(f"bad signature for a record of log {log_id}") from None
