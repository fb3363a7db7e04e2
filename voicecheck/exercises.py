"""Load and validate `prompts/<lang>/exercises.toml`: the exercises, the coach's commands and phrases.

Everything the coach says or listens for is data. It is checked once at start-up, so a typo (a
missing phrase, a stray placeholder, a hold of "5s") is reported with the file, the key and what
was expected, instead of surfacing as a strange sentence in the middle of an exercise.
"""
from __future__ import annotations

import string
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from voicecheck.content import EXERCISE_IDS, ContentError, read_toml

if TYPE_CHECKING:
    from voicecheck.content import _Table

FILE_NAME = "exercises.toml"

# Coach command ids. `resume` ends a pause; `pain` stops the exercise at once.
COMMAND_IDS: tuple[str, ...] = ("next", "repeat", "slower", "pause", "resume", "stop", "pain")

# Every phrase the coach needs, with exactly the placeholders it must contain.
COACH_PHRASES: dict[str, tuple[str, ...]] = {
    "commands_help": (),
    "pain_help": (),
    "ready": (),
    "exercise_first": ("name",),
    "exercise_next": ("name",),
    "exercise_only": ("name",),
    "plan_one_set": ("reps",),
    "plan_sets": ("reps", "sets", "rest_s"),
    "plan_one_set_each_side": ("reps",),
    "plan_sets_each_side": ("reps", "sets", "rest_s"),
    "start_small": (),
    "set_start": ("number",),
    "side_start": ("side",),
    "side_switch": ("side",),
    "rep_number": ("number",),
    "hold_count_first": ("seconds",),
    "hold_count": (),
    "count": ("number",),
    "hold_long_start": ("seconds",),
    "hold_cue": ("seconds",),
    "hold_end": (),
    "rest": ("seconds",),
    "rest_cue": ("seconds",),
    "exercise_done": ("name",),
    "repeat_ack": (),
    "next_ack": (),
    "skip_exercise": ("name",),
    "slower_ack": (),
    "slowest": (),
    "paused": (),
    "still_paused": (),
    "resumed": (),
    "pain_stop": (),
    "pain_advice": (),
    "pain_see_doctor": (),
    "pain_choice": (),
    "pain_next": (),
    "goodbye_finished": (),
    "goodbye_stopped": (),
    "goodbye_pain": (),
    "goodbye_no_input": (),
    "goodbye_pause_timeout": (),
    "name_separator": (),
    "unknown_exercise": ("ids", "choices"),
}

_BUILD_UP_FIELDS = {"start_reps", "reps", "sets"}
_EXERCISE_KEYS = {"id", "name", "purpose", "each_side", "start_reps", "reps", "sets", "rest_s", "build_up",
                  "setup", "side_setup", "rep"}
_STEP_KEYS = {"say", "wait_s", "hold_s", "short"}
_TOP_KEYS = {"default_exercises", "sides", "safety", "commands", "timing", "phrases", "exercises"}
_TIMING_KEYS = {"count_s", "paces", "listen_s", "ready_s", "answer_s", "pause_listen_s", "pause_reminders",
                "long_hold_over_s", "cue_every_s"}


@dataclass(frozen=True)
class Step:
    """One spoken instruction, then either time for the movement or a hold."""

    say: str
    wait_s: float = 0.0  # time to do the movement after the instruction
    hold_s: int = 0  # a hold, counted aloud or cued
    short: str = ""  # repetitions after the first: a brief cue instead of the full instruction

    def text(self, full: bool) -> str:
        return self.say if full or not self.short else self.short


@dataclass(frozen=True)
class Exercise:
    id: str
    name: str  # spoken name
    purpose: str  # one sentence: what it is for
    setup: tuple[Step, ...]  # getting into position, once per exercise
    side_setup: tuple[Step, ...]  # once per side, may contain {side}
    rep: tuple[Step, ...]  # one repetition
    start_reps: int  # repetitions per set (per side) to start with
    reps: int  # the full amount to build up to
    sets: int
    rest_s: int  # rest between sets
    each_side: bool
    build_up: str  # how to build up, placeholders filled in

    @property
    def hold_s(self) -> int:
        """The longest hold of one repetition (0 when the exercise has none)."""
        return max((s.hold_s for s in self.rep), default=0)


@dataclass(frozen=True)
class Timing:
    count_s: float = 1.0
    paces: tuple[float, ...] = (1.0, 1.5, 2.0)
    listen_s: float = 3.0
    ready_s: float = 5.0
    answer_s: float = 10.0
    pause_listen_s: float = 30.0
    pause_reminders: int = 10
    long_hold_over_s: int = 10
    cue_every_s: int = 10


@dataclass(frozen=True)
class ExerciseBook:
    """Everything the coach needs from content."""

    exercises: tuple[Exercise, ...]
    commands: dict[str, tuple[str, ...]]  # command id -> phrases, for voicecheck.matcher.match_table
    phrases: dict[str, str]
    safety: tuple[str, ...]
    sides: tuple[str, str]
    default_exercises: tuple[str, ...]
    timing: Timing

    @property
    def ids(self) -> tuple[str, ...]:
        return tuple(e.id for e in self.exercises)

    def exercise(self, exercise_id: str) -> Exercise:
        for exercise in self.exercises:
            if exercise.id == exercise_id:
                return exercise
        raise KeyError(exercise_id)

    def say(self, phrase_id: str, **values: object) -> str:
        """A coach phrase with its placeholders filled in."""
        return self.phrases[phrase_id].format(**values)

    def command_phrases(self) -> tuple[str, ...]:
        """Every command phrase once, for the recogniser's grammar or bias."""
        return tuple(dict.fromkeys(p for phrases in self.commands.values() for p in phrases))

    def names(self, exercise_ids: Sequence[str]) -> str:
        """Spoken names joined for a sentence, e.g. for an offer of the recommended exercises."""
        return self.phrases["name_separator"].join(self.exercise(i).name for i in exercise_ids)

    def unknown_ids(self, exercise_ids: Sequence[str]) -> tuple[str, ...]:
        return tuple(i for i in exercise_ids if i not in self.ids)

    def unknown_message(self, exercise_ids: Sequence[str]) -> str:
        """A friendly sentence for ids that are not exercises, listing the ones there are."""
        sep = self.phrases["name_separator"]
        return self.say("unknown_exercise", ids=sep.join(self.unknown_ids(exercise_ids)),
                        choices=sep.join(f"{e.id}（{e.name}）" for e in self.exercises))


class UnknownExerciseError(ValueError):
    """Exercise ids that the book does not have; `message` is ready to show to the person."""

    def __init__(self, unknown: tuple[str, ...], message: str) -> None:
        self.unknown, self.message = unknown, message
        super().__init__(message)


# --- validation helpers --------------------------------------------------------------------------

def _placeholders(text: str) -> set[str] | None:
    """The {names} used in a text; None when the braces are malformed."""
    try:
        return {name for _, name, _, _ in string.Formatter().parse(text) if name is not None}
    except ValueError:
        return None


def _check_placeholders(file: str, key: str, text: str, allowed: set[str], required: set[str] | frozenset[str] = frozenset()) -> None:
    used = _placeholders(text)
    if used is None or not used <= allowed or not required <= used:
        want = ", ".join("{" + p + "}" for p in sorted(required)) or "no placeholders"
        if allowed - required:
            want += " (may also use " + ", ".join("{" + p + "}" for p in sorted(allowed - required)) + ")"
        found = "malformed braces" if used is None else (", ".join(sorted(used)) or "none")
        raise ContentError(file, key, f"expected {want}, found {found}")


def _number(file: str, data: Mapping[str, Any], key: str, name: str, low: float, high: float,
            default: float | None = None) -> float:
    value = data.get(name, default)
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not low <= value <= high:
        raise ContentError(file, f"{key}.{name}" if key else name,
                           f"expected a number of seconds from {low:g} to {high:g}, found {value!r}")
    return float(value)


def _whole(file: str, data: Mapping[str, Any], key: str, name: str, low: int, high: int,
           default: int | None = None) -> int:
    value = data.get(name, default)
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise ContentError(file, f"{key}.{name}" if key else name,
                           f"expected a whole number from {low} to {high}, found {value!r}")
    return value


def _flag(file: str, data: Mapping[str, Any], key: str, name: str) -> bool:
    value = data.get(name)
    if not isinstance(value, bool):
        raise ContentError(file, f"{key}.{name}", f"expected true or false, found {value!r}")
    return value


def _steps(file: str, data: Mapping[str, Any], key: str, name: str, *, allowed: set[str],
           required: bool = True, short: bool = False) -> tuple[Step, ...]:
    full = f"{key}.{name}"
    value = data.get(name, None if required else [])
    if not isinstance(value, list) or not all(isinstance(v, dict) for v in value):
        raise ContentError(file, full, "missing; expected a list of steps like { say = \"…\", wait_s = 3 }")
    if required and not value:
        raise ContentError(file, full, "expected at least one step, found an empty list")
    steps = []
    for i, item in enumerate(value):
        at = f"{full}[{i}]"
        for k in item:
            if k not in _STEP_KEYS:
                raise ContentError(file, f"{at}.{k}", f"unknown key; expected only {', '.join(sorted(_STEP_KEYS))}")
        say = item.get("say")
        if not isinstance(say, str) or not say.strip():
            raise ContentError(file, f"{at}.say", f"expected a non-empty text, found {say!r}")
        _check_placeholders(file, f"{at}.say", say, allowed)
        wait_s = _number(file, item, at, "wait_s", 0, 120, default=0)
        hold_s = _whole(file, item, at, "hold_s", 0, 120, default=0)
        if wait_s and hold_s:
            raise ContentError(file, at, "expected either wait_s or hold_s, not both")
        cue = item.get("short", "")
        if "short" in item and (not short or not isinstance(cue, str) or not cue.strip()):
            raise ContentError(file, f"{at}.short", "expected a short non-empty text, and only in rep steps"
                               if short else "expected no short cue outside rep steps")
        _check_placeholders(file, f"{at}.short", cue, allowed)
        steps.append(Step(say.strip(), wait_s, hold_s, cue.strip()))
    return tuple(steps)


def _commands(t: _Table) -> dict[str, tuple[str, ...]]:
    table = t.table("commands")
    table.no_unknown_keys(set(COMMAND_IDS))
    commands = {cid: table.texts(cid) for cid in COMMAND_IDS}
    owner: dict[str, str] = {}
    for cid, phrases in commands.items():
        for phrase in phrases:
            if owner.setdefault(phrase, cid) != cid:
                raise ContentError(t.file, f"commands.{cid}",
                                   f"expected each phrase in one command only; {phrase!r} is also in {owner[phrase]}")
    return commands


def _phrases(t: _Table) -> dict[str, str]:
    table = t.table("phrases")
    table.no_unknown_keys(set(COACH_PHRASES))
    phrases = {}
    for phrase_id, placeholders in COACH_PHRASES.items():
        text = table.text(phrase_id)
        _check_placeholders(t.file, f"phrases.{phrase_id}", text, set(placeholders), set(placeholders))
        phrases[phrase_id] = text
    return phrases


def _timing(t: _Table) -> Timing:
    table = t.table("timing")
    table.no_unknown_keys(_TIMING_KEYS)
    data, f = table.data, t.file
    paces = data.get("paces")
    if (not isinstance(paces, list) or not paces
            or not all(isinstance(p, (int, float)) and not isinstance(p, bool) and 0.5 <= p <= 4 for p in paces)
            or list(paces) != sorted(paces)):
        raise ContentError(f, "timing.paces", f"expected rising numbers from 0.5 to 4, e.g. [1.0, 1.5, 2.0], found {paces!r}")
    return Timing(
        count_s=_number(f, data, "timing", "count_s", 0.3, 5),
        paces=tuple(float(p) for p in paces),
        listen_s=_number(f, data, "timing", "listen_s", 0.5, 60),
        ready_s=_number(f, data, "timing", "ready_s", 0, 120),
        answer_s=_number(f, data, "timing", "answer_s", 1, 120),
        pause_listen_s=_number(f, data, "timing", "pause_listen_s", 1, 600),
        pause_reminders=_whole(f, data, "timing", "pause_reminders", 1, 100),
        long_hold_over_s=_whole(f, data, "timing", "long_hold_over_s", 3, 60),
        cue_every_s=_whole(f, data, "timing", "cue_every_s", 5, 60),
    )


def _exercise(t: _Table) -> Exercise:
    f, key, data = t.file, t.key, t.data
    t.no_unknown_keys(_EXERCISE_KEYS)
    exercise_id = t.choice("id", EXERCISE_IDS)
    each_side = _flag(f, data, key, "each_side")
    start_reps = _whole(f, data, key, "start_reps", 1, 50)
    reps = _whole(f, data, key, "reps", 1, 50)
    if start_reps >= reps:
        # Starting below the full amount is a safety rule, not a style choice.
        raise ContentError(f, f"{key}.start_reps", f"expected fewer than reps ({reps}) to start with, found {start_reps}")
    sets = _whole(f, data, key, "sets", 1, 5)
    rest_s = _whole(f, data, key, "rest_s", 0, 300)
    if sets > 1 and rest_s < 10:
        raise ContentError(f, f"{key}.rest_s", f"expected a rest of 10 to 300 seconds between {sets} sets, found {rest_s}")
    build_up = t.text("build_up")
    _check_placeholders(f, f"{key}.build_up", build_up, _BUILD_UP_FIELDS)
    side_setup = _steps(f, data, key, "side_setup", allowed={"side"}, required=False)
    if side_setup and not each_side:
        raise ContentError(f, f"{key}.side_setup", "expected no side_setup when each_side is false")
    setup = _steps(f, data, key, "setup", allowed=set())
    for name, steps in (("setup", setup), ("side_setup", side_setup)):
        if any(s.hold_s for s in steps):
            raise ContentError(f, f"{key}.{name}", "expected no hold_s while getting into position; holds belong in rep")
    rep = _steps(f, data, key, "rep", allowed=set(), short=True)
    if not any(s.wait_s or s.hold_s for s in rep):
        raise ContentError(f, f"{key}.rep", "expected at least one step with wait_s or hold_s (time to move)")
    return Exercise(
        id=exercise_id,
        name=t.text("name"),
        purpose=t.text("purpose"),
        setup=setup,
        side_setup=side_setup,
        rep=rep,
        start_reps=start_reps,
        reps=reps,
        sets=sets,
        rest_s=rest_s,
        each_side=each_side,
        build_up=build_up.format(start_reps=start_reps, reps=reps, sets=sets),
    )


def _default_exercises(t: _Table) -> tuple[str, ...]:
    ids = t.ids("default_exercises", EXERCISE_IDS)
    if not ids or len(set(ids)) != len(ids):
        raise ContentError(t.file, "default_exercises", f"expected one or more different exercise ids, found {list(ids)!r}")
    return ids


def load_exercises(prompts_dir: Path) -> ExerciseBook:
    """Load `exercises.toml` from a language folder; raise ContentError on the first problem."""
    t = read_toml(Path(prompts_dir) / FILE_NAME)
    t.no_unknown_keys(_TOP_KEYS)
    sides = t.texts("sides")
    if len(sides) != 2:
        raise ContentError(t.file, "sides", f"expected two side names (first, second), found {len(sides)}")
    exercises = tuple(_exercise(e) for e in t.tables("exercises"))
    found = [e.id for e in exercises]
    if sorted(found) != sorted(EXERCISE_IDS):
        raise ContentError(t.file, "exercises", f"expected each of {', '.join(EXERCISE_IDS)} once, found {', '.join(found)}")
    return ExerciseBook(
        exercises=exercises,
        commands=_commands(t),
        phrases=_phrases(t),
        safety=t.table("safety").texts("lines"),
        sides=(sides[0], sides[1]),
        default_exercises=_default_exercises(t),
        timing=_timing(t),
    )
