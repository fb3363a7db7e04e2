"""The small interfaces between the pure core and the edges (devices, models, files).

The conversation and the coach only ever talk to an `Ears`, a `Mouth` and a `Clock`,
so a test can swap the microphone for WAV files or typed lines, the speaker for a list
of spoken texts, and real time for a fake clock.
"""
from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Callable, Protocol


@dataclass(frozen=True)
class ListenContext:
    """What the listener is waiting for; recognisers use it to build grammars or bias decoding."""

    question_id: str | None = None  # a contract question id, or a pseudo id such as "yes_no", "coach"
    phrases: tuple[str, ...] = ()  # the phrases expected at this turn (options, commands)
    timeout_s: float | None = None  # give up waiting for speech after this long (None: settings)
    asked: str = ""  # what the device just asked: Whisper reads it as the text before the answer
    # Whether what was heard so far ends the answer (voicecheck.understanding.turn_end: "complete",
    # "going_on", "open"); the microphone asks it in the answer's pauses. None: wait end_silence_s.
    judge: Callable[[Heard], str] | None = None
    # Told what was heard in a pause that may end the answer, so the reply to it can be made
    # ready (synthesised) before the turn ends. Only a hint: the turn's final hearing decides.
    foresee: Callable[[Heard], None] | None = None
    # A reply to the prompt just spoken: speech begun before the prompt could be heard goes on
    # from before and is not taken (voicecheck.listening.live). False for the coach, where
    # 「やめて」 counts whenever it comes.
    replies_to_prompt: bool = True


@dataclass(frozen=True)
class Heard:
    """One listening turn's result."""

    text: str
    alternatives: tuple[str, ...] = ()  # the recogniser's other hypotheses, most likely first
    confidence: float | None = None  # 0..1 where the recogniser gives one
    no_speech: float | None = None  # 0..1: the recogniser's belief that nobody spoke (Whisper)
    timed_out: bool = False  # nobody spoke before the no-answer timeout
    timings: dict[str, float] = field(default_factory=dict)  # seconds: "endpoint", "recognition", …
    source: str | None = None  # e.g. the WAV file a replayed answer came from
    # The microphone's sound stopped for a moment during the turn (a hiccup of the sound card):
    # part of the answer may be missing, so nothing heard is taken (text is empty).
    sound_lost: bool = False


class Ears(Protocol):
    def listen(self, context: ListenContext) -> Heard | None:
        """Return what was heard, or None when there is no more input (end of file, replay exhausted)."""


class Mouth(Protocol):
    def say(self, text: str, *, slow: bool = False) -> None:
        """Speak (or print, or record) one phrase and return when it has been delivered.

        `slow` asks for the slowest clear delivery (emergency instructions)."""


class Clock(Protocol):
    def now(self) -> float: ...

    def sleep(self, seconds: float) -> None: ...


class RealClock:
    def now(self) -> float:
        return time.monotonic()

    def sleep(self, seconds: float) -> None:
        if seconds > 0:
            time.sleep(seconds)


class FakeClock:
    """A clock for tests: sleeping only advances the reading."""

    def __init__(self, start: float = 0.0) -> None:
        self.t = start
        self.sleeps: list[float] = []

    def now(self) -> float:
        return self.t

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.t += max(0.0, seconds)


class ScriptedEars:
    """Answers from a list of strings (tests, piped text); None when the list runs out."""

    def __init__(self, answers: list[str]) -> None:
        self.answers = list(answers)
        self.contexts: list[ListenContext] = []

    def listen(self, context: ListenContext) -> Heard | None:
        self.contexts.append(context)
        if not self.answers:
            return None
        return Heard(text=self.answers.pop(0))


class RecordingMouth:
    """Keeps every spoken phrase in a list (tests)."""

    def __init__(self) -> None:
        self.said: list[str] = []

    def say(self, text: str, *, slow: bool = False) -> None:
        self.said.append(text)
