"""eSpeak NG's Japanese voice (Debian `espeak-ng`, GPL-3.0): a formant synthesiser, clearly robotic.

eSpeak NG reads kana only, so the text goes in as Open JTalk's katakana reading (pyopenjtalk,
already a product dependency). Two variants: the default male voice and a female variant.
"""
from __future__ import annotations

import io
import shutil
import subprocess

from bench.voices.base import BenchVoice, VoiceUnavailable

LICENCE = "GPL-3.0-or-later (eSpeak NG)"
RATE_WPM = 150  # eSpeak's default 175 is hurried for Japanese
VARIANTS = {"ja": "m", "ja+f2": "f"}  # eSpeak voice name → sex as heard
INSTALL = "eSpeak NG voices need the Debian package espeak-ng: sudo apt-get install espeak-ng"


def katakana(text: str) -> str:
    """Open JTalk's reading of the text in katakana (punctuation kept as pauses)."""
    import pyopenjtalk

    return pyopenjtalk.g2p(text, kana=True, use_sudachi_kanji_yomi=False)


def _synthesizer(variant: str):
    def synthesize(text: str):
        import soundfile

        exe = shutil.which("espeak-ng")
        if exe is None:
            raise VoiceUnavailable(INSTALL)
        wav = subprocess.run([exe, "-v", variant, "-s", str(RATE_WPM), "--stdout", katakana(text)],
                             capture_output=True, check=True, timeout=60).stdout
        samples, rate = soundfile.read(io.BytesIO(wav), dtype="float32")
        return samples, rate

    return synthesize


def available() -> str | None:
    return None if shutil.which("espeak-ng") else INSTALL


def voices() -> list[BenchVoice]:
    return [BenchVoice(f"espeak/{variant.replace('+', '_')}", "espeak-ng", sex, LICENCE, _synthesizer(variant))
            for variant, sex in VARIANTS.items()]
