"""CIDv1 with sha2-256, built as bytes directly (no CID objects on the hot path)."""

from __future__ import annotations

import hashlib

from threads_desktop.engine.core.errors import InvalidIdError
from threads_desktop.engine.core.multibase import decode_base32, encode_base32

CODEC_DAG_CBOR = 0x71
CODEC_RAW = 0x55
CID_LENGTH = 36
_DAG_CBOR_PREFIX = bytes([0x01, CODEC_DAG_CBOR, 0x12, 0x20])
_RAW_PREFIX = bytes([0x01, CODEC_RAW, 0x12, 0x20])


def cid_of_cbor(block: bytes) -> bytes:
    """Binary CIDv1 (dag-cbor, sha2-256) of an encoded block."""
    return _DAG_CBOR_PREFIX + hashlib.sha256(block).digest()


def cid_of_raw(data: bytes) -> bytes:
    """Binary CIDv1 (raw, sha2-256) of opaque bytes."""
    return _RAW_PREFIX + hashlib.sha256(data).digest()


def format_cid(cid: bytes) -> str:
    """Multibase base32 lower, the canonical text form of a CIDv1."""
    return encode_base32(cid)


def parse_cid(text: str) -> bytes:
    """Strictly parse the text form of a CID this protocol produces."""
    cid = decode_base32(text, "CID")
    if len(cid) != CID_LENGTH or cid[:4] not in (_DAG_CBOR_PREFIX, _RAW_PREFIX):
        raise InvalidIdError("not a CIDv1 sha2-256 (dag-cbor or raw)")
    return cid
