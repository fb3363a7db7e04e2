"""Sound-alike readings: what a recogniser writes when it mishears a phrase (オリル → オル), and
the reply word it garbles at the start of an answer (入れ, 理営 for いいえ).

Only tried when nothing matched exactly, and only ever offered for a read-back, never accepted.
"""
from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from rapidfuzz import fuzz, process

from voicecheck.understanding.phrase_index import Phrase
from voicecheck.reading import Token, vowels
from voicecheck.understanding.voicing import DEVOICE

MIN_CHARS = 4  # phrases shorter than this are only ever matched exactly
CUTOFF = 84.0  # phonetic similarity (0..100) a sound-alike needs
# A whole session command heard garbled: lower, because the whole utterance must sound like it and
# it is only ever asked about (「ここで終わりにしますか」), never done.
COMMAND_CUTOFF = 80.0
SOUND_ALIKE_COMMAND = "sound_alike_command"  # the caution of a session command heard only as a sound-alike
REPLY_GUESSED = "reply_word_guessed"  # the caution of an answer after a reply word told only by its vowels


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

    def whole_like(self, heard: str, cutoff: float) -> tuple[Phrase, float] | None:
        """The phrase that sounds like the whole of what was heard, with the same first sound
        (モーハリニシマス for モーオワリニシマス): nothing may be left over, unlike `closest`."""
        key = heard.translate(DEVOICE)
        if len(key) < MIN_CHARS or not self.keys:
            return None
        hit = process.extractOne(key, self.keys, scorer=fuzz.ratio, score_cutoff=cutoff)
        if hit is None or hit[0][:1] != key[:1]:
            return None
        return self.phrases[hit[2]], float(hit[1])

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


# What a recogniser writes for a garbled reply word run into the answer: a noun (理営, 家) or a
# verb (言え).
GLUED_LEAD_POS = frozenset({"名詞", "動詞"})


@dataclass(frozen=True)
class MisheardLead:
    tokens: int  # how many tokens at the start are the misheard reply word (0: none)
    sounds_like_no: bool  # it sounds like いいえ: a "yes" after it contradicts it
    guessed: bool = False  # told from its vowels alone (理営 for いいえ): the answer is only read back
    like_reply: bool = False  # it sounds like a reply word (its vowels, or a garbled いいえ), not like a topic


@dataclass(frozen=True)
class ReplyShapes:
    """The vowels of the one-word replies (はい アイ, いいえ イエ, いや イア, うん ウン): what is left
    of them when a recogniser garbles their consonants (理営 for いいえ)."""

    yes: frozenset[str]
    no: frozenset[str]

    def has(self, shape: str) -> bool:
        return shape in self.yes or shape in self.no

    def sounds_like_no(self, shape: str) -> bool:
        return shape in self.no and shape not in self.yes  # ウン is うん as well as ううん


def yes_like_nai_desu(tokens: Sequence[Token]) -> bool:
    """「はいです」「はい、ですよ」: はい with nothing after it but a copula and a closing particle.
    Few people answer so; it is what a recogniser writes for 「ないです」 (ハイ/ナイ differ by one
    consonant), so a yes heard that way may be a no."""
    words = [t for t in tokens if not t.is_boundary and t.reading]
    if len(words) < 2 or words[0].base != "はい" or words[1].base != "です":
        return False
    return all(t.pos in ("助動詞", "助詞") for t in words[2:])


def misheard_reply_lead(tokens: Sequence[Token], covered: Sequence[bool],
                        shapes: ReplyShapes | None = None) -> MisheardLead:
    """The reply word the recogniser misheard at the start of an answer, if there is one.

    Only a lead set off by a pause (「入れ、熱くないです」) and explained by nothing else counts:
    one short word, or a garbled いいえ of two words (「いれいえ、変わりません」); or, without a
    pause, one or two words with a reply word's vowels before an answer that starts afresh
    (「理営どれもありません」), which is only ever read back."""
    end = next((i for i, t in enumerate(tokens) if t.is_boundary), None)
    if not end or end > 2 or end == len(tokens) - 1 or any(covered[:end]):
        return _glued_reply_lead(tokens, covered, shapes) if shapes else MisheardLead(0, False)
    lead = tokens[:end]
    sound = "".join(t.reading for t in lead)
    morae = sum(t.morae for t in lead)
    shape = vowels(sound)
    like_no = bool(GARBLED_IIE.match(sound))
    like_reply = like_no or (shapes is not None and shapes.has(shape))
    if end == 1 and morae <= MISHEARD_REPLY_MORAE:
        return MisheardLead(1, like_no, like_reply=like_reply)
    if like_no and morae <= 4:
        return MisheardLead(end, True, like_reply=True)
    if like_reply and morae <= MISHEARD_REPLY_MORAE:  # 「理営、どれもありません」
        return MisheardLead(end, shapes.sounds_like_no(shape), guessed=True, like_reply=True)
    return MisheardLead(0, False)


def _glued_reply_lead(tokens: Sequence[Token], covered: Sequence[bool], shapes: ReplyShapes) -> MisheardLead:
    """One or two nouns or verbs at the start, three morae at most together, explained by
    nothing, with the vowels of a reply word, and a word after them that starts something new:
    not a particle or an ending that would make them what the answer is about (「家がありません」)."""
    for end in (1, 2):
        if end >= len(tokens):
            break
        lead = tokens[:end]
        if (any(t.pos not in GLUED_LEAD_POS or t.pos1 == "数" for t in lead) or any(covered[:end])
                or sum(t.morae for t in lead) > MISHEARD_REPLY_MORAE):
            break
        after = tokens[end]
        if after.is_boundary or after.is_function and after.pos1 != "代名詞":
            continue  # 「理|営」: a second noun may still belong to the lead
        shape = vowels("".join(t.reading for t in lead))
        if shapes.has(shape):
            return MisheardLead(end, shapes.sounds_like_no(shape), guessed=True, like_reply=True)
    return MisheardLead(0, False)
