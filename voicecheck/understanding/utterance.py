"""One heard answer as the matcher sees it: words with readings, fillers gone, clause boundaries kept.

The words' readings are joined into one string ("|" for a boundary) so a phrase can be looked
for with `str.find`, and the offsets where words start and end let every find be aligned to
whole words.
"""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from voicecheck.reading import FUNCTION_POS, Token, base_reading, fold, normalise, reading
from voicecheck.understanding.voicing import devoiced

BOUNDARY = "|"


@dataclass(frozen=True)
class Utterance:
    tokens: tuple[Token, ...]  # fillers removed; punctuation kept as clause boundaries
    reading: str  # words' readings joined; a boundary is "|"
    starts: dict[int, int]  # reading offset → index of the word starting there
    ends: dict[int, int]  # reading offset → index of the word ending there
    offsets: tuple[int, ...]  # reading offset of each word
    bigrams: frozenset[str]  # one- and two-kana keys starting at word starts

    @classmethod
    def of(cls, tokens: Sequence[Token]) -> "Utterance":
        parts, starts, ends, offsets = [], {}, {}, []
        pos = 0
        for i, t in enumerate(tokens):
            r = BOUNDARY if t.is_boundary or not t.reading else t.reading
            offsets.append(pos)
            if r != BOUNDARY:
                starts[pos] = i
                ends[pos + len(r)] = i
            parts.append(r)
            pos += len(r)
        text = "".join(parts)
        bigrams = frozenset(text[p:p + 2] for p in starts) | frozenset(text[p:p + 1] for p in starts)
        return cls(tuple(tokens), text, starts, ends, tuple(offsets), bigrams)

    @property
    def sound(self) -> str:
        """The whole reading without boundaries."""
        return self.reading.replace(BOUNDARY, "")

    def clause_of(self, first: int, last: int) -> tuple[int, int]:
        """The word span of the clause holding words first..last (up to the nearest boundaries)."""
        lo, hi = first, last
        while lo > 0 and not self.tokens[lo - 1].is_boundary:
            lo -= 1
        while hi + 1 < len(self.tokens) and not self.tokens[hi + 1].is_boundary:
            hi += 1
        return lo, hi


def content_tokens(tokens: Sequence[Token]) -> tuple[Token, ...]:
    """Words with a sound (no punctuation)."""
    return tuple(t for t in tokens if not t.is_boundary and t.reading)


def is_wordlike(t: Token) -> bool:
    """A word that can start a phrase on its own (not a particle, ending or dependent word)."""
    return not (t.pos in FUNCTION_POS or t.pos1 in ("非自立", "接尾"))


def is_content(t: Token, neutral: frozenset[str]) -> bool:
    """A word that carries meaning and is not one people wrap their answers in."""
    if t.is_boundary or not t.reading or t.is_function:
        return False
    if t.pos in ("感動詞", "副詞"):  # 「案外ないです」「全然ないです」: adverbs colour an answer, they are not one
        return False
    return t.reading not in neutral and base_reading(t.base) not in neutral


def _written_by_ear(surface: str) -> bool:
    """Katakana only: how a recogniser writes a sound it cannot place as a word (「エッド」「アノー」)."""
    return bool(surface) and all("\u30a1" <= ch <= "\u30fa" or ch == "ー" for ch in surface)


def _sound(kana: str) -> str:
    """A reading as heard: folded (long vowels, small kana) and without voicing marks."""
    return devoiced(fold(kana))


class Fillers:
    """Removes fillers (えーと, あのー, なんていうか): they carry no answer."""

    def __init__(self, words: Sequence[str]) -> None:
        self.words = frozenset(words)
        # A filler written in katakana by ear is a noun to Open JTalk: under a TV Whisper wrote
        # 「エッド」 for 「えっと」, and the turn, taking it for a word, did not wait for the answer
        # to come (live, TV 5 dB). Such a word is a filler when it sounds like one.
        self._sounds = frozenset(s for w in words if (s := _sound(reading(w))))
        self._by_first: dict[str, tuple[str, ...]] = {}
        for f in sorted(words, key=len, reverse=True):  # by first character, longest first
            self._by_first[f[:1]] = self._by_first.get(f[:1], ()) + (f,)

    def remove(self, tokens: Sequence[Token]) -> tuple[Token, ...]:
        keep = [True] * len(tokens)
        surfaces = [normalise(t.surface) for t in tokens]
        for i, t in enumerate(tokens):
            # A one-kana "filler" glued to a word is part of it (Open JTalk's guess, not a pause).
            glued = (t.pos == "フィラー" and len(t.reading) == 1 and i > 0
                     and not tokens[i - 1].is_boundary and tokens[i - 1].pos != "フィラー")
            # 「あっ」 before た is the verb of 「あった」, not a gasp.
            verb = i + 1 < len(tokens) and tokens[i + 1].pos == "助動詞"
            by_ear = _written_by_ear(surfaces[i]) and _sound(t.reading) in self._sounds
            if not verb and ((t.pos == "フィラー" and not glued) or surfaces[i] in self.words or t.base in self.words
                             or by_ear):
                keep[i] = False
            elif surfaces[i] == "ー" and i > 0 and not keep[i - 1]:
                keep[i] = False  # 「えっとー」: the filler's long vowel, split off as a word of its own
        # Fillers of several words (なんていうか): compare joined surfaces.
        for i in range(len(tokens)):
            for filler in self._by_first.get(surfaces[i][:1], ()):
                joined, j = "", i
                while j < len(tokens) and len(joined) < len(filler):
                    joined += surfaces[j]
                    j += 1
                if joined == filler and j - i > 1:
                    for k in range(i, j):
                        keep[k] = False
                    break
        return tuple(t for t, k in zip(tokens, keep) if k)
