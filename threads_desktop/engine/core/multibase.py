"""Multibase base32 lower ('b...'), the text form of thread IDs and CIDs,
parsed strictly: one spelling per value."""

from __future__ import annotations

import base64

from threads_desktop.engine.core.errors import InvalidIdError


def encode_base32(raw: bytes) -> str:
    return "b" + base64.b32encode(raw).decode("ascii").lower().rstrip("=")


def decode_base32(text: str, what: str) -> bytes:
    """The bytes of `text`; InvalidIdError names `what` for anything else,
    including a second spelling (non-zero padding bits)."""
    if not isinstance(text, str) or not text.startswith("b") or text != text.lower():
        raise InvalidIdError(f"a {what} is multibase base32 lower ('b...')")
    body = text[1:].upper()
    try:
        raw = base64.b32decode(body + "=" * (-len(body) % 8))
    except ValueError as exc:
        raise InvalidIdError(f"invalid base32 in {what}: {exc}") from exc
    if encode_base32(raw) != text:
        raise InvalidIdError(f"non-canonical {what} text")
    return raw
