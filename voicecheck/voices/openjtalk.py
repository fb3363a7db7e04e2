"""Open JTalk (pyopenjtalk-plus): the default Japanese voice, offline, with its dictionary bundled."""
from __future__ import annotations

import numpy as np

from voicecheck.reading import FRONTEND_OPTIONS
from voicecheck.voices.base import VoiceError, apply_volume, check_rate, check_volume

# Open JTalk's `speed` is a duration scale, not a rate. Measured over the questionnaire's own
# questions, hints and option labels (from the first to the last sound of each, pauses at
# commas included, as a listener hears it), speed 1.0 speaks about 6 morae a second. These
# factors give about 5 ("normal": unhurried, clear) and about 4 ("slow").
# tests/test_voices.py measures the rates again.
SPEED_FOR_RATE = {"normal": 0.82, "slow": 0.65}
PEAK_LIMIT = 0.9  # about -1 dBFS


class OpenJTalkVoice:
    name = "openjtalk"

    def __init__(self, speaking_rate: str = "normal", volume: float = 1.0) -> None:
        try:
            import pyopenjtalk
        except ImportError as error:
            raise VoiceError(
                f"The Open JTalk voice needs the Python package pyopenjtalk-plus ({error})."
            ) from None
        self._pyopenjtalk = pyopenjtalk
        self.speed = SPEED_FOR_RATE[check_rate(speaking_rate)]
        self.volume = check_volume(volume)

    def synthesize(self, text: str, *, slow: bool = False) -> tuple[np.ndarray, int]:
        text = text.strip()
        if not text:
            return np.zeros(0, dtype=np.float32), 48_000
        try:
            samples, rate = self._pyopenjtalk.tts(text, speed=SPEED_FOR_RATE["slow"] if slow else self.speed, **FRONTEND_OPTIONS)
        except Exception as error:  # the C engine reports failures as plain exceptions
            raise VoiceError(f"Open JTalk could not read the text {text[:30]!r}: {error}.") from None
        # pyopenjtalk returns float64 on the 16-bit scale, and its loudest syllables can go past
        # full scale; scale those phrases down rather than clip them (clipping crackles).
        samples = np.asarray(samples, dtype=np.float64) / 32768.0
        peak = float(np.abs(samples).max()) if samples.size else 0.0
        if peak > PEAK_LIMIT:
            samples *= PEAK_LIMIT / peak
        return apply_volume(samples, self.volume), int(rate)
