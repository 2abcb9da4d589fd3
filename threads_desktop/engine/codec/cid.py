"""CIDv1s built as bytes directly (no CID objects on the hot path).

Dag-cbor blocks are named by sha2-256. Raw blocks (a blob's chunks) are
named by BLAKE3 since transfer18h: a receiver checks every block it is sent
against its CID, and for photos that check was the largest cost of a
transfer (SHA-256 0.62 s/GB here, BLAKE3 0.15: docs/BENCHMARKS.md). Raw
blocks named by sha2-256 before that are still checked by it."""

from __future__ import annotations

import hashlib

import blake3

from threads_desktop.engine.core.errors import InvalidIdError
from threads_desktop.engine.core.multibase import decode_base32, encode_base32

CODEC_DAG_CBOR = 0x71
CODEC_RAW = 0x55
CID_LENGTH = 36
_SHA2_256 = 0x12  # multihash codes; both digests are 32 bytes (0x20)
_BLAKE3 = 0x1E
_DAG_CBOR_PREFIX = bytes([0x01, CODEC_DAG_CBOR, _SHA2_256, 0x20])
_RAW_BLAKE3_PREFIX = bytes([0x01, CODEC_RAW, _BLAKE3, 0x20])
_RAW_SHA256_PREFIX = bytes([0x01, CODEC_RAW, _SHA2_256, 0x20])  # raw blocks made before BLAKE3
CID_PREFIXES = (_DAG_CBOR_PREFIX, _RAW_BLAKE3_PREFIX, _RAW_SHA256_PREFIX)  # every CID this protocol accepts


def cid_of_cbor(block: bytes) -> bytes:
    """Binary CIDv1 (dag-cbor, sha2-256) of an encoded block."""
    return _DAG_CBOR_PREFIX + hashlib.sha256(block).digest()


def cid_of_raw(data: bytes) -> bytes:
    """Binary CIDv1 (raw, BLAKE3) of opaque bytes: what new raw blocks are named by."""
    return _RAW_BLAKE3_PREFIX + blake3.blake3(data).digest()


def cid_matches(cid: bytes, data: bytes | memoryview) -> bool:
    """Whether `data` is the block `cid` names, by the hash the CID names;
    False for a CID this protocol does not make."""
    prefix = bytes(cid[:4])
    if len(cid) != CID_LENGTH or prefix not in CID_PREFIXES:
        return False
    if prefix == _RAW_BLAKE3_PREFIX:
        return blake3.blake3(data).digest() == cid[4:]
    return hashlib.sha256(data).digest() == cid[4:]


def format_cid(cid: bytes) -> str:
    """Multibase base32 lower, the canonical text form of a CIDv1."""
    return encode_base32(cid)


def parse_cid(text: str) -> bytes:
    """Strictly parse the text form of a CID this protocol produces."""
    cid = decode_base32(text, "CID")
    if len(cid) != CID_LENGTH or cid[:4] not in CID_PREFIXES:
        raise InvalidIdError("not a CIDv1 of this protocol (dag-cbor sha2-256, raw BLAKE3 or sha2-256)")
    return cid
