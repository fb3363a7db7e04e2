"""Corrections: 「AじゃなくてB」, 「はい、いや違う、いいえ」, 「たまにです。いや、週に一回です」.

What follows a correction marker (or, on a question of one choice, a clause opening with いや or
いいえ after an answer) replaces what came before it. A correction with nothing understood after it
withdraws what came first. A correction only guessed at (a plain いや, which may be misheard, or
an answer taken back with nothing after it) makes the answer doubtful: it is read back.
"""
from __future__ import annotations

from dataclasses import dataclass

from voicecheck.understanding.evidence import Evidence
from voicecheck.understanding.utterance import Utterance


@dataclass(frozen=True)
class Corrected:
    answers: list[Evidence]  # the evidence that still counts
    corrected: bool = False  # a correction replaced or withdrew what came first
    doubtful: bool = False  # … but only by a guess: read back
    withdrawn_at: int | None = None  # the last correction's word, when no answer follows it


def taken_back(kind: str, u: Utterance, answers: list[Evidence], no_readings: frozenset[str]) -> list[int]:
    """「たまにです。いや、週に一回です」: on a question of one choice, which いいえ does not
    answer, a clause opening with いや / いいえ after an answer takes that answer back. The word
    indexes of those openings."""
    if kind != "single" or not answers:
        return []
    after = min(e.last for e in answers)
    return [i for i, t in enumerate(u.tokens)
            if i > after and t.reading in no_readings and u.tokens[i - 1].is_boundary]


def apply_corrections(kind: str, u: Utterance, answers: list[Evidence], markers: list[Evidence],
                      no_readings: frozenset[str]) -> Corrected:
    """Keep only what follows the last correction that has an answer after it (see the module doc)."""
    taken = taken_back(kind, u, answers, no_readings)
    cuts = [m.last for m in markers] + taken
    if not (cuts and answers):
        return Corrected(answers)
    for cut in sorted(cuts, reverse=True):
        after = [e for e in answers if e.first > cut]
        if after:
            return Corrected(after, corrected=True, doubtful=cut in taken)
    # 「…じゃなくて」 with nothing after it: what came first is withdrawn
    return Corrected(answers, corrected=True, doubtful=True, withdrawn_at=max(cuts))
