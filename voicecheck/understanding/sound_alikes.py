"""Sound-alike readings: what a recogniser writes when it mishears a phrase (オリル → オル).

Only tried when nothing matched exactly, and only ever offered for a read-back, never accepted.
"""
from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from rapidfuzz import fuzz, process

from voicecheck.understanding.phrase_index import Phrase
from voicecheck.reading import Token

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


MISHEARD_REPLY_MORAE = 3  # はい, いいえ, ええ, うん are at most three morae
# Whisper writes a quick いいえ as いれいえ, 入れへ, いりいえ, 入れえ, 入れ, 家: イ, a sound or two, エ.
GARBLED_IIE = re.compile("^イ(.{0,2}[エヘ]|レ)$")


@dataclass(frozen=True)
class MisheardLead:
    tokens: int  # how many tokens at the start are the misheard reply word (0: none)
    sounds_like_no: bool  # it sounds like いいえ: a "yes" after it contradicts it


def misheard_reply_lead(tokens: Sequence[Token], covered: Sequence[bool]) -> MisheardLead:
    """The reply word the recogniser misheard at the start of an answer, if there is one.

    Only a lead set off by a pause (「入れ、熱くないです」) and explained by nothing else counts:
    one short word, or a garbled いいえ of two words (「いれいえ、変わりません」)."""
    end = next((i for i, t in enumerate(tokens) if t.is_boundary), None)
    if not end or end > 2 or end == len(tokens) - 1 or any(covered[:end]):
        return MisheardLead(0, False)
    lead = tokens[:end]
    sound = "".join(t.reading for t in lead)
    like_no = bool(GARBLED_IIE.match(sound))
    if end == 1 and lead[0].morae <= MISHEARD_REPLY_MORAE:
        return MisheardLead(1, like_no)
    return MisheardLead(end, True) if like_no and sum(t.morae for t in lead) <= 4 else MisheardLead(0, False)
