"""Load and validate `prompts/<lang>/answers.toml`: every phrasing the answer matcher understands.

The file is checked against the questions in content (ids, kinds, option ids), so a typo is
reported at start-up as `ContentError(file, key, expected)` instead of an answer that is never
understood.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from voicecheck.content import COMMAND_IDS, UNKNOWN, YES_NO_IDS, Content, ContentError, read_toml

ANSWERS_FILE = "answers.toml"
YES_NO_ANSWERS: tuple[str, ...] = YES_NO_IDS + (UNKNOWN,)


@dataclass(frozen=True)
class Negation:
    auxiliaries: tuple[str, ...]  # base forms: ない, ん, へん …
    adjectives: tuple[str, ...]  # ない after a noun phrase: 腫れはない
    words: tuple[str, ...]  # 大丈夫 in 「階段は大丈夫」
    after_te: tuple[str, ...]  # 腫れてねえ
    not_after: tuple[str, ...]  # かもしれない, たまらない
    limiters: tuple[str, ...]  # たまにしかない
    clause_ends: tuple[str, ...]  # けど, のに …
    te_forms: tuple[str, ...]  # the て before after_te
    nominalisers: tuple[str, ...]  # ん of 「腫れてるんじゃないかな」 (a question, not a denial)
    copulas: tuple[str, ...]  # じゃ of the same
    questions: tuple[str, ...]  # か, かな of the same


@dataclass(frozen=True)
class YesNoPhrases:
    interjections: dict[str, tuple[str, ...]]  # yes/no -> clause-initial words
    statements: dict[str, tuple[str, ...]]  # yes/no/unknown -> statements
    alone: dict[str, tuple[str, ...]]  # yes/no/unknown -> whole answers only
    misheard: dict[str, tuple[str, ...]]  # yes/no -> recogniser confusions (whole answers, confirm)
    offers: dict[str, tuple[str, ...]]  # yes/no -> extra answers for confirmations and offers


@dataclass(frozen=True)
class OrderWords:
    first: tuple[str, ...]
    last: tuple[str, ...]
    middle: tuple[str, ...]
    suffixes: tuple[str, ...]
    glue: tuple[str, ...]
    numbers: dict[str, int]  # kana number words -> value


@dataclass(frozen=True)
class AgeRules:
    question: str
    at_least: int
    years: tuple[str, ...]
    decades: tuple[str, ...]
    below: tuple[str, ...]
    above: tuple[str, ...]  # more than the number (過ぎ)
    or_more: tuple[str, ...]  # the number or more (以上)
    or_less: tuple[str, ...]  # the number or less (以下)
    soon: tuple[str, ...]  # said before the age: 「来年で50」 is not 50 yet
    decade_parts: tuple[str, ...]  # 「40代後半」
    words: dict[str, int]
    eras: dict[str, int]  # Japanese era name → the Western year of its first year (昭和 → 1926)
    year_words: tuple[str, ...]  # 年 of 「昭和18年」
    born: tuple[str, ...]  # 生まれ
    era_parts: dict[str, int]  # 「昭和ひとけた」: the first N years of the era
    era_after: tuple[str, ...]  # 「平成になってから生まれた」: some time after the era began


@dataclass(frozen=True)
class FrequencyLevel:
    option: str
    per_week_at_least: float


@dataclass(frozen=True)
class FrequencyRules:
    question: str
    counters: tuple[str, ...]
    every_other: tuple[str, ...]
    every: tuple[str, ...]
    ranges: tuple[str, ...]  # between the numbers of a range: 3、4回
    per: tuple[str, ...]
    days: dict[str, float]  # unit word -> days it lasts
    vague: dict[str, float]  # 数, 何 -> a rough number
    levels: tuple[FrequencyLevel, ...]  # highest rate first
    misheard: dict[str, str] = field(default_factory=dict)  # unit the recogniser writes -> the unit meant

    def option_for(self, per_week: float) -> str:
        for level in self.levels:
            if per_week >= level.per_week_at_least:
                return level.option
        return self.levels[-1].option


@dataclass(frozen=True)
class CatchAll:
    question: str  # a question with an option for "something else"
    option: str  # that option
    markers: tuple[str, ...]  # words that make an answer a moment (「…とき」): one no option names is this option


@dataclass(frozen=True)
class Caution:
    context_dependent: tuple[str, ...]  # words whose meaning flips with context: read back, never accepted
    hedges: tuple[str, ...]  # words that make an answer a guess (かもしれない): read back
    question_words: tuple[str, ...]  # どのくらい, 何 …: an answer asking something back is not an answer
    time_words: tuple[str, ...]  # a free-text "since when" answer naming one is taken at once
    help_words: tuple[str, ...]  # なんで, どうやって …: a question back with one asks about the question
    session_commands: tuple[str, ...]  # command ids that change the session: accepted only when said clearly
    strict_questions: tuple[str, ...]  # question ids where only a clear answer is accepted
    intensifiers: tuple[str, ...] = ()  # 全然, 本当に …: leave a context-dependent word as unclear as it was
    turning: tuple[str, ...] = ()  # でも, ただ …: an answer that stops on one is not over: read back


@dataclass(frozen=True)
class AnswerPhrases:
    fillers: tuple[str, ...]
    neutral: tuple[str, ...]
    politeness: tuple[str, ...]
    endings: tuple[str, ...]
    negation: Negation
    corrections: tuple[str, ...]
    commands: dict[str, tuple[str, ...]]
    commands_alone: dict[str, tuple[str, ...]]
    topic_markers: tuple[str, ...]  # a command starting with one (「ってなに」) is about the words before
    yes_no: YesNoPhrases
    questions: dict[str, dict[str, tuple[str, ...]]]  # question id -> answer id -> echo phrases
    misheard: dict[str, dict[str, tuple[str, ...]]]  # question id -> answer id -> confusions
    multi_all: tuple[str, ...]
    multi_adding: tuple[str, ...]  # words that add an item to a list (あと, それから): [multi] adding
    order: OrderWords
    age: AgeRules
    frequency: FrequencyRules
    caution: Caution
    catch_all: CatchAll
    continuing: tuple[str, ...] = ()  # words after which an answer is not over (あと, それから): [turn_end]
    thinking: tuple[str, ...] = ()  # 「そうですね」: a yes to a yes/no question, else time to think: [turn_end]
    trailing_reasons: tuple[str, ...] = ()  # 「…ので」「…なくて」: an answer may stop on them: [turn_end]
    # question id -> particles its whole answer ends on (since_when: 「三か月前から」): [turn_end.answer_endings]
    answer_endings: dict[str, tuple[str, ...]] = field(default_factory=dict)
    # command id -> whole sentences it is said as, only to compare garbled utterances with: [commands.whole]
    commands_whole: dict[str, tuple[str, ...]] = field(default_factory=dict)


def _number(file: str, key: str, value: Any, low: float, high: float) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not low <= value <= high:
        raise ContentError(file, key, f"expected a number from {low:g} to {high:g}, found {value!r}")
    return float(value)


def _text_lists(t, allowed: tuple[str, ...], *, required: tuple[str, ...] = ()) -> dict[str, tuple[str, ...]]:
    """A table of id -> list of phrases, with only the allowed ids."""
    result: dict[str, tuple[str, ...]] = {}
    for name, value in t.data.items():
        if isinstance(value, dict):
            continue  # sub-tables are read by the caller
        if name not in allowed:
            raise ContentError(t.file, t._k(name), f"unknown id; expected one of {', '.join(allowed)}")
        result[name] = t.texts(name)
    for name in required:
        if name not in result:
            raise ContentError(t.file, t._k(name), "missing; expected a list of phrases")
    return result


def _answer_endings(turn_end, content: Content) -> dict[str, tuple[str, ...]]:
    """[turn_end.answer_endings]: question id -> the particles its whole answer may end on."""
    if not turn_end.has("answer_endings"):
        return {}
    return _text_lists(turn_end.table("answer_endings"), tuple(q.id for q in content.questions))


def _number_table(t, name: str, low: float, high: float) -> dict[str, float]:
    table = t.table(name)
    if not table.data:
        raise ContentError(t.file, table.key, "expected at least one entry")
    return {str(k): _number(t.file, table._k(k), v, low, high) for k, v in table.data.items()}


def _yes_no(t) -> YesNoPhrases:
    t.no_unknown_keys({"interjections", "statements", "alone", "misheard", "offers"})
    return YesNoPhrases(
        interjections=_text_lists(t.table("interjections"), YES_NO_IDS, required=YES_NO_IDS),
        statements=_text_lists(t.table("statements"), YES_NO_ANSWERS, required=YES_NO_ANSWERS),
        alone=_text_lists(t.table("alone"), YES_NO_ANSWERS, required=YES_NO_ANSWERS),
        misheard=_text_lists(t.table("misheard"), YES_NO_IDS),
        offers=_text_lists(t.table("offers"), YES_NO_IDS, required=YES_NO_IDS),
    )


def _questions(t, content: Content) -> tuple[dict, dict]:
    echoes: dict[str, dict[str, tuple[str, ...]]] = {}
    misheard: dict[str, dict[str, tuple[str, ...]]] = {}
    known = {q.id: q for q in content.questions}
    for qid in t.data:
        if qid not in known:
            raise ContentError(t.file, t._k(qid), f"unknown question id; expected one of {', '.join(known)}")
    for question in content.questions:
        if question.id not in t.data:
            if question.kind == "free_text":
                continue
            raise ContentError(t.file, t._k(question.id), "missing; expected the answer phrases of this question")
        qt = t.table(question.id)
        if question.kind == "free_text":
            if qt.data:
                raise ContentError(t.file, qt.key, "expected an empty table: free-text answers are kept as said")
            continue
        allowed = YES_NO_ANSWERS if question.kind == "yes_no" else question.option_ids
        required = () if question.kind == "yes_no" else question.option_ids
        for name, value in qt.data.items():
            if isinstance(value, dict) and name != "misheard":
                raise ContentError(t.file, qt._k(name), "unknown table; expected only a [misheard] table")
        echoes[question.id] = _text_lists(qt, allowed, required=required)
        misheard[question.id] = _text_lists(qt.table("misheard"), allowed) if qt.has("misheard") else {}
    return echoes, misheard


def _order(t) -> OrderWords:
    t.no_unknown_keys({"first", "last", "middle", "suffixes", "glue", "numbers"})
    numbers = _number_table(t, "numbers", 1, 99)
    return OrderWords(t.texts("first"), t.texts("last"), t.texts("middle"), t.texts("suffixes"),
                      t.texts("glue"), {k: int(v) for k, v in numbers.items()})


def _age(t, content: Content) -> AgeRules:
    t.no_unknown_keys({"question", "at_least", "years", "decades", "below", "above", "from", "up_to", "soon",
                       "decade_parts", "words", "eras", "year_words", "born", "era_parts", "era_after"})
    qid = t.choice("question", tuple(q.id for q in content.questions if q.kind == "yes_no"))
    words = _number_table(t, "words", 1, 130)
    eras = _number_table(t, "eras", 1800, 2200)
    return AgeRules(qid, t.integer("at_least", 1, 130), t.texts("years"), t.texts("decades"),
                    t.texts("below"), t.texts("above"), t.texts("from"), t.texts("up_to"), t.texts("soon"),
                    t.texts("decade_parts"),
                    {k: int(v) for k, v in words.items()}, {k: int(v) for k, v in eras.items()},
                    t.texts("year_words"), t.texts("born"),
                    {k: int(v) for k, v in _number_table(t, "era_parts", 1, 64).items()}, t.texts("era_after"))


def _frequency(t, content: Content) -> FrequencyRules:
    t.no_unknown_keys({"question", "counters", "every_other", "every", "ranges", "per", "days", "vague", "levels",
                       "misheard"})
    qid = t.choice("question", tuple(q.id for q in content.questions if q.kind == "single"))
    options = content.question(qid).option_ids
    levels = []
    for level in t.tables("levels"):
        level.no_unknown_keys({"option", "per_week_at_least"})
        levels.append(FrequencyLevel(level.choice("option", options),
                                     _number(level.file, level._k("per_week_at_least"),
                                             level.data.get("per_week_at_least"), 0, 1000)))
    levels.sort(key=lambda lv: -lv.per_week_at_least)
    if levels[-1].per_week_at_least != 0:
        raise ContentError(t.file, t._k("levels"), "expected one level with per_week_at_least = 0 (the rarest)")
    if sorted(lv.option for lv in levels) != sorted(options):
        raise ContentError(t.file, t._k("levels"), f"expected one level for each option: {', '.join(options)}")
    return FrequencyRules(qid, t.texts("counters"), t.texts("every_other"), t.texts("every"), t.texts("ranges"),
                          t.texts("per"),
                          _number_table(t, "days", 0.1, 3650), _number_table(t, "vague", 1, 1000), tuple(levels),
                          _misheard_units(t, "misheard"))


def _misheard_units(t, key: str) -> dict[str, str]:
    """[frequency.misheard]: unit as written -> the unit it stands for, which must be a known unit."""
    if not t.has(key):
        return {}
    table, days = t.table(key), t.table("days").data
    units = {}
    for written, meant in table.data.items():
        if not isinstance(meant, str) or meant not in days:
            raise ContentError(t.file, table._k(written), f"expected one of the units in [frequency.days]: {', '.join(days)}")
        units[written] = meant
    return units


def _negation(t) -> Negation:
    t.no_unknown_keys({"auxiliaries", "adjectives", "words", "after_te", "not_after", "limiters", "clause_ends",
                       "te_forms", "rhetorical"})
    rhetorical = t.table("rhetorical")
    rhetorical.no_unknown_keys({"nominalisers", "copulas", "questions"})
    return Negation(t.texts("auxiliaries"), t.texts("adjectives"), t.texts("words"), t.texts("after_te"),
                    t.texts("not_after"), t.texts("limiters"), t.texts("clause_ends"), t.texts("te_forms"),
                    rhetorical.texts("nominalisers"), rhetorical.texts("copulas"), rhetorical.texts("questions"))


def _caution(t, content: Content) -> Caution:
    t.no_unknown_keys({"context_dependent", "hedges", "question_words", "time_words", "help_words",
                       "session_commands", "strict_questions", "intensifiers", "turning"})
    for key, allowed in (("session_commands", COMMAND_IDS), ("strict_questions", tuple(q.id for q in content.questions))):
        for value in t.texts(key):
            if value not in allowed:
                raise ContentError(t.file, t._k(key), f"unknown id {value!r}; expected one of {', '.join(allowed)}")
    return Caution(t.texts("context_dependent"), t.texts("hedges"), t.texts("question_words"), t.texts("time_words"),
                   t.texts("help_words"), t.texts("session_commands"), t.texts("strict_questions"),
                   t.texts("intensifiers") if t.has("intensifiers") else (),
                   t.texts("turning") if t.has("turning") else ())


def _catch_all(t, content: Content) -> CatchAll:
    t.no_unknown_keys({"question", "option", "markers"})
    qid = t.choice("question", tuple(q.id for q in content.questions if q.kind in ("single", "multi")))
    return CatchAll(qid, t.choice("option", content.question(qid).option_ids), t.texts("markers"))


def load_answer_phrases(prompts_dir: Path, content: Content) -> AnswerPhrases:
    """Read and check `answers.toml`; raise ContentError naming the file and key on any problem."""
    t = read_toml(Path(prompts_dir) / ANSWERS_FILE)
    t.no_unknown_keys({"fillers", "neutral", "negation", "corrections", "commands", "yes_no", "questions",
                       "multi", "order", "age", "frequency", "caution", "catch_all", "turn_end"})
    neutral = t.table("neutral")
    neutral.no_unknown_keys({"words", "politeness", "endings"})
    commands = t.table("commands")
    alone = commands.table("alone") if commands.has("alone") else None
    whole = commands.table("whole") if commands.has("whole") else None
    for name, value in commands.data.items():
        if isinstance(value, dict) and name not in ("alone", "topic", "whole"):
            raise ContentError(t.file, f"commands.{name}",
                               "unknown table; expected only [commands.alone], [commands.topic] and [commands.whole]")
    echoes, misheard = _questions(t.table("questions"), content)
    return AnswerPhrases(
        fillers=t.table("fillers").texts("words"),
        neutral=neutral.texts("words"),
        politeness=neutral.texts("politeness"),
        endings=neutral.texts("endings"),
        negation=_negation(t.table("negation")),
        corrections=t.table("corrections").texts("markers"),
        commands=_text_lists(commands, COMMAND_IDS, required=COMMAND_IDS),
        commands_alone=_text_lists(alone, COMMAND_IDS) if alone else {},
        topic_markers=commands.table("topic").texts("markers"),
        yes_no=_yes_no(t.table("yes_no")),
        questions=echoes,
        misheard=misheard,
        multi_all=t.table("multi").texts("all"),
        multi_adding=t.table("multi").texts("adding"),
        order=_order(t.table("order")),
        age=_age(t.table("age"), content),
        frequency=_frequency(t.table("frequency"), content),
        caution=_caution(t.table("caution"), content),
        catch_all=_catch_all(t.table("catch_all"), content),
        continuing=t.table("turn_end").texts("continuing"),
        thinking=t.table("turn_end").texts("thinking"),
        trailing_reasons=t.table("turn_end").texts("trailing_reasons"),
        answer_endings=_answer_endings(t.table("turn_end"), content),
        commands_whole=_text_lists(whole, COMMAND_IDS) if whole else {},
    )
