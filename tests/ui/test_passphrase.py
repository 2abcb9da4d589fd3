"""The backup passphrase's strength hint: short ones are refused, guessable
ones are called so, several unrelated words pass."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from threads_desktop.ui.passphrase import MIN_LENGTH, Strength, estimated_bits, strength_hint


def test_a_passphrase_shorter_than_the_minimum_is_not_accepted() -> None:
    hint = strength_hint("x" * (MIN_LENGTH - 1))
    assert hint.strength is Strength.TOO_SHORT and not hint.acceptable
    assert str(MIN_LENGTH) in hint.text


def test_repeats_and_runs_are_called_easy_to_guess() -> None:
    for guessable in ("aaaaaaaaaaaaaaaa", "1234567890123", "abcdefghijklmn", "qqqqqqqqqq1"):
        hint = strength_hint(guessable)
        assert hint.strength is Strength.WEAK and not hint.acceptable, guessable
        assert "words" in hint.text


def test_words_count_as_words_from_a_list() -> None:
    assert strength_hint("blue lantern").strength is Strength.WEAK  # two words: guessed word by word
    assert strength_hint("purple elephant dances quietly").strength is Strength.FAIR
    assert strength_hint("purple elephant dances quietly under mars").strength is Strength.GOOD
    assert strength_hint("purple-elephant-dances-quietly-under-a-red-moon").strength is Strength.STRONG


def test_mixed_characters_of_fair_length_are_fair_or_better() -> None:
    assert strength_hint("Tr0ub4dor&3x").acceptable


@given(st.text(max_size=200))
def test_longer_never_counts_for_less(text: str) -> None:
    assert estimated_bits(text + "Z") >= estimated_bits(text) or not text
    assert strength_hint(text).text  # every input gets words
