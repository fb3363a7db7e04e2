"""Numbers in answers: ages (「もう78です」「昭和18年生まれ」), rates (「2か月に1回」) and positions (「2番目」).

Numbers are read from the words' surfaces joined with "|" (Open JTalk writes 78 as 七十八 and
may split a word in two), with regular expressions built from the words in answers.toml.
"""
from __future__ import annotations

import itertools
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from functools import lru_cache

from voicecheck.reading import Token, normalise, reading
from voicecheck.understanding.evidence import ECHO, Evidence
from voicecheck.understanding.phrases import AnswerPhrases
from voicecheck.understanding.utterance import Utterance

_NUM_CHARS = "0-9〇零一二三四五六七八九十百千"
_NUM = rf"[{_NUM_CHARS}](?:\|?[{_NUM_CHARS}])*"
_KANJI_DIGITS = {c: i for i, c in enumerate("〇一二三四五六七八九")} | {"零": 0}
_KANJI_UNITS = {"十": 10, "百": 100, "千": 1000}
MOST_TIMES_WITHOUT_COUNTER = 20  # 「週3」 is three times a week; 「月1000」 is not a rate
OLDEST = 150  # the open end of 「50以上」: older than anyone
# Characters that join numbers into something that is not one amount: 「5-10」, 「3/4」, 「10:30」.
_NOT_AN_AMOUNT = "-‐–—−/:.・~〜"


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
    """A matched group without the word separators of a `Surface` text."""
    return None if group is None else group.replace("|", "")


def _alternation(words: Sequence[str]) -> str:
    """A regular expression for any of the words in a `Surface` text, where Open JTalk may have
    split a word in two (来年|で)."""
    ordered = sorted(set(words), key=len, reverse=True)
    return "|".join(r"\|?".join(re.escape(ch) for ch in w) for w in ordered)


@dataclass(frozen=True)
class Surface:
    """The words' surfaces joined with "|", to read numbers with regular expressions."""

    text: str
    token_at: tuple[int, ...]  # character offset → word index

    @classmethod
    def of(cls, tokens: Sequence[Token]) -> "Surface":
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

    def joined_to_other_numbers(self, start: int, end: int) -> bool:
        """「5-10」: a number written against a dash, slash or colon is part of something else."""
        before = self.text[:start].rstrip("|")[-1:]
        after = self.text[end:].lstrip("|")[:1]
        return bool(before and before in _NOT_AN_AMOUNT) or bool(after and after in _NOT_AN_AMOUNT)


# Negation of what follows a number: (utterance, last word) → (negated, end of its predicate).
NegationScope = Callable[[Utterance, int], tuple[bool, int]]


class NumberReader:
    """Ages for the age question, rates for the frequency question, positions for option lists."""

    def __init__(self, data: AnswerPhrases, this_year: int) -> None:
        self.data = data
        self.this_year = this_year
        self._age_re, self._birth_re = self._age_patterns()
        self._era_re = self._era_pattern()
        self._age_words = dict(data.age.words)
        self._rate_re, self._every_re = self._rate_patterns()
        self._order_vocab = self._order_vocabulary()

    # -- patterns -------------------------------------------------------------------------------

    def _age_patterns(self) -> tuple[re.Pattern, re.Pattern]:
        a = self.data.age
        parts = rf"(?:{_alternation(a.decade_parts)})"
        age = (rf"(?:(?P<soon>{_alternation(a.soon)})\|?)?"
               rf"(?P<n>{_NUM})\|?(?P<unit>{_alternation(a.years + a.decades)})?\|?{parts}?\|?"
               rf"(?:(?P<below>{_alternation(a.below)})|(?P<above>{_alternation(a.above)})"
               rf"|(?P<or_more>{_alternation(a.or_more)})|(?P<or_less>{_alternation(a.or_less)}))?")
        eras = _alternation(list(a.eras)) if a.eras else "(?!)"
        birth = (rf"(?:(?P<era>{eras})\|?(?:の\|?)?(?P<en>{_NUM}|元)|(?P<year>{_NUM}))"
                 rf"\|?(?:{_alternation(a.year_words)})\|?(?P<born>{_alternation(a.born)})?")
        return re.compile(age), re.compile(birth)

    def _era_pattern(self) -> re.Pattern:
        """「大正生まれ」「昭和ひとけた生まれ」「平成になってから生まれた」: an era without a year."""
        a = self.data.age
        eras = _alternation(list(a.eras)) if a.eras else "(?!)"
        return re.compile(rf"(?P<era>{eras})\|?(?:(?P<part>{_alternation(list(a.era_parts))})\|?)?"
                          rf"(?:(?P<after>{_alternation(a.era_after)})\|?)?(?:の\|?)?(?:{_alternation(a.born)})")

    def _era_span(self, m: re.Match) -> tuple[int, int] | None:
        """The first and last possible birth year of an era phrase."""
        eras = sorted(self.data.age.eras.items(), key=lambda kv: kv[1])
        name = _plain(m.group("era"))
        start = self.data.age.eras.get(name or "")
        if start is None:
            return None
        following = [year for _, year in eras if year > start]
        end = (following[0] - 1) if following else self.this_year
        if m.group("part"):
            end = min(end, start + self.data.age.era_parts[_plain(m.group("part"))] - 1)
        if m.group("after"):
            end = self.this_year
        return start, end

    def _rate_patterns(self) -> tuple[re.Pattern, re.Pattern]:
        f = self.data.frequency
        units = _alternation(list(f.days) + list(f.misheard))
        vague = _alternation(list(f.vague))
        sep = rf"\|?(?:{_alternation(f.ranges)})\|?"
        vague_ends = re.escape("".join(sorted({w[-1] for w in f.vague})))
        period = (rf"(?:(?P<pn>{_NUM}|{vague})(?:(?:{sep})(?P<pn2>{_NUM}))?\|?)?"
                  rf"(?<=[|{_NUM_CHARS}{vague_ends}毎])(?P<unit>{units})")  # 毎: 「毎週1回」
        count = rf"(?P<cn>{_NUM}|{vague})(?:(?:{sep})(?P<cn2>{_NUM}))?"
        rate = (rf"{period}\|?(?:(?P<per>{_alternation(f.per)})\|?)?{count}\|?(?P<counter>{_alternation(f.counters)})?")
        every = rf"{period}\|?(?P<kind>{_alternation(f.every_other + f.every)})"
        return re.compile(rate), re.compile(every)

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

    # -- ages -------------------------------------------------------------------------------------

    def ages(self, u: Utterance, negation: NegationScope) -> list[Evidence]:
        a = self.data.age
        s = Surface.of(u.tokens)
        found: list[Evidence | None] = []
        births = []
        for m in self._birth_re.finditer(s.text):
            year = self._birth_year(m)
            if year is None or not 1850 <= year <= self.this_year:
                continue
            first, last = s.span(m.start(), m.end())
            births.append((m.start(), m.end()))
            # Born in year B: B's birthday may still be ahead this year.
            age = self.this_year - year
            found.append(self._age_evidence(u, first, last, age - 1, age, negation))
        for m in self._era_re.finditer(s.text):
            if any(start <= m.start() < end for start, end in births):
                continue
            span = self._era_span(m)
            if span is None:
                continue
            first, last = s.span(m.start(), m.end())
            births.append((m.start(), m.end()))
            found.append(self._age_evidence(u, first, last, self.this_year - span[1] - 1,
                                            self.this_year - span[0], negation))
        for m in self._age_re.finditer(s.text):
            if any(start <= m.start("n") < end for start, end in births):
                continue
            n = spoken_number(m.group("n"))
            if n is None:
                continue
            if s.joined_to_other_numbers(m.start("n"), m.end("n")):
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
            if m.group("soon"):  # 「来年で50」: not yet
                low, high = low - 1, high - 1
            elif m.group("below"):
                low, high = 0, low - 1
            elif m.group("or_less"):
                low = 0
            elif m.group("above"):  # 「40過ぎ」「40ちょっと」: a little more, not any age above
                low, high = high + 1, high + 9
            elif m.group("or_more"):
                high = OLDEST
            found.append(self._age_evidence(u, first, last, low, high, negation))
        for i, t in enumerate(u.tokens):
            if t.surface in self._age_words:
                value = self._age_words[t.surface]
                found.append(self._age_evidence(u, i, i, value, value, negation))
        return [e for e in found if e is not None]

    def _birth_year(self, m: re.Match) -> int | None:
        if m.group("year"):
            year = spoken_number(m.group("year"))
            return year if year is not None and year >= 1850 else None
        era = _plain(m.group("era"))
        start = self.data.age.eras.get(era or "")
        en = _plain(m.group("en"))
        number = 1 if en == "元" else spoken_number(en or "")
        if start is None or number is None or number < 1:
            return None
        return start + number - 1

    def _age_evidence(self, u: Utterance, first: int, last: int, low: int, high: int,
                      negation: NegationScope) -> Evidence | None:
        at_least = self.data.age.at_least
        negated, tail_end = negation(u, last)
        if negated:  # 「まだ50になってない」「50以上ではない」: the other side of what was said
            low, high = (0, low - 1) if high >= OLDEST or low > 0 else (high + 1, OLDEST)
        if low >= at_least:
            target = "yes"
        elif high < at_least:
            target = "no"
        else:
            return Evidence("yes", "number", ECHO, first, last, score=70.0, tail_end=tail_end, approximate=True)
        return Evidence(target, "number", ECHO, first, last, tail_end=tail_end)

    # -- rates ----------------------------------------------------------------------------------

    def rates(self, u: Utterance, negation: NegationScope) -> list[Evidence]:
        f = self.data.frequency
        s = Surface.of(u.tokens)
        found = []

        def value(group: str | None, default: float | None) -> float | None:
            if group is None:
                return default
            group = group.replace("|", "")
            if group in f.vague:
                return f.vague[group]
            n = spoken_number(group)
            return float(n) if n is not None else None

        for m in self._rate_re.finditer(s.text):
            if m.group("counter") is None:
                # 「週3」 is a rate; 「週に3」 and 「月1000円」 are not.
                if m.group("per") is not None or not m.group("cn") or _plain(m.group("cn")) in f.vague:
                    continue
                first_, last_ = s.span(m.start(), m.end())
                if last_ + 1 < len(u.tokens) and u.tokens[last_ + 1].pos1 == "接尾":
                    continue
                if (spoken_number(m.group("cn")) or 0) > MOST_TIMES_WITHOUT_COUNTER:
                    continue
            pn, pn2 = value(m.group("pn"), 1.0), value(m.group("pn2"), None) if m.group("pn2") else None
            cn, cn2 = value(m.group("cn"), 1.0), value(m.group("cn2"), None) if m.group("cn2") else None
            if pn is None or cn is None or pn <= 0:
                continue
            period = (pn + pn2) / 2 if pn2 else pn
            count = (cn + cn2) / 2 if cn2 else cn
            per_week = count / (period * f.days[self._unit(m)]) * 7
            found.append((m, per_week))
        for m in self._every_re.finditer(s.text):
            pn, pn2 = value(m.group("pn"), 1.0), value(m.group("pn2"), None) if m.group("pn2") else None
            if pn is None:
                continue
            period = (pn + pn2) / 2 if pn2 else pn
            if _plain(m.group("kind")) in f.every_other:
                period += 1
            found.append((m, 7 / (period * f.days[self._unit(m)])))
        result = []
        for m, per_week in found:
            first, last = s.span(m.start(), m.end())
            negated, tail_end = negation(u, last)
            if negated:  # 「週に1回もない」: less often than that
                per_week *= 0.5
            # A unit the recogniser writes for another (「中に1回」 for 「週に1回」): read back only.
            misheard = _plain(m.group("unit")) in f.misheard
            result.append(Evidence(f.option_for(per_week), "number", ECHO, first, last, tail_end=tail_end,
                                   approximate=misheard))
        return result

    def _unit(self, m: re.Match) -> str:
        """The unit of a rate as meant (a misheard one by the unit it stands for)."""
        unit = _plain(m.group("unit"))
        return self.data.frequency.misheard.get(unit, unit)

    # -- positions ------------------------------------------------------------------------------

    def positions(self, options: Sequence[str], tokens: Sequence[Token],
                  polite_words: frozenset[str]) -> list[str] | None:
        """「2番」「最初の」「いちとさん」: options by their position, when that is the whole answer."""
        if not options:
            return None
        said = [t.reading for t in tokens if not t.is_boundary and t.reading not in polite_words]
        key = "".join(said)
        ends = frozenset(itertools.accumulate(len(r) for r in said))
        items = parse_positions(key, self._order_vocab, ends)
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


def parse_positions(key: str, vocab: Mapping[str, tuple[str, object]],
                    word_ends: frozenset[int] | None = None) -> list[object] | None:
    """Split a reading into position words, suffixes and glue; None unless all of it is that.

    `word_ends`: where the words of the reading end (None: anywhere). A position must end a word or
    be followed by a suffix (「イチ|バン」 of 一番): 「いや」 is not い (1) + や, nor 「いや、でもね」 a
    first choice — taken so, 「いや、でもね」 was accepted as 「階段を下りるとき」 at the situations
    question."""
    if not key:
        return None

    def suffix_at(j: int) -> bool:
        return any(vocab.get(key[j:j + n], ("",))[0] == "suffix" for n in range(1, min(12, len(key) - j) + 1))

    @lru_cache(maxsize=None)
    def best(i: int) -> tuple[object, ...] | None:
        if i == len(key):
            return ()
        options = []
        for length in range(min(12, len(key) - i), 0, -1):
            item = vocab.get(key[i:i + length])
            if item is None:
                continue
            if i == 0 and item[0] != "pos":
                continue  # glue only between and after positions: 「大です」 is not だ+い(1)+です
            if (item[0] == "pos" and word_ends is not None and i + length not in word_ends
                    and not suffix_at(i + length)):
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
