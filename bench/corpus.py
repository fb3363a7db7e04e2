"""The bench's spoken answers: `bench/corpus.tsv` read aloud by the project's own Open JTalk voice.

Run:  .venv/bin/python bench/corpus.py [--force]

`corpus.tsv` has the columns text, question, expected (as in `python run.py evaluate`
manifests) and voice, one of the voice variants below. Each answer becomes one 16 kHz mono
WAV in `bench/out/corpus/` (git-ignored, made again when missing) laid out like a real turn:
half a second of silence, the answer, half a second of silence. A manifest with an audio
column is written next to them, so testers can also run
`python run.py evaluate bench/out/corpus/manifest.tsv`.

Voice variants. Open JTalk ships one speaker (mei); four "speakers" are made from it with
pyopenjtalk's own controls, `tts(text, speed=…, half_tone=…)`:
  mei       speed 1.00, half_tone  0   the voice as it comes (about 6 morae a second)
  mei_slow  speed 0.80, half_tone -2   an unhurried speaker, a little lower, 6 dB quieter
  deep      speed 0.90, half_tone -3, then pitch and formants lowered by 12 % (a longer
            vocal tract, a male-sounding voice), 3 dB quieter
  quick     speed 1.20, half_tone +2   a brisk, higher speaker, 3 dB louder
`speed` scales the speaking rate (below 1 is slower); `half_tone` shifts the pitch in
semitones. The formant shift of `deep` reads the 48 kHz output as if it were 42.24 kHz
(everything 12 % lower and longer) and synthesises 12 % faster to keep the rate. Speech is
levelled to -24 dBFS (active speech level) before the voice's gain: a quiet speaker is
quieter at the microphone, as in life.

Rendering is deterministic: the same text and voice give the same samples on every run.
"""
from __future__ import annotations

import argparse
import csv
import hashlib
import sys
from dataclasses import dataclass
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from bench.noise import SAMPLE_RATE, active_mask, active_power  # noqa: E402

BENCH = ROOT / "bench"
CORPUS_TSV = BENCH / "corpus.tsv"
OUT_DIR = BENCH / "out"
CLIPS_DIR = OUT_DIR / "corpus"
RENDER_VERSION = 1  # change when rendering changes, so old WAVs are not reused
LEAD_S = 0.5  # silence before the answer
TAIL_S = 0.5  # silence after it
SPEECH_LEVEL_DBFS = -24.0
COLUMNS = ("text", "question", "expected", "voice")


@dataclass(frozen=True)
class VoiceVariant:
    name: str
    speed: float
    half_tone: float
    formant: float = 1.0  # < 1 lowers pitch and formants together (a longer vocal tract)
    gain_db: float = 0.0


VOICES: dict[str, VoiceVariant] = {v.name: v for v in (
    VoiceVariant("mei", speed=1.0, half_tone=0.0),
    VoiceVariant("mei_slow", speed=0.8, half_tone=-2.0, gain_db=-6.0),
    VoiceVariant("deep", speed=0.9, half_tone=-3.0, formant=0.88, gain_db=-3.0),
    VoiceVariant("quick", speed=1.2, half_tone=2.0, gain_db=3.0),
)}


@dataclass(frozen=True)
class Row:
    line: int  # line in corpus.tsv (the header is line 1)
    text: str
    question: str
    expected: str
    voice: str

    @property
    def name(self) -> str:
        """A file name that changes whenever the text, voice or rendering changes."""
        digest = hashlib.sha256(f"{RENDER_VERSION}\x1f{self.voice}\x1f{self.text}".encode()).hexdigest()[:10]
        return f"{self.line:03d}-{self.question}-{self.voice}-{digest}"


@dataclass(frozen=True)
class Clip:
    row: Row
    path: Path
    speech_start_s: float  # where the answer starts and ends in the file
    speech_end_s: float


class CorpusError(Exception):
    """corpus.tsv cannot be used; the message names the line."""


def read_corpus(path: Path = CORPUS_TSV) -> list[Row]:
    with Path(path).open(encoding="utf-8", newline="") as f:
        rows = list(csv.reader(f, delimiter="\t", quoting=csv.QUOTE_NONE))
    if not rows or tuple(h.strip() for h in rows[0]) != COLUMNS:
        raise CorpusError(f"{path}: the header must be {' / '.join(COLUMNS)} (tab-separated)")
    out, problems = [], []
    for number, cells in enumerate(rows[1:], start=2):
        if not any(c.strip() for c in cells):
            continue
        if len(cells) != len(COLUMNS):
            problems.append(f"line {number}: {len(cells)} columns instead of {len(COLUMNS)}")
            continue
        text, question, expected, voice = (c.strip() for c in cells)
        if voice not in VOICES:
            problems.append(f"line {number}: unknown voice {voice!r} (known: {', '.join(VOICES)})")
            continue
        if not text:
            problems.append(f"line {number}: empty text")
            continue
        out.append(Row(number, text, question, expected, voice))
    if problems:
        raise CorpusError(f"{path}:\n  " + "\n  ".join(problems))
    return out


def _trim(samples: np.ndarray) -> np.ndarray:
    """Cut the synthesiser's own near-silent lead-in and tail (10 ms resolution, 20 ms kept)."""
    mask = active_mask(samples)
    if not mask.any():
        return samples[:0]
    frame = int(0.010 * SAMPLE_RATE)
    first, last = int(np.argmax(mask)), len(mask) - int(np.argmax(mask[::-1]))
    start = max(0, (first - 2) * frame)
    end = min(len(samples), (last + 2) * frame)
    return samples[start:end]


def render_speech(text: str, *, speed: float = 1.0, half_tone: float = 0.0, formant: float = 1.0,
                  gain_db: float = 0.0) -> np.ndarray:
    """Text read by Open JTalk as 16 kHz mono float32, trimmed and levelled (no silence around it)."""
    import pyopenjtalk

    from voicecheck.audio import resample

    samples, rate = pyopenjtalk.tts(text, speed=speed / formant, half_tone=half_tone)
    samples = np.asarray(samples, dtype=np.float64) / 32768.0  # int16 scale → -1..1
    # Reading the samples at a lower rate lowers pitch and formants and slows them down by
    # the same factor; the synthesis speed above compensates the slowing.
    speech = resample(samples.astype(np.float32), int(round(rate * formant)), SAMPLE_RATE)
    speech = _trim(speech)
    power = active_power(speech)
    if power > 0:
        speech = speech * np.float32(10 ** ((SPEECH_LEVEL_DBFS + gain_db) / 20) / np.sqrt(power))
    return np.clip(speech, -1.0, 1.0).astype(np.float32)


def render_row(row: Row) -> np.ndarray:
    v = VOICES[row.voice]
    speech = render_speech(row.text, speed=v.speed, half_tone=v.half_tone, formant=v.formant, gain_db=v.gain_db)
    return np.concatenate([np.zeros(int(LEAD_S * SAMPLE_RATE), np.float32), speech,
                           np.zeros(int(TAIL_S * SAMPLE_RATE), np.float32)])


def clip_of(row: Row, path: Path, samples_len: int) -> Clip:
    return Clip(row, path, LEAD_S, samples_len / SAMPLE_RATE - TAIL_S)


def render(rows: list[Row], out_dir: Path = CLIPS_DIR, force: bool = False, progress=None) -> list[Clip]:
    """WAVs for the rows (only the missing ones are synthesised) and the manifest beside them."""
    import soundfile

    from voicecheck.audio import write_wav

    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    clips = []
    for i, row in enumerate(rows):
        path = out_dir / f"{row.name}.wav"
        if force or not path.is_file():
            samples = render_row(row)
            write_wav(path, samples)
            length = len(samples)
        else:
            length = soundfile.info(str(path)).frames
        clips.append(clip_of(row, path, length))
        if progress:
            progress(i + 1, len(rows))
    write_manifest(clips, out_dir / "manifest.tsv")
    return clips


def write_manifest(clips: list[Clip], path: Path) -> Path:
    lines = ["audio\tquestion\texpected"]
    lines += [f"{c.path.name}\t{c.row.question}\t{c.row.expected}" for c in clips]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Render bench/corpus.tsv to WAV files with Open JTalk.")
    parser.add_argument("--force", action="store_true", help="render every answer again")
    args = parser.parse_args(argv)
    try:
        rows = read_corpus()
    except (CorpusError, OSError) as err:
        print(f"corpus: {err}", file=sys.stderr)
        return 2
    clips = render(rows, force=args.force)
    seconds = sum(c.speech_end_s - c.speech_start_s for c in clips)
    print(f"{len(clips)} answers ({seconds:.0f} s of speech) in {CLIPS_DIR}; "
          f"manifest: {CLIPS_DIR / 'manifest.tsv'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
