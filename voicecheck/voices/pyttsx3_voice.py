"""pyttsx3: the operating system's own voices (SAPI5 on Windows, NSSpeech/AVSpeech on macOS,
espeak-ng on Linux).

Windows and macOS have good Japanese voices (Haruka, Ayumi, Kyoko …). espeak-ng's Japanese
reads only kana, so on Linux the text is first turned into its reading with Open JTalk's
analyser ("膝" → "ひざ"), the same analyser the default voice uses.
"""
from __future__ import annotations

import contextlib
import io
import re
import sys
import tempfile
from pathlib import Path

import numpy as np

from voicecheck.reading import FRONTEND_OPTIONS
from voicecheck.voices.base import VoiceError, apply_volume, check_rate, check_volume

# Fractions of the system voice's own default rate. System voices start at a brisk
# 175-200 words a minute; these bring Japanese voices near 5 and 4 morae a second.
RATE_FACTOR = {"normal": 0.8, "slow": 0.65}

_JAPANESE_NAMES = ("japan", "日本", "kyoko", "otoya", "haruka", "ayumi", "ichiro", "sayaka", "nanami", "keita")


def is_japanese_voice(voice) -> bool:
    """Does a pyttsx3 voice speak Japanese (by its languages, id or name)?"""
    languages = []
    for language in getattr(voice, "languages", None) or []:
        if isinstance(language, bytes):
            language = language.decode("utf-8", "ignore")
        languages.append(str(language).lower().lstrip("\x05"))
    if any(lang == "ja" or lang.startswith(("ja-", "ja_", "jpn")) for lang in languages):
        return True
    ident = str(getattr(voice, "id", "") or "").lower()
    if re.search(r"(^|[^a-z])ja([^a-z]|$)|ja[-_]jp|jpn", ident):
        return True
    name = str(getattr(voice, "name", "") or "").lower()
    return any(token in name or token in ident for token in _JAPANESE_NAMES)


def to_kana(text: str) -> str:
    """Japanese text as hiragana as it is pronounced, punctuation kept (for espeak-ng)."""
    import pyopenjtalk

    from voicecheck.recognizers.vosk import katakana_to_hiragana

    pieces = re.split(r"([、。！？!?,.\s]+)", text)
    spoken = []
    for piece in pieces:
        if not piece or re.fullmatch(r"[、。！？!?,.\s]+", piece):
            spoken.append(piece)
            continue
        spoken.append(katakana_to_hiragana(pyopenjtalk.g2p(piece, kana=True, **FRONTEND_OPTIONS)))
    return "".join(spoken)


class Pyttsx3Voice:
    name = "pyttsx3"

    def __init__(self, speaking_rate: str = "normal", volume: float = 1.0, engine=None,
                 reads_kanji: bool | None = None) -> None:
        check_rate(speaking_rate)
        self.volume = check_volume(volume)
        if engine is None:
            engine = _start_engine()
        self.engine = engine
        voices = list(engine.getProperty("voices") or [])
        japanese = [v for v in voices if is_japanese_voice(v)]
        if not japanese:
            raise VoiceError(
                "The system has no Japanese voice for pyttsx3. On Windows add the Japanese speech pack "
                "(Settings > Time & language > Speech), on macOS download a Japanese voice (Kyoko) in the "
                "Spoken Content settings, on Linux install espeak-ng. Or use the default voice: --voice openjtalk."
            )
        self.voice_id = japanese[0].id
        engine.setProperty("voice", self.voice_id)
        default_rate = float(engine.getProperty("rate") or 175)
        self._rates = {rate: int(round(default_rate * factor)) for rate, factor in RATE_FACTOR.items()}
        self.speaking_rate = speaking_rate
        engine.setProperty("volume", 1.0)  # loudness is applied to the samples, like the other voice
        # espeak-ng (Linux) cannot read kanji; the voices of Windows and macOS can.
        self.reads_kanji = (not sys.platform.startswith("linux")) if reads_kanji is None else reads_kanji

    def synthesize(self, text: str, *, slow: bool = False) -> tuple[np.ndarray, int]:
        import soundfile

        text = text.strip()
        if not text:
            return np.zeros(0, dtype=np.float32), 22_050
        spoken = text if self.reads_kanji else to_kana(text)
        with tempfile.TemporaryDirectory(prefix="voicecheck-tts-") as work:
            path = Path(work) / "phrase.wav"
            try:
                self.engine.setProperty("rate", self._rates["slow" if slow else self.speaking_rate])
                self.engine.save_to_file(spoken, str(path))
                with contextlib.redirect_stdout(io.StringIO()):  # the espeak driver prints "Audio saved to …"
                    self.engine.runAndWait()
                samples, rate = soundfile.read(str(path), dtype="float32", always_2d=True)
            except Exception as error:  # drivers raise RuntimeError, OSError, soundfile errors …
                raise VoiceError(f"The system voice could not read {text[:30]!r}: {error}.") from None
        return apply_volume(samples.mean(axis=1), self.volume), int(rate)


def _start_engine():
    try:
        import pyttsx3
    except ImportError as error:
        raise VoiceError(f"The pyttsx3 voice needs the Python package pyttsx3 ({error}).") from None
    try:
        return pyttsx3.init()
    except Exception as error:  # OSError (no libespeak-ng), RuntimeError, ImportError of a driver …
        hint = " On Debian or Ubuntu install it with: sudo apt install espeak-ng." if sys.platform.startswith("linux") else ""
        raise VoiceError(f"pyttsx3 could not start a system voice ({error}).{hint}") from None
