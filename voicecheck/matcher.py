"""What was heard → the answer it gives: option ids or a command, a score, and a decision.

How one answer is understood:
1. The text is split into words with katakana readings (`voicecheck.reading`); fillers go.
2. Every phrase of the question (echo answers, options, generic yes/no/don't know, commands,
   corrections) is looked for by reading, aligned to word starts; a verb or adjective matches
   any form of itself (腫れる finds 腫れて, 腫れてる, 腫れていません).
3. Numbers are read as ages, rates (「2か月に1回」 → per week) or positions (「2番目」).
4. What follows each phrase in its clause is checked for negation (ない, ません, へん, じゃない),
   so 腫れています is a yes and 腫れてはいません a no; 「AじゃなくてB」 keeps only B.
5. When nothing matches exactly, phonetically close readings are tried (rapidfuzz), and only
   ever lead to a read-back (confirm), never to an accepted guess.
6. Words nobody's answer needs (「今日はいい天気ですね」) lower the score: unrelated talk is
   "not understood" (reprompt), not a guess.

All phrasings live in `prompts/<lang>/answers.toml`; nothing Japanese is written here.
"""
from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Literal

from rapidfuzz import fuzz, process

from voicecheck.content import Content
from voicecheck.phrases import AnswerPhrases, load_answer_phrases
from voicecheck.reading import FUNCTION_POS, INFLECTING_POS, Token, analyse, base_reading, normalise, reading

Decision = Literal["accept", "confirm", "reprompt"]
YES_NO = "yes_no"  # pseudo question id: generic yes/no/unknown (+ commands) for confirmations and offers
UNKNOWN = "unknown"

ACCEPT_AT = 80.0  # a score this high is taken without a read-back
CONFIRM_AT = 55.0  # between this and ACCEPT_AT the answer is read back for confirmation
FUZZY_MIN_CHARS = 4  # phrases shorter than this are only ever matched exactly
FUZZY_CUTOFF = 84.0  # phonetic similarity (0..100) a fuzzy match needs
CONFLICT_CAP = 75.0  # contradicting evidence (はい、腫れてない) is always read back

# Evidence tiers: a question's own words outrank a bare statement (ある/ない), which outranks an
# interjection (はい/いいえ): 「はい、腫れてないです」 is a no, 「いや、あるよ」 a yes.
ECHO, STATEMENT, INTERJECTION = 3, 2, 1

# Words whose other forms count as the same word. Auxiliaries (ます, ない, た) are left out: the
# form is what they say (「しましょう」 is not 「しました」).
_LEMMA_POS = frozenset({"動詞", "形容詞"})
_VOICED = str.maketrans("ガギグゲゴザジズゼゾダヂヅデドバビブベボパピプペポ", "カキクケコサシスセソタチツテトハヒフヘホハヒフヘホ")


@dataclass(frozen=True)
class Match:
    option_ids: tuple[str, ...] = ()  # chosen option ids (several for `situations`), or ("unknown",)
    command: str | None = None  # repeat | back | skip | help | stop
    text: str | None = None  # free_text answers: the words, verbatim (normalised whitespace only)
    score: float = 0.0  # 0..100
    decision: Decision = "reprompt"


@dataclass(frozen=True)
class _Phrase:
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


@dataclass
class _Evidence:
    target: str
    kind: str
    tier: int
    first: int  # first and last word index covered
    last: int
    score: float = 100.0
    negated: bool = False
    tail_end: int = -1  # words after `last` up to here are the phrase's predicate (through a negation)
    approximate: bool = False  # found by sound similarity or as a known mishearing

    @property
    def size(self) -> int:
        return self.last - self.first + 1


@dataclass(frozen=True)
class _Utterance:
    tokens: tuple[Token, ...]  # fillers removed; punctuation kept as clause boundaries
    reading: str  # words' readings joined; a boundary is "|"
    starts: dict[int, int]  # reading offset → index of the word starting there
    ends: dict[int, int]  # reading offset → index of the word ending there
    offsets: tuple[int, ...]  # reading offset of each word
    bigrams: frozenset[str]  # two-kana keys starting at word starts


def _utterance(tokens: Sequence[Token]) -> _Utterance:
    parts, starts, ends, offsets = [], {}, {}, []
    pos = 0
    for i, t in enumerate(tokens):
        r = "|" if t.is_boundary or not t.reading else t.reading
        offsets.append(pos)
        if r != "|":
            starts[pos] = i
            ends[pos + len(r)] = i
        parts.append(r)
        pos += len(r)
    text = "".join(parts)
    bigrams = frozenset(text[p:p + 2] for p in starts) | frozenset(text[p:p + 1] for p in starts)
    return _Utterance(tuple(tokens), text, starts, ends, tuple(offsets), bigrams)


def _content_tokens(tokens: Sequence[Token]) -> tuple[Token, ...]:
    return tuple(t for t in tokens if not t.is_boundary and t.reading)


# ------------------------------------------------------------------------------------------
# Phrase compilation


def _compile(text: str, target: str, kind: str, tier: int, *, fuzzy: bool = False,
             topic_markers: Sequence[str] = ()) -> _Phrase | None:
    tokens = [t for t in analyse(text) if not t.is_boundary and t.reading]
    if not tokens:
        return None
    last = tokens[-1]
    prefix = "".join(t.reading for t in tokens[:-1])
    last_base = base_reading(last.base) or last.reading
    if last.pos in _LEMMA_POS:
        if last_base in ("スル", "クル"):  # irregular verbs: し, さ, せ, こ, き share nothing
            anchor = prefix
        else:
            stem = last_base[:-1]
            anchor = prefix + (stem if last.reading.startswith(stem) else _common(last.reading, last_base))
    else:
        anchor = prefix + last.reading
    full = prefix + last.reading
    takes_topic = any(text.startswith(marker) for marker in topic_markers)
    exact = kind == "correction"
    if exact:
        anchor = full
    return _Phrase(text, target, kind, tier, prefix, last, last_base, anchor, full, fuzzy, takes_topic, exact,
                   _is_wordlike(tokens[0]) and tokens[0].pos not in ("感動詞", "フィラー"), tokens[0].reading)


def _is_wordlike(t: Token) -> bool:
    """A word that can start a phrase on its own (not a particle, ending or dependent word)."""
    return not (t.pos in FUNCTION_POS or t.pos1 in ("非自立", "接尾"))


def _common(a: str, b: str) -> str:
    n = 0
    while n < min(len(a), len(b)) and a[n] == b[n]:
        n += 1
    return a[:n]


@dataclass(frozen=True)
class _PhraseSet:
    """Phrases indexed by the first two kana of their anchor, so one answer checks only a few."""

    phrases: tuple[_Phrase, ...]
    by_key: dict[str, tuple[_Phrase, ...]]
    always: tuple[_Phrase, ...]  # anchors too short to index
    fuzzy_keys: tuple[str, ...]  # devoiced readings for sound-alike search
    fuzzy_phrases: tuple[_Phrase, ...]

    @classmethod
    def of(cls, phrases: Sequence[_Phrase], fuzzy_kinds: frozenset[str] = frozenset()) -> "_PhraseSet":
        by_key: dict[str, list[_Phrase]] = {}
        always = []
        for p in phrases:
            if len(p.anchor) >= 2:
                by_key.setdefault(p.anchor[:2], []).append(p)
            elif p.anchor:
                by_key.setdefault(p.anchor[:1], []).append(p)
            else:
                always.append(p)
        fuzzy = [p for p in phrases if p.kind in fuzzy_kinds and len(p.full) >= FUZZY_MIN_CHARS]
        return cls(tuple(phrases), {k: tuple(v) for k, v in by_key.items()}, tuple(always),
                   tuple(p.full.translate(_VOICED) for p in fuzzy), tuple(fuzzy))

    def candidates(self, u: _Utterance) -> list[_Phrase]:
        found = list(self.always)
        for key in u.bigrams:
            found.extend(self.by_key.get(key, ()))
        return found


def _find(p: _Phrase, u: _Utterance) -> list[tuple[int, int]]:
    """Word spans (first, last) where the phrase occurs, starting at a word start.

    A phrase that starts with a particle (「ってなに」) also covers the words before it in its
    clause: in 「腫れってなに」 the 腫れ is what is asked about, not an answer.
    """
    spans = _find_words(p, u)
    if p.takes_topic:
        moved = []
        for i, j in spans:
            while i > 0 and not u.tokens[i - 1].is_boundary:
                i -= 1
            moved.append((i, j))
        spans = moved
    return spans


def _find_words(p: _Phrase, u: _Utterance) -> list[tuple[int, int]]:
    spans = []
    r = u.reading
    pos = r.find(p.anchor) if p.anchor else 0
    while pos != -1 and pos < len(r):
        i = u.starts.get(pos)
        # 痛いです must start at a word, not at the い of 続けていたいです.
        if i is not None and (not p.starts_with_word or _is_wordlike(u.tokens[i])
                              or u.tokens[i].reading == p.first_reading):
            last_at = pos + len(p.prefix)
            if r.startswith(p.prefix, pos):
                j = u.starts.get(last_at)
                if j is not None and _same_word(u.tokens[j], p) and (p.kind != "statement" or _statement_pos_ok(u, j, p)):
                    spans.append((i, j))
                elif r.startswith(p.last.reading, last_at) and last_at + len(p.last.reading) in u.ends:
                    # Open JTalk split the words differently here (いいえ → いい + え,
                    # たまに → たま + に).
                    end = u.ends[last_at + len(p.last.reading)]
                    if p.kind != "statement" or j != end or _statement_pos_ok(u, end, p):
                        spans.append((i, end))
        pos = r.find(p.anchor, pos + 1) if p.anchor else (pos + 1 if pos + 1 < len(r) else -1)
    return spans


def _statement_pos_ok(u: _Utterance, j: int, p: _Phrase) -> bool:
    """A bare statement must be the same kind of word: the ない of 「ないです」 (there is none),
    not the ない that negates another verb (「しれない」「降らない」)."""
    t = u.tokens[j]
    if t.pos == p.last.pos or j == 0:
        return True
    return u.tokens[j - 1].pos not in INFLECTING_POS


def _same_word(t: Token, p: _Phrase) -> bool:
    if t.reading == p.last.reading:
        return True
    if p.exact:
        return False
    # Another form of the same verb or adjective: compare dictionary forms by reading, so
    # 晴れて (a mishearing) still counts as 腫れて.
    return p.last.pos in _LEMMA_POS and t.pos == p.last.pos and base_reading(t.base) == p.last_base


# ------------------------------------------------------------------------------------------
# Numbers: ages, rates and positions

_NUM_CHARS = "0-9〇零一二三四五六七八九十百千"
_NUM = rf"[{_NUM_CHARS}](?:\|?[{_NUM_CHARS}])*"
_KANJI_DIGITS = {c: i for i, c in enumerate("〇一二三四五六七八九")} | {"零": 0}
_KANJI_UNITS = {"十": 10, "百": 100, "千": 1000}


def spoken_number(text: str) -> int | None:
    """「七十八」 or 「78」 → 78; None when the text is not a number."""
    text = text.replace("|", "")
    if not text:
        return None
    if text.isdigit():
        return int(text)
    total, current = 0, 0
    for ch in text:
        if ch.isdigit():
            current = current * 10 + int(ch)
        elif ch in _KANJI_DIGITS:
            current = current * 10 + _KANJI_DIGITS[ch]
        elif ch in _KANJI_UNITS:
            total += (current or 1) * _KANJI_UNITS[ch]
            current = 0
        else:
            return None
    return total + current


def _plain(group: str | None) -> str | None:
    """A matched group without the word separators of a `_Surface` text."""
    return None if group is None else group.replace("|", "")


def _alternation(words: Sequence[str]) -> str:
    """A regular expression for any of the words in a `_Surface` text, where Open JTalk may have
    split a word in two (来年|で)."""
    ordered = sorted(set(words), key=len, reverse=True)
    return "|".join(r"\|?".join(re.escape(ch) for ch in w) for w in ordered)


@dataclass(frozen=True)
class _Surface:
    """The words' surfaces joined with "|", to read numbers with regular expressions."""

    text: str
    token_at: tuple[int, ...]  # character offset → word index

    @classmethod
    def of(cls, tokens: Sequence[Token]) -> "_Surface":
        chars, owner = ["|"], [0]
        for i, t in enumerate(tokens):
            s = normalise(t.surface) or "?"
            chars.append(s)
            owner.extend([i] * len(s))
            chars.append("|")
            owner.append(i)
        return cls("".join(chars), tuple(owner))

    def span(self, start: int, end: int) -> tuple[int, int]:
        text = self.text
        while start < end and text[start] == "|":
            start += 1
        while end > start and text[end - 1] == "|":
            end -= 1
        return self.token_at[start], self.token_at[max(start, end - 1)]


# ------------------------------------------------------------------------------------------


class Matcher:
    """Turns a heard text into a `Match` for one question. Built once; `match` is pure and fast."""

    def __init__(self, content: Content, phrases_dir: Path | None = None) -> None:
        self.content = content
        self.data: AnswerPhrases = load_answer_phrases(Path(phrases_dir or content.directory), content)
        d = self.data
        self._kinds = {q.id: q.kind for q in content.questions}
        self._options = {q.id: q.option_ids for q in content.questions}
        self._fillers = frozenset(d.fillers)
        self._filler_phrases: dict[str, tuple[str, ...]] = {}
        for f in sorted(d.fillers, key=len, reverse=True):  # by first character, longest first
            self._filler_phrases[f[:1]] = self._filler_phrases.get(f[:1], ()) + (f,)
        self._neutral = frozenset(reading(w) for w in d.neutral + d.politeness) - {""}
        self._endings = tuple(sorted({reading(w) for w in d.endings} - {""}, key=len, reverse=True))
        self._politeness = tuple(sorted({reading(w) for w in d.politeness} - {""}, key=len, reverse=True))
        self._polite_words = frozenset(p for p in self._politeness if len(p) > 2)
        neg = d.negation
        self._neg_aux = frozenset(neg.auxiliaries)
        self._neg_adj = frozenset(neg.adjectives)
        self._neg_words = frozenset(reading(w) for w in neg.words)
        self._neg_after_te = frozenset(reading(w) for w in neg.after_te)
        self._not_after = frozenset(neg.not_after)
        self._limiters = frozenset(neg.limiters)
        self._clause_ends = frozenset(neg.clause_ends)
        self._te_forms = frozenset(neg.te_forms)
        self._nominalisers = frozenset(neg.nominalisers)
        self._copulas = frozenset(neg.copulas)
        self._questions = frozenset(neg.questions)

        commands = [p for cid, texts in d.commands.items() for t in texts
                    if (p := _compile(t, cid, "command", ECHO, topic_markers=d.topic_markers))]
        corrections = [p for t in d.corrections if (p := _compile(t, "correction", "correction", 0))]
        yn = d.yes_no
        generic = [p for aid, texts in yn.interjections.items() for t in texts
                   if (p := _compile(t, aid, "interjection", INTERJECTION))]
        generic += [p for aid, texts in yn.statements.items() for t in texts
                    if (p := _compile(t, aid, "echo" if aid == UNKNOWN else "statement",
                                      ECHO if aid == UNKNOWN else STATEMENT))]
        offers = [p for aid, texts in yn.offers.items() for t in texts if (p := _compile(t, aid, "echo", ECHO))]
        multi_all = [p for t in d.multi_all if (p := _compile(t, "*", "echo", ECHO))]
        shared = commands + corrections
        fuzzy_kinds = frozenset({"echo"})
        self._sets: dict[str, _PhraseSet] = {}
        self._alone: dict[str, dict[str, tuple[str, str, bool]]] = {}
        self._grammar: dict[str, tuple[str, ...]] = {}
        for q in content.questions:
            own = [p for aid, texts in d.questions.get(q.id, {}).items() for t in texts
                   if (p := _compile(t, aid, "echo", ECHO))]
            own += [p for aid, texts in d.misheard.get(q.id, {}).items() for t in texts
                    if (p := _compile(t, aid, "echo", ECHO, fuzzy=True))]
            if q.kind == "yes_no":
                own += generic
            elif q.kind == "multi":
                own += multi_all
            self._sets[q.id] = _PhraseSet.of(shared + own, fuzzy_kinds)
            self._alone[q.id] = self._alone_table(q.kind)
            self._grammar[q.id] = self._grammar_for(q.id, q.kind)
        self._sets[YES_NO] = _PhraseSet.of(shared + generic + offers, fuzzy_kinds)
        # People answer in the question's own words (「朝は特に問題ない」): those words are
        # never what makes an answer look unrelated.
        self._neutral_of = {YES_NO: self._neutral}
        for q in content.questions:
            said = [t for text in (q.text, q.hint, q.short) for t in analyse(text)]
            own = {t.reading for t in said if not t.is_function and len(t.reading) >= 2}
            own |= {base_reading(t.base) for t in said if t.pos in INFLECTING_POS and not t.is_function}
            self._neutral_of[q.id] = self._neutral | frozenset(own)
        self._alone[YES_NO] = self._alone_table("yes_no")
        self._grammar[YES_NO] = self._grammar_for(YES_NO, "yes_no")
        self._order_vocab = self._order_vocabulary()
        self._age_re, self._age_words = self._age_patterns()
        self._rate_re, self._every_re = self._rate_patterns()

    # -- set-up helpers ---------------------------------------------------------------------

    def _alone_table(self, kind: str) -> dict[str, tuple[str, str, bool]]:
        """Whole-answer phrases: key reading → (target, kind, is a mishearing)."""
        d, table = self.data, {}
        for cid, texts in d.commands_alone.items():
            for t in texts:
                asked = "?" if normalise(t).endswith("?") else ""
                table.setdefault(self._alone_key(analyse(t)) + asked, (cid, "command", False))
        if kind == "yes_no":
            for aid, texts in d.yes_no.alone.items():
                for t in texts:
                    table.setdefault(self._alone_key(analyse(t)), (aid, "answer", False))
            for aid, texts in d.yes_no.misheard.items():
                for t in texts:
                    table.setdefault(self._alone_key(analyse(t)), (aid, "answer", True))
        table.pop("", None)
        return table

    def _grammar_for(self, qid: str, kind: str) -> tuple[str, ...]:
        d = self.data
        texts: list[str] = []
        if qid in self._options:
            texts += [o.label for o in self.content.question(qid).options]
        for texts_of in d.questions.get(qid, {}).values():
            texts += texts_of
        if kind == "yes_no":
            yn = d.yes_no
            for group in (yn.interjections, yn.statements, yn.alone):
                for texts_of in group.values():
                    texts += texts_of
            if qid == YES_NO:
                for texts_of in yn.offers.values():
                    texts += texts_of
        if kind in ("single", "multi"):
            texts += d.order.first + d.order.last
            suffix = d.order.suffixes[0]
            texts += [f"{n}{suffix}" for n in range(1, len(self._options.get(qid, ())) + 1)]
        for texts_of in d.commands.values():
            texts += texts_of
        return tuple(dict.fromkeys(t for t in texts if t))

    def _order_vocabulary(self) -> dict[str, tuple[str, object]]:
        o, vocab = self.data.order, {}

        def add(text: str, item: tuple[str, object]) -> None:
            key = reading(text)
            if key:
                vocab.setdefault(key, item)

        for w in o.first:
            add(w, ("pos", "first"))
        for w in o.last:
            add(w, ("pos", "last"))
        for w in o.middle:
            add(w, ("pos", "middle"))
        for text, value in o.numbers.items():
            add(text, ("pos", value))
        for n in range(1, 10):
            add(str(n), ("pos", n))
        for w in o.suffixes:
            add(w, ("suffix", None))
        for w in o.glue:
            add(w, ("glue", None))
        return vocab

    def _age_patterns(self) -> tuple[re.Pattern, dict[str, int]]:
        a = self.data.age
        parts = rf"(?:{_alternation(a.decade_parts)})"
        pattern = (rf"(?:(?P<soon>{_alternation(a.soon)})\|?)?"
                   rf"(?P<n>{_NUM})\|?(?P<unit>{_alternation(a.years + a.decades)})?\|?{parts}?\|?"
                   rf"(?:(?P<below>{_alternation(a.below)})|(?P<above>{_alternation(a.above)}))?")
        return re.compile(pattern), dict(a.words)

    def _rate_patterns(self) -> tuple[re.Pattern, re.Pattern]:
        f = self.data.frequency
        units = _alternation(list(f.days))
        vague = _alternation(list(f.vague))
        sep = rf"\|?(?:{_alternation(f.ranges)})\|?"
        vague_ends = re.escape("".join(sorted({w[-1] for w in f.vague})))
        period = (rf"(?:(?P<pn>{_NUM}|{vague})(?:(?:{sep})(?P<pn2>{_NUM}))?\|?)?"
                  rf"(?<=[|{_NUM_CHARS}{vague_ends}])(?P<unit>{units})")
        count = rf"(?P<cn>{_NUM}|{vague})(?:(?:{sep})(?P<cn2>{_NUM}))?"
        rate = (rf"{period}\|?(?:(?P<per>{_alternation(f.per)})\|?)?{count}\|?(?P<counter>{_alternation(f.counters)})?")
        every = rf"{period}\|?(?P<kind>{_alternation(f.every_other + f.every)})"
        return re.compile(rate), re.compile(every)

    # -- public API -------------------------------------------------------------------------

    def phrases(self, question_id: str) -> tuple[str, ...]:
        """Phrases expected at this question (for a recogniser's grammar or bias)."""
        if question_id not in self._grammar:
            raise ValueError(f"unknown question id {question_id!r}")
        return self._grammar[question_id]

    def match(self, question_id: str, heard: str) -> Match:
        """What `heard` answers at `question_id` (a contract id or YES_NO). Never raises on any text."""
        if question_id not in self._sets:
            raise ValueError(f"unknown question id {question_id!r}")
        kind = "yes_no" if question_id == YES_NO else self._kinds[question_id]
        text = normalise(heard if isinstance(heard, str) else "")
        if not text:
            return Match()
        all_tokens = analyse(text)
        tokens = self._without_fillers(all_tokens)
        asked = text.rstrip().endswith("?")

        command = self._alone_command(question_id, all_tokens, tokens, asked)
        if kind == "free_text":
            if command:
                return command
            if not _content_tokens(tokens):
                return Match()  # only fillers: nothing said yet
            return Match(text=text, score=100.0, decision="accept")

        u = _utterance(tokens)
        alone = self._alone_answer(question_id, all_tokens, tokens)
        if alone is not None:
            return alone
        if command and not _content_tokens(tokens):
            return command

        found = self._evidence(question_id, kind, u)
        return self._decide(question_id, kind, u, found, command)

    # -- steps --------------------------------------------------------------------------------

    def _without_fillers(self, tokens: Sequence[Token]) -> tuple[Token, ...]:
        keep = [True] * len(tokens)
        surfaces = [normalise(t.surface) for t in tokens]
        for i, t in enumerate(tokens):
            glued = (t.pos == "フィラー" and len(t.reading) == 1 and i > 0
                     and not tokens[i - 1].is_boundary and tokens[i - 1].pos != "フィラー")
            if (t.pos == "フィラー" and not glued) or surfaces[i] in self._fillers or t.base in self._fillers:
                keep[i] = False
        # Fillers of several words (なんていうか): compare joined surfaces.
        for i in range(len(tokens)):
            for filler in self._filler_phrases.get(surfaces[i][:1], ()):
                joined, j = "", i
                while j < len(tokens) and len(joined) < len(filler):
                    joined += surfaces[j]
                    j += 1
                if joined == filler and j - i > 1:
                    for k in range(i, j):
                        keep[k] = False
                    break
        return tuple(t for t, k in zip(tokens, keep) if k)

    def _alone_key(self, tokens: Sequence[Token], strip_politeness: bool = False) -> str:
        key = "".join(t.reading for t in tokens if not t.is_boundary)
        changed = True
        while changed and key:
            changed = False
            for ending in self._endings + (self._politeness if strip_politeness else ()):
                if key.endswith(ending) and len(key) - len(ending) >= 2:
                    key, changed = key[: -len(ending)], True
                    break
        if strip_politeness:
            for word in self._politeness:
                if key.startswith(word) and len(key) > len(word):
                    key = key[len(word):]
        return key

    def _alone_lookup(self, question_id: str, tokens: Sequence[Token], asked: bool = False):
        table = self._alone[question_id]
        for strip in (False, True):
            key = self._alone_key(tokens, strip)
            if asked and key + "?" in table:
                return table[key + "?"]
            if key in table:
                return table[key]
        return None

    def _alone_command(self, question_id: str, all_tokens, tokens, asked: bool) -> Match | None:
        for toks in (all_tokens, tokens):
            hit = self._alone_lookup(question_id, toks, asked)
            if hit and hit[1] == "command":
                return Match(command=hit[0], score=95.0, decision="accept")
        u = _utterance(tokens)
        spans = []
        for p in self._sets[question_id].candidates(u):
            if p.kind == "command":
                spans += [(_Evidence(p.target, "command", ECHO, i, j)) for i, j in _find(p, u)]
        if not spans:
            return None
        kept = _resolve(spans)
        covered = self._explained(u, kept)
        neutral = self._neutral_of[question_id]
        unexplained = sum(len(t.reading) for i, t in enumerate(u.tokens)
                          if not covered[i] and self._is_content(t, neutral))
        if unexplained == 0:
            best = max(kept, key=lambda e: (e.size, e.last))
            return Match(command=best.target, score=95.0, decision="accept")
        return None

    def _alone_answer(self, question_id: str, all_tokens, tokens) -> Match | None:
        for toks in (all_tokens, tokens):
            hit = self._alone_lookup(question_id, toks)
            if hit and hit[1] == "answer":
                target, _, misheard = hit
                score = 70.0 if misheard else 95.0
                return Match(option_ids=(target,), score=score, decision=_decision(score))
        return None

    def _evidence(self, question_id: str, kind: str, u: _Utterance) -> list[_Evidence]:
        found: list[_Evidence] = []
        for p in self._sets[question_id].candidates(u):
            for i, j in _find(p, u):
                if p.kind == "interjection" and not self._interjection_ok(u, i, j, p):
                    continue
                found.append(_Evidence(p.target, p.kind, p.tier, i, j,
                                       score=72.0 if p.fuzzy else 100.0, approximate=p.fuzzy))
        if question_id == self.data.age.question:
            found += self._ages(u)
        if question_id == self.data.frequency.question:
            found += self._rates(u)
        return found

    def _interjection_ok(self, u: _Utterance, i: int, j: int, p: _Phrase) -> bool:
        """Interjections count at a clause start, and only as the same kind of word (はい, not 肺)."""
        if i > 0:
            prev = u.tokens[i - 1]
            if not (prev.is_boundary or prev.pos in ("感動詞", "フィラー") or prev.pos1 == "接続助詞"):
                return False
        t = u.tokens[i]
        if i != j:
            return True  # several words with the phrase's exact sound: the tokenizer split it
        first_pos = analyse(p.text)[0].pos if analyse(p.text) else ""
        # Open JTalk tags 「いえ、」 before more words as a conjunction; set off by a pause it is
        # still the reply.
        set_off = t.pos == "接続詞" and (j + 1 == len(u.tokens) or u.tokens[j + 1].is_boundary)
        return t.pos == first_pos or t.pos == "感動詞" or set_off

    # -- numbers --------------------------------------------------------------------------------

    def _ages(self, u: _Utterance) -> list[_Evidence]:
        a = self.data.age
        s = _Surface.of(u.tokens)
        found = []
        for m in self._age_re.finditer(s.text):
            n = spoken_number(m.group("n"))
            if n is None:
                continue
            first, last = s.span(m.start(), m.end())
            unit = _plain(m.group("unit"))
            if unit is None:
                nxt = last + 1
                if not 10 <= n <= 130:
                    continue
                if nxt < len(u.tokens) and (u.tokens[nxt].pos1 == "接尾" or u.tokens[nxt].pos1 == "数"):
                    continue
                if first > 0 and u.tokens[first - 1].pos1 == "数":
                    continue
            low, high = (n, n + 9) if unit in a.decades else (n, n)
            if m.group("below") or m.group("soon"):
                low, high = low - 1, high - 1
            if m.group("above"):
                low, high = low + 1, high + 1
            found.append(self._age_evidence(u, first, last, low, high))
        for i, t in enumerate(u.tokens):
            if t.surface in self._age_words:
                value = self._age_words[t.surface]
                found.append(self._age_evidence(u, i, i, value, value))
        return [e for e in found if e is not None]

    def _age_evidence(self, u: _Utterance, first: int, last: int, low: int, high: int) -> _Evidence | None:
        at_least = self.data.age.at_least
        negated, tail_end = self._negation(u, last, len(u.tokens))
        if negated:  # 「まだ50になってない」: younger than the number said
            low, high = low - 1, low - 1
        if low >= at_least:
            target = "yes"
        elif high < at_least:
            target = "no"
        else:
            return _Evidence("yes", "number", ECHO, first, last, score=70.0, tail_end=tail_end, approximate=True)
        return _Evidence(target, "number", ECHO, first, last, tail_end=tail_end)

    def _rates(self, u: _Utterance) -> list[_Evidence]:
        f = self.data.frequency
        s = _Surface.of(u.tokens)
        found = []

        def value(group: str | None, default: float) -> float | None:
            if group is None:
                return default
            group = group.replace("|", "")
            if group in f.vague:
                return f.vague[group]
            n = spoken_number(group)
            return float(n) if n is not None else None

        for m in self._rate_re.finditer(s.text):
            if m.group("counter") is None and m.group("per") is not None:
                continue  # 「週に3」 with no 回 is not a rate
            pn, pn2 = value(m.group("pn"), 1.0), value(m.group("pn2"), None) if m.group("pn2") else None
            cn, cn2 = value(m.group("cn"), 1.0), value(m.group("cn2"), None) if m.group("cn2") else None
            if pn is None or cn is None or pn <= 0:
                continue
            period = (pn + pn2) / 2 if pn2 else pn
            count = (cn + cn2) / 2 if cn2 else cn
            per_week = count / (period * f.days[_plain(m.group("unit"))]) * 7
            found.append((m, per_week))
        for m in self._every_re.finditer(s.text):
            pn, pn2 = value(m.group("pn"), 1.0), value(m.group("pn2"), None) if m.group("pn2") else None
            if pn is None:
                continue
            period = (pn + pn2) / 2 if pn2 else pn
            if _plain(m.group("kind")) in f.every_other:
                period += 1
            found.append((m, 7 / (period * f.days[_plain(m.group("unit"))])))
        result = []
        for m, per_week in found:
            first, last = s.span(m.start(), m.end())
            negated, tail_end = self._negation(u, last, len(u.tokens))
            if negated:  # 「週に1回もない」: less often than that
                per_week *= 0.5
            result.append(_Evidence(f.option_for(per_week), "number", ECHO, first, last, tail_end=tail_end))
        return result

    def _order(self, question_id: str, tokens: Sequence[Token]) -> list[str] | None:
        """「2番」「最初の」「いちとさん」: options by their position, when that is the whole answer."""
        options = self._options.get(question_id, ())
        if not options:
            return None
        key = "".join(t.reading for t in tokens if not t.is_boundary and t.reading not in self._polite_words)
        items = _parse_positions(key, self._order_vocab)
        if not items:
            return None
        chosen = []
        for item in items:
            if item == "first":
                index = 0
            elif item == "last":
                index = len(options) - 1
            elif item == "middle":
                if len(options) % 2 == 0:
                    return None
                index = len(options) // 2
            else:
                index = int(item) - 1
            if not 0 <= index < len(options):
                return None
            chosen.append(options[index])
        return list(dict.fromkeys(chosen))

    # -- negation and coverage --------------------------------------------------------------

    def _is_negation(self, tokens: Sequence[Token], k: int) -> bool:
        t = tokens[k]
        prev = tokens[k - 1] if k > 0 else None
        negating = ((t.pos == "助動詞" and t.base in self._neg_aux)
                    or (t.pos == "形容詞" and t.base in self._neg_adj)
                    or t.reading in self._neg_words
                    or (t.reading in self._neg_after_te and prev is not None and prev.surface in self._te_forms))
        if not negating or prev is None:
            return negating
        if prev.base in self._not_after or prev.surface in self._not_after:
            return False
        # 「腫れてるんじゃないかな」 asks for agreement; it is not a denial.
        if (k >= 2 and prev.surface in self._copulas and tokens[k - 2].surface in self._nominalisers
                and (k + 1 >= len(tokens) or tokens[k + 1].surface in self._questions)):
            return False
        return True

    def _negation(self, u: _Utterance, last: int, stop: int,
                  neutral: frozenset[str] = frozenset()) -> tuple[bool, int]:
        """Is the phrase ending at word `last` negated by what follows in its clause?

        Returns the verdict and the end of the words that belong to the answer (through its last
        negation). After a negation only grammar
        words may follow (「ないことはない」); a new content word starts something else
        (「痛みもない、音もしない」 run together by the recogniser).
        """
        count, limited, k, explained = 0, False, last + 1, last + 1
        tokens = u.tokens
        while k < min(stop, len(tokens)):
            t = tokens[k]
            if t.is_boundary or (t.surface in self._clause_ends and (t.pos1 == "接続助詞" or t.pos == "接続詞")):
                break
            if t.surface in self._limiters:
                limited = True
            if self._is_negation(tokens, k):
                count += 1
                explained = k + 1  # the words up to a negation belong to the answer
            elif count and self._is_content(t, neutral):
                break
            k += 1
        return (count % 2 == 1 and not limited), explained

    def _is_content(self, t: Token, neutral: frozenset[str]) -> bool:
        """A word that carries meaning and is not one people wrap their answers in."""
        if t.is_boundary or not t.reading or t.is_function:
            return False
        if t.pos == "感動詞":
            return False
        return t.reading not in neutral and base_reading(t.base) not in neutral

    def _explained(self, u: _Utterance, evidence: Sequence[_Evidence]) -> list[bool]:
        covered = [False] * len(u.tokens)
        for e in evidence:
            for k in range(e.first, max(e.last + 1, e.tail_end)):
                if k < len(covered):
                    covered[k] = True
        return covered

    # -- deciding -------------------------------------------------------------------------------

    def _decide(self, question_id: str, kind: str, u: _Utterance, found: list[_Evidence],
                command: Match | None) -> Match:
        # Correction markers do not compete with answers for words: in 「いや違う」 alone the
        # words are the answer (no); before another answer they only cut what came first.
        markers = [e for e in found if e.kind == "correction"]
        kept = _resolve([e for e in found if e.kind != "correction"])
        commands = [e for e in kept if e.kind == "command"]
        answers = [e for e in kept if e.kind != "command"]

        # Negation: read each phrase's clause up to the next phrase that carries its own meaning.
        stops = sorted(e.first for e in kept if e.tier >= ECHO or e.kind == "command")
        for e in answers:
            if e.kind in ("interjection",) or e.tail_end >= 0:
                continue
            stop = next((s for s in stops if s > e.last), len(u.tokens))
            e.negated, e.tail_end = self._negation(u, e.last, stop, self._neutral_of[question_id])

        # A statement read as part of another phrase's tail (the second ない of 「ないこともない」)
        # belongs to that phrase.
        answers = [e for e in answers if e.kind != "statement"
                   or not any(o is not e and o.last < e.first < o.tail_end for o in answers)]

        # Corrections: 「AじゃなくてB」, 「はい、いや違う、いいえ」 keep only what follows.
        if markers and answers:
            for cut in sorted((m.last for m in markers), reverse=True):
                after = [e for e in answers if e.first > cut]
                if after:
                    answers = after
                    break

        covered = self._explained(u, kept)
        neutral = self._neutral_of[question_id]
        content_chars = sum(len(t.reading) for i, t in enumerate(u.tokens)
                            if self._is_content(t, neutral) or (covered[i] and not t.is_function))
        unexplained = sum(len(t.reading) for i, t in enumerate(u.tokens)
                          if not covered[i] and self._is_content(t, neutral))
        ratio = unexplained / content_chars if content_chars else 0.0

        # Statements (ある/ない) count only in a clause that says nothing else.
        answers = [e for e in answers if e.kind != "statement" or self._clause_clean(u, e, covered, neutral)]

        if kind in ("single", "multi"):
            answers = self._option_answers(question_id, kind, answers)
            if not answers:
                order = self._order(question_id, u.tokens)
                if order:
                    return Match(option_ids=tuple(order), score=95.0, decision="accept")
        else:
            answers = self._yes_no_answers(answers)

        substantive = [e for e in answers if e.tier >= STATEMENT and e.target != UNKNOWN]
        if commands and not substantive:
            best = max(commands, key=lambda e: (e.size, e.last))
            if ratio <= 0.5:
                return Match(command=best.target, score=round(100 - 60 * ratio, 1), decision="accept")
        if command and not substantive:
            return command

        if not answers:
            if found:
                return Match()  # something was said about it, but negated or unclear: ask again
            return self._fuzzy(question_id, kind, u) or Match()

        if kind == "multi":
            chosen = list(dict.fromkeys(e.target for e in answers))
            score = min(self._score(e, ratio) for e in answers)
            if chosen == ["*"] or "*" in chosen:
                chosen = [o for o in self._options[question_id] if o != "other"]
                score = min(score, CONFLICT_CAP)
            return _result(tuple(chosen), score)

        top_tier = max(e.tier for e in answers)
        best = [e for e in answers if e.tier == top_tier][-1]
        score = self._score(best, ratio)
        if len({e.target for e in answers}) > 1:
            score = min(score, CONFLICT_CAP)
        return _result((best.target,), score)

    def _clause_clean(self, u: _Utterance, e: _Evidence, covered: list[bool], neutral: frozenset[str]) -> bool:
        lo = e.first
        while lo > 0 and not u.tokens[lo - 1].is_boundary:
            lo -= 1
        hi = e.last
        while hi + 1 < len(u.tokens) and not u.tokens[hi + 1].is_boundary:
            hi += 1
        return not any(self._is_content(u.tokens[k], neutral) and not covered[k] for k in range(lo, hi + 1))

    def _yes_no_answers(self, answers: list[_Evidence]) -> list[_Evidence]:
        result = []
        for e in answers:
            if e.negated:
                if e.target == UNKNOWN:
                    continue  # 「わからなくはない」: says nothing clear
                e.target = "no" if e.target == "yes" else "yes"
            result.append(e)
        return result

    def _option_answers(self, question_id: str, kind: str, answers: list[_Evidence]) -> list[_Evidence]:
        options = set(self._options[question_id]) | ({"*"} if kind == "multi" else set())
        return [e for e in answers if not e.negated and e.target in options]

    def _score(self, e: _Evidence, ratio: float) -> float:
        if e.approximate:
            base = min(e.score, 75.0)
        elif e.tier >= ECHO:
            base = 100.0
        elif e.tier == STATEMENT:
            base = 95.0
        else:
            base = 92.0
        weight = {ECHO: 45.0, STATEMENT: 50.0, INTERJECTION: 60.0}.get(e.tier, 50.0)
        return round(max(0.0, base - weight * ratio), 1)

    def _fuzzy(self, question_id: str, kind: str, u: _Utterance) -> Match | None:
        """Sound-alike readings (a recogniser's mishearing): only ever offered for confirmation."""
        pset = self._sets[question_id]
        if not pset.fuzzy_keys:
            return None
        heard = u.reading.replace("|", "")
        if len(heard) < 3:
            return None
        key = heard.translate(_VOICED)
        best: tuple[float, _Phrase] | None = None
        for _, score, index in process.extract(key, pset.fuzzy_keys, scorer=fuzz.partial_ratio,
                                              score_cutoff=FUZZY_CUTOFF, limit=8):
            phrase_key = pset.fuzzy_keys[index]
            if len(phrase_key) > len(key):
                score, start, rest = fuzz.ratio(phrase_key, key), 0, 0
            else:
                align = fuzz.partial_ratio_alignment(phrase_key, key)
                score, start = align.score, align.dest_start
                rest = len(key) - (align.dest_end - align.dest_start)
            # A mishearing keeps the word's onset (オリル → オル); a different first sound is a
            # different word that only shares an ending (アカクナッテキタ is not ヨクナッテキタ).
            if key[start:start + 1] != phrase_key[:1]:
                continue
            # What the phrase does not cover must still look like an answer, not a story.
            score -= 30.0 * rest / len(key)
            if score >= FUZZY_CUTOFF and (best is None or score > best[0]):
                best = (score, pset.fuzzy_phrases[index])
        if best is None:
            return None
        phrase = best[1]
        target = phrase.target
        if kind == "multi" and target == "*":
            return None
        if kind in ("single", "multi") and target not in self._options[question_id]:
            return None
        if kind == "yes_no" and target not in ("yes", "no", UNKNOWN):
            return None
        score = min(74.0, best[0] * 0.8)
        return _result((target,), score)


def _resolve(found: Sequence[_Evidence]) -> list[_Evidence]:
    """Keep the longest phrases where several overlap (「意味がわからない」 is help, not "unknown")."""
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


def _parse_positions(key: str, vocab: Mapping[str, tuple[str, object]]) -> list[object] | None:
    """Split a reading into position words, suffixes and glue; None unless all of it is that."""
    if not key:
        return None

    @lru_cache(maxsize=None)
    def best(i: int) -> tuple[object, ...] | None:
        if i == len(key):
            return ()
        options = []
        for length in range(min(12, len(key) - i), 0, -1):
            item = vocab.get(key[i:i + length])
            if item is None:
                continue
            rest = best(i + length)
            if rest is None:
                continue
            if item[0] == "pos":
                options.append((item[1],) + rest)
            else:
                options.append(rest)
        if not options:
            return None
        return min(options, key=len)

    items = best(0)
    return list(items) if items else None


def _decision(score: float) -> Decision:
    if score >= ACCEPT_AT:
        return "accept"
    if score >= CONFIRM_AT:
        return "confirm"
    return "reprompt"


def _result(option_ids: tuple[str, ...], score: float) -> Match:
    decision = _decision(score)
    if decision == "reprompt":
        return Match(score=score)
    return Match(option_ids=option_ids, score=score, decision=decision)


# ------------------------------------------------------------------------------------------
# Generic tables (the exercise coach's commands)


@lru_cache(maxsize=64)
def _table_phrases(items: tuple[tuple[str, tuple[str, ...]], ...]) -> _PhraseSet:
    phrases = [p for key, texts in items for t in texts if (p := _compile(t, key, "echo", ECHO))]
    return _PhraseSet.of(phrases, frozenset({"echo"}))


# Dictionary forms of the negating auxiliaries as Open JTalk tags them (grammar, like the
# part-of-speech names; the Matcher reads its fuller list from answers.toml).
_NEGATION_AUX = frozenset({"ない", "ぬ", "ん", "へん", "ひん", "ず"})


def match_table(heard: str, table: Mapping[str, Sequence[str]]) -> tuple[str | None, float]:
    """The id whose phrases best fit what was heard, by reading; (None, score) when nothing fits.

    A phrase found anywhere counts (「ちょっと待ってください」 → pause), unless what follows
    denies it (「もう痛くない」 is not pain); sound-alikes count only when they are most of it.
    """
    text = normalise(heard if isinstance(heard, str) else "")
    if not text or not table:
        return None, 0.0
    items = tuple((str(k), tuple(str(t) for t in v)) for k, v in table.items())
    pset = _table_phrases(items)
    tokens = tuple(t for t in analyse(text) if t.pos != "フィラー")
    u = _utterance(tokens)
    if not u.starts:
        return None, 0.0
    found = []
    for p in pset.candidates(u):
        for i, j in _find(p, u):
            k, negated = j + 1, False
            while k < len(tokens) and not tokens[k].is_boundary:
                if tokens[k].pos == "助動詞" and tokens[k].base in _NEGATION_AUX:
                    negated = not negated
                k += 1
            if not negated:
                found.append(_Evidence(p.target, "echo", ECHO, i, j))
    content = sum(len(t.reading) for t in tokens if not t.is_boundary and not t.is_function)
    if found:
        best = max(_resolve(found), key=lambda e: (e.size, e.last))
        size = sum(len(tokens[k].reading) for k in range(best.first, best.last + 1))
        return best.target, round(min(100.0, 90.0 + 10.0 * size / max(1, content)), 1)
    heard_key = u.reading.replace("|", "").translate(_VOICED)
    if len(heard_key) < 3 or not pset.fuzzy_keys:
        return None, 0.0
    hit = process.extractOne(heard_key, pset.fuzzy_keys, scorer=fuzz.ratio)
    if hit is None:
        return None, 0.0
    score = float(hit[1])
    if score >= FUZZY_CUTOFF:
        return pset.fuzzy_phrases[hit[2]].target, round(score * 0.9, 1)
    return None, round(score, 1)
