#!/usr/bin/env python3
"""Regenerate the recorded answers under tests/data/ with the project's own voice.

    .venv/bin/python tests/data/make_recordings.py

Each replay folder holds one WAV per listening turn, named so that sorting by name gives
the order of the turns, plus `answers.tsv` (file, question, what was said, expected
answer). `audio_manifest.tsv` lists the same recordings for `python run.py evaluate`.

The output is deterministic: Open JTalk and the resampler have no randomness, so running
this again rewrites identical files (tests/test_speech_loop.py checks one of them).
Files are 16 kHz mono 16-bit to stay small.
"""
from __future__ import annotations

import sys
from dataclasses import dataclass
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent.parent))

from voicecheck.audio import SAMPLE_RATE, resample, trim_silence, write_wav  # noqa: E402
from voicecheck.voices.openjtalk import OpenJTalkVoice  # noqa: E402

LEAD_S, TAIL_S = 0.4, 0.6  # silence around each answer, as a microphone cut would leave it
FILLER_PAUSE_S = 1.2  # the pause after a filler in "slow speaker" answers


@dataclass(frozen=True)
class Turn:
    question: str  # the question (or "yes_no" for the exercise offer) this file answers
    text: str  # what is said; "" is a silent file (nobody answered)
    expected: str  # answer ids ("a+b" for several), a command, "text" (free words) or "none"
    slow: bool = False  # spoken at the slow rate
    filler: str = ""  # said first, followed by a long pause (a slow speaker collecting thoughts)


SESSIONS: dict[str, list[Turn]] = {
    # A whole session: all seventeen questions answered, the exercise offer declined.
    "replay_session_1": [
        Turn("safety_now", "いいえ、どれもありません", "no"),
        Turn("situations", "下りの階段と、立ち上がるときです", "stairs_down+standing_up", filler="えっと"),
        Turn("frequency", "毎週一回くらいです", "weekly"),
        Turn("getting_worse", "はい、前より増えました", "yes"),
        Turn("near_fall", "はい、転びそうになりました", "yes", slow=True),
        Turn("going_out_less", "いいえ、普通に出かけています", "no"),
        Turn("swelling", "腫れていません", "no"),
        Turn("warmth", "いいえ、熱くないです", "no"),
        Turn("pain_grinding", "いいえ、痛くありません", "no"),
        Turn("morning_stiffness", "いいえ、こわばりません", "no"),
        Turn("catching", "いいえ、ありません", "no"),
        Turn("past_injury", "いいえ、ありません", "no"),
        Turn("age_50_plus", "はい、七十五歳です", "yes", slow=True),
        Turn("bow_legs", "いいえ、まっすぐです", "no"),
        Turn("unsteady_walking", "はい、ふらつきます", "yes"),
        Turn("back_nerve", "いいえ、腰は大丈夫です", "no"),
        Turn("since_when", "半年くらい前からです", "text", filler="そうですね"),
        Turn("yes_no", "いいえ、結構です", "no"),
    ],
    # Silence first (no answer), then a yes to the safety question: the emergency path.
    "replay_session_2": [
        Turn("safety_now", "", "none"),
        Turn("safety_now", "はい、当てはまります", "yes"),
    ],
    # Commands on the way, then the recordings run out after the fourth question.
    "replay_session_3": [
        Turn("safety_now", "いいえ、どれも当てはまりません", "no"),
        Turn("situations", "もう一度お願いします", "repeat"),
        Turn("situations", "平らな道を歩いているときです", "flat_walking"),
        Turn("frequency", "ほぼ毎日です", "daily", slow=True),
        Turn("getting_worse", "戻ってください", "back"),
        Turn("frequency", "毎週一回くらいです", "weekly"),
        Turn("getting_worse", "いいえ、変わりません", "no"),
    ],
}


def speak(voice: OpenJTalkVoice, text: str) -> np.ndarray:
    samples, rate = voice.synthesize(text)
    return trim_silence(resample(samples, rate), pad_s=0.05)  # the voice's own silence is padding enough


def render(turn: Turn, voices: dict[str, OpenJTalkVoice]) -> np.ndarray:
    """The turn as 16 kHz mono samples, silence around it."""
    parts = [np.zeros(int(LEAD_S * SAMPLE_RATE), np.float32)]
    voice = voices["slow" if turn.slow else "normal"]
    if turn.filler:
        parts += [speak(voice, turn.filler), np.zeros(int(FILLER_PAUSE_S * SAMPLE_RATE), np.float32)]
    if turn.text:
        parts.append(speak(voice, turn.text))
    else:
        parts.append(np.zeros(SAMPLE_RATE, np.float32))
    parts.append(np.zeros(int(TAIL_S * SAMPLE_RATE), np.float32))
    return np.concatenate(parts)


def file_name(index: int, turn: Turn) -> str:
    return f"{index:02d}_{turn.question}.wav"


def build(out_dir: Path = HERE, sessions: dict[str, list[Turn]] = SESSIONS) -> list[Path]:
    voices = {"normal": OpenJTalkVoice("normal"), "slow": OpenJTalkVoice("slow")}
    written: list[Path] = []
    manifest = ["audio\tquestion\texpected"]
    for session, turns in sessions.items():
        folder = out_dir / session
        folder.mkdir(parents=True, exist_ok=True)
        for old in folder.glob("*.wav"):
            old.unlink()
        key = ["file\tquestion\ttext\texpected"]
        for index, turn in enumerate(turns, start=1):
            name = file_name(index, turn)
            written.append(write_wav(folder / name, render(turn, voices), SAMPLE_RATE))
            said = (turn.filler + "……" if turn.filler else "") + turn.text
            key.append(f"{name}\t{turn.question}\t{said}\t{turn.expected}")
            if turn.text:
                manifest.append(f"{session}/{name}\t{turn.question}\t{turn.expected}")
        (folder / "answers.tsv").write_text("\n".join(key) + "\n", encoding="utf-8")
    (out_dir / "audio_manifest.tsv").write_text("\n".join(manifest) + "\n", encoding="utf-8")
    return written


def main() -> int:
    written = build()
    size = sum(p.stat().st_size for p in written)
    print(f"wrote {len(written)} recordings ({size // 1024} KB) under {HERE}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
