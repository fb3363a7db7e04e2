"""From the evidence found to one answer with a score, and the decision: accept, confirm, reprompt.

A question's own words outrank a bare statement (ある/ない), which outranks an interjection
(はい/いいえ); contradicting evidence is always read back; words nobody's answer needs
(「今日はいい天気ですね」) lower the score, so unrelated talk is "not understood", not a guess.
"""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

from voicecheck.understanding.evidence import ECHO, INTERJECTION, STATEMENT, Evidence

Decision = Literal["accept", "confirm", "reprompt"]
UNKNOWN = "unknown"
ONLY_FILLERS = "only_fillers"  # the caution of a hearing that holds nothing but fillers (「うーん」「えっと」)

ACCEPT_AT = 80.0  # a score this high is taken without a read-back
CONFIRM_AT = 55.0  # between this and ACCEPT_AT the answer is read back for confirmation
CONFLICT_CAP = 75.0  # contradicting evidence (はい、腫れてない) is always read back
APPROXIMATE_CAP = 75.0  # a sound-alike or known mishearing is only ever read back
SOUND_ALIKE_CAP = 74.0


@dataclass(frozen=True)
class Match:
    option_ids: tuple[str, ...] = ()  # chosen option ids (several for `situations`), or ("unknown",)
    command: str | None = None  # repeat | back | skip | help | stop
    text: str | None = None  # free_text answers: the words, verbatim (normalised whitespace only)
    score: float = 0.0  # 0..100
    decision: Decision = "reprompt"
    cautions: tuple[str, ...] = ()  # why an answer that scored high is only read back (safeguards)


def decision_for(score: float) -> Decision:
    if score >= ACCEPT_AT:
        return "accept"
    if score >= CONFIRM_AT:
        return "confirm"
    return "reprompt"


def result(option_ids: tuple[str, ...], score: float) -> Match:
    decision = decision_for(score)
    if decision == "reprompt":
        return Match(score=score)
    return Match(option_ids=option_ids, score=score, decision=decision)


def score_of(e: Evidence, unexplained_ratio: float) -> float:
    """How sure one piece of evidence makes an answer, lowered by the share of unexplained words."""
    if e.approximate:
        base = min(e.score, APPROXIMATE_CAP)
    elif e.tier >= ECHO:
        base = 100.0
    elif e.tier == STATEMENT:
        base = 95.0
    else:
        base = 92.0
    weight = {ECHO: 45.0, STATEMENT: 50.0, INTERJECTION: 60.0}.get(e.tier, 50.0)
    return round(max(0.0, base - weight * unexplained_ratio), 1)


def yes_no_answers(answers: Sequence[Evidence]) -> list[Evidence]:
    """Turn denied yes/no evidence round: 腫れてない → no; 「出かけるのは平気」 → no (no problem)."""
    result_: list[Evidence] = []
    for e in answers:
        if e.negated:
            if e.target == UNKNOWN:
                continue  # 「わからなくはない」: says nothing clear
            if e.denied_by == "no_problem":
                # "X is no problem" says the thing asked about is fine: that is a no to a
                # question about a difficulty, whichever way the phrase X itself points.
                e.target = "no"
            else:
                e.target = "no" if e.target == "yes" else "yes"
        result_.append(e)
    return result_


def option_answers(options: Sequence[str], multi: bool, answers: Sequence[Evidence]) -> list[Evidence]:
    allowed = set(options) | ({"*"} if multi else set())
    return [e for e in answers if not e.negated and e.target in allowed]


def choose(kind: str, options: Sequence[str], answers: Sequence[Evidence], ratio: float) -> Match:
    """One answer (or several for a multi question) from the surviving evidence."""
    if kind == "multi":
        chosen = list(dict.fromkeys(e.target for e in answers))
        score = min(score_of(e, ratio) for e in answers)
        if "*" in chosen:
            chosen = [o for o in options if o != "other"]
            score = min(score, CONFLICT_CAP)
        return result(tuple(chosen), score)
    top_tier = max(e.tier for e in answers)
    best = [e for e in answers if e.tier == top_tier][-1]
    score = score_of(best, ratio)
    if len({e.target for e in answers}) > 1:
        score = min(score, CONFLICT_CAP)
    return result((best.target,), score)
