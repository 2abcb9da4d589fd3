"""Text a person sees that came from somewhere we do not control (a peer's
display name, a photo's name or camera, an inviter named in a link): one
rule for what is visible, used by every layer that shows such text."""

from __future__ import annotations

import unicodedata
from typing import Any

# Characters that are not text a reader can see as such: controls, format
# characters (bidi overrides, zero-width joiners), private use, surrogates,
# unassigned code points and line or paragraph separators.
HIDDEN_CATEGORIES = frozenset({"Cc", "Cf", "Co", "Cs", "Cn", "Zl", "Zp"})


def has_hidden(text: str) -> bool:
    return any(unicodedata.category(ch) in HIDDEN_CATEGORIES for ch in text)


def is_clean_name(value: object, limit: int) -> bool:
    """As a name is written: 1 to `limit` characters, NFC, trimmed, single
    inner spaces, no hidden characters."""
    return (isinstance(value, str) and 1 <= len(value) <= limit
            and value == unicodedata.normalize("NFC", " ".join(value.split())) and not has_hidden(value))


def name_from_peer(value: Any, limit: int) -> str | None:
    """A name as we show it, from whatever a peer wrote: hidden characters
    dropped, whitespace collapsed, NFC, cut to `limit` characters. None when
    nothing is left (or it is not text)."""
    if not isinstance(value, str):
        return None
    visible = "".join(" " if unicodedata.category(ch) in HIDDEN_CATEGORIES else ch for ch in value)
    name = " ".join(unicodedata.normalize("NFC", visible).split())
    # Normalizing can lengthen a string and cutting can leave trailing
    # space, so cut and tidy until it holds still (twice at most in practice).
    while len(name) > limit:
        name = " ".join(unicodedata.normalize("NFC", name[:limit]).split())
    return name or None
