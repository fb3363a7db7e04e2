"""The unit every listening stage works on: 30 ms frames of 16 kHz mono float32 in -1..1.

Any source can feed the listening layer — a microphone, a Wyoming audio stream, a WAV file —
once its sound is cut into these frames (`frames_of`, or `FrameCutter` for a stream that
arrives in blocks of any size).
"""
from __future__ import annotations

from typing import Iterator

import numpy as np

SAMPLE_RATE = 16_000
FRAME_MS = 30  # webrtcvad accepts 10, 20 or 30 ms frames; 30 ms is the steadiest
FRAME_SAMPLES = SAMPLE_RATE * FRAME_MS // 1000
FRAME_S = FRAME_MS / 1000.0


def pcm16_bytes(samples: np.ndarray) -> bytes:
    """Float samples (-1..1) as little-endian signed 16-bit PCM, the format Vosk and webrtcvad read."""
    clipped = np.clip(np.asarray(samples, dtype=np.float32), -1.0, 1.0)
    return (clipped * 32767.0).astype("<i2").tobytes()


def frames_of(samples: np.ndarray, frame_samples: int = FRAME_SAMPLES) -> Iterator[np.ndarray]:
    """Cut samples into whole frames; the last partial frame is padded with silence."""
    samples = np.asarray(samples, dtype=np.float32)
    for start in range(0, len(samples), frame_samples):
        frame = samples[start:start + frame_samples]
        if len(frame) < frame_samples:
            frame = np.pad(frame, (0, frame_samples - len(frame)))
        yield frame


def level_db(frame: np.ndarray) -> float:
    """The frame's power in dB relative to full scale (-120 for digital silence)."""
    power = float(np.mean(np.square(frame, dtype=np.float64))) if len(frame) else 0.0
    return 10.0 * np.log10(power) if power > 1e-12 else -120.0


class FrameCutter:
    """Blocks of any length in, whole 30 ms frames out (for streams such as Wyoming's audio chunks)."""

    def __init__(self) -> None:
        self._pending = np.zeros(0, dtype=np.float32)

    def push(self, samples: np.ndarray) -> list[np.ndarray]:
        self._pending = np.concatenate([self._pending, np.asarray(samples, dtype=np.float32)])
        whole = len(self._pending) // FRAME_SAMPLES
        frames = [self._pending[i * FRAME_SAMPLES:(i + 1) * FRAME_SAMPLES] for i in range(whole)]
        self._pending = self._pending[whole * FRAME_SAMPLES:]
        return frames
