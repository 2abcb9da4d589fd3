"""How hard a backup's passphrase is to guess, in words a person reads
beside the field. A rough count of bits (the characters' kinds times the
length, repeats and runs counted once; a passphrase of words as so many
words from a list), not a promise: it only steers away from the passphrases
that fall first (short, few words, one kind of character, "aaaa", "1234").
The backup's Argon2id makes each guess cost 64 MiB and ~0.4 s."""

from __future__ import annotations

import enum
import math
import string
from dataclasses import dataclass

MIN_LENGTH = 10  # shorter is refused outright
BITS_PER_WORD = 13.0  # a word as guessers try them: from a list of some 8,000 (diceware's 7,776 give 12.9)


class Strength(enum.IntEnum):
    TOO_SHORT = 0
    WEAK = 1
    FAIR = 2
    GOOD = 3
    STRONG = 4


@dataclass(frozen=True, slots=True)
class StrengthHint:
    strength: Strength
    text: str

    @property
    def acceptable(self) -> bool:
        return self.strength >= Strength.FAIR


def estimated_bits(passphrase: str) -> float:
    """Characters that add little (a repeat of the one before, the next in a
    run such as "abc" or "123") count for one bit; the others for the
    log2 of the alphabet their kinds span."""
    pool = 0
    if any(c in string.ascii_lowercase for c in passphrase):
        pool += 26
    if any(c in string.ascii_uppercase for c in passphrase):
        pool += 26
    if any(c in string.digits for c in passphrase):
        pool += 10
    if any(c in string.punctuation or c == " " for c in passphrase):
        pool += 33
    if any(ord(c) > 127 for c in passphrase):
        pool += 100
    if pool == 0:
        return 0.0
    per_char = math.log2(pool)
    bits = 0.0
    previous: str | None = None
    for c in passphrase:
        small_step = previous is not None and abs(ord(c) - ord(previous)) <= 1
        bits += 1.0 if small_step else per_char
        previous = c
    return bits


def word_bits(passphrase: str) -> float | None:
    """For a passphrase of words only (letters, between spaces or dashes):
    what guessing word by word costs; None for anything else."""
    words = passphrase.replace("-", " ").split()
    if not words or not all(word.isalpha() for word in words):
        return None
    return BITS_PER_WORD * len(words)


def strength_hint(passphrase: str) -> StrengthHint:
    if len(passphrase) < MIN_LENGTH:
        return StrengthHint(Strength.TOO_SHORT, f"Use at least {MIN_LENGTH} characters.")
    by_words = word_bits(passphrase)
    bits = estimated_bits(passphrase) if by_words is None else min(by_words, estimated_bits(passphrase))
    if bits < 50:
        return StrengthHint(Strength.WEAK, "Easy to guess. Four or five unrelated words are easier to remember "
                                           "and much harder to guess.")
    if bits < 60:
        return StrengthHint(Strength.FAIR, "Fair. A few more words would make it much harder to guess.")
    if bits < 80:
        return StrengthHint(Strength.GOOD, "Good.")
    return StrengthHint(Strength.STRONG, "Strong.")
