"""Text a person writes (messages, captions, comments): cleaned before it is
written, and cleaned again when a peer's is shown."""

from __future__ import annotations

import unicodedata
from typing import Any

from threads_desktop.engine.core.errors import InvalidInputError

# Bidi embeddings, overrides and isolates: they reorder what follows them, so
# peer text could pass for other text or spill into what is shown after it.
_BIDI_CONTROLS = frozenset("\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069")
_LINE_BREAKS = frozenset("\u2028\u2029")  # line and paragraph separators: a plain line break


def clean_text(text: str, limit: int) -> str:
    if not isinstance(text, str):
        raise InvalidInputError("a message is text")
    text = unicodedata.normalize("NFC", text).strip()
    if len(text) > limit:
        raise InvalidInputError(f"a message has at most {limit} characters")
    if any(unicodedata.category(ch) == "Cc" and ch not in "\n\t" for ch in text):
        raise InvalidInputError("a message cannot hold control characters")
    return text


def text_from_peer(value: Any, limit: int) -> str | None:
    """A message, caption or comment as we show it, from whatever a peer
    wrote (the reducer checks only type and length): control characters
    but line breaks and tabs dropped (terminal escapes among them), bidi
    overrides and isolates dropped, NFC, trimmed, cut to `limit`. None
    when nothing is left or it is not text."""
    if not isinstance(value, str):
        return None
    kept = "".join("\n" if ch in _LINE_BREAKS else ch for ch in value
                   if ch in "\n\t" or ch in _LINE_BREAKS
                   or (ch not in _BIDI_CONTROLS and unicodedata.category(ch) not in ("Cc", "Cs")))
    return unicodedata.normalize("NFC", kept).strip()[:limit] or None
