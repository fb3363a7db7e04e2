"""The device's own voice at the microphone: how loud it can be, frame by frame.

When the device speaks, its loudspeaker reaches its own microphone. What it plays is known
(the reference signal), so the listening layer knows when, and roughly how loud, its own voice
arrives: the loudest reference frame of the last `delay_s` (the sound card's output and input
latency, plus the room's reverberation) plus the coupling — how much louder or softer the
loudspeaker is at the microphone than in the file, learned while the device talks.

A frame then counts as the person only when it is clearly louder than that echo
(SpeechDetector's `above_echo_db`). This is reference-signal gating, not cancellation: it
cannot pick a soft voice out from under the device's loud one, but it never mistakes the
device for the person, and the moment the device pauses between sentences, or stops, the
person is heard again — which is what keeps answers given early.
"""
from __future__ import annotations

from collections import deque

import numpy as np

from voicecheck.listening.frames import FRAME_S, SAMPLE_RATE, frames_of, level_db

SILENT_DB = -120.0
WARY_COUPLING_FLOOR_DB = 0.0  # while wary: the device's voice may reach the microphone as loud as the file


class EchoGate:
    def __init__(self, delay_s: float = 1.2, initial_coupling_db: float = 0.0, loud_reference_db: float = -45.0,
                 learn_frames: int = 300, sounding_tail_s: float = 2.0, coupling_floor_db: float | None = None,
                 sustained_frames: int = 4, residue_allowance_db: float = 4.0, sustained_clearance_db: float = 6.0) -> None:
        self.delay_frames = max(1, round(delay_s / FRAME_S))
        self.coupling_db = initial_coupling_db  # until learnt: assume the echo is as loud as the file
        # Behind an echo canceller the learnt coupling is very low (−30 dB), but the canceller lets
        # bursts of the device's voice through at loud onsets, 10–15 dB above its usual residue
        # (measured: −29 dBFS against −41 expected). The floor keeps the gate from trusting the
        # average: while the device talks, only a voice at most `-coupling_floor_db` dB under the
        # file's level (plus the detector's margin) counts as the person.
        self.coupling_floor_db = coupling_floor_db
        # … but the bursts are short, and the person's voice lasts. Once the microphone has stood
        # `sustained_clearance_db` over the canceller's own learnt residue (plus `residue_allowance_db`)
        # for `sustained_frames` frames in a row, that is not a burst: the floor gives way to the learnt
        # residue plus the allowance, for as long as the run goes on. A burst that lasts longer than
        # the run is then still judged by the voice detector and the endpointer's start rule.
        self.sustained_frames = sustained_frames
        self.residue_allowance_db = residue_allowance_db
        self.sustained_clearance_db = sustained_clearance_db
        self._sustained_run = 0  # frames in a row clearly over the learnt residue
        self.exact = False  # the reference comes frame by frame from the sound card (played_frame)
        self.loud_reference_db = loud_reference_db
        self._reference: dict[int, float] = {}  # frame index → level of what was played
        self._differences: deque[float] = deque(maxlen=learn_frames)
        self.learnt = False
        # A second, alignment-free estimate: the microphone's own level while the device sounds.
        # Sound cards and busy machines shift the echo against the reference by unknown amounts;
        # the loud end of what the microphone heard during the last seconds of the device's
        # speech is the device's voice, whatever the shift.
        self.sounding_frames = max(1, round(sounding_tail_s / FRAME_S))
        self._sounding_levels: deque[float] = deque(maxlen=max(10, round(3.0 / FRAME_S)))
        self._wary_saved: tuple[float | None, int] | None = None  # the settings `be_wary` set aside

    def be_wary(self, window_frames: int) -> None:
        """The echo's delay is unknown again (a hiccup of the sound card: voicecheck.duplex): allow
        for the device's voice as loud as the file anywhere in the last `window_frames`, and take
        no sustained sound under it for the person — that rule trusts a canceller that has shown
        it works (live, after a hiccup, the uncancelled echo ran on 4 frames over the residue learnt
        before, and the device's own 「3番、ほぼ毎日」 was taken as the answer). `settle` ends it."""
        if self._wary_saved is None:
            self._wary_saved = (self.coupling_floor_db, self.sustained_frames)
        self.coupling_floor_db, self.sustained_frames = WARY_COUPLING_FLOOR_DB, 0
        self._sustained_run = 0
        self.delay_frames = window_frames

    def settle(self) -> None:
        """The echo is lined up and cancelled again: back to the gate as it was set."""
        if self._wary_saved is not None:
            self.coupling_floor_db, self.sustained_frames = self._wary_saved
            self._wary_saved = None

    @property
    def wary(self) -> bool:
        return self._wary_saved is not None

    def playing(self, samples: np.ndarray, rate: int, at_frame: int) -> None:
        """The device starts playing `samples` now (the microphone's frame counter is at `at_frame`)."""
        from voicecheck.audio import resample

        mono = resample(np.asarray(samples, dtype=np.float32), rate, SAMPLE_RATE)
        for offset, frame in enumerate(frames_of(mono)):
            index = at_frame + offset
            self._reference[index] = max(self._reference.get(index, SILENT_DB), level_db(frame))

    def played_frame(self, index: int, frame: np.ndarray) -> None:
        """The loudspeaker was given `frame` in the same sound-card callback that captured microphone
        frame `index` (voicecheck.duplex_stream): the reference exactly, no guessing where it falls."""
        self._reference[index] = max(self._reference.get(index, SILENT_DB), level_db(frame))
        # The reference is exact now: the alignment-free estimate below is not needed, and it would
        # hurt — its 2 s tail after the device stops learns the *person's* level as the echo's and
        # then gates out the very answer it follows (measured: an answer 0.5 s after the turn tone
        # was never heard).
        self.exact = True

    def played_until(self, end_frame: int, level_db: float) -> None:
        """Playback returned only at `end_frame` (a slow or stalled sound card stretches it):
        the echo may arrive until then, as loud as the piece was."""
        last = max(self._reference) if self._reference else end_frame
        for index in range(last + 1, end_frame + 1):
            self._reference[index] = level_db

    def reference_db(self, index: int) -> float | None:
        """The loudest reference frame that can still be arriving at frame `index`, or None."""
        levels = [self._reference[i] for i in range(index - self.delay_frames, index + 1) if i in self._reference]
        return max(levels) if levels else None

    def sounding(self, index: int) -> bool:
        """Can the device's voice be at the microphone in frame `index` (generous on both sides)?"""
        return any(i in self._reference and self._reference[i] > SILENT_DB
                   for i in range(index - self.sounding_frames, index + self.delay_frames + 1))

    def _residue_db(self, reference: float) -> float | None:
        """Behind a canceller that has learnt its residue: the echo allowed for a sustained sound."""
        if self.coupling_floor_db is None or not self.learnt or self.sustained_frames <= 0:
            return None
        return reference + self.coupling_db + self.residue_allowance_db

    def echo_db(self, index: int) -> float | None:
        reference = self.reference_db(index)
        coupling = self.coupling_db if self.coupling_floor_db is None else max(self.coupling_db, self.coupling_floor_db)
        if reference is not None and reference > SILENT_DB and self._sustained_run >= self.sustained_frames:
            residue = self._residue_db(reference)
            if residue is not None:  # never above the floor's level: it only ever lowers the gate
                coupling = min(coupling, residue - reference)
        aligned = reference + coupling if reference is not None and reference > SILENT_DB else None
        if self.exact or not self.sounding(index):
            return aligned
        heard = float(np.percentile(np.fromiter(self._sounding_levels, float), 90)) \
            if len(self._sounding_levels) >= 5 else None
        candidates = [v for v in (aligned, heard) if v is not None]
        return max(candidates) if candidates else None

    def _echo_has_arrived(self, index: int) -> bool:
        """The device was loud a whole echo window ago: its echo must be at the microphone by now.
        (At a session's start, learning from the frames before a late echo arrives took the coupling
        for 15–20 dB lower than it was — measured with a 0.5 s loudspeaker delay, and the gate then
        let the still uncancelled echo through as an answer.)"""
        earlier = self.reference_db(index - self.delay_frames)
        return earlier is not None and earlier >= self.loud_reference_db

    def learn(self, index: int, microphone_db: float, person: bool = False) -> None:
        """Learn the coupling from a frame heard while the device was loud (call for every frame).
        `person`: the frame was judged the person's voice, or the person has the floor (a
        barge-in): it keeps the sustained run going but does not teach the echo's level — else a
        person talking over the device raises the bar to their own voice and the rest of their
        answer is gated out."""
        reference = self.reference_db(index)
        for old in [i for i in self._reference if i < index - 4 * self.delay_frames - self.sounding_frames]:
            del self._reference[old]
        if self.sounding(index):
            self._sounding_levels.append(microphone_db)
        residue = self._residue_db(reference) if reference is not None and reference > SILENT_DB else None
        if residue is not None and microphone_db >= residue + self.sustained_clearance_db:
            self._sustained_run += 1
        else:
            self._sustained_run = 0
        if person or reference is None or reference < self.loud_reference_db:
            return
        if not self.learnt and not self._echo_has_arrived(index):
            return  # the first echo may still be on its way: its silence is no measure of the coupling
        self._differences.append(microphone_db - reference)
        if len(self._differences) >= 30:
            # The 90th percentile: the echo at its loudest relative to the file.
            self.coupling_db = float(np.percentile(np.fromiter(self._differences, float), 90))
            self.learnt = True
