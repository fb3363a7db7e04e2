"""Small command tables (the exercise coach's 「次」「ゆっくり」「痛い」): which id a heard text says.

The same reading-based phrase finding as the answer matcher, without its questions: a phrase
found anywhere counts (「ちょっと待ってください」 → pause) unless what follows denies it
(「もう痛くない」 is not pain); sound-alikes count only when they are most of what was heard.
"""
from __future__ import annotations

from collections.abc import Mapping, Sequence
from functools import lru_cache

from voicecheck.reading import analyse, normalise
from voicecheck.understanding.evidence import ECHO, Evidence, resolve
from voicecheck.understanding.phrase_index import PhraseSet, compile_phrase, find
from voicecheck.understanding.sound_alikes import CUTOFF, SoundAlikes
from voicecheck.understanding.utterance import Utterance

# Dictionary forms of the negating auxiliaries as Open JTalk tags them (grammar, like the
# part-of-speech names; the answer matcher reads its fuller list from answers.toml).
_NEGATION_AUX = frozenset({"ない", "ぬ", "ん", "へん", "ひん", "ず"})


@lru_cache(maxsize=64)
def _table_phrases(items: tuple[tuple[str, tuple[str, ...]], ...]) -> tuple[PhraseSet, SoundAlikes]:
    phrases = [p for key, texts in items for t in texts if (p := compile_phrase(t, key, "echo", ECHO))]
    return PhraseSet.of(phrases), SoundAlikes.of(phrases)


def match_table(heard: str, table: Mapping[str, Sequence[str]]) -> tuple[str | None, float]:
    """The id whose phrases best fit what was heard, by reading; (None, score) when nothing fits."""
    text = normalise(heard if isinstance(heard, str) else "")
    if not text or not table:
        return None, 0.0
    items = tuple((str(k), tuple(str(t) for t in v)) for k, v in table.items())
    pset, alikes = _table_phrases(items)
    tokens = tuple(t for t in analyse(text) if t.pos != "フィラー")
    u = Utterance.of(tokens)
    if not u.starts:
        return None, 0.0
    found = []
    for p in pset.candidates(u):
        for i, j in find(p, u):
            k, negated = j + 1, False
            while k < len(tokens) and not tokens[k].is_boundary:
                if tokens[k].pos == "助動詞" and tokens[k].base in _NEGATION_AUX:
                    negated = not negated
                k += 1
            if not negated:
                found.append(Evidence(p.target, "echo", ECHO, i, j))
    content = sum(len(t.reading) for t in tokens if not t.is_boundary and not t.is_function)
    if found:
        best = max(resolve(found), key=lambda e: (e.size, e.last))
        size = sum(len(tokens[k].reading) for k in range(best.first, best.last + 1))
        return best.target, round(min(100.0, 90.0 + 10.0 * size / max(1, content)), 1)
    hit = alikes.most_like(u.sound)
    if hit is None:
        return None, 0.0
    phrase, score = hit
    if score >= CUTOFF:
        return phrase.target, round(score * 0.9, 1)
    return None, round(score, 1)
