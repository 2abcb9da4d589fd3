"""Text from a peer is shown clean whatever bytes it was written with."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from threads_desktop.engine.modules.texts import text_from_peer


@given(st.text(), st.integers(min_value=1, max_value=50))
def test_text_from_a_peer_holds_no_control_or_bidi_override_characters(text: str, limit: int) -> None:
    shown = text_from_peer(text, limit)
    assert shown is None or 0 < len(shown) <= limit
    for ch in shown or "":
        assert ch in "\n\t" or not (0x00 <= ord(ch) < 0x20 or 0x7F <= ord(ch) < 0xA0)
        assert not (0x202A <= ord(ch) <= 0x202E or 0x2066 <= ord(ch) <= 0x2069)
        assert not 0xD800 <= ord(ch) <= 0xDFFF
