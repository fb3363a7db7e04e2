"""Negation: is a phrase denied by what follows it in its clause?

腫れています is a yes, 腫れてはいません a no, 腫れてねえ a no, 「腫れてるんじゃないかな」 a yes
(it asks for agreement), 「たまにしかない」 limits instead of denying, and 「ないことはない」
denies twice. A "no problem" word after a phrase (「階段は平気」「出かけるのは大丈夫」) says the
thing is no problem, which is recorded apart: it is not the opposite of the phrase.
"""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from voicecheck.reading import Token, reading
from voicecheck.understanding.evidence import ECHO, Evidence
from voicecheck.understanding.phrases import Negation
from voicecheck.understanding.utterance import Utterance, is_content


@dataclass(frozen=True)
class Scope:
    negated: bool  # an odd number of negations, not limited
    tail_end: int  # words up to here belong to the phrase (through its last negation)
    no_problem: bool = False  # the last negation was a "no problem" word (大丈夫, 平気)


class NegationRules:
    def __init__(self, neg: Negation) -> None:
        self.auxiliaries = frozenset(neg.auxiliaries)
        self.adjectives = frozenset(neg.adjectives)
        self.no_problem_words = frozenset(reading(w) for w in neg.words)
        self.after_te = frozenset(reading(w) for w in neg.after_te)
        self.not_after = frozenset(neg.not_after)
        self.limiters = frozenset(neg.limiters)
        self.clause_ends = frozenset(neg.clause_ends)
        self.te_forms = frozenset(neg.te_forms)
        self.nominalisers = frozenset(neg.nominalisers)
        self.copulas = frozenset(neg.copulas)
        self.questions = frozenset(neg.questions)

    def is_negation(self, tokens: Sequence[Token], k: int) -> bool:
        t = tokens[k]
        prev = tokens[k - 1] if k > 0 else None
        negating = ((t.pos == "助動詞" and t.base in self.auxiliaries)
                    or (t.pos == "形容詞" and t.base in self.adjectives)
                    or t.reading in self.no_problem_words
                    or (t.reading in self.after_te and prev is not None and prev.surface in self.te_forms))
        if not negating or prev is None:
            return negating
        # The word the denial belongs to, past a polite ます (しれ|ませ|ん of 「かもしれません」).
        word = tokens[k - 2] if prev.pos == "助動詞" and prev.base == "ます" and k >= 2 else prev
        if word.base in self.not_after or word.surface in self.not_after:
            return False
        # 「腫れてるんじゃないかな」 asks for agreement; it is not a denial.
        if (k >= 2 and prev.surface in self.copulas and tokens[k - 2].surface in self.nominalisers
                and (k + 1 >= len(tokens) or tokens[k + 1].surface in self.questions)):
            return False
        return True

    def ends_clause(self, t: Token) -> bool:
        return t.is_boundary or (t.surface in self.clause_ends and (t.pos1 == "接続助詞" or t.pos == "接続詞"))

    def scope(self, u: Utterance, last: int, stop: int, neutral: frozenset[str] = frozenset()) -> Scope:
        """Is the phrase ending at word `last` negated by what follows in its clause?

        After a negation only grammar words may follow (「ないことはない」); a new content word
        starts something else (「痛みもない、音もしない」 run together by the recogniser).
        """
        count, limited, k, explained, no_problem = 0, False, last + 1, last + 1, False
        tokens = u.tokens
        while k < min(stop, len(tokens)):
            t = tokens[k]
            if self.ends_clause(t):
                break
            if t.surface in self.limiters:
                limited = True
            if self.is_negation(tokens, k):
                count += 1
                explained = k + 1  # the words up to a negation belong to the answer
                no_problem = (t.reading in self.no_problem_words
                              or (k > last + 1 and tokens[k - 1].reading + t.reading in self.no_problem_words))
            elif count and is_content(t, neutral):
                break
            elif t.pos in ("動詞", "形容詞") and is_content(t, neutral):
                # Another verb or adjective: a denial after it is its own
                # (「どちらかと言えば行きたくない」 does not deny 言う).
                break
            k += 1
        return Scope(count % 2 == 1 and not limited, explained, no_problem and count == 1)


def read_denials(rules: NegationRules, u: Utterance, kept: list[Evidence], answers: list[Evidence],
                 neutral: frozenset[str]) -> list[Evidence]:
    """Marks each answer's evidence denied or not, reading its clause up to the next phrase that
    carries its own meaning (a question's own words or a command: all of `kept`), and drops a
    statement read as part of another phrase's tail (the second ない of 「ないこともない」).
    Returns the answers kept."""
    stops = sorted(e.first for e in kept if e.tier >= ECHO or e.kind == "command")
    for e in answers:
        if e.kind == "interjection" or e.tail_end >= 0:
            continue
        stop = next((s for s in stops if s > e.last), len(u.tokens))
        scope = rules.scope(u, e.last, stop, neutral)
        # A phrase written denied (歩けない) is confirmed by a denial in the answer (歩けません)
        # and denied by its absence (歩けます).
        e.negated, e.tail_end = scope.negated != e.negative, scope.tail_end
        if scope.no_problem:  # 「出かけるのは平気」: whatever the phrase, the thing is no trouble
            e.negated, e.denied_by = True, "no_problem"
    return [e for e in answers if e.kind != "statement"
            or not any(o is not e and o.last < e.first < o.tail_end for o in answers)]
