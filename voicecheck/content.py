"""Load and validate the spoken content in `prompts/<lang>/*.toml` into frozen dataclasses.

Content is checked once at start-up, so a typo in a TOML file is reported with the file, the key
and what was expected, instead of surfacing as a strange sentence in the middle of a session.
"""
from __future__ import annotations

import string
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

if TYPE_CHECKING:
    from voicecheck.exercises import ExerciseBook

QuestionKind = Literal["yes_no", "single", "multi", "free_text"]
QUESTION_KINDS: tuple[str, ...] = ("yes_no", "single", "multi", "free_text")

# The contract: ids other tools and tests rely on, in the order questions are asked.
QUESTION_ORDER: tuple[str, ...] = (
    "safety_now", "situations", "frequency", "getting_worse", "near_fall", "going_out_less",
    "swelling", "warmth", "pain_grinding", "morning_stiffness", "catching", "past_injury",
    "age_50_plus", "bow_legs", "unsteady_walking", "back_nerve", "since_when",
)
OPTION_IDS: dict[str, tuple[str, ...]] = {
    "situations": ("stairs_down", "flat_walking", "standing_up", "turning", "other"),
    "frequency": ("sometimes", "weekly", "daily"),
}
YES_NO_IDS: tuple[str, ...] = ("yes", "no")
UNKNOWN = "unknown"  # every yes/no question also accepts "don't know"
COMMAND_IDS: tuple[str, ...] = ("repeat", "back", "skip", "help", "stop")
CAUSE_IDS: tuple[str, ...] = ("muscle_weakness", "knee_osteoarthritis", "ligament_meniscus", "hip_trunk_nerve")
TRIAGE_LEVELS: tuple[str, ...] = ("emergency", "see_doctor_soon", "self_care")
EXERCISE_IDS: tuple[str, ...] = (
    "calf_stretch", "patella_setting", "chair_squat", "knee_extension", "heel_raise", "hamstring_stretch",
)

# System phrases the engine needs, with the placeholders each must contain.
SYSTEM_PHRASES: dict[str, tuple[str, ...]] = {
    "greeting": (),
    "disclaimer": (),
    "how_to_answer": (),
    "question_number": ("number", "total"),
    "option_item": ("number", "label"),
    "options_intro_single": (),
    "options_intro_multi": (),
    "not_understood": (),
    "sound_lost": (),
    "no_answer": (),
    "moving_on_unknown": (),
    "confirm_option": ("label",),
    "confirm_text": ("text",),
    "confirm_not_understood": (),
    "confirm_rejected": (),
    "command_unclear": (),
    "acknowledged": (),
    "acknowledged_option": ("label",),
    "back_to_previous": (),
    "already_first": (),
    "skipped": (),
    "kept_previous": (),
    "help_commands": (),
    "stop_confirmed": (),
    "resume_offer": ("answered",),
    "resume_yes": (),
    "resume_no": (),
    "results_intro": (),
    "no_cause_found": (),
    "cause_item": ("rank", "name"),
    "reason_option": ("short", "label"),
    "label_separator": (),
    "because_you_said": ("reasons",),
    "reason_separator": (),
    "triage_intro": ("name",),
    "note_down_intro": (),
    "advice_intro": (),
    "not_a_diagnosis": (),
    "exercise_offer": ("names",),
    "exercise_offer_declined": (),
    "name_separator": (),
    "check_sentence": (),
    "goodbye": (),
    "goodbye_stopped": (),
    "emergency_intro": (),
    "emergency_repeat": (),
    "save_failed": (),
    "save_failed_start": (),
    "resume_offer_again": (),
    "resume_unclear": (),
    "resume_damaged": (),
    "narrow_yes_no": ("short",),
    "narrow_options": (),
    "confirm_command_stop": (),
    "confirm_command_back": (),
    "confirm_command_skip": (),
    "unknown_label": (),
    "yes_label": (),
    "no_label": (),
}


class ContentError(Exception):
    """A content file is missing, unreadable or does not match the expected shape."""

    def __init__(self, file: str, key: str, expected: str) -> None:
        self.file, self.key, self.expected = file, key, expected
        super().__init__(f"{file}: {key}: {expected}")


@dataclass(frozen=True)
class Option:
    id: str
    label: str


@dataclass(frozen=True)
class Question:
    id: str
    kind: QuestionKind
    text: str
    hint: str
    help: str
    short: str
    options: tuple[Option, ...] = ()
    yes_statement: str = ""
    no_statement: str = ""

    def option(self, option_id: str) -> Option:
        for option in self.options:
            if option.id == option_id:
                return option
        raise KeyError(f"{self.id} has no option {option_id!r}")

    @property
    def option_ids(self) -> tuple[str, ...]:
        return tuple(o.id for o in self.options)


@dataclass(frozen=True)
class Evidence:
    question: str
    answer: str
    weight: int


@dataclass(frozen=True)
class Cause:
    id: str
    name: str
    explanation: tuple[str, ...]
    exercises: tuple[str, ...]
    evidence: tuple[Evidence, ...]


@dataclass(frozen=True)
class TriageText:
    level: str
    name: str
    lines: tuple[str, ...]
    come_back_when: tuple[str, ...] = ()


@dataclass(frozen=True)
class HomeMeasure:
    id: str
    causes: tuple[str, ...]  # empty: for everyone
    lines: tuple[str, ...]


@dataclass(frozen=True)
class SafetyNotAnswered:
    """Said, and written in the report, when the emergency screen got no clear "no"."""

    intro: str
    signs_intro: str
    signs: tuple[str, ...]  # the urgent signs, a few per line
    what_to_do: tuple[str, ...]  # call 119 now, or ask someone nearby
    reason: str  # the triage reason, written like the answers' statements
    notice: str  # one written sentence for the report and the history


@dataclass(frozen=True)
class Advice:
    emergency_lines: tuple[str, ...]
    device_cannot_call: str
    about_7119: tuple[str, ...]
    risks: tuple[str, ...]
    triage: dict[str, TriageText]
    clinic_visit: tuple[str, ...]
    note_down: tuple[str, ...]
    doctor_questions: tuple[str, ...]
    home_measures: tuple[HomeMeasure, ...]
    safety_not_answered: SafetyNotAnswered


@dataclass(frozen=True)
class Content:
    language: str
    directory: Path
    questions: tuple[Question, ...]
    causes: tuple[Cause, ...]
    advice: Advice
    system: dict[str, str]
    exercises: "ExerciseBook"

    def question(self, question_id: str) -> Question:
        for question in self.questions:
            if question.id == question_id:
                return question
        raise KeyError(question_id)

    def cause(self, cause_id: str) -> Cause:
        for cause in self.causes:
            if cause.id == cause_id:
                return cause
        raise KeyError(cause_id)

    def say(self, phrase_id: str, **values: object) -> str:
        """A system phrase with its placeholders filled in."""
        return self.system[phrase_id].format(**values)


class _Table:
    """Typed access to one TOML table, so every error names the file and the full key."""

    def __init__(self, file: str, data: dict[str, Any], key: str = "") -> None:
        self.file, self.data, self.key = file, data, key

    def _k(self, name: str) -> str:
        return f"{self.key}.{name}" if self.key else name

    def has(self, name: str) -> bool:
        return name in self.data

    def text(self, name: str, default: str | None = None) -> str:
        value = self.data.get(name, default)
        if value is None:
            raise ContentError(self.file, self._k(name), "missing; expected a non-empty text")
        if not isinstance(value, str) or not value.strip():
            raise ContentError(self.file, self._k(name), f"expected a non-empty text, found {value!r}")
        return value.strip()

    def texts(self, name: str, allow_empty: bool = False) -> tuple[str, ...]:
        value = self.data.get(name)
        if value is None:
            raise ContentError(self.file, self._k(name), "missing; expected a list of texts")
        if not isinstance(value, list) or not all(isinstance(v, str) and v.strip() for v in value):
            raise ContentError(self.file, self._k(name), f"expected a list of non-empty texts, found {value!r}")
        if not value and not allow_empty:
            raise ContentError(self.file, self._k(name), "expected at least one text, found an empty list")
        return tuple(v.strip() for v in value)

    def ids(self, name: str, allowed: tuple[str, ...], default: list[str] | None = None) -> tuple[str, ...]:
        value = self.data.get(name, default)
        if not isinstance(value, list):
            raise ContentError(self.file, self._k(name), f"expected a list of ids from {', '.join(allowed)}")
        for item in value:
            if item not in allowed:
                raise ContentError(self.file, self._k(name), f"unknown id {item!r}; expected one of {', '.join(allowed)}")
        return tuple(value)

    def choice(self, name: str, allowed: tuple[str, ...]) -> str:
        value = self.data.get(name)
        if value not in allowed:
            raise ContentError(self.file, self._k(name), f"expected one of {', '.join(allowed)}, found {value!r}")
        return value  # type: ignore[return-value]

    def integer(self, name: str, low: int, high: int) -> int:
        value = self.data.get(name)
        if not isinstance(value, int) or isinstance(value, bool) or not low <= value <= high:
            raise ContentError(self.file, self._k(name), f"expected a whole number from {low} to {high}, found {value!r}")
        return value

    def table(self, name: str) -> "_Table":
        value = self.data.get(name)
        if not isinstance(value, dict):
            raise ContentError(self.file, self._k(name), "missing; expected a table")
        return _Table(self.file, value, self._k(name))

    def tables(self, name: str) -> list["_Table"]:
        value = self.data.get(name)
        if not isinstance(value, list) or not value or not all(isinstance(v, dict) for v in value):
            raise ContentError(self.file, self._k(name), f"missing; expected one or more [[{self._k(name)}]] tables")
        return [_Table(self.file, v, f"{self._k(name)}[{i}]") for i, v in enumerate(value)]

    def no_unknown_keys(self, allowed: set[str]) -> None:
        for name in self.data:
            if name not in allowed:
                raise ContentError(self.file, self._k(name), f"unknown key; expected only {', '.join(sorted(allowed))}")


def read_toml(path: Path) -> _Table:
    """Parse one content file; a syntax error names the file and the line."""
    name = f"{path.parent.name}/{path.name}"
    try:
        with path.open("rb") as f:
            return _Table(name, tomllib.load(f))
    except FileNotFoundError:
        raise ContentError(name, "(file)", f"missing; expected the file at {path}") from None
    except tomllib.TOMLDecodeError as err:
        raise ContentError(name, "(syntax)", f"not valid TOML: {err}") from None
    except (OSError, UnicodeDecodeError) as err:
        raise ContentError(name, "(file)", f"cannot be read: {err}") from None


_QUESTION_KEYS = {"id", "kind", "text", "hint", "help", "short", "options", "yes_statement", "no_statement"}


def _load_questions(path: Path) -> tuple[Question, ...]:
    questions = []
    for i, t in enumerate(read_toml(path).tables("questions")):
        t.no_unknown_keys(_QUESTION_KEYS)
        expected_id = QUESTION_ORDER[i] if i < len(QUESTION_ORDER) else None
        qid = t.text("id")
        if qid != expected_id:
            raise ContentError(t.file, f"{t.key}.id", f"expected {expected_id!r} (questions are asked in the contract order), found {qid!r}")
        kind = t.choice("kind", QUESTION_KINDS)
        options: tuple[Option, ...] = ()
        yes_statement = no_statement = ""
        if kind in ("single", "multi"):
            wanted = OPTION_IDS.get(qid, ())
            opts = t.tables("options")
            found = tuple(o.text("id") for o in opts)
            if found != wanted:
                raise ContentError(t.file, f"{t.key}.options", f"expected option ids {', '.join(wanted)} in this order, found {', '.join(found)}")
            options = tuple(Option(o.text("id"), o.text("label")) for o in opts)
        elif kind == "yes_no":
            yes_statement, no_statement = t.text("yes_statement"), t.text("no_statement")
        questions.append(Question(
            id=qid, kind=kind, text=t.text("text"), hint=t.text("hint"), help=t.text("help"), short=t.text("short"),
            options=options, yes_statement=yes_statement, no_statement=no_statement,
        ))
    if len(questions) != len(QUESTION_ORDER):
        missing = ", ".join(QUESTION_ORDER[len(questions):])
        raise ContentError(f"{path.parent.name}/{path.name}", "questions", f"expected {len(QUESTION_ORDER)} questions; missing {missing}")
    return tuple(questions)


def _answer_ids(question: Question) -> tuple[str, ...]:
    return YES_NO_IDS + (UNKNOWN,) if question.kind == "yes_no" else question.option_ids


def _load_causes(path: Path, questions: tuple[Question, ...]) -> tuple[Cause, ...]:
    by_id = {q.id: q for q in questions}
    causes = []
    for t in read_toml(path).tables("causes"):
        t.no_unknown_keys({"id", "name", "explanation", "exercises", "evidence"})
        cid = t.choice("id", CAUSE_IDS)
        evidence = []
        for e in t.tables("evidence"):
            e.no_unknown_keys({"question", "answer", "weight"})
            qid = e.choice("question", tuple(q for q in QUESTION_ORDER if by_id[q].kind != "free_text"))
            answer = e.choice("answer", _answer_ids(by_id[qid]))
            evidence.append(Evidence(qid, answer, e.integer("weight", 1, 3)))
        causes.append(Cause(cid, t.text("name"), t.texts("explanation"), t.ids("exercises", EXERCISE_IDS), tuple(evidence)))
    found = tuple(c.id for c in causes)
    if sorted(found) != sorted(CAUSE_IDS):
        raise ContentError(f"{path.parent.name}/{path.name}", "causes", f"expected each of {', '.join(CAUSE_IDS)} once, found {', '.join(found)}")
    return tuple(causes)


def _load_advice(path: Path) -> Advice:
    t = read_toml(path)
    emergency = t.table("emergency")
    triage = {}
    triage_table = t.table("triage")
    for level in TRIAGE_LEVELS:
        lt = triage_table.table(level)
        triage[level] = TriageText(level, lt.text("name"), lt.texts("lines"),
                                   lt.texts("come_back_when") if level == "self_care" else ())
    clinic = t.table("clinic_visit")
    measures = []
    for m in t.tables("home_measures"):
        m.no_unknown_keys({"id", "causes", "lines"})
        measures.append(HomeMeasure(m.text("id"), m.ids("causes", CAUSE_IDS, default=[]), m.texts("lines")))
    unanswered = t.table("safety_not_answered")
    unanswered.no_unknown_keys({"intro", "signs_intro", "signs", "what_to_do", "reason", "notice"})
    return Advice(
        safety_not_answered=SafetyNotAnswered(
            intro=unanswered.text("intro"), signs_intro=unanswered.text("signs_intro"),
            signs=unanswered.texts("signs"), what_to_do=unanswered.texts("what_to_do"),
            reason=unanswered.text("reason"), notice=unanswered.text("notice"),
        ),
        emergency_lines=emergency.texts("lines"),
        device_cannot_call=emergency.text("device_cannot_call"),
        about_7119=emergency.texts("about_7119"),
        risks=t.table("risks").texts("lines"),
        triage=triage,
        clinic_visit=clinic.texts("lines"),
        note_down=clinic.texts("note_down"),
        doctor_questions=clinic.texts("doctor_questions"),
        home_measures=tuple(measures),
    )


def _load_system(path: Path) -> dict[str, str]:
    t = read_toml(path)
    phrases = {}
    for phrase_id, placeholders in SYSTEM_PHRASES.items():
        text = t.text(phrase_id)
        used = {name for _, name, _, _ in string.Formatter().parse(text) if name}
        if used != set(placeholders):
            want = ", ".join("{" + p + "}" for p in placeholders) or "no placeholders"
            raise ContentError(t.file, phrase_id, f"expected {want}, found {', '.join(sorted(used)) or 'none'}")
        phrases[phrase_id] = text
    t.no_unknown_keys(set(SYSTEM_PHRASES))
    return phrases


def load_content(prompts_dir: Path) -> Content:
    """Load every content file of one language; raise ContentError on the first problem."""
    prompts_dir = Path(prompts_dir)
    if not prompts_dir.is_dir():
        raise ContentError(str(prompts_dir), "(folder)", "missing; expected the folder of content files")
    from voicecheck.exercises import load_exercises  # exercises.py builds on this module's readers

    questions = _load_questions(prompts_dir / "questions.toml")
    return Content(
        language=prompts_dir.name,
        directory=prompts_dir,
        questions=questions,
        causes=_load_causes(prompts_dir / "causes.toml", questions),
        advice=_load_advice(prompts_dir / "advice.toml"),
        system=_load_system(prompts_dir / "system.toml"),
        exercises=load_exercises(prompts_dir),
    )
