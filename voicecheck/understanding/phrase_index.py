"""Phrases analysed once at start-up, indexed by sound, and found again in a heard answer.

A phrase is compared by its reading, aligned to word starts. Its last word, when it is a verb
or an adjective, matches any form of itself (腫れる finds 腫れて, 腫れてる, 腫れていません), and a
phrase written in the past or progressive (良くなった, 腫れている) is reduced to its verb so
that every tense counts (良くなっている, 良くなってきた).
"""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from voicecheck.reading import INFLECTING_POS, Token, analyse, base_reading
from voicecheck.understanding.utterance import Utterance, is_wordlike

# Words whose other forms count as the same word. Auxiliaries (ます, ない, た) are left out: the
# form is what they say (「しましょう」 is not 「しました」).
LEMMA_POS = frozenset({"動詞", "形容詞"})
# Tense and aspect at the end of a phrase say nothing about its meaning (腫れている ≈ 腫れた ≈
# 腫れる): they are dropped so the verb before them matches in every form. Negation is kept.
_TENSE_AUX = frozenset({"た", "だ", "ます"})  # 助動詞
_TE = frozenset({"て", "で"})  # 接続助詞 of 〜ている
_ASPECT_VERBS = frozenset({"いる", "てる", "でる", "くる", "しまう", "ちゃう", "おる", "とる"})  # 非自立


def _is_aspect(t: Token) -> bool:
    return ((t.pos == "助動詞" and t.base in _TENSE_AUX) or (t.pos == "助詞" and t.base in _TE)
            or (t.pos == "動詞" and t.pos1 == "非自立" and t.base in _ASPECT_VERBS))


@dataclass(frozen=True)
class Phrase:
    """One phrase, analysed once at start-up."""

    text: str
    target: str  # answer id or command id
    kind: str  # echo | statement | interjection | command | correction
    tier: int
    prefix: str  # reading of every word but the last
    last: Token
    last_base: str  # reading of the last word's dictionary form
    anchor: str  # a reading every form of the phrase starts with, to find candidates fast
    full: str  # the whole reading
    fuzzy: bool = False  # a known mishearing: found only with a read-back
    takes_topic: bool = False  # starts with a particle (「〜ってなに」): the words before are its topic
    exact: bool = False  # only this very form counts (「じゃなくて」 is a correction, 「じゃない」 is not)
    starts_with_word: bool = True  # its first word is a content word, so a match must start at one
    first_reading: str = ""  # reading of its first word
    first_pos: str = ""  # part of speech of its first word (はい the reply, not 肺 the organ)
    negative: bool = False  # written denied (回らない, 歩けない): found as its verb, the denial read from the answer
    words: tuple[Token, ...] = ()  # its words, for finding it with words in between (「ろれつがうまく回らない」)


# A light verb alone says nothing without its ending (「しましょう」 is not 「しました」).
_LIGHT_VERBS = frozenset({"する", "ある", "いる", "なる", "くる", "やる", "できる", "いう", "いく", "行く", "おる", "言う"})


def _verb_core(tokens: list[Token]) -> list[Token] | None:
    """The words up to a verb or adjective without its tense and aspect (腫れている → 腫れ), or
    None when nothing is left that means something on its own (a light verb alone: 「しましょう」
    is not 「しました」, 「なってない」 says nothing without what did not become)."""
    end = len(tokens)
    while end > 1 and _is_aspect(tokens[end - 1]):
        end -= 1
    if tokens[end - 1].pos not in LEMMA_POS or tokens[end - 1].pos1 not in ("自立", "接尾"):
        return None
    if end == 1 and tokens[0].base in _LIGHT_VERBS:
        return None
    return tokens[:end]


def _without_aspect(tokens: list[Token]) -> list[Token]:
    """Drop trailing tense/aspect words after a verb or adjective (腫れている → 腫れ)."""
    if len(tokens) < 2 or not _is_aspect(tokens[-1]):
        return tokens
    return _verb_core(tokens) or tokens


# Dictionary forms of the auxiliaries that deny the verb before them (grammar, like the part-of-
# speech names; the matcher reads the fuller list of its negation rules from answers.toml).
_DENIALS = frozenset({"ない", "ん", "ぬ", "へん", "ひん", "ず"})


def _without_denial(tokens: list[Token]) -> tuple[list[Token], bool]:
    """「回らない」 → (回ら, True): a denied verb or adjective is found in any form, and whether the
    answer denies it is read from the answer itself (回りません, 回らなくて, 回らん)."""
    if len(tokens) >= 2 and tokens[-1].pos == "助動詞" and tokens[-1].base in _DENIALS:
        core = _verb_core(tokens[:-1])
        if core is not None:
            return core, True
    return tokens, False


def compile_phrase(text: str, target: str, kind: str, tier: int, *, fuzzy: bool = False,
                   topic_markers: Sequence[str] = ()) -> Phrase | None:
    tokens = [t for t in analyse(text) if not t.is_boundary and t.reading]
    if not tokens:
        return None
    exact = kind == "correction"
    negative = False
    if kind in ("echo", "statement"):  # a command's tense is part of it: 「間違った」 is not 「間違ってる」
        tokens = _without_aspect(tokens)
        if kind == "echo":
            tokens, negative = _without_denial(tokens)
    last = tokens[-1]
    prefix = "".join(t.reading for t in tokens[:-1])
    last_base = base_reading(last.base) or last.reading
    if last.pos in LEMMA_POS:
        if last_base in ("スル", "クル"):  # irregular verbs: し, さ, せ, こ, き share nothing
            anchor = prefix
        else:
            stem = last_base[:-1]
            anchor = prefix + (stem if last.reading.startswith(stem) else _common(last.reading, last_base))
    else:
        anchor = prefix + last.reading
    full = prefix + last.reading
    takes_topic = any(text.startswith(marker) for marker in topic_markers)
    if exact:
        anchor = full
    first = tokens[0]
    return Phrase(text, target, kind, tier, prefix, last, last_base, anchor, full, fuzzy, takes_topic, exact,
                  # caution words (かも, 気がする) are endings: they may start inside a word's reading
                  kind != "caution" and is_wordlike(first) and first.pos not in ("感動詞", "フィラー"),
                  first.reading, first.pos,
                  negative, tuple(tokens))


def _common(a: str, b: str) -> str:
    n = 0
    while n < min(len(a), len(b)) and a[n] == b[n]:
        n += 1
    return a[:n]


@dataclass(frozen=True)
class PhraseSet:
    """Phrases indexed by the first two kana of their anchor, so one answer checks only a few."""

    phrases: tuple[Phrase, ...]
    by_key: dict[str, tuple[Phrase, ...]]
    always: tuple[Phrase, ...]  # anchors too short to index

    @classmethod
    def of(cls, phrases: Sequence[Phrase]) -> "PhraseSet":
        by_key: dict[str, list[Phrase]] = {}
        always = []
        for p in phrases:
            if len(p.anchor) >= 2:
                by_key.setdefault(p.anchor[:2], []).append(p)
            elif p.anchor:
                by_key.setdefault(p.anchor[:1], []).append(p)
            else:
                always.append(p)
        return cls(tuple(phrases), {k: tuple(v) for k, v in by_key.items()}, tuple(always))

    def candidates(self, u: Utterance) -> list[Phrase]:
        found = list(self.always)
        for key in u.bigrams:
            found.extend(self.by_key.get(key, ()))
        return found


_COMMAS = frozenset({"、", ",", "，"})


def find(p: Phrase, u: Utterance) -> list[tuple[int, int]]:
    """Word spans (first, last) where the phrase occurs, starting at a word start.

    A phrase that starts with a particle (「ってなに」) also covers the words before it in its
    clause: in 「腫れってなに」 the 腫れ is what is asked about, not an answer.
    """
    spans = _find_words(p, u)
    if len(p.words) >= 2 and not p.exact and p.kind != "command":
        spans = list(dict.fromkeys(spans + _find_with_gaps(p, u)))
    if p.takes_topic:
        if p.words and all(t.pos == "助詞" for t in p.words):
            # Particles alone (「とは」) ask about the words before them only where the sentence ends
            # there (「カクンとは？」): in 「階段とはちあがるとき」 (立ち上がる garbled) and 「カクンとは、
            # しません」 they are not asking.
            spans = [(i, j) for i, j in spans if j + 1 >= len(u.tokens)
                     or (u.tokens[j + 1].is_boundary and u.tokens[j + 1].surface not in _COMMAS)]
        spans = [(u.clause_of(i, j)[0], j) for i, j in spans]
    return spans


def _find_words(p: Phrase, u: Utterance) -> list[tuple[int, int]]:
    spans = []
    r = u.reading
    pos = r.find(p.anchor) if p.anchor else 0
    while pos != -1 and pos < len(r):
        i = u.starts.get(pos)
        # 痛いです must start at a word, not at the い of 続けていたいです.
        if i is not None and (not p.starts_with_word or is_wordlike(u.tokens[i])
                              or u.tokens[i].reading == p.first_reading):
            last_at = pos + len(p.prefix)
            if r.startswith(p.prefix, pos):
                j = u.starts.get(last_at)
                if j is not None and same_word(u.tokens[j], p) and (p.kind != "statement" or _statement_pos_ok(u, j, p)):
                    spans.append((i, j))
                elif r.startswith(p.last.reading, last_at) and last_at + len(p.last.reading) in u.ends:
                    # Open JTalk split the words differently here (いいえ → いい + え,
                    # たまに → たま + に).
                    end = u.ends[last_at + len(p.last.reading)]
                    if p.kind != "statement" or j != end or _statement_pos_ok(u, end, p):
                        spans.append((i, end))
                elif j is not None and _noun_as_suru_verb(u.tokens[j], p):
                    spans.append((i, j))
        pos = r.find(p.anchor, pos + 1) if p.anchor else (pos + 1 if pos + 1 < len(r) else -1)
    return spans


# Particles that speakers swap or drop without changing what the phrase says (階段を/で/∅ 下りる);
# から, まで, でも and the like carry meaning and must be as written.
_LOOSE_PARTICLES = frozenset({"が", "を", "は", "も", "に", "で", "へ"})
MAX_GAPS = 2  # words allowed between a phrase's words: 「ろれつが|うまく|回らない」「階段を|ゆっくり|下りる」


def _skippable(t: Token) -> bool:
    """A word that may stand between a phrase's words without changing what it says: an adverb
    (ゆっくり, 全然), an adjective used as one (うまく), a topic particle (は, も), a prefix (お)."""
    return (t.pos in ("副詞", "連体詞", "接頭詞") or (t.pos == "形容詞" and t.reading.endswith("ク"))
            or (t.pos == "助詞" and t.pos1 == "係助詞"))


def _word_matches(t: Token, w: Token) -> bool:
    if t.reading == w.reading:
        return True
    return w.pos in LEMMA_POS and t.pos == w.pos and base_reading(t.base) == base_reading(w.base)


def _find_with_gaps(p: Phrase, u: Utterance) -> list[tuple[int, int]]:
    """The phrase's words in order in one clause, with a few words between them, a particle said
    differently (階段で下りる) or left out (階段下りる)."""
    words, tokens, spans = p.words, u.tokens, []
    for i, t in enumerate(tokens):
        if not _word_matches(t, words[0]):
            continue
        j, k, gaps = i + 1, 1, 0
        while k < len(words) and j < len(tokens) and not tokens[j].is_boundary:
            w, t = words[k], tokens[j]
            last = k == len(words) - 1
            if (same_word(t, p) if last else _word_matches(t, w)):
                j, k = j + 1, k + 1
            elif not last and w.base in _LOOSE_PARTICLES and t.base in _LOOSE_PARTICLES:
                j, k = j + 1, k + 1  # another case particle in its place (階段で下りる)
            elif w.base in _LOOSE_PARTICLES and k + 1 < len(words) and _word_matches(t, words[k + 1]):
                k += 1  # the particle left out
            elif _skippable(t) and gaps < MAX_GAPS:
                j, gaps = j + 1, gaps + 1
            else:
                break
        if k == len(words):
            spans.append((i, j - 1))
    return spans


_SURU_STEMS = ("シ", "サ", "ス", "セ")


def _noun_as_suru_verb(t: Token, p: Phrase) -> bool:
    """A noun phrase heard as one verb with する (「けがしました」 read as 汚す): the noun's sound,
    then a form of する."""
    return (p.last.pos == "名詞" and t.pos == "動詞" and t.reading.startswith(p.last.reading)
            and t.reading[len(p.last.reading):] in _SURU_STEMS)


def _statement_pos_ok(u: Utterance, j: int, p: Phrase) -> bool:
    """A bare statement must be the same kind of word: the ない of 「ないです」 (there is none),
    not the ない that negates another verb (「しれない」「降らない」)."""
    t = u.tokens[j]
    if t.pos == p.last.pos or j == 0:
        return True
    return u.tokens[j - 1].pos not in INFLECTING_POS


_INFLECTED = frozenset({"形容詞", "助動詞"})


def same_word(t: Token, p: Phrase) -> bool:
    if t.reading == p.last.reading:
        return True
    if p.exact:
        return False
    # 「ねえ」 is ない said casually: the same dictionary form, adjective or auxiliary.
    if t.pos in _INFLECTED and p.last.pos in _INFLECTED and t.base == p.last.base == "ない":
        return True
    # Another form of the same verb or adjective: compare dictionary forms by reading, so
    # 晴れて (a mishearing) still counts as 腫れて.
    return p.last.pos in LEMMA_POS and t.pos == p.last.pos and base_reading(t.base) == p.last_base
