"""Evidence: where a phrase of the question was found in the answer, and which finds survive.

Every phrase of the question (echo answers, generic yes/no/don't know, commands, corrections)
is looked for in the answer; each find is one piece of `Evidence` with the words it covers.
Where finds overlap, the longest wins (「意味がわからない」 is help, not "unknown").
"""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from voicecheck.reading import analyse
from voicecheck.understanding.phrase_index import Phrase, PhraseSet, find
from voicecheck.understanding.utterance import Utterance

# Evidence tiers: a question's own words outrank a bare statement (ある/ない), which outranks an
# interjection (はい/いいえ): 「はい、腫れてないです」 is a no, 「いや、あるよ」 a yes.
ECHO, STATEMENT, INTERJECTION = 3, 2, 1


@dataclass
class Evidence:
    target: str
    kind: str  # echo | statement | interjection | command | correction | number
    tier: int
    first: int  # first and last word index covered
    last: int
    score: float = 100.0
    negated: bool = False
    tail_end: int = -1  # words after `last` up to here are the phrase's predicate (through a negation)
    approximate: bool = False  # found by sound similarity or as a known mishearing
    phrase: str = ""  # the phrase as written in answers.toml (for the safeguards)
    denied_by: str = ""  # "no_problem" when a "no problem" word denied it (「階段は平気」)
    negative: bool = False  # its phrase is written denied (回らない): a denial in the answer confirms it

    @property
    def size(self) -> int:
        return self.last - self.first + 1


def find_evidence(phrases: PhraseSet, u: Utterance) -> list[Evidence]:
    """Every phrase of the set found in the utterance (interjections only where they can be one)."""
    found: list[Evidence] = []
    for p in phrases.candidates(u):
        for i, j in find(p, u):
            if p.kind == "interjection" and not interjection_ok(u, i, j, p):
                continue
            if p.kind == "statement" and not statement_ok(u, i, j, p):
                continue
            found.append(Evidence(p.target, p.kind, p.tier, i, j, score=72.0 if p.fuzzy else 100.0,
                                  approximate=p.fuzzy, phrase=p.text, negative=p.negative))
    return found


def statement_ok(u: Utterance, i: int, j: int, p: Phrase) -> bool:
    """A one-word statement (ない, なし) is that word, not a verb that sounds like it: the なし of
    「なしたことない」 (なす) is no "none", and read as one the ない after it would turn it into a yes."""
    if i != j:
        return True
    t = u.tokens[i]
    first_pos = p.first_pos or (analyse(p.text)[0].pos if analyse(p.text) else "")
    return not (t.pos == "動詞" and first_pos != "動詞")


def interjection_ok(u: Utterance, i: int, j: int, p: Phrase) -> bool:
    """Interjections count at a clause start, and only as the same kind of word (はい, not 肺)."""
    if i > 0:
        prev = u.tokens[i - 1]
        if not (prev.is_boundary or prev.pos in ("感動詞", "フィラー") or prev.pos1 == "接続助詞"):
            return False
    t = u.tokens[i]
    if i != j:
        return True  # several words with the phrase's exact sound: the tokenizer split it
    first_pos = p.first_pos or (analyse(p.text)[0].pos if analyse(p.text) else "")
    # Open JTalk tags 「いえ、」 before more words as a conjunction; set off by a pause it is
    # still the reply.
    set_off = t.pos == "接続詞" and (j + 1 == len(u.tokens) or u.tokens[j + 1].is_boundary)
    return t.pos == first_pos or t.pos == "感動詞" or set_off


def resolve(found: Sequence[Evidence]) -> list[Evidence]:
    """Keep the longest finds where several overlap, in word order."""
    order = sorted(found, key=lambda e: (-e.size, e.approximate, -e.tier, e.kind != "number", e.first))
    taken: set[int] = set()
    kept = []
    for e in order:
        words = set(range(e.first, e.last + 1))
        if words & taken:
            # Two phrasings of the same thing that overlap (「今日はここまで」「ここまでにして」)
            # together cover both spans.
            same = next((k for k in kept if k.target == e.target and k.kind == e.kind
                         and k.first <= e.last and e.first <= k.last), None)
            if same is not None and not (words - set(range(same.first, same.last + 1))) & taken:
                same.first, same.last = min(same.first, e.first), max(same.last, e.last)
                taken |= words
            continue
        taken |= words
        kept.append(e)
    return sorted(kept, key=lambda e: e.first)


def covered_words(u: Utterance, evidence: Sequence[Evidence]) -> list[bool]:
    """Which words some evidence explains (its phrase, and its predicate through a negation)."""
    covered = [False] * len(u.tokens)
    for e in evidence:
        for k in range(e.first, max(e.last + 1, e.tail_end)):
            if k < len(covered):
                covered[k] = True
    return covered
