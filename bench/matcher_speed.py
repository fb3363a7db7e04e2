"""How long matching one heard answer takes (target: under 5 ms on the 2-core reference machine).

Run: .venv/bin/python bench/matcher_speed.py [--rounds N]
Every answer of the test corpus is matched against its question. The first round is reported
separately (cold: readings not cached yet); the following rounds use fresh, never-seen variants
of each answer, so the figure is not just a cache hit.
"""
from __future__ import annotations

import argparse
import csv
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from voicecheck.content import load_content  # noqa: E402
from voicecheck.matcher import Matcher  # noqa: E402

CORPUS = ROOT / "tests" / "data" / "answers_corpus.tsv"
# Appended to make each round's text new to the reading cache without changing its meaning.
VARIANTS = ("", "ね", "よ", "です", "かな", "けど", "なあ", "ねえ")


def load_cases() -> list[tuple[str, str]]:
    with CORPUS.open(encoding="utf-8") as f:
        return [(row["question"], row["text"]) for row in csv.DictReader(f, delimiter="\t")]


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(p / 100 * (len(ordered) - 1))))]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=len(VARIANTS), help="rounds over the corpus (max %(default)s)")
    args = parser.parse_args()

    started = time.perf_counter()
    matcher = Matcher(load_content(ROOT / "prompts" / "ja"))
    build_ms = (time.perf_counter() - started) * 1000
    cases = load_cases()

    cold: list[float] = []
    warm: list[float] = []
    for round_no, suffix in enumerate(VARIANTS[: max(1, args.rounds)]):
        for question, text in cases:
            t0 = time.perf_counter()
            matcher.match(question, text + suffix)
            elapsed = (time.perf_counter() - t0) * 1000
            (cold if round_no == 0 else warm).append(elapsed)
    timed = warm or cold
    print(f"matcher built in {build_ms:.0f} ms")
    print(f"first round (cold caches): mean {statistics.mean(cold):.2f} ms, p95 {percentile(cold, 95):.2f} ms")
    print(f"ms per match over {len(timed)} new answers: mean {statistics.mean(timed):.2f} ms, "
          f"p95 {percentile(timed, 95):.2f} ms, max {max(timed):.2f} ms")
    ok = percentile(timed, 95) < 5.0
    print("target < 5 ms per match (p95):", "met" if ok else "NOT met")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
