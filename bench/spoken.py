"""The spoken corpus: a fixed selection of the typed corpus, read by voices that are not ours.

    .venv/bin/python bench/spoken.py select          rewrite bench/corpora/spoken.tsv from typed_all.tsv
    .venv/bin/python bench/spoken.py select --check  exit 1 when spoken.tsv is out of date
    .venv/bin/python bench/spoken.py render [--quick] synthesise the missing clips (bench/out/spoken/)

Selection (deterministic, no hand-picking): the typed corpus (bench/corpora/typed_all.tsv, columns
text, question, expected, source, split) is grouped by question, then by kind of expected answer
(a real answer, an ambiguous `X?`, `none`, a command), then by expected answer. Every question
gets the same quota (TEXTS / number of questions); ambiguous answers, `none` and commands get a
fixed share of it (KIND_SHARES) with their labels taking turns, and real answers the rest, one of
every label first and then in proportion to how common each label is. Inside one expected answer
the rows come in the order of a hash of their text. Each row keeps its split (dev / heldout).
Every selected text is spoken by VOICES_PER_TEXT bench voices, assigned in turn from the roster
(bench/voices) so every voice says about the same number of answers, of every question.

Rendering: each (text, voice) becomes bench/out/spoken/<voice>/<hash>.wav (clean; half a second
of silence before and after) and <hash>-older.wav (bench/voices/older.py), made once and reused.
The own voice (Open JTalk "mei", bench/corpus.py) reads every text too, under own_mei/; the
bench reports it apart and never pools it with the others.
"""
from __future__ import annotations

import argparse
import csv
import hashlib
import json
import sys
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from bench.noise import SAMPLE_RATE  # noqa: E402

BENCH = ROOT / "bench"
CORPORA = BENCH / "corpora"
TYPED_ALL = CORPORA / "typed_all.tsv"
SPOKEN_TSV = CORPORA / "spoken.tsv"
CLIPS_DIR = BENCH / "out" / "spoken"
TEXTS = 198  # 11 a question: 198 × 3 voices × 4 conditions ≈ 2,400 decodes, + own voice and real clips
VOICES_PER_TEXT = 3
QUICK_EVERY = 4  # --quick: every 4th text
OWN_VOICE = "own/mei"
LEAD_S = TAIL_S = 0.5
RENDER_VERSION = 1  # change when rendering changes, so old WAVs are not reused
COLUMNS = ("text", "question", "expected", "source", "split", "voices")


@dataclass(frozen=True)
class SpokenRow:
    line: int
    text: str
    question: str
    expected: str
    source: str
    split: str
    voices: tuple[str, ...]


def _hash(*parts: str) -> str:
    return hashlib.sha256("\x1f".join(parts).encode("utf-8")).hexdigest()


def read_typed(path: Path = TYPED_ALL) -> list[dict[str, str]]:
    with Path(path).open(encoding="utf-8", newline="") as f:
        rows = list(csv.DictReader(f, delimiter="\t", quoting=csv.QUOTE_NONE))
    return [r for r in rows if r.get("text", "").strip() and r.get("question", "").strip()]


# The kinds of expected answer and their share of each question's quota: mostly real answers,
# and enough of what must not be accepted (ambiguous, nothing usable) and of commands.
KIND_SHARES = {"answer": 0.55, "ambiguous": 0.15, "none": 0.15, "command": 0.10}
KIND_ORDER = ("answer", "ambiguous", "none", "command")
COMMANDS = frozenset({"repeat", "back", "skip", "help", "stop"})


def kind_of_expected(label: str) -> str:
    if label.endswith("?"):
        return "ambiguous"
    if label == "none":
        return "none"
    if label in COMMANDS:
        return "command"
    return "answer"


def _take_in_turns(queues: dict[str, list[dict[str, str]]], count: int) -> list[dict[str, str]]:
    """Up to `count` rows, the labels taking turns (largest label first); pops from the queues."""
    order = sorted(queues, key=lambda label: (-len(queues[label]), label))
    taken: list[dict[str, str]] = []
    while len(taken) < count and any(queues[label] for label in order):
        for label in order:
            if queues[label] and len(taken) < count:
                taken.append(queues[label].pop(0))
    return taken


def _take_proportional(queues: dict[str, list[dict[str, str]]], count: int) -> list[dict[str, str]]:
    """Up to `count` rows: one of every label first, the rest in proportion to how common each
    label is in the typed corpus (largest remainder); pops from the queues."""
    order = sorted(queues, key=lambda label: (-len(queues[label]), label))
    share = {label: 0 for label in order}
    for label in order[:count]:
        share[label] = 1
    left = count - sum(share.values())
    total = sum(len(queues[label]) for label in order)
    if left > 0 and total:
        exact = {label: left * len(queues[label]) / total for label in order}
        for label in order:
            share[label] += int(exact[label])
        rest = left - sum(int(v) for v in exact.values())
        for label in sorted(order, key=lambda lb: (-(exact[lb] - int(exact[lb])), lb))[:rest]:
            share[label] += 1
    taken: list[dict[str, str]] = []
    for label in order:
        n = min(share[label], len(queues[label]))
        taken += queues[label][:n]
        del queues[label][:n]
    return taken


def select(typed: list[dict[str, str]], roster: list[str], texts: int = TEXTS,
           voices_per_text: int = VOICES_PER_TEXT) -> list[SpokenRow]:
    """The stratified selection described in the module docstring."""
    by_question: dict[str, dict[str, list[dict[str, str]]]] = defaultdict(lambda: defaultdict(list))
    seen = set()
    for row in typed:
        key = (row["text"].strip(), row["question"].strip())
        if key in seen:
            continue
        seen.add(key)
        by_question[key[1]][row["expected"].strip()].append(row)
    if not by_question:
        return []
    quota = max(1, texts // len(by_question))
    chosen: list[dict[str, str]] = []
    for question in sorted(by_question):
        picked: list[dict[str, str]] = []
        groups: dict[str, dict[str, list[dict[str, str]]]] = defaultdict(dict)
        for label, rows in by_question[question].items():
            groups[kind_of_expected(label)][label] = sorted(rows, key=lambda r: _hash(r["text"], r["question"]))
        # Each kind of answer gets its share of the question's quota (what a share leaves unused
        # goes to the others); inside a kind the expected answers take turns.
        for kind in KIND_ORDER[::-1]:  # the small kinds first; real answers take what is left
            if kind in groups:
                if kind == "answer":
                    picked += _take_proportional(groups[kind], quota - len(picked))
                else:
                    picked += _take_in_turns(groups[kind], int(round(quota * KIND_SHARES[kind])))
        if len(picked) < quota:  # too few rows of some kind: fill from any
            rest = {label: rows for queues in groups.values() for label, rows in queues.items()}
            picked += _take_in_turns(rest, quota - len(picked))
        chosen += picked
    out = []
    for i, row in enumerate(chosen):
        voices = tuple(roster[(i * voices_per_text + j) % len(roster)] for j in range(voices_per_text))
        out.append(SpokenRow(i + 2, row["text"].strip(), row["question"].strip(), row["expected"].strip(),
                             row.get("source", "").strip(), row.get("split", "").strip() or "dev", voices))
    return out


def render_tsv(rows: list[SpokenRow]) -> str:
    lines = ["\t".join(COLUMNS)]
    lines += ["\t".join((r.text, r.question, r.expected, r.source, r.split, " ".join(r.voices))) for r in rows]
    return "\n".join(lines) + "\n"


def read_spoken(path: Path = SPOKEN_TSV) -> list[SpokenRow]:
    with Path(path).open(encoding="utf-8", newline="") as f:
        rows = list(csv.reader(f, delimiter="\t", quoting=csv.QUOTE_NONE))
    if not rows or tuple(rows[0]) != COLUMNS:
        raise ValueError(f"{path}: the header must be {' / '.join(COLUMNS)}")
    return [SpokenRow(n, c[0], c[1], c[2], c[3], c[4], tuple(c[5].split()))
            for n, c in enumerate(rows[1:], start=2) if len(c) == len(COLUMNS)]


# ------------------------------------------------------------------------------------------
# Rendering


def clip_stem(text: str, voice: str) -> str:
    return _hash(str(RENDER_VERSION), voice, text)[:12]


def clip_path(text: str, voice: str, older: bool = False, out_dir: Path = CLIPS_DIR) -> Path:
    return Path(out_dir) / voice.replace("/", "_") / (clip_stem(text, voice) + ("-older" if older else "") + ".wav")


def _pad(speech: np.ndarray) -> np.ndarray:
    return np.concatenate([np.zeros(int(LEAD_S * SAMPLE_RATE), np.float32), speech.astype(np.float32),
                           np.zeros(int(TAIL_S * SAMPLE_RATE), np.float32)])


def speak(text: str, voice: str) -> np.ndarray:
    """The text in one voice, finished (16 kHz, trimmed, levelled), without padding."""
    if voice == OWN_VOICE:
        from bench.corpus import render_speech

        return render_speech(text)
    from bench.voices import by_name

    return by_name()[voice].speak(text)


def render_clip(text: str, voice: str, out_dir: Path = CLIPS_DIR) -> tuple[Path, Path]:
    """Clean and older-speaker WAVs of one text in one voice (made when missing)."""
    from voicecheck.audio import write_wav

    from bench.voices.older import older_speaker

    clean, older = clip_path(text, voice, False, out_dir), clip_path(text, voice, True, out_dir)
    if clean.is_file() and older.is_file():
        return clean, older
    clean.parent.mkdir(parents=True, exist_ok=True)
    speech = speak(text, voice)
    aged, params = older_speaker(speech, voice, text)
    write_wav(clean, _pad(speech))
    write_wav(older, _pad(aged))
    older.with_suffix(".json").write_text(json.dumps(params.to_json()), encoding="utf-8")
    return clean, older


def render_all(rows: list[SpokenRow], own_voice: bool = True, out_dir: Path = CLIPS_DIR,
               progress=None) -> dict[str, str]:
    """Every (text, voice) of the rows; returns voice → why it was skipped (missing engines)."""
    from bench.voices import VoiceUnavailable, missing

    skipped = dict(missing())
    todo = [(r.text, v) for r in rows for v in r.voices if v not in skipped]
    if own_voice:
        todo += [(r.text, OWN_VOICE) for r in rows]
    for i, (text, voice) in enumerate(todo):
        try:
            render_clip(text, voice, out_dir)
        except VoiceUnavailable as error:
            skipped[voice] = str(error)
        if progress:
            progress(i + 1, len(todo))
    return skipped


def up_to_date() -> bool:
    """Whether spoken.tsv is the selection the current typed corpus and roster give."""
    from bench.voices import roster

    try:
        expected = render_tsv(select(read_typed(), [v.name for v in roster()]))
        return SPOKEN_TSV.read_text(encoding="utf-8") == expected
    except OSError:
        return False


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="The spoken corpus: select texts, render clips.")
    sub = parser.add_subparsers(dest="command", required=True)
    sel = sub.add_parser("select", help="rewrite bench/corpora/spoken.tsv from the typed corpus")
    sel.add_argument("--check", action="store_true", help="change nothing; exit 1 when out of date")
    ren = sub.add_parser("render", help="synthesise the missing clips")
    ren.add_argument("--quick", action="store_true", help=f"every {QUICK_EVERY}th text only")
    args = parser.parse_args(argv)
    if args.command == "select":
        from bench.voices import roster

        if args.check:
            same = up_to_date()
            print("spoken.tsv is up to date" if same else "spoken.tsv is out of date: run bench/spoken.py select")
            return 0 if same else 1
        rows = select(read_typed(), [v.name for v in roster()])
        text = render_tsv(rows)
        SPOKEN_TSV.write_text(text, encoding="utf-8")
        splits = defaultdict(int)
        for r in rows:
            splits[r.split] += 1
        print(f"{len(rows)} texts ({', '.join(f'{k} {v}' for k, v in sorted(splits.items()))}), "
              f"{len({r.question for r in rows})} questions → {SPOKEN_TSV}")
        return 0
    rows = read_spoken()
    if args.quick:
        rows = rows[::QUICK_EVERY]

    def progress(done: int, total: int) -> None:
        if done % 20 == 0 or done == total:
            print(f"  rendered {done}/{total}", file=sys.stderr, flush=True)

    skipped = render_all(rows, progress=progress)
    for voice, reason in skipped.items():
        print(f"skipped {voice}: {reason}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
