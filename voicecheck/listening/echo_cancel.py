"""Taking the device's own voice out of what the microphone hears (acoustic echo cancellation).

When the device listens while it talks, its loudspeaker reaches its microphone. The reference
(what was played, frame for frame on the same sound-card clock: voicecheck.duplex_stream) lets
WebRTC's AEC3 (`pywebrtc-audio`) subtract that echo before anything else hears the sound.
Measured for this project (offline rooms and the PulseAudio virtual room): 18–21 dB less echo
from the first second, about 44 dB once it has heard the device for a few seconds, at about
1 % of one core. Two limits, which is why the level gate (voicecheck.listening.echo) stays
behind it as a back-stop:
- while the device talks loudly, AEC3's suppressor takes most of a person's voice out too
  (double talk): what is left of an answer under the device's voice comes in fragments, and
  only those the gate hears as a sustained voice (voicecheck.listening.echo) count — with the echo
  6 dB under the file's level about 3 of 4 answers over a question's end are noticed, at the
  file's level or louder 1 of 4 (bench/echo_cancel.py); one that runs into a pause of the device
  or past its end is heard from there;
- its delay search reaches about half a second: a loudspeaker with a longer delay (Bluetooth,
  large buffers) is not cancelled. `CancellationMeter` notices that (the echo is not getting
  softer) so the gate behind it goes back to allowing for a late echo.
"""
from __future__ import annotations

from collections import deque

import numpy as np

from voicecheck.listening.frames import FRAME_S, SAMPLE_RATE, level_db


class EchoCanceller:
    """One AEC3 instance for a whole session (it keeps what it learnt of the room between turns)."""

    def __init__(self) -> None:
        import pywebrtc_audio

        self._aec = pywebrtc_audio.EchoCanceller(SAMPLE_RATE, 1)

    def process(self, microphone: np.ndarray, played: np.ndarray) -> np.ndarray:
        """The microphone's frame without the device's echo; `played` is what the loudspeaker was
        given in the same sound-card callback (same length)."""
        cleaned = self._aec.process(np.ascontiguousarray(microphone, dtype=np.float32),
                                    np.ascontiguousarray(played, dtype=np.float32))
        return np.asarray(cleaned, dtype=np.float32)


class CancellationMeter:
    """How much softer the canceller makes the microphone while the device is loud (its ERLE),
    over the last few seconds of the device's speech. Below `working_db` the canceller is taken to
    be not working (a delay beyond its reach: measured 1–2 dB at 1 s against 15–45 dB up to 0.5 s).

    The figure is the median of frame-by-frame reductions, and frames where the person talks are
    left out (`person=True`): a person talking over the device is not cancelled — rightly — and
    an energy average let a few seconds of that pass for a canceller that had stopped working
    (live: after an answer given over the choices, the gate went back to its wide window and
    missed the 「はい」 to the read-back that followed)."""

    def __init__(self, working_db: float = 10.0, loud_db: float = -45.0, memory_s: float = 3.0,
                 settle_s: float = 1.5) -> None:
        self.working_db, self.loud_db = working_db, loud_db
        self._reductions: deque[float] = deque(maxlen=max(1, round(memory_s / FRAME_S)))
        self._settle_frames = round(settle_s / FRAME_S)
        self._loud_frames = 0

    def update(self, microphone: np.ndarray, cleaned: np.ndarray, played: np.ndarray,
               person: bool = False) -> None:
        if person or level_db(played) < self.loud_db:
            return
        heard = float(np.mean(np.square(microphone, dtype=np.float64)))
        left = float(np.mean(np.square(cleaned, dtype=np.float64)))
        if heard <= 1e-12:
            return  # nothing reached the microphone yet (the echo is still on its way)
        self._reductions.append(10.0 * float(np.log10(heard / max(left, 1e-12))))
        self._loud_frames += 1

    @property
    def reduction_db(self) -> float | None:
        """The echo's reduction in dB, None until the device has been loud for `settle_s`."""
        if self._loud_frames < self._settle_frames or not self._reductions:
            return None
        return float(np.median(np.fromiter(self._reductions, float)))

    @property
    def working(self) -> bool:
        """True once the canceller has shown it takes the echo out; False before, or when it stops."""
        reduction = self.reduction_db
        return reduction is not None and reduction >= self.working_db


def echo_canceller() -> EchoCanceller | None:
    """AEC3 when `pywebrtc-audio` can be loaded, else None (the level gate alone then)."""
    try:
        return EchoCanceller()
    except (ImportError, OSError):
        return None
