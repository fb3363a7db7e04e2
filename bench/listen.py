"""One answer through the live listening path, and a cache of what was heard.

Each clip goes through exactly what `MicrophoneEars.listen` does with a microphone: 30 ms
frames into the endpointer (`capture_utterance`, configured from the default settings),
every answer frame into the recogniser's stream, and `finish()` once the endpointer says
the answer is over. So the transcript is what the product would hear, and the timings split
into end-of-speech detection and recognition the same way they happen live.

Transcripts are cached by a hash of the audio, the engine and its code, the question's
phrases (Whisper's prompt) and the endpoint settings, in `bench/out/heard-<engine>.jsonl`, so matcher and
baseline share one transcription and a second run of the bench re-uses the first.
"""
from __future__ import annotations

import hashlib
import json
import time
from dataclasses import asdict, dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np

from bench.noise import SAMPLE_RATE, mix_at_snr, noise_offset

ENDPOINT_PAD_S = 2.5  # silence (or noise) after each answer, for the endpointer to find its end
LONGEST_PAD_S = 32.0  # room for the latency pass, which listens on as long as the endpointer does


@dataclass(frozen=True)
class Condition:
    noise: str | None = None  # None: clean
    snr_db: float | None = None

    @property
    def key(self) -> str:
        return "clean" if self.noise is None else f"{self.noise}-{self.snr_db:g}"

    @property
    def label(self) -> str:
        return "clean" if self.noise is None else f"{self.noise} {self.snr_db:g} dB"


CLEAN = Condition()
SNRS = (20.0, 15.0, 10.0, 5.0)


def conditions(noises: tuple[str, ...], snrs: tuple[float, ...] = SNRS) -> list[Condition]:
    return [CLEAN] + [Condition(noise, snr) for noise in noises for snr in snrs]


def condition_audio(clip: np.ndarray, clip_name: str, condition: Condition,
                    tracks: dict[str, np.ndarray], pad_s: float = ENDPOINT_PAD_S) -> np.ndarray:
    """The clip with `pad_s` of silence after it, mixed with the condition's noise (deterministic).

    The noise window starts at the same place whatever the pad, so a longer pad only adds
    more of the same noise after the answer.
    """
    padded = np.concatenate([clip, np.zeros(int(pad_s * SAMPLE_RATE), np.float32)])
    if condition.noise is None:
        return padded
    track = tracks[condition.noise]
    offset = noise_offset(len(track), len(clip) + int(LONGEST_PAD_S * SAMPLE_RATE), clip_name, condition.noise)
    noise = track[offset: offset + len(padded)]
    return mix_at_snr(padded, noise, condition.snr_db, measured=len(clip))


@dataclass(frozen=True)
class Listened:
    text: str
    timed_out: bool  # the endpointer never heard an answer start
    end_found: bool  # the endpointer found the end (not cut off by the end of the clip)
    end_s: float  # stream time when the endpointer ended the answer
    utterance_s: float  # audio handed to the recogniser
    frame_ms: float  # mean processing per 30 ms frame while listening (VAD + stream.accept)
    recognition_s: float  # finish(): from the end of the answer to the final result
    cached: bool = False

    def to_json(self) -> dict:
        data = asdict(self)
        data.pop("cached")
        return data


def listen(recognizer, samples: np.ndarray, question_id: str, phrases: tuple[str, ...], config) -> Listened:
    from voicecheck.audio import FRAME_MS, capture_utterance, frames_of
    from voicecheck.interfaces import ListenContext

    context = ListenContext(question_id, tuple(phrases), config.no_answer_timeout_s)
    frames = list(frames_of(samples))
    stream = recognizer.start(context)
    started = time.perf_counter()
    utterance = capture_utterance(frames, config, on_answer_frame=stream.accept)
    capture_s = time.perf_counter() - started
    end_s = utterance.waited_s + len(utterance.samples) / SAMPLE_RATE
    used_frames = max(1, round(end_s * 1000 / FRAME_MS))
    if utterance.timed_out:
        return Listened("", True, False, end_s, 0.0, 1000 * capture_s / used_frames, 0.0)
    started = time.perf_counter()
    heard = stream.finish()
    recognition_s = time.perf_counter() - started
    return Listened(heard.text, False, not utterance.truncated, round(end_s, 3),
                    round(len(utterance.samples) / SAMPLE_RATE, 3), round(1000 * capture_s / used_frames, 4),
                    round(recognition_s, 4))


@lru_cache(maxsize=None)
def code_fingerprint(engine: str) -> str:
    """The listening code's own text: a changed recogniser or endpointer must not reuse old transcripts."""
    import voicecheck

    package = Path(voicecheck.__file__).parent
    h = hashlib.sha256()
    for part in ("audio.py", "recognizers/base.py", f"recognizers/{engine}.py"):
        path = package / part
        h.update(path.read_bytes() if path.is_file() else part.encode())
    return h.hexdigest()[:16]


def cache_key(samples: np.ndarray, engine: str, question_id: str, phrases: tuple[str, ...], config) -> str:
    h = hashlib.sha256()
    h.update(np.ascontiguousarray(samples, dtype=np.float32).tobytes())
    h.update("\x1f".join((engine, code_fingerprint(engine), question_id, repr(config), *phrases)).encode("utf-8"))
    return h.hexdigest()


class HeardCache:
    """JSON lines: {"key": …, "heard": Listened}; later lines win."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self.items: dict[str, Listened] = {}
        if self.path.is_file():
            for line in self.path.read_text(encoding="utf-8").splitlines():
                try:
                    entry = json.loads(line)
                    self.items[entry["key"]] = Listened(**entry["heard"], cached=True)
                except (ValueError, KeyError, TypeError):
                    continue  # a line cut short by an interrupted run: transcribe again

    def get(self, key: str) -> Listened | None:
        return self.items.get(key)

    def put(self, key: str, heard: Listened) -> None:
        self.items[key] = heard
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with self.path.open("a", encoding="utf-8") as f:
            f.write(json.dumps({"key": key, "heard": heard.to_json()}, ensure_ascii=False) + "\n")


# ------------------------------------------------------------------------------------------
# Recognisers, also inside worker processes


def open_recognizer(engine: str, settings, cpu_threads: int | None = None):
    """The product's recogniser for an engine; Whisper with a chosen thread count if asked."""
    from voicecheck.recognizers import load_recognizer, open_question_ids

    if engine == "whisper" and cpu_threads:
        from voicecheck.models import ENGINE_MODELS, require_model
        from voicecheck.recognizers.whisper import WhisperRecognizer

        model_dir = require_model(ENGINE_MODELS["whisper"], settings.models_dir)
        return WhisperRecognizer(model_dir, cpu_threads=cpu_threads, open_questions=open_question_ids(settings))
    return load_recognizer(engine, settings)


_worker: dict = {}


def worker_init(engine: str, cpu_threads: int | None) -> None:
    from voicecheck.settings import Settings
    from voicecheck.speech_io import endpoint_config

    settings = Settings()
    _worker["recognizer"] = open_recognizer(engine, settings, cpu_threads)
    _worker["config"] = endpoint_config(settings)


def worker_listen(task: tuple[str, np.ndarray, str, tuple[str, ...]]) -> tuple[str, Listened]:
    key, samples, question_id, phrases = task
    return key, listen(_worker["recognizer"], samples, question_id, phrases, _worker["config"])
