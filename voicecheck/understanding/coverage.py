"""How much of what was said the evidence explains.

Words nobody's answer needs (「今日はいい天気ですね」) lower an answer's score; a statement
(ある/ない) counts only in a clause that says nothing else; a lone はい or いいえ said as a sentence
of its own, followed by other words, is read back.
"""
from __future__ import annotations

from voicecheck.understanding.evidence import Evidence
from voicecheck.understanding.utterance import Utterance, is_content


def unexplained_share(u: Utterance, covered: list[bool], neutral: frozenset[str], lead: int = 0,
                      like_reply: bool = False) -> float:
    """How much of what was said no evidence explains (0..1): the larger of the share of
    sounds and the share of meaningful words, so one short unrelated word (歯 of 「歯が痛い」)
    counts as much as a long one. `lead`: words at the start that may be a misheard reply word."""
    meaningful = [i for i, t in enumerate(u.tokens)
                  if is_content(t, neutral) or (covered[i] and not t.is_function and t.reading)]
    # A short word set off at the start (「入れ、熱くないです」「いれいえ、変わりません」) is a
    # reply word the recogniser misheard (いいえ), not something else being said.
    # Unless it sounds like a reply word, a lead that is all there is to the answer may be its
    # topic (「お金、ありません」) and still counts.
    if lead and (like_reply or any(i >= lead for i in meaningful)):
        meaningful = [i for i in meaningful if i >= lead]
    if not meaningful:
        return 0.0
    unexplained = [i for i in meaningful if not covered[i] and is_content(u.tokens[i], neutral)]
    sounds = sum(len(u.tokens[i].reading) for i in unexplained) / sum(len(u.tokens[i].reading) for i in meaningful)
    return max(sounds, len(unexplained) / len(meaningful))


def clause_clean(u: Utterance, e: Evidence, covered: list[bool], neutral: frozenset[str]) -> bool:
    """True when the clause of `e` says nothing the evidence does not explain."""
    lo, hi = u.clause_of(e.first, e.last)
    return not any(is_content(u.tokens[k], neutral) and not covered[k] for k in range(lo, hi + 1))


def set_off_reply(u: Utterance, answers: list[Evidence]) -> bool:
    """Is the answer a lone はい or いいえ said as a sentence of its own, the rest being more words?"""
    replies = [e for e in answers if e.kind == "interjection"]
    if len(answers) != len(replies) or len({e.target for e in replies}) != 1:
        return False
    first = replies[0]
    return first.first == 0 and first.last + 1 < len(u.tokens) and u.tokens[first.last + 1].is_boundary
