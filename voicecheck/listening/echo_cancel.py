"""Taking the device's own voice out of what the microphone hears (acoustic echo cancellation).

When the device listens while it talks, its loudspeaker reaches its microphone. The reference
(what was played, frame for frame on the same sound-card clock: voicecheck.duplex_stream) lets
WebRTC's AEC3 (`pywebrtc-audio`) subtract that echo before anything else hears the sound.
Measured for this project (offline rooms and the PulseAudio virtual room): 18–21 dB less echo
from the first second, about 44 dB once it has heard the device for a few seconds, at about
1 % of one core. Two limits, which is why the level gate (voicecheck.listening.echo) stays
behind it as a back-stop:
- while the device talks loudly, AEC3's suppressor takes most of a person's voice out too
  (double talk): an answer spoken over the device is detected, but not heard well enough to be
  understood;
- its delay search reaches about half a second: a loudspeaker with a longer delay (Bluetooth,
  large buffers) is not cancelled.
"""
from __future__ import annotations

import numpy as np

from voicecheck.listening.frames import SAMPLE_RATE


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


def echo_canceller() -> EchoCanceller | None:
    """AEC3 when `pywebrtc-audio` can be loaded, else None (the level gate alone then)."""
    try:
        return EchoCanceller()
    except (ImportError, OSError):
        return None
