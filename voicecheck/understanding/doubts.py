"""Doubts about how an answer was said: any one of them makes an answer that scored high a read-back.

The matcher finds these while it reads the words (voicecheck.matcher); here they are named, in
one place, with what each one guards against. Each lowers the score to CONFLICT_CAP, so the
answer is read back (「『…』ですね。よろしいですか。」), never taken silently. Safeguards that
depend on the question and on single words live in voicecheck.understanding.safeguards.
"""
from __future__ import annotations

from dataclasses import dataclass, replace

from voicecheck.understanding.decision import CONFLICT_CAP, Match, result
from voicecheck.understanding.list_items import LIST_ITEM_NOT_UNDERSTOOD
from voicecheck.understanding.sound_alikes import REPLY_GUESSED


@dataclass(frozen=True)
class Doubts:
    # 「イエ、腫れてます」「いえどれもあります」: a いいえ (maybe misheard) before a "yes" — which of
    # the two was meant?
    no_before_yes: bool = False
    # The reply word at the start was only guessed from its vowels (「理営どれもありません」); another
    # hypothesis that heard it as said may still take it (voicecheck.understanding.hypotheses).
    reply_guessed: bool = False
    # 「階段を下りるときと、坂道」: one item of a list named nothing (voicecheck.understanding.list_items).
    list_item_not_understood: bool = False
    # An answer and a command in one breath (「もう一度お名前をお願いします」).
    with_command: bool = False
    # 「たまにです。いや、週に一回はあります」: taken back by a plain いや, which may be misheard — the
    # second answer is read back; 「たまにです。いや」 with nothing after: the first.
    doubtful_correction: bool = False
    # A yes/no answer corrected within itself (「はい、いや違う、いいえ」), at a question (not a read-back).
    corrected_yes_no: bool = False

    def caution(self) -> tuple[str, ...] | None:
        """The cautions of the first doubt that holds (in the order above), () when it has none to
        name, None when there is no doubt."""
        if self.no_before_yes:
            return ()
        if self.reply_guessed:
            return (REPLY_GUESSED,)
        if self.list_item_not_understood:
            return (LIST_ITEM_NOT_UNDERSTOOD,)
        if self.with_command or self.doubtful_correction or self.corrected_yes_no:
            return ()
        return None


def read_back_if_doubtful(match: Match, doubts: Doubts) -> Match:
    """`match`, lowered to a read-back when it was accepted and a doubt holds."""
    cautions = doubts.caution()
    if match.decision != "accept" or cautions is None:
        return match
    return replace(result(match.option_ids, min(match.score, CONFLICT_CAP)), cautions=cautions)
