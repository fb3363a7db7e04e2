"""Voices (speech synthesis) behind one small interface."""
from __future__ import annotations

import tomllib
from pathlib import Path
from typing import TYPE_CHECKING

from voicecheck.voices.base import CachedVoice, Voice, VoiceError

if TYPE_CHECKING:
    from voicecheck.settings import Settings

VOICES = ("openjtalk", "pyttsx3")

__all__ = ["VOICES", "CachedVoice", "Voice", "VoiceError", "select_voice"]


def load_readings(prompts_dir: Path) -> dict[str, str]:
    """Spoken forms of words the synthesiser misreads (prompts/<lang>/pronunciation.toml)."""
    path = Path(prompts_dir) / "pronunciation.toml"
    if not path.is_file():
        return {}
    try:
        with path.open("rb") as f:
            table = tomllib.load(f).get("readings", {})
    except (OSError, tomllib.TOMLDecodeError) as err:
        raise VoiceError(f"{path}: cannot be read ({err}).") from None
    if not isinstance(table, dict) or not all(isinstance(k, str) and isinstance(v, str) and v for k, v in table.items()):
        raise VoiceError(f"{path}: [readings] must map written words to how they are said.")
    return table


def select_voice(settings: "Settings") -> CachedVoice:
    """The voice named by settings.voice, at settings.speaking_rate and settings.volume, cached."""
    name = (settings.voice or "openjtalk").strip().lower()
    readings = load_readings(settings.prompts_dir)
    if name == "openjtalk":
        from voicecheck.voices.openjtalk import OpenJTalkVoice

        return CachedVoice(OpenJTalkVoice(settings.speaking_rate, settings.volume), readings=readings)
    if name == "pyttsx3":
        from voicecheck.voices.pyttsx3_voice import Pyttsx3Voice

        return CachedVoice(Pyttsx3Voice(settings.speaking_rate, settings.volume), readings=readings)
    raise VoiceError(f"Unknown voice '{settings.voice}'. Choose one of: {', '.join(VOICES)}.")
