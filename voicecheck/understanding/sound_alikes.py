"""Sound-alike readings: what a recogniser writes when it mishears a phrase (オリル → オル).

Only tried when nothing matched exactly, and only ever offered for a read-back, never accepted.
"""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from rapidfuzz import fuzz, process

from voicecheck.understanding.phrase_index import Phrase

MIN_CHARS = 4  # phrases shorter than this are only ever matched exactly
CUTOFF = 84.0  # phonetic similarity (0..100) a sound-alike needs
# Voiced and plain kana are confused most often: compare without the voicing marks.
DEVOICE = str.maketrans("ガギグゲゴザジズゼゾダヂヅデドバビブベボパピプペポ", "カキクケコサシスセソタチツテトハヒフヘホハヒフヘホ")


@dataclass(frozen=True)
class SoundAlikes:
    keys: tuple[str, ...]  # devoiced readings
    phrases: tuple[Phrase, ...]

    @classmethod
    def of(cls, phrases: Sequence[Phrase], kinds: frozenset[str] = frozenset({"echo"})) -> "SoundAlikes":
        chosen = [p for p in phrases if p.kind in kinds and len(p.full) >= MIN_CHARS]
        return cls(tuple(p.full.translate(DEVOICE) for p in chosen), tuple(chosen))

    def closest(self, heard: str) -> tuple[Phrase, float] | None:
        """The phrase whose reading is closest to the heard reading, with its similarity."""
        if not self.keys or len(heard) < 3:
            return None
        key = heard.translate(DEVOICE)
        best: tuple[float, Phrase] | None = None
        for _, score, index in process.extract(key, self.keys, scorer=fuzz.partial_ratio,
                                              score_cutoff=CUTOFF, limit=8):
            phrase_key = self.keys[index]
            if len(phrase_key) > len(key):
                score, start, rest = fuzz.ratio(phrase_key, key), 0, 0
            else:
                align = fuzz.partial_ratio_alignment(phrase_key, key)
                score, start = align.score, align.dest_start
                rest = len(key) - (align.dest_end - align.dest_start)
            # A mishearing keeps the word's onset (オリル → オル); a different first sound is a
            # different word that only shares an ending (アカクナッテキタ is not ヨクナッテキタ).
            if key[start:start + 1] != phrase_key[:1]:
                continue
            # What the phrase does not cover must still look like an answer, not a story.
            score -= 30.0 * rest / len(key)
            if score >= CUTOFF and (best is None or score > best[0]):
                best = (score, self.phrases[index])
        return None if best is None else (best[1], best[0])

    def most_like(self, heard: str) -> tuple[Phrase, float] | None:
        """The closest whole phrase by plain similarity (short command tables of the coach)."""
        key = heard.translate(DEVOICE)
        if len(key) < 3 or not self.keys:
            return None
        hit = process.extractOne(key, self.keys, scorer=fuzz.ratio)
        return None if hit is None else (self.phrases[hit[2]], float(hit[1]))
