"""What every recogniser offers: whole-clip transcription and a streaming session.

A recogniser turns 16 kHz mono float32 samples into a `Heard`. The `ListenContext` says
which question is being answered and which phrases are expected there; Vosk turns them
into a grammar, Whisper into a decoding prompt.
"""
from __future__ import annotations

import re
import time
from typing import Callable, Protocol, runtime_checkable

import numpy as np

from voicecheck.audio import SAMPLE_RATE, SpeechError
from voicecheck.interfaces import Heard, ListenContext


class RecognizerError(SpeechError):
    """A recogniser cannot be set up or used; the message names the model and the fix."""


@runtime_checkable
class RecognitionStream(Protocol):
    """One answer being decoded while it is spoken."""

    def accept(self, samples: np.ndarray) -> None:
        """Feed the next samples (16 kHz mono float32)."""

    def partial(self) -> str:
        """The best guess so far (may be empty; Whisper gives none until the end)."""

    def finish(self) -> Heard:
        """End of the answer: the final result."""


@runtime_checkable
class Recognizer(Protocol):
    name: str  # "vosk" | "whisper"

    def start(self, context: ListenContext) -> RecognitionStream:
        """A streaming session for one answer."""

    def transcribe(self, samples: np.ndarray, context: ListenContext) -> Heard:
        """The whole answer at once (replay, evaluation)."""


class BufferedStream:
    """A stream for recognisers that only decode whole clips: keep samples, decode at the end."""

    def __init__(self, decode: Callable[[np.ndarray, ListenContext], Heard], context: ListenContext) -> None:
        self._decode = decode
        self._context = context
        self._chunks: list[np.ndarray] = []

    def accept(self, samples: np.ndarray) -> None:
        self._chunks.append(np.asarray(samples, dtype=np.float32))

    def partial(self) -> str:
        return ""

    def finish(self) -> Heard:
        samples = np.concatenate(self._chunks) if self._chunks else np.zeros(0, dtype=np.float32)
        return self._decode(samples, self._context)


def transcribe_by_stream(recognizer: Recognizer, samples: np.ndarray, context: ListenContext,
                         chunk_s: float = 0.2) -> Heard:
    """Feed a whole clip through a streaming session in microphone-sized chunks."""
    started = time.perf_counter()
    stream = recognizer.start(context)
    step = max(1, int(chunk_s * SAMPLE_RATE))
    for start in range(0, len(samples), step):
        stream.accept(samples[start:start + step])
    heard = stream.finish()
    heard.timings.setdefault("recognition", round(time.perf_counter() - started, 3))
    return heard


# Japanese is written without spaces; recognisers that emit words (Vosk) put spaces between
# them. Drop a space only where both neighbours are Japanese script, so Latin words and
# Korean (which does use spaces) are left alone.
_JAPANESE = r"[\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\uff00-\uffef\u3005\u3006\u30fc]"
_SPACE_BETWEEN_JAPANESE = re.compile(rf"(?<={_JAPANESE})\s+(?={_JAPANESE})")


def join_japanese(words: list[str] | tuple[str, ...]) -> str:
    text = " ".join(word for word in words if word)
    return _SPACE_BETWEEN_JAPANESE.sub("", text).strip()
