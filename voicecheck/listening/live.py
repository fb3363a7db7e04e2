"""Listening all the time: the device hears answers given while it is still talking.

`LiveListener` takes every 30 ms frame of a source (`push`, from the audio thread) and judges
it at once — Silero VAD, the background level, the echo of the device's own voice — keeping
the last minutes of frames with their verdicts. The device tells it what it plays
(`device_plays`: the reference for the echo gate) and when a prompt that can be answered
starts (`phrase_starts`). A turn (`listen`) then:

1. looks back over what was heard since the answer window opened (the question is still
   being read when many people answer): every answer found there is a candidate; a later
   one replaces an earlier one (「はい」 said as a nod, then 「いいえ」 as the answer);
2. if the person is still talking when the device stops, hears the answer out;
3. if an answer was complete before the device stopped, waits `grace_s` for a correction,
   then takes it — no tone, no waiting for the no-answer timeout;
4. otherwise signals the turn (`on_waiting`: the optional soft tone) and waits for an answer
   like a plain endpointer, until the no-answer timeout.

While the device reads the choices of a question (the phrases after the question itself, before
the turn), a person who talks for a while (`barge_in_s` of speech within a second) has the floor:
`on_barge_in` is called once, from the source's thread, and the device stops talking
(voicecheck.duplex); the turn then hears the answer out. The question itself is never cut — an
answer to the urgent-signs question given after its first items would not have heard the rest —
so an answer given over it is heard out after it, as above.

Nobody answers a prompt before hearing it: speech that began less than `EARLIEST_ANSWER_S` after
the prompt did (or before it) is the person going on with what they were saying — most often the
rest of the last answer, after the device replied to its first part — and is never taken as the
answer to this prompt; the turn hears it out and then waits for the answer (`TurnResult.went_on`).

After a turn that ended in a pause — early on a complete first part, or after the full silence —
`rest_of_answer` hears the rest of the answer when the person goes on with it while the device
replies (voicecheck.listening.rest_of_answer).

It works on any frame source: the microphone (voicecheck.duplex), a Wyoming satellite's audio
stream, or frames pushed by a test.
"""
from __future__ import annotations

import threading
from collections import deque
from dataclasses import dataclass, replace
from typing import Callable

import numpy as np

from voicecheck.listening.detector import FrameVerdict, SpeechDetector
from voicecheck.listening.echo import EchoGate
from voicecheck.listening.endpointer import EndpointConfig, Endpointer, Utterance, background_above
from voicecheck.listening.frames import FRAME_S
from voicecheck.listening.rest_of_answer import hear_rest, still_one_answer_until_s


class SourceStopped(Exception):
    """The frame source ended or stalled (the message says which)."""


@dataclass(frozen=True)
class TurnResult:
    """What one turn found: the answer, and whether it was given before the device stopped."""

    utterance: Utterance
    early: bool = False  # the answer began while the device was still talking
    candidates: int = 0  # answers found in the look-back (the last one counts)
    barged_in: bool = False  # the person talked over the choices and the device stopped
    went_on: float = 0.0  # seconds of speech begun before the prompt could be heard (not taken as the answer)
    # When nothing was taken (timed out): what the microphone heard over the turn, from the frames'
    # verdicts (levels only, no sound), so a turn that heard "nothing" after someone spoke can be
    # looked into: seconds Silero heard a voice, seconds of it kept under the room's or the echo's
    # bar, the loudest such frame and the room's background at the end (dBFS).
    not_heard: dict[str, float] | None = None
    # The source lost sound during the answer (a hiccup of the sound card: half a second or more of
    # the person's voice never arrived), so what was heard may be only part of what was said.
    sound_lost: bool = False


# Lost sound this soon before an answer began may have held its first words.
LOST_BEFORE_ANSWER_S = 1.0

# The person has the floor after this much speech within BARGE_IN_WINDOW_S: longer than a 「はい」
# or a filler like 「えっと」 (a short answer over the choices is still heard out after them), short
# enough that the device stops within about a second of someone starting to answer.
BARGE_IN_S = 0.6
BARGE_IN_WINDOW_S = 0.9
TALK_HOLD_FRAMES = round(0.6 / FRAME_S)  # a pause between words shorter than this is still talk
# Speech beginning within this time of a prompt's start cannot be a reply to it (hearing the first
# words and starting to answer takes longer): it goes on from before — after a complete first part
# the device replies in a 0.8 s pause, and the rest of that answer may follow over the next question.
EARLIEST_ANSWER_S = 1.0


def feed_judged(endpointer: Endpointer, frame: np.ndarray, verdict: FrameVerdict) -> None:
    """One frame, judged already, to a turn's endpointer. In a quiet room with the whole verdict, so
    that the onset hold and a faint last syllable (voicecheck.listening.endpointer) act as on every
    other path; with a steady background (a TV) without them: there, behind the echo canceller,
    Silero hears hardly any voice in the TV, so the TV's own voices passed as faint frames and the
    replies came later (live, 2026-11-29, two TV runs each: p50 1.46 / 1.48 s, p95 1.50 / 1.52 s with
    them, 1.40 / 1.38 s and 1.50 / 1.49 s without; the quiet runs were unchanged). The endpointing
    bench feeds its frames through here too, so that it measures the rules the device uses."""
    if background_above(verdict.background_db, endpointer.config.noisy_room_dbfs):
        endpointer.feed(frame, verdict.speech, verdict.level_db)
    else:
        endpointer.feed(frame, judged=verdict)


class LiveListener:
    def __init__(self, detector: SpeechDetector | None = None, echo: EchoGate | None = None,
                 keep_s: float = 180.0, stall_s: float = 5.0, barge_in_s: float = BARGE_IN_S) -> None:
        self.detector = detector or SpeechDetector()
        self.echo = echo or EchoGate()
        self.stall_s = stall_s
        self._frames: deque[tuple[np.ndarray, FrameVerdict]] = deque(maxlen=max(10, round(keep_s / FRAME_S)))
        self._first = 0  # index of the oldest kept frame
        self._count = 0  # frames pushed so far (the stream clock: index × 30 ms)
        self._changed = threading.Condition()
        self._stopped: str | None = None
        self._window_start = 0  # where the look-back of the next turn may begin
        self._window_marked = False  # a prompt that can be answered began since the last turn
        self._last_say = 0  # where the device's latest phrase began
        self._playing_until = 0  # frame index where the last reference ends
        # Where the source is right now, in frames. The frames are judged a little later than they
        # are captured (on a busy machine, up to seconds later): the device's voice must be placed
        # by the capture clock, or its echo arrives "after" the reference and passes for the person.
        self.capture_clock: Callable[[], int] | None = None
        # Whether a source that has gone quiet may still come back (a sound card being opened again
        # after it stopped): the turn waits on for it rather than ending the session after stall_s.
        self.source_coming_back: Callable[[], bool] | None = None
        # Barge-in: called once (from the source's thread) when the person talks over the choices.
        self.on_barge_in: Callable[[], None] | None = None
        self.barge_in_frames = max(1, round(barge_in_s / FRAME_S))
        self._may_barge_in = False  # the device is reading the choices of a question
        self._recent_speech: deque[bool] = deque(maxlen=max(self.barge_in_frames, round(BARGE_IN_WINDOW_S / FRAME_S)))
        self.barged_in = False  # the person took the floor since the last turn began
        # From a barge-in until the device's next phrase the microphone hears the person over the
        # echo's tail: the gate must not learn that as the echo's level (it would then gate out
        # the rest of the very answer that stopped the device).
        self._floor_taken = False
        self._talking_until = 0  # frame index until which the person counts as still talking
        self._last_answer: Utterance | None = None  # the last turn's answer, when it ended in a pause
        # Frame index until which the person going on with that answer stops the device (its reply
        # to the first part): `watch_for_rest`.
        self._rest_watch_until = 0
        self._sound_lost_at: deque[int] = deque(maxlen=64)  # frame indices where sound went missing

    # ---------------------------------------------------------------- the source's side

    def sound_lost(self) -> None:
        """Sound went missing before the next frame (a hiccup of the sound card: voicecheck.duplex):
        an answer heard across this point may lack words (see TurnResult.sound_lost)."""
        with self._changed:
            self._sound_lost_at.append(self._count)

    def _lost_within(self, start: int, end: int) -> bool:
        """Whether sound went missing between frames `start` and `end` (an index where it went
        missing lies in start < i <= end: frames were heard on both sides of it or up to it)."""
        with self._changed:
            return any(start < lost <= end for lost in self._sound_lost_at)

    def push(self, frame: np.ndarray, played: np.ndarray | None = None) -> FrameVerdict:
        """One 30 ms frame from the source; judged now (call from one thread only). `played`: what
        the loudspeaker was given in the same sound-card callback, when the source knows it
        (voicecheck.duplex_stream) — then that is the echo's reference, not `device_plays`."""
        index = self._count
        if played is not None:
            self.echo.played_frame(index, played)
            if float(np.max(np.abs(played))) > 0.0:
                self._playing_until = index + 1
        echo_db = self.echo.echo_db(index)
        # While the person talks, their voice must not become the room's background (the endpointer
        # holds it during a turn; an answer given over the device comes before any turn): else
        # after a second or two the bar rises to the voice itself and the rest of the answer is lost.
        self.detector.hold(index < self._talking_until)
        verdict = self.detector.judge(frame, echo_db)
        if verdict.speech:
            self._talking_until = index + 1 + TALK_HOLD_FRAMES
        # Only the device's echo teaches the gate how loud the echo is (EchoGate.learn).
        self.echo.learn(index, verdict.level_db, person=self._floor_taken or verdict.speech)
        self._watch_for_barge_in(verdict, index)
        with self._changed:
            if len(self._frames) == self._frames.maxlen:
                self._first += 1
            self._frames.append((frame, verdict))
            self._count += 1
            self._changed.notify_all()
        return verdict

    def _watch_for_barge_in(self, verdict: FrameVerdict, index: int) -> None:
        if not (self._may_barge_in or index < self._rest_watch_until) or self.on_barge_in is None:
            self._recent_speech.clear()
            return
        self._recent_speech.append(verdict.speech)
        if sum(self._recent_speech) >= self.barge_in_frames:
            self._may_barge_in = False
            self._rest_watch_until = 0
            self.barged_in = self._floor_taken = True
            self._recent_speech.clear()
            try:
                self.on_barge_in()
            except Exception:  # noqa: BLE001 - the device goes on talking; the answer is still heard out
                pass

    def stop(self, reason: str = "the sound stopped") -> None:
        with self._changed:
            self._stopped = reason
            self._changed.notify_all()

    @property
    def person_talking(self) -> bool:
        """The person has been talking within the last moment (or has the floor after a barge-in)."""
        return self._floor_taken or self._count < self._talking_until

    @property
    def now_s(self) -> float:
        return self._count * FRAME_S

    # ---------------------------------------------------------------- the device's side

    def _position(self) -> int:
        return max(self._count, self.capture_clock()) if self.capture_clock is not None else self._count

    def device_plays(self, samples: np.ndarray, rate: int) -> None:
        """The device is about to play these samples (its own voice, the tone)."""
        at = self._position()
        self.echo.playing(samples, rate, at)
        self._playing_until = max(self._playing_until, at + round(len(samples) / rate / FRAME_S))
        self._playing_level = float(10 * np.log10(max(float(np.mean(np.square(samples, dtype=np.float64))), 1e-12))) \
            + 6.0 if len(samples) else -120.0

    def device_played(self) -> None:
        """The device's playback call returned (it may have taken longer than the sound lasts)."""
        self.echo.played_until(self._position(), getattr(self, "_playing_level", -120.0))

    def phrase_starts(self, opens_answer: bool = False) -> None:
        """The device begins a phrase. `opens_answer`: a question or a hint — from here on, what the
        person says may answer the next turn. Without such a phrase, only what is said from the
        start of the device's last phrase on is looked back at (a confirmation, an offer)."""
        position = self._position()
        # The choices (said after the question, before its turn) may be talked over; the question
        # itself, a hint, a read-back or anything else may not.
        self._may_barge_in = self._window_marked and not opens_answer
        self._floor_taken = False
        if opens_answer:
            self._window_start = position
            self._window_marked = True
        self._last_say = position

    # ---------------------------------------------------------------- a turn

    def _frame(self, index: int) -> tuple[np.ndarray, FrameVerdict]:
        with self._changed:
            while index >= self._count:
                if self._stopped:
                    raise SourceStopped(self._stopped)
                if not self._changed.wait(timeout=self.stall_s):
                    if self.source_coming_back is not None and self.source_coming_back():
                        continue  # the sound card is being opened again (voicecheck.duplex_stream)
                    raise SourceStopped(f"no sound for {self.stall_s:.0f} seconds")
            index = max(index, self._first)
            return self._frames[index - self._first]

    def listen(self, config: EndpointConfig, *, look_back: bool = True, grace_s: float = 2.0,
               on_waiting: Callable[[], None] | None = None,
               after_frame: Callable[[Endpointer], None] | None = None,
               earliest_answer_s: float | None = EARLIEST_ANSWER_S) -> TurnResult:
        """One answer (see the module docstring). The no-answer timeout counts from this call.
        `after_frame` sees the endpointer after every frame heard live (the answer heard in its
        pauses: voicecheck.listening.early_end). `earliest_answer_s`: speech begun before this much
        of the prompt has been heard is not its answer; None takes speech whenever it began (the
        coach's 「やめて」)."""
        now = self._count
        if not look_back:
            start = now
        elif self._window_marked:
            start = self._window_start
        else:
            start = max(self._window_start, self._last_say)
        # Where the prompt this turn answers began, when the look-back starts at one.
        prompt_at = start if (look_back and earliest_answer_s is not None
                              and (self._window_marked or start == self._last_say)) else None
        start = first_index = max(self._first, start)

        def too_soon(onset_s: float) -> bool:  # began before the prompt could be heard
            return prompt_at is not None and onset_s < prompt_at * FRAME_S + earliest_answer_s
        self._window_marked = False
        self._may_barge_in = False  # the device has finished talking: this is the turn
        barged_in, self.barged_in = self.barged_in, False
        endpointer = Endpointer(config, self.detector, start_at_s=start * FRAME_S)
        candidate: Utterance | None = None
        candidates = 0
        went_on = 0.0
        index = start
        while index < now:  # look back: answers given while the device talked
            frame, verdict = self._frame(index)
            feed_judged(endpointer, frame, verdict)
            index += 1
            if endpointer.done:
                utterance = endpointer.finish()
                if not utterance.timed_out and too_soon(utterance.onset_s):
                    went_on += utterance.speech_s
                elif not utterance.timed_out:
                    candidate, candidates = utterance, candidates + 1
                endpointer = Endpointer(config, self.detector, start_at_s=index * FRAME_S)
        early = endpointer.state == Endpointer.SPEAKING and not too_soon(endpointer.origin_s + endpointer.onset_s)
        if endpointer.state == Endpointer.WAITING:
            self._wait_for_answer(endpointer, config, candidate is not None, grace_s, on_waiting)
        while True:
            while not endpointer.done:
                frame, verdict = self._frame(index)
                feed_judged(endpointer, frame, verdict)
                index += 1
                if after_frame is not None:
                    after_frame(endpointer)
            utterance = endpointer.finish()
            if utterance.timed_out or not too_soon(utterance.onset_s):
                break
            # Still going on from before the prompt: heard out, not taken; now the answer itself.
            went_on += utterance.speech_s
            endpointer = Endpointer(config, self.detector, start_at_s=index * FRAME_S)
            self._wait_for_answer(endpointer, config, candidate is not None, grace_s, on_waiting)
        self._window_start = index
        self._last_answer = utterance if utterance.ended_in_a_pause else None
        if utterance.timed_out and candidate is not None:
            return TurnResult(candidate, early=True, candidates=candidates, barged_in=barged_in, went_on=went_on,
                              sound_lost=self._lost_during(candidate, index))
        return TurnResult(utterance, early=early, candidates=candidates + (0 if utterance.timed_out else 1),
                          barged_in=barged_in, went_on=went_on,
                          not_heard=self._heard_between(first_index, index) if utterance.timed_out else None,
                          sound_lost=self._lost_during(None if utterance.timed_out else utterance, index, first_index))

    def _lost_during(self, answer: Utterance | None, end: int, turn_start: int = 0) -> bool:
        """Whether sound went missing while `answer` was said (or just before it began: its first
        words may have been in the gap) — or, when nothing was heard (None), at any time in the
        turn: the whole answer may have been said into the gap."""
        if answer is None:
            return self._lost_within(turn_start, end)
        began = max(0, round((answer.onset_s - LOST_BEFORE_ANSWER_S) / FRAME_S))
        return self._lost_within(began, round(answer.ended_at_s / FRAME_S))

    def _heard_between(self, start: int, end: int) -> dict[str, float]:
        """What the frames [start, end) held, by their verdicts (see TurnResult.not_heard)."""
        with self._changed:
            verdicts = [v for i, (_, v) in enumerate(self._frames, self._first) if start <= i < end]
        voiced = [v for v in verdicts if v.voiced and v.level_db >= self.detector.config.floor_dbfs]
        under_bar = [v for v in voiced if not v.speech]
        background = next((v.background_db for v in reversed(verdicts) if v.background_db is not None), None)
        summary = {"voice_s": round(len(voiced) * FRAME_S, 2), "voice_under_bar_s": round(len(under_bar) * FRAME_S, 2)}
        if under_bar:
            summary["loudest_under_bar_db"] = round(max(v.level_db for v in under_bar), 1)
        if background is not None:
            summary["background_db"] = round(background, 1)
        return summary

    def watch_for_rest(self, config: EndpointConfig) -> None:
        """The device is about to reply to the last answer (acknowledge it, read it back or ask
        again): until the rest of it could no longer begin, the person going on with it stops the device (as a barge-in does), so the rest is not
        said under the device's voice (where the echo canceller takes much of it out)."""
        if self._last_answer is not None:
            until = still_one_answer_until_s(self._last_answer, config)
            self._rest_watch_until = round(until / FRAME_S) + self._recent_speech.maxlen

    def rest_of_answer(self, config: EndpointConfig, *,
                       after_frame: Callable[[Endpointer], None] | None = None) -> TurnResult | None:
        """After a turn whose answer ended in a pause (early, on a complete first part, or after
        the full silence): the whole answer when the person went on with it, else None
        (voicecheck.listening.rest_of_answer). Call it after the device's reply and before its next
        prompt; it waits only until the rest could have begun."""
        first, self._last_answer = self._last_answer, None
        if first is None:
            return None
        start = round(first.ended_at_s / FRAME_S)
        try:
            result = self._hear_rest(first, start, config, after_frame)
            # Whether the person's going on stopped the device's acknowledgement (for the record).
            return replace(result, barged_in=self.barged_in) if result is not None else None
        finally:
            # The watch is over; a stop it caused belongs to this answer, not to the next turn.
            self._rest_watch_until = 0
            self.barged_in = False

    def _hear_rest(self, first: Utterance, start: int, config: EndpointConfig,
                   after_frame: Callable[[Endpointer], None] | None) -> TurnResult | None:

        def judged_frames():
            index = start
            while True:
                frame, verdict = self._frame(index)
                index += 1
                yield frame, verdict.speech

        # Where the device's reply to the first part stopped sounding (it has been played by now).
        device_until_s = self._playing_until * FRAME_S if self._playing_until > start else None
        whole = hear_rest(judged_frames(), first, config, self.detector, after_frame, device_until_s)
        if whole is None:
            return None
        self._window_start = max(self._window_start, round(whole.ended_at_s / FRAME_S))
        self._last_answer = whole  # it ended in a pause too (voicecheck.conversation asks no more of it)
        return TurnResult(whole, candidates=1, sound_lost=self._lost_during(whole, round(whole.ended_at_s / FRAME_S)))

    @staticmethod
    def _wait_for_answer(endpointer: Endpointer, config: EndpointConfig, have_candidate: bool,
                         grace_s: float, on_waiting: Callable[[], None] | None) -> None:
        """From now on the endpointer waits the no-answer timeout for an answer (its pre-roll keeps
        the last half second heard) — or only `grace_s` when an answer was already found in the
        look-back (a correction may follow)."""
        waited = endpointer.elapsed_s
        endpointer.config = replace(config, no_answer_timeout_s=waited + (grace_s if have_candidate
                                                                          else config.no_answer_timeout_s))
        if not have_candidate and on_waiting is not None:
            on_waiting()

    # ---------------------------------------------------------------- for the Ears

    def speaking_until_s(self) -> float:
        return self._playing_until * FRAME_S
