"""What every bench voice shares: a name, where it comes from, and finished 16 kHz speech.

A voice synthesises text with its own engine at its own rate; `finish` turns that into what
the bench hears: mono float32 at 16 kHz, the engine's own silence trimmed, levelled to the
same active-speech level as the own-voice corpus (bench/corpus.py), so a voice is not easier
or harder to hear only because it is louder.
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from bench.noise import SAMPLE_RATE, active_mask, active_power

SPEECH_LEVEL_DBFS = -24.0  # as bench/corpus.py
TRIM_KEEP_FRAMES = 2  # 10 ms frames kept around the voiced part


class VoiceUnavailable(Exception):
    """The voice's engine or model is not installed here; the message says how to get it."""


@dataclass(frozen=True)
class BenchVoice:
    name: str  # e.g. "kokoro/jf_alpha"
    engine: str  # "kokoro", "espeak-ng", "openjtalk-hts"
    sex: str  # "f" or "m": the speaker as heard
    licence: str  # of the voice model itself
    synthesize: Callable[[str], tuple[np.ndarray, int]]  # text → (samples, rate); may raise VoiceUnavailable

    def speak(self, text: str) -> np.ndarray:
        samples, rate = self.synthesize(text)
        return finish(samples, rate)


def finish(samples: np.ndarray, rate: int, level_dbfs: float = SPEECH_LEVEL_DBFS) -> np.ndarray:
    """Engine output → 16 kHz mono float32, trimmed to the voice, levelled to `level_dbfs`."""
    from voicecheck.audio import resample

    x = np.asarray(samples, dtype=np.float32)
    if x.ndim > 1:
        x = x.mean(axis=1).astype(np.float32)
    if rate != SAMPLE_RATE:
        x = resample(x, rate, SAMPLE_RATE)
    x = trim(x)
    power = active_power(x)
    if power > 0:
        x = x * np.float32(10 ** (level_dbfs / 20) / np.sqrt(power))
    return np.clip(x, -0.99, 0.99).astype(np.float32)


def trim(samples: np.ndarray) -> np.ndarray:
    """Cut the synthesiser's near-silent lead-in and tail (10 ms resolution)."""
    mask = active_mask(samples)
    if not mask.any():
        return samples[:0]
    frame = int(0.010 * SAMPLE_RATE)
    first, last = int(np.argmax(mask)), len(mask) - int(np.argmax(mask[::-1]))
    return samples[max(0, (first - TRIM_KEEP_FRAMES) * frame): min(len(samples), (last + TRIM_KEEP_FRAMES) * frame)]


def level(samples: np.ndarray, level_dbfs: float = SPEECH_LEVEL_DBFS) -> np.ndarray:
    power = active_power(samples)
    if power <= 0:
        return samples.astype(np.float32)
    out = samples * (10 ** (level_dbfs / 20) / np.sqrt(power))
    return np.clip(out, -0.99, 0.99).astype(np.float32)
