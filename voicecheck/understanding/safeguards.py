"""Safeguards: answers that are never accepted without a read-back, however well they matched.

A wrong answer taken silently changes the advice and nobody notices; asking again costs one
turn. So, whatever the score:
- a word whose meaning flips with context (大丈夫, 結構, いい, まあ …) is read back;
- a result of one mora (a cough, a buzz heard as 「ドゥッ」) is never an answer;
- a command that changes the session (stop, back, skip) said as one short word is read back;
- on a strict question (the emergency screen) only a clear, unhedged answer is accepted.
The lists live in answers.toml ([caution]).
"""
from __future__ import annotations

from dataclasses import replace

from voicecheck.reading import reading
from voicecheck.understanding.decision import ACCEPT_AT, Match
from voicecheck.understanding.phrases import AnswerPhrases

STRICT_ACCEPT_AT = 90.0  # on a strict question an answer needs this score to be taken without a read-back
READ_BACK_SCORE = 70.0  # the score a safeguarded answer is lowered to: read back, never dropped
MIN_ANSWER_MORAE = 2  # fewer morae than this is never an answer


class Safeguards:
    def __init__(self, data: AnswerPhrases) -> None:
        caution = data.caution
        self.context_dependent = frozenset(reading(w) for w in caution.context_dependent) - {""}
        self.session_commands = frozenset(caution.session_commands)
        self.strict_questions = frozenset(caution.strict_questions)

    def is_context_dependent(self, phrase: str) -> bool:
        return reading(phrase) in self.context_dependent

    def apply(self, question_id: str, match: Match, *, deciding: tuple[str, ...] = (), morae: int = 99,
              clear_command: bool = True, hedged: bool = False) -> Match:
        """The match, lowered to a read-back where a safeguard says so (reasons in `cautions`).

        `deciding`: the phrases the answer rests on; `morae`: the spoken length of what was
        heard; `clear_command`: the command was said in words that leave no doubt; `hedged`:
        the answer carried a correction or contradiction.
        """
        if match.decision != "accept":
            return match
        reasons: list[str] = []
        if match.command:
            if match.command in self.session_commands and not clear_command:
                reasons.append("short_command")
        else:
            if morae < MIN_ANSWER_MORAE:
                return Match(score=0.0, cautions=("too_short",))
            if any(self.is_context_dependent(p) for p in deciding):
                reasons.append("context_dependent")
            if question_id in self.strict_questions and (hedged or match.score < STRICT_ACCEPT_AT):
                reasons.append("strict_question")
        if not reasons:
            return match
        return replace(match, score=min(match.score, READ_BACK_SCORE), decision="confirm",
                       cautions=match.cautions + tuple(reasons))
