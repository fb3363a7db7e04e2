"""The exercise coach: leads home exercises aloud, step by step, and listens for commands between steps.

Pure logic over an `Ears`, a `Mouth` and a `Clock` (voicecheck.interfaces); every word comes from
`exercises.toml` through an `ExerciseBook`. A typed run with ScriptedEars, RecordingMouth and
FakeClock is deterministic and takes no real time.

How one exercise goes: name, purpose, today's (reduced) amount and how to build up; the setup
steps; then each set, side and repetition ("3回目") with holds counted aloud ("1", "2", …) or, for
long holds, cued ("あと10秒です"); a rest between sets. The coach listens after every setup step,
after every repetition, during long holds and during rests:

- silence, or words that are no command: carry on
- next: move on (end a wait early; after a repetition, skip to the next exercise)
- repeat: say or do the current step again
- slower: count and move more slowly from now on
- pause: wait until the person says to go on (resume, repeat or next)
- stop: end with a kind goodbye
- pain: stop at once, advise not to push through pain, and ask whether to end or try the next one
- input ended (Ears returned None): end politely
"""
from __future__ import annotations

import unicodedata
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Literal

from voicecheck.exercises import Exercise, ExerciseBook, Step, UnknownExerciseError
from voicecheck.interfaces import Clock, Ears, Heard, ListenContext, Mouth

MatchCommand = Callable[[str], str | None]  # heard text -> coach command id, or None
EndReason = Literal["finished", "stop", "pain", "no_input", "pause_timeout"]
Action = Literal["continue", "repeat", "next"]

LISTEN_ID = "coach"  # ListenContext.question_id of every coach turn


@dataclass(frozen=True)
class CoachResult:
    completed: tuple[str, ...]  # exercises led to the end, in order
    skipped: tuple[str, ...] = ()  # left early with "next"
    stopped_by_pain: str | None = None  # the first exercise stopped by a pain report
    pain_reported: tuple[str, ...] = ()  # every exercise stopped by a pain report
    stopped: bool = False  # the session ended before all exercises were offered
    ended_by: EndReason = "finished"


class _End(Exception):
    """Leaves the session (or, for pain, the exercise) from anywhere inside it."""

    def __init__(self, reason: EndReason) -> None:
        super().__init__(reason)
        self.reason: EndReason = reason


class _Skip(Exception):
    """"next" after a repetition: leave this exercise and go on to the next."""


def command_matcher(book: ExerciseBook) -> MatchCommand:
    """The production command matcher: reading-based fuzzy matching over the book's command phrases."""
    from voicecheck.matcher import match_table  # imported here so the coach's core needs no speech stack

    def match(text: str) -> str | None:
        return match_table(text, book.commands)[0]

    return match


def resolve_exercises(exercise_ids: Sequence[str], book: ExerciseBook) -> tuple[Exercise, ...]:
    """The exercises to run, in order and without repeats; none given means the book's defaults.

    Raises UnknownExerciseError (with a sentence ready to show) for ids that are not exercises.
    """
    ids = tuple(dict.fromkeys(exercise_ids)) or book.default_exercises
    unknown = book.unknown_ids(ids)
    if unknown:
        raise UnknownExerciseError(unknown, book.unknown_message(ids))
    return tuple(book.exercise(i) for i in ids)


def run_coach(exercise_ids: Sequence[str], *, book: ExerciseBook, ears: Ears, mouth: Mouth, clock: Clock,
              match_command: MatchCommand, slow: bool = False,
              log: Callable[[dict[str, Any]], None] | None = None) -> CoachResult:
    """Lead the exercises aloud: safety check first, then each exercise step by step.

    `exercise_ids` empty means the book's default exercises. `slow` starts at the slower pace
    (e.g. settings.speaking_rate == "slow"). `log` receives small event dicts for the session record.
    Raises UnknownExerciseError before saying anything when an id is not an exercise.
    """
    exercises = resolve_exercises(exercise_ids, book)
    return _Coach(book, ears, mouth, clock, match_command, slow, log).run(exercises)


class _Coach:
    def __init__(self, book: ExerciseBook, ears: Ears, mouth: Mouth, clock: Clock, match_command: MatchCommand,
                 slow: bool, log: Callable[[dict[str, Any]], None] | None) -> None:
        self.book, self.ears, self.mouth, self.clock = book, ears, mouth, clock
        self.match_command = match_command
        self.timing = book.timing
        self.log = log or (lambda event: None)
        self.pace_index = min(1, len(self.timing.paces) - 1) if slow else 0
        self.listen_phrases = book.command_phrases()
        self.pain_phrases = tuple(_normal(p) for p in book.commands["pain"])
        self.paused_s = 0.0  # total time spent paused; a pause stops the clock of whatever was waiting
        self.exercise_id: str | None = None
        self.counted_before = False  # the first count of an exercise gets the full breathing reminder

    # --- speaking -------------------------------------------------------------------------------

    def say(self, phrase_id: str, **values: object) -> None:
        self.mouth.say(self.book.say(phrase_id, **values))

    @property
    def pace(self) -> float:
        return self.timing.paces[self.pace_index]

    # --- listening ------------------------------------------------------------------------------

    def listen(self, timeout_s: float) -> Heard | None:
        return self.ears.listen(ListenContext(question_id=LISTEN_ID, phrases=self.listen_phrases, timeout_s=timeout_s,
                                               replies_to_prompt=False))

    def command_of(self, heard: Heard) -> str | None:
        """The command in what was heard; None for silence or words that are no command."""
        text = "" if heard.timed_out else _normal(heard.text)
        if not text:
            return None
        # Pain is looked for by plain containment before fuzzy matching, so that "痛いからやめる"
        # or "ちょっと待って、痛い" always counts as a pain report, never as stop or pause.
        if any(p in text for p in self.pain_phrases):
            command: str | None = "pain"
        else:
            command = self.match_command(text)
        self.log({"type": "coach_heard", "exercise": self.exercise_id, "text": heard.text, "command": command})
        return command

    def hear(self, timeout_s: float) -> Action:
        """One listening turn between steps; stop, pain and input ended leave through _End."""
        heard = self.listen(timeout_s)
        if heard is None:
            raise _End("no_input")
        command = self.command_of(heard)
        if command in ("pain", "stop"):
            raise _End(command)  # type: ignore[arg-type]
        if command == "slower":
            self.slower()
            return "continue"
        if command == "pause":
            return self.pause()
        if command in ("repeat", "next"):
            return command  # type: ignore[return-value]
        return "continue"  # silence, "resume" while not paused, or other words

    def slower(self) -> None:
        if self.pace_index + 1 < len(self.timing.paces):
            self.pace_index += 1
            self.say("slower_ack")
        else:
            self.say("slowest")

    def pause(self) -> Action:
        """Wait until the person says to go on; remind now and then; give up after a long silence."""
        started = self.clock.now()
        self.say("paused")
        try:
            silent_turns = 0
            while True:
                heard = self.listen(self.timing.pause_listen_s)
                if heard is None:
                    raise _End("no_input")
                command = self.command_of(heard)
                if command in ("pain", "stop"):
                    raise _End(command)  # type: ignore[arg-type]
                if command == "resume":
                    self.say("resumed")
                    return "continue"
                if command in ("repeat", "next"):
                    return command  # type: ignore[return-value]
                if command == "slower":
                    self.slower()
                    continue
                if command is None:
                    silent_turns += 1
                    if silent_turns >= self.timing.pause_reminders:
                        raise _End("pause_timeout")
                self.say("still_paused")
        finally:
            self.paused_s += self.clock.now() - started

    def wait(self, seconds: float) -> Action:
        """Let `seconds` pass while listening in short turns; return early on repeat or next."""
        deadline = self.clock.now() + seconds
        while (remaining := deadline - self.clock.now()) > 1e-6:
            turn = min(self.timing.listen_s, remaining)
            started, paused_before = self.clock.now(), self.paused_s
            action = self.hear(turn)
            paused = self.paused_s - paused_before
            deadline += paused
            if action != "continue":
                return action
            # Ears that answer at once (typed text, tests) must not shorten the wait; real ears
            # have already used the turn, so this sleeps little or nothing.
            self.clock.sleep(max(0.0, started + paused + turn - self.clock.now()))
        return "continue"

    # --- holds and steps --------------------------------------------------------------------------

    def count(self, seconds: int) -> None:
        """Count a short hold aloud, one number per count, on a steady beat."""
        self.say("hold_count" if self.counted_before else "hold_count_first", seconds=seconds)
        self.counted_before = True
        interval = self.timing.count_s * self.pace
        start = self.clock.now()
        for number in range(1, seconds + 1):
            self.say("count", number=number)
            # Aim at the beat rather than sleeping a fixed time, so speaking time does not add up.
            self.clock.sleep(max(0.0, start + number * interval - self.clock.now()))

    def long_hold(self, seconds: int) -> None:
        """A long hold with 「あと10秒です」 cues instead of every number; listening throughout."""
        every = self.timing.cue_every_s
        marks = [seconds] + [r for r in range(seconds - 1, 0, -1) if r % every == 0] + [0]
        while True:
            self.say("hold_long_start", seconds=seconds)
            action: Action = "continue"
            for left, then_left in zip(marks, marks[1:]):
                action = self.wait(left - then_left)
                if action != "continue":
                    break
                if then_left:
                    self.say("hold_cue", seconds=then_left)
            if action == "repeat":
                self.say("repeat_ack")
                continue
            self.say("next_ack" if action == "next" else "hold_end")
            return

    def do_step(self, step: Step, full: bool) -> None:
        self.mouth.say(step.text(full))
        if step.hold_s > self.timing.long_hold_over_s:
            self.long_hold(step.hold_s)
        elif step.hold_s:
            self.count(step.hold_s)
        elif step.wait_s:
            self.clock.sleep(step.wait_s * self.pace)

    def setup_steps(self, steps: Sequence[Step], **values: object) -> None:
        """Getting into position: each instruction, then time to do it while listening."""
        for step in steps:
            while True:
                self.mouth.say(step.say.format(**values))
                if self.wait(step.wait_s * self.pace) == "repeat":
                    self.say("repeat_ack")
                    continue
                break  # "next" or the time is up: on to the next instruction

    def repetition(self, exercise: Exercise, number: int, full: bool) -> None:
        """One repetition: full instructions the first time and after "repeat", brief cues otherwise."""
        while True:
            self.say("rep_number", number=number)
            for step in exercise.rep:
                self.do_step(step, full)
            action = self.hear(self.timing.listen_s)
            if action == "repeat":
                self.say("repeat_ack")
                full = True
                continue
            if action == "next":
                raise _Skip()
            return

    def rest(self, seconds: int) -> None:
        cue = self.timing.cue_every_s
        while True:
            self.say("rest", seconds=seconds)
            if seconds > cue:
                action = self.wait(seconds - cue)
                if action == "continue":
                    self.say("rest_cue", seconds=cue)
                    action = self.wait(cue)
            else:
                action = self.wait(seconds)
            if action == "repeat":
                self.say("repeat_ack")
                continue
            if action == "next":
                self.say("next_ack")
            return

    # --- whole exercises and the session --------------------------------------------------------

    def exercise(self, exercise: Exercise, index: int, total: int) -> None:
        self.exercise_id, self.counted_before = exercise.id, False
        intro = "exercise_only" if total == 1 else "exercise_first" if index == 0 else "exercise_next"
        self.say(intro, name=exercise.name)
        self.mouth.say(exercise.purpose)
        plan = "plan_sets" if exercise.sets > 1 else "plan_one_set"
        if exercise.each_side:
            plan += "_each_side"
        self.say(plan, reps=exercise.start_reps, sets=exercise.sets, rest_s=exercise.rest_s)
        self.say("start_small")
        self.mouth.say(exercise.build_up)
        self.setup_steps(exercise.setup)
        sides: tuple[str | None, ...] = self.book.sides if exercise.each_side else (None,)
        for set_number in range(1, exercise.sets + 1):
            if exercise.sets > 1:
                self.say("set_start", number=set_number)
            for side_index, side in enumerate(sides):
                if side is not None:
                    self.say("side_start" if side_index == 0 else "side_switch", side=side)
                    self.setup_steps(exercise.side_setup, side=side)
                for number in range(1, exercise.start_reps + 1):
                    self.repetition(exercise, number, full=set_number == 1 and side_index == 0 and number == 1)
            if set_number < exercise.sets:
                self.rest(exercise.rest_s)
        self.say("exercise_done", name=exercise.name)

    def ready(self) -> None:
        """The safety check and the commands, then a moment to get ready (or to say stop)."""
        while True:
            for line in self.book.safety:
                self.mouth.say(line)
            self.say("commands_help")
            self.say("pain_help")
            self.say("ready")
            if self.wait(self.timing.ready_s) != "repeat":
                return

    def after_pain_go_on(self) -> bool:
        """Ask whether to end or try the next exercise; only a clear "next" goes on."""
        for attempt in range(2):
            self.say("pain_choice")
            heard = self.listen(self.timing.answer_s)
            if heard is None:
                return False
            command = self.command_of(heard)
            if command in ("next", "resume"):
                return True
            silent = heard.timed_out or not _normal(heard.text)
            if attempt == 0 and (command == "repeat" or silent):
                continue  # ask once more; anything else ends
            return False
        return False

    def run(self, exercises: tuple[Exercise, ...]) -> CoachResult:
        completed: list[str] = []
        skipped: list[str] = []
        pain: list[str] = []

        def result(ended_by: EndReason) -> CoachResult:
            self.log({"type": "coach_end", "ended_by": ended_by, "completed": list(completed)})
            return CoachResult(tuple(completed), tuple(skipped), pain[0] if pain else None, tuple(pain),
                               stopped=ended_by != "finished", ended_by=ended_by)

        try:
            self.ready()
            for index, exercise in enumerate(exercises):
                try:
                    self.exercise(exercise, index, len(exercises))
                    completed.append(exercise.id)
                    self.log({"type": "coach_exercise", "exercise": exercise.id, "outcome": "completed"})
                except _Skip:
                    self.say("skip_exercise", name=exercise.name)
                    skipped.append(exercise.id)
                    self.log({"type": "coach_exercise", "exercise": exercise.id, "outcome": "skipped"})
                except _End as end:
                    if end.reason != "pain":
                        raise
                    pain.append(exercise.id)
                    self.log({"type": "coach_exercise", "exercise": exercise.id, "outcome": "pain"})
                    self.say("pain_stop")
                    self.say("pain_advice")
                    self.say("pain_see_doctor")
                    if index + 1 < len(exercises) and self.after_pain_go_on():
                        self.say("pain_next")
                        continue
                    self.say("goodbye_pain")
                    return result("pain")
        except _End as end:
            if end.reason == "pain":  # before any exercise began: no offer to go on
                self.say("pain_advice")
                self.say("pain_see_doctor")
                self.say("goodbye_pain")
            else:
                self.say({"stop": "goodbye_stopped", "no_input": "goodbye_no_input",
                          "pause_timeout": "goodbye_pause_timeout"}[end.reason])
            return result(end.reason)
        self.say("goodbye_finished")
        return result("finished")


def _normal(text: str) -> str:
    """Width-folded, trimmed text with inner spaces removed (recognisers put spaces between words)."""
    return "".join(unicodedata.normalize("NFKC", text).split())
