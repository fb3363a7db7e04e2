"""What every voice offers, and the cache in front of it."""
from __future__ import annotations

import re
from collections import OrderedDict
from collections.abc import Mapping
from typing import Protocol, runtime_checkable

import numpy as np

from voicecheck.audio import SpeechError

SPEAKING_RATES = ("normal", "slow")


class VoiceError(SpeechError):
    """A voice cannot be set up or cannot speak; the message says what to install."""


@runtime_checkable
class Voice(Protocol):
    name: str

    def synthesize(self, text: str, *, slow: bool = False) -> tuple[np.ndarray, int]:
        """Mono float32 samples in -1..1 and their sample rate.

        `slow` asks for the slowest clear delivery (emergency instructions), whatever the
        speaking-rate setting."""


def check_rate(speaking_rate: str) -> str:
    if speaking_rate not in SPEAKING_RATES:
        raise VoiceError(f"Unknown speaking rate '{speaking_rate}'. Choose one of: {', '.join(SPEAKING_RATES)}.")
    return speaking_rate


def check_volume(volume: float) -> float:
    if not 0.0 <= float(volume) <= 1.0:
        raise VoiceError(f"The volume must be between 0.0 and 1.0, not {volume}.")
    return float(volume)


def apply_volume(samples: np.ndarray, volume: float) -> np.ndarray:
    """Scale to the volume setting (1.0: as loud as the voice makes it, never clipped)."""
    return np.clip(np.asarray(samples, dtype=np.float32) * np.float32(volume), -1.0, 1.0)


MAX_PIECE_CHARS = 24  # a first piece this short is synthesised in well under 100 ms


def phrase_pieces(text: str) -> list[str]:
    """A phrase split where a speaker would breathe: after each sentence, and at commas (or
    between quoted answers) inside long sentences, so the first sound can start while the rest
    is still being synthesised."""
    pieces: list[str] = []
    for sentence in re.findall(r"[^。！？!?]+[。！？!?]*", text.strip()):
        # A read-back of several answers (「『階段…とき』と『椅子…とき』ですね。」) has no comma: it
        # may also break after each 」と, where a speaker pauses anyway.
        clauses = re.findall(r".+?(?:[、，,]+|」と(?=「)|$)", sentence)
        current = ""
        for clause in clauses:
            if current and len(current) + len(clause) > MAX_PIECE_CHARS:
                pieces.append(current)
                current = ""
            current += clause
        if current.strip():
            pieces.append(current)
    return [p.strip() for p in pieces if p.strip()] or ([text] if text.strip() else [])


def without_leading_silence(samples: np.ndarray, rate: int, keep_s: float = 0.01) -> np.ndarray:
    """The samples from just before the first sound: Open JTalk starts every phrase with 0.3–0.4 s
    of silence, which would add that much to every reply (the pauses between phrases are
    `pause_s` and each phrase's own trailing silence). `keep_s` before the first sample 40 dB
    under the peak is kept: what comes earlier cannot be heard, and every millisecond of it
    delays the reply (40 ms were kept until the live room showed replies 0.01–0.02 s over target)."""
    samples = np.asarray(samples, dtype=np.float32)
    if samples.size == 0:
        return samples
    peak = float(np.max(np.abs(samples)))
    if peak <= 0.0:
        return samples
    first = int(np.argmax(np.abs(samples) > peak * 0.01))  # 40 dB under the peak: the softest onset
    return samples[max(0, first - int(keep_s * rate)):]


class CachedVoice:
    """A voice that synthesises each distinct text once.

    Prompts, hints and counts repeat a lot in a session ("はい、次の質問です", numbers while
    counting exercise repetitions); a small in-memory cache makes the repeats instant. It is
    bounded in bytes too: the long read-back lines are said once, and must not pile up in memory.
    """

    def __init__(self, voice: Voice, max_items: int = 256, readings: Mapping[str, str] | None = None,
                 max_bytes: int = 24 * 2**20) -> None:
        self.voice = voice
        # Longest first, so "119番" wins over "119".
        self.readings = sorted((readings or {}).items(), key=lambda kv: len(kv[0]), reverse=True)
        self.name = voice.name
        self.max_items = max_items
        self.max_bytes = max_bytes
        self._bytes = 0
        self._cache: OrderedDict[tuple[str, bool], tuple[np.ndarray, int]] = OrderedDict()
        self.hits = 0
        self.misses = 0

    def synthesize(self, text: str, *, slow: bool = False) -> tuple[np.ndarray, int]:
        key = (text.strip(), slow)
        if key in self._cache:
            self._cache.move_to_end(key)
            self.hits += 1
            return self._cache[key]
        self.misses += 1
        spoken = key[0]
        for written, reading in self.readings:
            spoken = spoken.replace(written, reading)
        samples, rate = self.voice.synthesize(spoken, slow=slow)
        samples = np.asarray(samples, dtype=np.float32)
        samples.setflags(write=False)  # shared between callers: nobody may change it in place
        self._cache[key] = (samples, rate)
        self._bytes += samples.nbytes
        while len(self._cache) > 1 and (len(self._cache) > self.max_items or self._bytes > self.max_bytes):
            _, (dropped, _) = self._cache.popitem(last=False)
            self._bytes -= dropped.nbytes
        return samples, rate
