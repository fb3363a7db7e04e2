"""Voicing marks lost or added by the recogniser: 「とれもありません」 for 「どれもありません」.

Under noise a recogniser often drops or adds a voicing mark (と/ど, か/が, は/ば/ぱ) and then
writes another word (取れ for どれ), or runs a reply word into the next one as one unknown
word (「イエートレもありません」). When nothing in an answer could be understood, such a word is
put back to the word people wrap answers in (どれ, 全然, 特に) that it matches but for voicing,
and the answer is decided again. Only wrapping words are put back, never a word that answers
by itself, so what decides the answer was heard as said; and what this second reading finds is
only ever read back: a wrong guess costs one turn, never a wrong answer.
"""
from __future__ import annotations

from collections.abc import Iterable, Sequence

from voicecheck.reading import FUNCTION_POS, Token

REVOICED = "voicing"  # the caution of an answer found only with voicing marks put back
# Voiced and plain kana are confused most often: compare without the voicing marks.
DEVOICE = str.maketrans("ガギグゲゴザジズゼゾダヂヅデドバビブベボパピプペポ", "カキクケコサシスセソタチツテトハヒフヘホハヒフヘホ")
# Shorter words than this are left as heard: one kana is too little sound to say which word it was.
MIN_KANA = 2


def devoiced(reading: str) -> str:
    return reading.translate(DEVOICE)


class Revoicing:
    """Wrapping words keyed by their sounds without voicing marks, and the one-word replies
    (いいえ, はい) a recogniser may run into them."""

    def __init__(self, words: Iterable[Token], replies: Iterable[Token] = ()) -> None:
        by_key: dict[str, dict[str, Token]] = {}
        for t in words:
            if len(t.reading) >= MIN_KANA and t.pos not in FUNCTION_POS:
                by_key.setdefault(devoiced(t.reading), {}).setdefault(t.reading, t)
        self._known = frozenset(r for group in by_key.values() for r in group)
        # A key two words share says nothing about which of them was meant.
        self._by_key = {k: next(iter(v.values())) for k, v in by_key.items() if len(v) == 1}
        self._replies = tuple(sorted((t for t in replies if len(t.reading) >= MIN_KANA),
                                     key=lambda t: -len(t.reading)))

    def repaired(self, tokens: Sequence[Token]) -> tuple[Token, ...] | None:
        """The words with each one put back to the wrapping word it matches but for voicing (the
        first word may be a reply run into one), or None when no word was changed."""
        out: list[Token] = []
        changed = False
        for i, t in enumerate(tokens):
            words = self._word(t) or (self._reply_and_word(t) if i == 0 else None)
            out.extend(words or (t,))
            changed = changed or words is not None
        return tuple(out) if changed else None

    def _word(self, t: Token) -> tuple[Token, ...] | None:
        if not _repairable(t) or t.reading in self._known:
            return None
        word = self._by_key.get(devoiced(t.reading))
        return None if word is None else (word,)

    def _reply_and_word(self, t: Token) -> tuple[Token, ...] | None:
        """「イエートレ」: a reply word (いえ, drawn out) run into a wrapping word (どれ)."""
        if not _repairable(t):
            return None
        for reply in self._replies:
            if t.reading.startswith(reply.reading):
                rest = t.reading[len(reply.reading):].lstrip("ー")
                word = self._by_key.get(devoiced(rest)) if len(rest) >= MIN_KANA else None
                if word is not None:
                    return reply, word
        return None


def _repairable(t: Token) -> bool:
    """A content word long enough to judge; numbers are left alone (十 and 週 differ in voicing,
    but a number heard is a number: 「十一くらい」 is no 「週一」 to be sure of)."""
    return (not t.is_boundary and not t.is_function and t.pos1 != "数"
            and len(t.reading) >= MIN_KANA)
