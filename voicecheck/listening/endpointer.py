"""Where an answer starts and ends, frame by frame.

`Endpointer` is a state machine — waiting → speaking → ended (or timed out) — fed 30 ms frames
from any source. It asks a speech detector about each frame (by default
`SpeechDetector`: Silero VAD + the background level, so the TV does not keep an answer
open) and keeps the frames of the answer, with a little audio from before its start.
"""
from __future__ import annotations

from collections import deque
from dataclasses import dataclass
from typing import TYPE_CHECKING, Callable, Iterable

import numpy as np

from voicecheck.listening.frames import FRAME_S

if TYPE_CHECKING:
    from voicecheck.listening.detector import FrameVerdict

MAX_NO_ANSWER_TIMEOUT_S = 600.0  # "up to minutes": ten minutes is the ceiling


@dataclass(frozen=True)
class EndpointConfig:
    """When an answer starts and ends. Tuned for slow speakers who pause inside an answer.

    An answer ends after `end_silence_s` without speech. Older speakers often stop for a
    second in the middle ("えっと……階段のときです"), so this is longer than the half second
    dictation systems use; a short first sound (a filler, a cough) waits longer still.
    """

    no_answer_timeout_s: float = 20.0  # nobody started speaking within this time
    start_speech_s: float = 0.12  # this much speech within `start_window_s` starts an answer
    start_window_s: float = 0.3
    end_silence_s: float = 1.3  # silence that ends an answer
    end_silence_after_short_s: float = 2.0  # … when less than `short_speech_s` has been said
    short_speech_s: float = 0.35
    resume_frames: int = 2  # speech breaks a silence only with this many speech frames in the last 3
    # With a steady background above `noisy_room_dbfs` (a TV), the TV's own syllables pass the
    # detector now and then for 60–90 ms; each such blip began the silence anew, and the reply
    # came 2–2.6 s after the person stopped. There, speech that breaks a silence is taken as the
    # person going on only once the pause's bursts hold `resume_frames_noisy` speech frames in all
    # (a syllable's worth; a voice flickering under the noise adds up); a single shorter burst
    # followed by `burst_gap_frames` of silence is a blip, and the pause before it goes on (its
    # frames counted as neither speech nor silence).
    # Only while the person is clearly louder than the background (their speech frames' median
    # level this far above it; 12 dB: at 9 the held-out 5 dB rooms lost one more answer to a cut
    # with babble and with pink noise): barely above it (5 dB), most of their own words pass the detector
    # as short bursts too, and treating those as blips cut answers.
    noisy_room_dbfs: float | None = -50.0
    blips_below_voice_db: float = 12.0
    resume_frames_noisy: int = 4
    # Under a TV's talk (a background Silero hears a voice in at least `talk_background_share` of,
    # voicecheck.listening.background) the person needs to be only this far above it: there the
    # TV's own voices pass the detector after the person has stopped, in bursts of 90–120 ms, and at
    # 10 dB a person's voice stands 10–12 dB over the background, so each burst began the pause anew
    # (bench voices, dev part, babble 10 dB: 52 of 1106 ends came late, most of them so; with 10 dB
    # here 25, and at 5 dB, where the voice stands closer, nothing changes: one more cut in each).
    talk_background_share: float = 0.5
    blips_below_voice_db_under_talk: float = 10.0
    burst_gap_frames: int = 3
    # A sound clearly over the room but not (yet) heard as a voice, just as a pause would end, holds
    # the end this long at most: a voice's first consonant (「ふ」「ち」) comes 60–120 ms before the
    # detector hears the voice in it. Without the hold, older voices that went on after a 1.1 s
    # pause were cut in quiet (bench voices, dev part). A cough or a door costs this much, once.
    onset_hold_s: float = 0.15
    # A faint voice (voicecheck.listening.detector: a quiet last syllable near a background with no
    # voice in it) carries the answer on only this soon after its last speech — across a dip inside a
    # word, not after a pause, where it may be a voice on the TV — and never starts an answer.
    faint_carries_within_s: float = 0.25
    pre_roll_s: float = 0.5  # audio kept from before the detected start (soft first consonants)
    max_answer_s: float = 30.0  # stop listening to a monologue here

    def __post_init__(self) -> None:
        if not 0 < self.no_answer_timeout_s <= MAX_NO_ANSWER_TIMEOUT_S:
            raise ValueError(
                f"the no-answer timeout must be between 0 and {MAX_NO_ANSWER_TIMEOUT_S:.0f} seconds"
            )
        if self.end_silence_s <= 0 or self.max_answer_s <= 0:
            raise ValueError("end silence and maximum answer length must be positive")


@dataclass(frozen=True)
class Utterance:
    """One answer cut out of a stream of frames."""

    samples: np.ndarray  # 16 kHz mono float32, pre-roll and trailing silence included
    timed_out: bool = False  # no speech started before the no-answer timeout
    speech_s: float = 0.0  # seconds of frames judged as speech
    waited_s: float = 0.0  # stream time until the answer started
    trailing_silence_s: float = 0.0  # silence between the last speech and the cut
    truncated: bool = False  # cut at `max_answer_s` or because the stream ended mid-answer
    started_at_s: float = 0.0  # stream time of the first kept sample (pre-roll included)
    last_speech_at_s: float = 0.0  # stream time of the end of the last speech frame
    ended_at_s: float = 0.0  # stream time when the end was decided
    ended_early: bool = False  # ended in a short pause because the words were a complete answer
    onset_s: float = 0.0  # stream time when the speech began (the pre-roll left out)

    @property
    def ended_in_a_pause(self) -> bool:
        """Ended by a pause (early or after the full silence), not by the no-answer timeout or the
        cap: such an answer may have a rest (voicecheck.listening.rest_of_answer)."""
        return not (self.timed_out or self.truncated)


def background_above(background_db: float | None, limit_db: float | None) -> bool:
    """A known steady background above `limit_db` (None: no limit, never above it) — a noisy room."""
    return limit_db is not None and background_db is not None and background_db > limit_db


def default_detector():
    from voicecheck.listening.detector import SpeechDetector

    return SpeechDetector()


class Endpointer:
    """A frame-by-frame state machine: waiting → speaking → ended (or timed out).

    `detector` is anything with `is_speech(frame) -> bool`; a `SpeechDetector` is also told
    when an answer is going on (it then holds its background estimate). Reusing one detector
    across turns keeps its knowledge of the background.
    """

    WAITING, SPEAKING, ENDED, TIMED_OUT = "waiting", "speaking", "ended", "timed_out"

    def __init__(self, config: EndpointConfig, vad=None, *, start_at_s: float = 0.0) -> None:
        self.config = config
        self.vad = vad if vad is not None else default_detector()
        self._hold = getattr(self.vad, "hold", None)
        self.state = self.WAITING
        self.frame_s = FRAME_S
        self._recent: deque[bool] = deque(maxlen=max(1, round(config.start_window_s / self.frame_s)))
        self._last3: deque[bool] = deque(maxlen=3)
        self._pre_roll: deque[np.ndarray] = deque(maxlen=max(1, round(config.pre_roll_s / self.frame_s)))
        self.kept: list[np.ndarray] = []
        self.origin_s = start_at_s
        self.elapsed_s = 0.0
        self.started_at_s = 0.0
        self.onset_s = 0.0  # elapsed time of the first voiced frame of the answer
        self.last_speech_at_s = 0.0
        self.speech_s = 0.0
        self.silence_s = 0.0
        self.pause_started_at_s = 0.0  # stream time when the current silence began (marks one pause)
        # More silence needed, set from outside while the words say the answer is going on
        # (voicecheck.listening.early_end): 「えっと……」 is not the end of an answer.
        self.extra_silence_s = 0.0
        # Set from outside when the words heard in this pause answer the question, clearly or not: a
        # short 「はい」 is then not waited for as long as a filler or a cough (end_silence_after_short_s).
        self.words_complete = False
        self.ended_early = False  # ended by `end_now` (the answer was already complete)
        # A burst of speech in a pause, in a noisy room, not yet long enough to count: the pause
        # it broke (silence, start) and its speech frames so far (see EndpointConfig).
        self._broken_pause: tuple[float, float] | None = None
        self._burst_frames = 0  # counted over the whole pause: flickering speech adds up, one blip does not
        self._pause_of_bursts = -1.0
        self._voice_levels: list[float] = []  # the answer's speech frames (dBFS), bursts left out
        self._onset_held_s = 0.0  # how long the end of the current pause has been held (onset_hold_s)
        self.truncated = False

    @property
    def done(self) -> bool:
        return self.state in (self.ENDED, self.TIMED_OUT)

    def feed(self, frame: np.ndarray, voiced: bool | None = None, level_db: float | None = None, *,
             judged: FrameVerdict | None = None) -> list[np.ndarray]:
        """Take one frame; return the frames that now belong to the answer (for streaming).

        `voiced` overrides the detector (for callers that judged the frame already), with the
        frame's `level_db` from the same verdict when known (the blip rule needs it). `judged`: the
        whole verdict of a detector that judged the frame already (a FrameVerdict: the live listener
        judges every frame as it arrives), which also gives the onset hold and a faint voice carrying
        an answer on their `loud` and `faint`; without it those act only when the endpointer asks the
        detector itself."""
        if self.done:
            return []
        self.elapsed_s += self.frame_s
        loud = faint = False
        if judged is None and voiced is None:
            voiced = bool(self.vad.is_speech(frame))
            judged = getattr(self.vad, "last", None)
        if judged is not None:
            voiced = bool(judged.speech) if voiced is None else voiced
            level_db = getattr(judged, "level_db", None)
            loud = hasattr(judged, "loud") and (voiced or bool(judged.loud))  # a detector that knows loudness
            faint = bool(getattr(judged, "faint", False))
        if (faint and not voiced and self.state == self.SPEAKING
                and self.silence_s < self.config.faint_carries_within_s - 1e-9):
            voiced = True  # the quiet end of the same words
        if self.state == self.WAITING:
            self._recent.append(voiced)
            self._pre_roll.append(frame)
            if voiced:
                self.last_speech_at_s = self.elapsed_s
            if sum(self._recent) * self.frame_s >= self.config.start_speech_s - 1e-9:
                self.state = self.SPEAKING
                if self._hold:
                    self._hold(True)
                self.started_at_s = self.elapsed_s - len(self._pre_roll) * self.frame_s
                first_voiced = next(i for i, v in enumerate(self._recent) if v)
                self.onset_s = self.elapsed_s - (len(self._recent) - first_voiced) * self.frame_s
                self.speech_s = sum(self._recent) * self.frame_s
                self._last3.extend([True] * 3)
                started = list(self._pre_roll)
                self.kept.extend(started)
                return started
            if self.elapsed_s >= self.config.no_answer_timeout_s - 1e-9:
                self.state = self.TIMED_OUT
            return []
        # speaking
        self.kept.append(frame)
        self._last3.append(voiced)
        if voiced:
            self.speech_s += self.frame_s
            self.last_speech_at_s = self.elapsed_s
            if level_db is not None and self._broken_pause is None:
                self._voice_levels.append(float(level_db))
        if voiced and self._broken_pause is not None:
            self._burst_frames += 1
            if self._burst_frames >= self.config.resume_frames_noisy:
                self._broken_pause = None  # a syllable's worth: the person is going on
            self.silence_s = 0.0
        elif voiced and sum(self._last3) >= self.config.resume_frames:
            if self.silence_s > 0 and self._noisy_room() and self._voice_clear_of_background():
                if self.pause_started_at_s != self._pause_of_bursts:  # a new pause: count afresh
                    self._pause_of_bursts, self._burst_frames = self.pause_started_at_s, 0
                self._burst_frames += sum(self._last3)
                if self._burst_frames < self.config.resume_frames_noisy:
                    self._broken_pause = (self.silence_s, self.pause_started_at_s)
            self.silence_s = 0.0
        elif voiced:
            pass  # a lone voiced frame neither ends a silence nor lengthens it: speech may be resuming
        else:
            if self.silence_s == 0.0:
                self.pause_started_at_s = self.elapsed_s
                self._onset_held_s = 0.0
            self.silence_s += self.frame_s
            if (self._broken_pause is not None
                    and self.silence_s >= self.config.burst_gap_frames * self.frame_s - 1e-9):
                # The burst was a blip (the TV): the pause it broke goes on.
                silence, started = self._broken_pause
                self._broken_pause = None
                self.silence_s, self.pause_started_at_s = silence + self.silence_s, started
        needed = self.extra_silence_s + (
            self.config.end_silence_after_short_s
            if self.speech_s < self.config.short_speech_s and not self.words_complete
            else self.config.end_silence_s
        )
        if self.silence_s >= needed - 1e-9:
            if loud and self._onset_held_s < self.config.onset_hold_s - 1e-9:
                self._onset_held_s += self.frame_s  # perhaps the voice going on: see onset_hold_s
            else:
                self._end()
        elif self.elapsed_s - self.started_at_s >= self.config.max_answer_s - 1e-9:
            self._end()
            self.truncated = True
        return [frame]

    def _noisy_room(self) -> bool:
        return background_above(self.background_db, self.config.noisy_room_dbfs)

    def _under_talk(self) -> bool:
        """The steady background is a TV's talk: Silero hears a voice in most of it."""
        share = getattr(getattr(self.vad, "background", None), "voice_share", None)
        return share is not None and share >= self.config.talk_background_share

    def _voice_clear_of_background(self) -> bool:
        background = self.background_db
        if background is None or not self._voice_levels:
            return False
        clear_by = self.config.blips_below_voice_db_under_talk if self._under_talk() else self.config.blips_below_voice_db
        return float(np.median(self._voice_levels)) - background >= clear_by

    @property
    def background_db(self) -> float | None:
        """The room's steady background as the detector knows it (None: not known, or a detector
        without a background level)."""
        background = getattr(self.vad, "background", None)
        return getattr(background, "level_db", None)

    def end_now(self) -> None:
        """End the answer at once (in a pause, when its words are already a complete answer)."""
        if self.state == self.SPEAKING:
            self.ended_early = True
            self._end()

    def _end(self) -> None:
        self.state = self.ENDED
        if self._hold:
            self._hold(False)

    def finish(self) -> Utterance:
        """The answer so far (call when `done`, or when the input ended)."""
        if self.state == self.SPEAKING:  # the stream stopped while someone was speaking
            self.truncated = True
            self._end()
        samples = np.concatenate(self.kept) if self.kept else np.zeros(0, dtype=np.float32)
        ended = self.state == self.ENDED
        return Utterance(
            samples=samples.astype(np.float32, copy=False),
            timed_out=not ended,
            speech_s=round(self.speech_s, 3),
            waited_s=round(self.started_at_s if ended else self.elapsed_s, 3),
            trailing_silence_s=round(self.silence_s, 3),
            truncated=self.truncated,
            started_at_s=round(self.origin_s + (self.started_at_s if ended else self.elapsed_s), 3),
            last_speech_at_s=round(self.origin_s + self.last_speech_at_s, 3),
            ended_at_s=round(self.origin_s + self.elapsed_s, 3),
            ended_early=self.ended_early,
            onset_s=round(self.origin_s + (self.onset_s if ended else self.elapsed_s), 3),
        )


def capture_utterance(
    frames: Iterable[np.ndarray],
    config: EndpointConfig,
    on_answer_frame: Callable[[np.ndarray], None] | None = None,
    vad=None,
    after_frame: Callable[[Endpointer], None] | None = None,
) -> Utterance:
    """Run frames through an Endpointer until the answer ends, the timeout passes or frames run out.

    `on_answer_frame` receives every frame that belongs to the answer as soon as it is known,
    so a streaming recogniser decodes while the person is still speaking. `after_frame` sees the
    endpointer after every frame and may end the answer early or make it wait longer
    (voicecheck.listening.early_end).
    """
    endpointer = Endpointer(config, vad)
    for frame in frames:
        for kept in endpointer.feed(frame):
            if on_answer_frame is not None:
                on_answer_frame(kept)
        if after_frame is not None:
            after_frame(endpointer)
        if endpointer.done:
            break
    return endpointer.finish()
