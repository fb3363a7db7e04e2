"""PCM audio as Wyoming carries it, to and from the 16 kHz mono float frames the rest of voicecheck uses.

Every `audio-chunk` names its own rate, sample width (bytes) and channel count. Speech for a
satellite goes out in the format its `info` asks for (16 kHz mono 16-bit when it names none);
microphone audio comes in as whatever the satellite sends and is turned into the 30 ms frames
of voicecheck.audio, the same frames the local microphone gives.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Iterator

import numpy as np

from voicecheck.audio import FRAME_SAMPLES, SAMPLE_RATE, resample
from voicecheck.satellites.events import ProtocolError

SUPPORTED_WIDTHS = (1, 2, 4)  # signed little-endian integers, as Wyoming's own converter reads them
_DTYPES = {1: np.dtype("i1"), 2: np.dtype("<i2"), 4: np.dtype("<i4")}
_FULL_SCALE = {1: 127.0, 2: 32767.0, 4: 2147483647.0}
CHUNK_SAMPLES = 1024  # samples per audio-chunk sent (about 46 ms at 22 kHz, 64 ms at 16 kHz)


@dataclass(frozen=True)
class PcmFormat:
    rate: int = SAMPLE_RATE
    width: int = 2
    channels: int = 1

    @property
    def bytes_per_second(self) -> int:
        return self.rate * self.width * self.channels

    def seconds(self, byte_count: int) -> float:
        return byte_count / self.bytes_per_second

    def as_data(self) -> dict[str, int]:
        return {"rate": self.rate, "width": self.width, "channels": self.channels}


SPEECH_DEFAULT = PcmFormat()


def checked_format(data: dict[str, Any], where: str) -> PcmFormat:
    """The audio format named in an event's data; ProtocolError when it is missing or unusable."""
    values = []
    for key, low, high in (("rate", 4000, 192_000), ("width", 1, 4), ("channels", 1, 8)):
        value = data.get(key)
        if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
            raise ProtocolError(f"{where}: {key} {str(value)[:20]!r} is not usable")
        values.append(value)
    fmt = PcmFormat(*values)
    if fmt.width not in SUPPORTED_WIDTHS:
        raise ProtocolError(f"{where}: sample width {fmt.width} bytes is not supported")
    return fmt


def decode(payload: bytes, fmt: PcmFormat) -> np.ndarray:
    """Mono float32 samples (-1..1) at `fmt.rate`; ProtocolError when the bytes do not fit the format."""
    frame_bytes = fmt.width * fmt.channels
    if len(payload) % frame_bytes:
        raise ProtocolError(f"audio of {len(payload)} bytes is not whole {fmt.width}-byte × {fmt.channels} samples")
    ints = np.frombuffer(payload, dtype=_DTYPES[fmt.width])
    samples = ints.astype(np.float32) / np.float32(_FULL_SCALE[fmt.width])
    if fmt.channels > 1:
        samples = samples.reshape(-1, fmt.channels).mean(axis=1)
    return samples.astype(np.float32, copy=False)


def encode(samples: np.ndarray, rate: int, fmt: PcmFormat) -> bytes:
    """Mono float samples at `rate` as PCM bytes in `fmt` (resampled, scaled, copied to every channel)."""
    mono = resample(np.asarray(samples, dtype=np.float32), rate, fmt.rate)
    ints = np.round(np.clip(mono, -1.0, 1.0) * _FULL_SCALE[fmt.width]).astype(_DTYPES[fmt.width])
    if fmt.channels > 1:
        ints = np.repeat(ints, fmt.channels)
    return ints.tobytes()


def chunks(pcm: bytes, fmt: PcmFormat, samples_per_chunk: int = CHUNK_SAMPLES) -> Iterator[bytes]:
    step = samples_per_chunk * fmt.width * fmt.channels
    for start in range(0, len(pcm), step):
        yield pcm[start:start + step]


class MicFrames:
    """Turns a satellite's audio chunks into 16 kHz mono float32 frames of 30 ms.

    Resampling is streamed (soxr keeps its filter state between chunks), so chunk edges leave
    no clicks for the voice detector to mistake for speech."""

    def __init__(self) -> None:
        self._format: PcmFormat | None = None
        self._resampler = None
        self._pending = np.zeros(0, dtype=np.float32)

    def feed(self, payload: bytes, fmt: PcmFormat) -> list[np.ndarray]:
        samples = decode(payload, fmt)
        if fmt != self._format:
            self._format = fmt
            self._pending = np.zeros(0, dtype=np.float32)
            self._resampler = None
            if fmt.rate != SAMPLE_RATE:
                import soxr

                self._resampler = soxr.ResampleStream(fmt.rate, SAMPLE_RATE, 1, dtype="float32")
        if self._resampler is not None:
            samples = self._resampler.resample_chunk(samples)
        pending = np.concatenate([self._pending, samples]) if self._pending.size else samples
        whole = len(pending) // FRAME_SAMPLES * FRAME_SAMPLES
        frames = [pending[i:i + FRAME_SAMPLES].copy() for i in range(0, whole, FRAME_SAMPLES)]
        self._pending = pending[whole:].copy()
        return frames
