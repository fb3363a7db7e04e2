"""Hearing an answer in its pauses, so the device replies quickly and never cuts a person short.

Waiting out `end_silence_s` (1.3 s) and only then decoding made every reply come 2–3 s after
the person stopped. Instead, as soon as a pause begins, what was said so far is decoded on a
worker thread while the microphone keeps listening, and the words are judged
(voicecheck.understanding.turn_end):

- a finished sentence that already answers the question clearly ends the turn after a short
  pause (`complete_after_s`), when the setting `end_when_complete` is on and the room is quiet
  (no steady background above `quiet_room_dbfs`: under a TV the full `end_silence_s` is waited,
  and no longer, even after a sound as short as 「はい」, which otherwise waits as a filler would);
- words that answer it, but doubtfully (read back, or asked about), never end it early, and, as
  any words that answer, wait no more than `end_silence_s`;
- only a filler so far, or words that stop on 「と」「で」「けど」「あと」, make the turn wait
  `going_on_extra_s` longer (「えっと……下りの階段と……立ち上がるとき」);
- anything else waits the usual `end_silence_s`.

Unless the answer is going on, the caller is also told what was heard (`context.foresee`), so the
reply to it is synthesised while the pause lasts and starts at once when the turn ends.

When the person speaks again, the hearing is dropped and a new one starts at the next pause.
When the turn ends with no speech since the last hearing, that hearing is the answer: nothing is
decoded twice.
"""
from __future__ import annotations

from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from typing import Callable

import numpy as np

from voicecheck.interfaces import Heard
from voicecheck.listening.endpointer import background_above
from voicecheck.understanding.turn_end import COMPLETE, GOING_ON, UNSURE

Hear = Callable[[np.ndarray], Heard]
Judge = Callable[[Heard], str]
Foresee = Callable[[Heard], None]


@dataclass(frozen=True)
class EarlyEndConfig:
    listen_after_s: float = 0.3  # a pause this long: hear what has been said so far
    complete_after_s: float = 0.8  # a complete answer ends the turn after this much silence
    going_on_extra_s: float = 1.2  # an answer that is not over waits this much longer
    end_when_complete: bool = True  # False: never end before `end_silence_s` (setting end_when_complete)
    # Only in a quiet room: with a steady background above this (a TV, a radio), never end early.
    # There the echo canceller and the TV bar take out what the person says over the device's
    # acknowledgement, so the rest of a two-part answer (voicecheck.listening.rest_of_answer) is
    # lost and its first part becomes the answer: a wrong answer, which is worse than 0.5 s more.
    # None: end early whatever the room.
    quiet_room_dbfs: float | None = -50.0


@dataclass
class _Hearing:
    pause: float  # the endpointer's pause_started_at_s when the audio was taken
    future: Future  # → (Heard, verdict)
    of: object = None  # the endpointer whose answer it hears

    def outcome(self) -> tuple[Heard, str] | None:
        """(heard, verdict), waiting for it; None when the hearing failed (no shortcut then)."""
        try:
            return self.future.result()
        except Exception:  # noqa: BLE001 - the whole answer is decoded again at the end
            return None


class EarlyHearing:
    """Watches one answer's endpointer (`step` after every frame); `heard()` at the end gives the
    hearing of exactly the audio of the answer, when one was made in its last pause."""

    def __init__(self, hear: Hear, judge: Judge | None, worker: ThreadPoolExecutor,
                 config: EarlyEndConfig = EarlyEndConfig(), foresee: Foresee | None = None) -> None:
        self._hear, self._judge, self._worker, self.config = hear, judge, worker, config
        self._foresee = foresee
        self._running: _Hearing | None = None
        self._latest: tuple[float, Heard, str] | None = None  # (pause, heard, verdict)
        self._final_pause: float | None = None
        self._endpointer = None  # the answer being watched
        self.hearings = 0  # decodes started, for the timings

    def _hear_and_judge(self, samples: np.ndarray) -> tuple[Heard, str]:
        heard = self._hear(samples)
        verdict = self._judge(heard) if self._judge is not None and not heard.timed_out else ""
        if self._foresee is not None and verdict != GOING_ON and heard.text.strip() and not heard.timed_out:
            # The answer may end in this pause: let the reply to it be made now. A turn that waits
            # the full end_silence_s then replies at once instead of synthesising for 0.3–0.5 s.
            try:
                self._foresee(heard)
            except Exception:  # noqa: BLE001 - a hint only; the reply is made when needed anyway
                pass
        return heard, verdict

    def step(self, endpointer) -> None:
        if endpointer is not self._endpointer:
            # A new answer in the same turn (what came before was not taken as one): pauses are
            # counted from each endpointer's start, so nothing heard of the old one may carry over.
            self._endpointer, self._latest, self._final_pause = endpointer, None, None
        if endpointer.state == endpointer.ENDED:
            self._final_pause = endpointer.pause_started_at_s if endpointer.silence_s > 0 else None
            return
        if endpointer.state != endpointer.SPEAKING:
            return
        running = self._running
        if running is not None and running.future.done():
            self._running = None
            outcome = running.outcome()
            if outcome is not None and running.of is endpointer:
                self._latest = (running.pause, *outcome)
        in_pause = endpointer.silence_s > 0
        pause = endpointer.pause_started_at_s
        current = self._latest is not None and in_pause and self._latest[0] == pause
        if current:
            verdict = self._latest[2]
            endpointer.extra_silence_s = self.config.going_on_extra_s if verdict == GOING_ON else 0.0
            endpointer.words_complete = verdict in (COMPLETE, UNSURE)  # words, not a cough
            if (verdict == COMPLETE and self.config.end_when_complete and self._quiet_room(endpointer)
                    and endpointer.silence_s >= self.config.complete_after_s - 1e-9):
                endpointer.end_now()
                self._final_pause = pause
                return
        else:
            endpointer.extra_silence_s, endpointer.words_complete = 0.0, False
        if (not current and self._running is None and in_pause
                and endpointer.silence_s >= self.config.listen_after_s - 1e-9):
            samples = np.concatenate(endpointer.kept) if endpointer.kept else np.zeros(0, np.float32)
            self._running = _Hearing(pause, self._worker.submit(self._hear_and_judge, samples), endpointer)
            self.hearings += 1

    def _quiet_room(self, endpointer) -> bool:
        """No steady background above `quiet_room_dbfs` (an unknown background counts as quiet)."""
        return not background_above(endpointer.background_db, self.config.quiet_room_dbfs)

    def heard(self) -> Heard | None:
        """The hearing made in the answer's last pause, waiting for it if it is still being decoded;
        None when the person spoke after it (or none was made): then decode the whole answer."""
        if self._final_pause is None:
            return None
        running = self._running
        if running is not None:
            outcome = running.outcome()  # an outdated one must finish before the real decode anyway
            if running.pause == self._final_pause and running.of is self._endpointer:
                return outcome[0] if outcome is not None else None
        if self._latest is not None and self._latest[0] == self._final_pause:
            return self._latest[1]
        return None


class PauseHearings:
    """One listener's hearings in pauses: one worker thread for all its turns, the settings'
    `end_when_complete`, and a fresh `EarlyHearing` for each turn."""

    def __init__(self, settings) -> None:
        self._worker = ThreadPoolExecutor(max_workers=1, thread_name_prefix="voicecheck-hearing")
        self.config = EarlyEndConfig(end_when_complete=bool(getattr(settings, "end_when_complete", True)))

    def for_turn(self, recognizer, context) -> EarlyHearing:
        """Hearings of this turn's answer by `recognizer`, judged by `context.judge`."""
        return EarlyHearing(lambda samples: recognizer.transcribe(samples, context), context.judge,
                            self._worker, self.config, getattr(context, "foresee", None))
