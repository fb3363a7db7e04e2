"""Is the person speaking in this frame? A voice detector, the background level and the echo.

A frame counts as the person's speech when
  1. the voice detector hears a voice in it (Silero VAD by default, webrtcvad as a fallback),
  2. it is louder than the absolute floor (-50 dBFS: hiss and far-away sound never count),
  3. it stands `above_background_db` over the steady background (the TV across the room), and
  4. it stands `above_echo_db` over what the device's own voice brings to the microphone
     while it speaks (voicecheck.listening.echo gives that level per frame).

A frame that misses 3 only because it is too close to the background is `faint` speech when the
background has no voice in it (a fan, pink noise, instrumental music: Silero hears a voice in
under `voiceless_background_share` of it), Silero is sure of the frame and it stands
`above_voiceless_background_db` over the background: a quiet last syllable. The endpointer lets
it carry an answer on across a short dip, never start or resume one.
"""
from __future__ import annotations

from collections import deque
from dataclasses import dataclass

import numpy as np

from voicecheck.listening.background import BackgroundLevel
from voicecheck.listening.frames import level_db
from voicecheck.listening.vad import SileroVoiceActivity, WebrtcVoiceActivity


@dataclass(frozen=True)
class DetectorConfig:
    vad: str = "silero"  # silero | webrtc
    silero_threshold: float = 0.5
    # Silero hardly reacts to a short hummed うん (a common "yes"); webrtcvad does. A frame that
    # Silero finds at least a little voice-like and webrtcvad calls speech counts as voiced.
    silero_with_webrtc: float = 0.15
    floor_dbfs: float = -50.0
    above_background_db: float = 6.0  # at least this far above the background …
    above_spread: float = 1.25  # … and this many times the background's own swing (spread_db)
    # Where Silero hears no voice in the background itself, its verdict on a frame can be trusted
    # much closer to the background (a `faint` frame, see the module doc). With pink noise or music 10 dB under an older voice, a quiet
    # last syllable (「…ですか」) stood 3–5 dB over the background with Silero at 0.8: refused by the
    # 6 dB bar, its pause was heard 0.5 s longer than it was and two-part answers were cut in a
    # 1.1 s pause (bench voices, dev part). Under a TV's talk Silero hears a voice almost always
    # (0.93–1.0 of every 4 s of the babble track, against 0 of pink noise and of the music track),
    # so there the full bar stays. Live, behind the echo canceller, it hears hardly any voice in the
    # bench's TV (babble with music), so there faint frames occur too: taken as speech anywhere, a
    # burst of the TV's voice in a pause was taken as the person going on (a reply 2.5 s late), so
    # faint frames only carry an answer on (voicecheck.listening.endpointer; the one-stream live
    # listener does not pass them to it yet, see voicecheck.listening.live).
    voiceless_background_share: float = 0.1
    above_voiceless_background_db: float = 3.0
    # Levels are measured over this many frames (power mean): a crowd's syllables come and go
    # within 30 ms, a person's own voice lasts; 120 ms evens out the crowd, not the person.
    level_frames: int = 4
    above_echo_db: float = 6.0
    background_window_s: float = 4.0
    background_percentile: float = 20.0


@dataclass(frozen=True)
class FrameVerdict:
    speech: bool
    voiced: bool  # the voice detector's own verdict, before the level tests
    level_db: float
    background_db: float | None
    loud: bool = False  # clears the floor, the background and the echo, voice or not (or is faint)
    faint: bool = False  # a voice Silero is sure of, too close to a background with no voice in it


class SpeechDetector:
    """Frame-by-frame verdicts with state (the VAD's memory, the background). One per audio source."""

    def __init__(self, config: DetectorConfig | None = None, vad=None) -> None:
        self.config = config or DetectorConfig()
        if vad is None:
            vad = self._default_vad()
        self.vad = vad
        self._webrtc = WebrtcVoiceActivity(floor_dbfs=self.config.floor_dbfs) \
            if isinstance(vad, SileroVoiceActivity) else None
        self.background = BackgroundLevel(self.config.background_window_s, self.config.background_percentile)
        # The room under the device's voice: what the echo canceller leaves of it while the device
        # talks. Used only while `background` is not known yet (see `_background_now`).
        self.under_voice = BackgroundLevel(self.config.background_window_s, self.config.background_percentile)
        self.last: FrameVerdict | None = None
        self._powers: deque[float] = deque(maxlen=max(1, self.config.level_frames))

    def _default_vad(self):
        if self.config.vad == "silero":
            try:
                return SileroVoiceActivity(self.config.silero_threshold)
            except (ImportError, FileNotFoundError, OSError):
                pass  # no onnxruntime or no model file: webrtcvad still works
        return WebrtcVoiceActivity(floor_dbfs=self.config.floor_dbfs)

    def judge(self, frame: np.ndarray, echo_db: float | None = None) -> FrameVerdict:
        self._powers.append(10 ** (level_db(frame) / 10.0))
        level = 10.0 * float(np.log10(max(sum(self._powers) / len(self._powers), 1e-12)))
        sure = None  # Silero's own verdict, before webrtcvad's help (None: no Silero)
        if self._webrtc is not None:
            probability = self.vad.probability(frame)
            sure = probability >= self.config.silero_threshold
            voiced = sure or (probability >= self.config.silero_with_webrtc and self._webrtc.is_speech(frame))
        else:
            voiced = bool(self.vad.is_speech(frame))
        known = self._background_now()
        background = known.level_db if known is not None else None
        # Until the background is known (the first half second of a fresh source), nothing counts as
        # the person: with the TV on, its voices would open an "answer" that the TV then keeps open.
        # The endpointer's pre-roll keeps the half second, so an answer that began at once keeps its start.
        loud_enough = level >= self.config.floor_dbfs and background is not None
        faint = False
        if background is not None:
            margin = max(self.config.above_background_db, self.config.above_spread * known.spread_db)
            faint = (loud_enough and bool(sure) and level < background + margin and self._voiceless(known)
                     and level >= background + self.config.above_voiceless_background_db)
            loud_enough = loud_enough and level >= background + margin
        if echo_db is not None:
            over_echo = level >= echo_db + self.config.above_echo_db
            loud_enough, faint = loud_enough and over_echo, faint and over_echo
        verdict = FrameVerdict(voiced and loud_enough, voiced, level, background, loud_enough or faint, faint)
        if echo_db is None or level > echo_db + self.config.above_echo_db:
            # While the device talks its own voice is not background (it stops when the device
            # stops), but what stands clearly over it is (a TV).
            self.background.update(level, sure)
        elif not voiced:
            self.under_voice.update(level)  # its frames are voiceless by choice: no voice share
        self.last = verdict
        return verdict

    def _voiceless(self, known: BackgroundLevel) -> bool:
        """True when Silero hears a voice in hardly any of the background (not a TV's talk)."""
        share = known.voice_share
        return share is not None and share <= self.config.voiceless_background_share

    def _background_now(self) -> BackgroundLevel | None:
        """The background a frame is judged against: the room's, else (not known yet) the room
        under the device's voice, else None.

        Measured live: when the sound card ran short, the echo gate stayed up through the greeting
        and the whole first question, no frame taught the background, and the answer given right
        after the question was learnt as the background itself — and never heard. The frames
        with no voice in them under the device's voice know the room then. They only stand in:
        taught into the background itself, they pulled it down for the whole session (the echo
        canceller's suppressor takes the TV out with the device's voice), and live under the TV
        the device then took 0.1–0.2 s longer to find the end of an answer (reply p50 1.50 s, with
        the stand-in 1.35 s), and more replies came seconds late. (Refusing voiced frames until the background is
        known instead kept it unknown under a TV's babble: ends were no longer found.)"""
        for known in (self.background, self.under_voice):
            if known.level_db is not None:
                return known
        return None

    def is_speech(self, frame: np.ndarray) -> bool:
        return self.judge(frame).speech

    def hold(self, held: bool) -> None:
        """The endpointer's signal that an answer is going on (see BackgroundLevel.hold)."""
        self.background.hold(held)
        self.under_voice.hold(held)
