"""Strict DAG-CBOR on the hot path.

cbrrr (C) is the codec: it refuses non-canonical input (key order, minimal
integers, indefinite lengths, non-42 tags, trailing bytes), decodes without
recursion and keeps CIDs apart from byte strings. libipld is faster still but
encodes any byte string that happens to parse as a CID as a link, so a payload
could change meaning on a round trip. The pure-Python `dag-cbor` package is
the cross-check in the tests.
"""

from __future__ import annotations

from typing import Any

import cbrrr

from threads_desktop.engine.codec.cid import CID_LENGTH, CID_PREFIXES
from threads_desktop.engine.core.errors import CodecError

Link = cbrrr.CID
"""A CID inside a node (CBOR tag 42). Its `cid_bytes` are the binary CID."""

DEFAULT_MAX_DEPTH = 32


def _strict_link(cid_bytes: bytes) -> Link:
    # Only the CIDs this protocol produces: v1, dag-cbor sha2-256, raw BLAKE3 or sha2-256.
    if len(cid_bytes) != CID_LENGTH or cid_bytes[:4] not in CID_PREFIXES:
        raise ValueError("unsupported CID in link")
    return Link(bytes(cid_bytes))


def encode(value: Any) -> bytes:
    """Canonical DAG-CBOR bytes of `value` (links as `Link`)."""
    try:
        return bytes(cbrrr.encode_dag_cbor(value))
    except (ValueError, TypeError, OverflowError, RecursionError) as exc:
        raise CodecError(f"cannot encode as DAG-CBOR: {exc}") from exc


def decode(data: bytes, *, max_size: int, max_depth: int = DEFAULT_MAX_DEPTH) -> Any:
    """Decode one strict DAG-CBOR value no larger than `max_size` bytes.

    Raises CodecError for anything else: oversized, malformed, non-canonical,
    nested deeper than `max_depth`, or holding a CID we do not produce.
    """
    if not isinstance(data, (bytes, bytearray, memoryview)):
        raise CodecError(f"expected bytes, got {type(data).__name__}")
    if len(data) > max_size:
        raise CodecError(f"node of {len(data)} bytes exceeds the limit of {max_size}")
    try:
        value = cbrrr.decode_dag_cbor(bytes(data), cid_ctor=_strict_link)
    except Exception as exc:
        raise CodecError(f"malformed DAG-CBOR: {exc}") from exc
    if isinstance(value, (dict, list)):  # scalars (sealed nodes among them) need no walk
        _check_depth(value, max_depth)
    return value


def _check_depth(value: Any, max_depth: int) -> None:
    # Iterative, so a hostile nesting cannot exhaust Python's stack here or in
    # whatever walks the value later. Only containers are visited.
    stack: list[tuple[Any, int]] = [(value, 1)]
    while stack:
        node, depth = stack.pop()
        if depth > max_depth:
            raise CodecError(f"node nested deeper than {max_depth} levels")
        for child in node.values() if isinstance(node, dict) else node:
            if isinstance(child, (dict, list)):
                stack.append((child, depth + 1))
