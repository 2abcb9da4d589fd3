"""core/text.py: what a peer wrote becomes a name a person can read."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from threads_desktop.engine.core.text import has_hidden, is_clean_name, name_from_peer


@given(st.text(max_size=300), st.integers(min_value=1, max_value=80))
def test_a_name_from_a_peer_is_always_a_clean_name_within_its_limit(value: str, limit: int) -> None:
    name = name_from_peer(value, limit)
    if name is not None:
        assert is_clean_name(name, limit)
        assert name_from_peer(name, limit) == name  # cleaning what is clean changes nothing


def test_hidden_characters_become_spaces_and_collapse() -> None:
    assert name_from_peer("Ana\u202e\u200b  Lopes\n", 64) == "Ana Lopes"
    assert has_hidden("Ana\u202e")
    assert not is_clean_name("Ana\u202eLopes", 64)


def test_nothing_visible_or_not_text_is_no_name() -> None:
    assert name_from_peer("\u200b \u2028", 64) is None
    assert name_from_peer(42, 64) is None
    assert not is_clean_name("", 64)
