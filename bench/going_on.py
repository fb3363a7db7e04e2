"""Words that go on: how often an answer heard in its pause is taken as not over, and what it costs.

    .venv/bin/python bench/going_on.py              up to 30 texts of each part (dev, held out)
    .venv/bin/python bench/going_on.py --texts 10   fewer

As soon as a pause begins the product hears the answer so far and judges it
(voicecheck.understanding.turn_end). Words that stop where a Japanese sentence cannot — on a
linking particle, a comma, a filler — make the turn wait `going_on_extra_s` (1.2 s) longer, but
only when the recogniser is at least `SURE_OF_A_PARTICLE` sure of them: a misheard whole answer
stops on a particle by chance too. This measures both sides of that line, on texts of the spoken
corpus (phrasings from outside the team) said by its voices (none is the product's), clean and as
older-speaker renderings, in quiet and with babble, music and pink noise at 10 dB:

- **words going on**: each text cut after its last linking particle or comma that more words follow
  (「階段を下りるときと」 of 「階段を下りるときと、立ち上がるとき」), heard 0.3 s into the pause as the
  product hears it. The share the turn waits longer for is the share of people pausing longer than
  `end_silence_s` in mid-answer who are not cut (synthesised prefixes end with a falling voice, so
  a real pause in mid-sentence may be heard a little surer);
- **whole answers**: the same texts, complete. The share that waits longer is the share whose reply
  comes about 2.5 s after the person stopped instead of 1.3 s.

For the shipped line and for others, so that moving it shows what it gives and what it costs. The
dev part is for tuning; the held-out part is reported apart. Writes bench/results-going-on.md.
"""
from __future__ import annotations

import argparse
import sys
import time
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from bench import endpointing, spoken  # noqa: E402

PREFIX_DIR = endpointing.OUT_DIR / "going_on"
RESULTS = ROOT / "bench" / "results-going-on.md"
LINES = (0.0, 0.4, 0.5, 0.6, 0.7)  # the recogniser's certainty needed for words to count as going on
HEARD_AFTER_S = 0.3  # voicecheck.listening.early_end.EarlyEndConfig.listen_after_s
PARTS = (("dev", "dev part (tuning)"), ("heldout", "held-out part"))


def going_on_prefix(text: str, continuing: frozenset[str]) -> str | None:
    """The text up to its last word after which a sentence cannot stop and more words follow
    (at least 3 words, 5 characters), or None."""
    from voicecheck.reading import analyse, normalise
    from voicecheck.understanding.turn_end import said_with_commas, words_continue

    tokens = analyse(normalise(text))
    for end in reversed(range(2, len(tokens))):
        head, rest = tokens[:end], tokens[end:]
        said = said_with_commas(head)
        words = [t for t in said if not t.is_boundary]
        if (len(words) >= 3 and len("".join(t.surface for t in words)) >= 5
                and any(not t.is_boundary for t in rest) and words_continue(said, continuing)):
            return "".join(t.surface for t in head).rstrip("、,，")
    return None


@dataclass(frozen=True)
class Take:
    side: str  # "going on" or "whole"
    text: str
    voice: str
    older: bool
    question: str


def takes(rows, texts: int, continuing: frozenset[str]) -> list[Take]:
    """`texts` rows spread over the part, each with its whole text and (when it has one) its prefix
    that goes on, in each of the row's voices, clean and older."""
    with_prefix = [(r, p) for r in rows if (p := going_on_prefix(r.text, continuing))]
    step = max(1, len(with_prefix) // max(1, texts))
    out = []
    for row, prefix in with_prefix[::step][:texts]:
        for voice in row.voices:
            for older in (False, True):
                out.append(Take("going on", prefix, voice, older, row.question))
                out.append(Take("whole", row.text, voice, older, row.question))
    return out


def clip(take: Take) -> np.ndarray | None:
    """The take's samples (rendered when missing: whole texts with the spoken corpus, prefixes apart)."""
    from bench.voices import VoiceUnavailable

    out_dir = spoken.CLIPS_DIR if take.side == "whole" else PREFIX_DIR
    try:
        clean, older = spoken.render_clip(take.text, take.voice, out_dir)
    except VoiceUnavailable:
        return None
    return endpointing._read(older if take.older else clean)


def heard_in_pause(take: Take, samples: np.ndarray, condition, tracks, words):
    """What the product hears 0.3 s into the pause after the take, in the condition."""
    case = endpointing._case(f"{take.voice}: {take.text}", samples, take.voice, question=take.question)
    _, sound = endpointing.room_sound(case, condition, tracks, after_s=HEARD_AFTER_S)
    until = int((case.speech_end_s + HEARD_AFTER_S) * endpointing.SAMPLE_RATE)
    return words.recognizer.transcribe(sound[:until], words.context(words.question_of(take.question)))


def measure(takes_: list[Take], conditions, tracks, words, log) -> dict:
    """(side, condition label, older) → list of per-line booleans (waited longer)."""
    from voicecheck.understanding.turn_end import GOING_ON, turn_end

    kind_of = words.matcher.kind_of
    results: dict = defaultdict(list)
    started = time.time()
    for i, take in enumerate(takes_):
        samples = clip(take)
        if samples is None:
            continue
        for condition in conditions:
            heard = heard_in_pause(take, samples, condition, tracks, words)
            question = words.question_of(take.question)
            results[(take.side, condition.label, take.older)].append(tuple(
                turn_end(words.matcher, question, heard, kind_of(question), sure_of_a_particle=line) == GOING_ON
                for line in LINES))
        if (i + 1) % 20 == 0:
            log(f"  {i + 1}/{len(takes_)} takes, {time.time() - started:.0f} s")
    return results


def table(results: dict, conditions, shipped: float) -> list[str]:
    heads = " / ".join(f"**{line:g}**" if line == shipped else f"{line:g}" for line in LINES)
    lines = [f"| condition · voices | words going on, waited for — line {heads} | "
             f"whole answers waited longer for nothing — line {heads} |", "|---|---|---|"]

    def cell(rows) -> str:
        if not rows:
            return "—"
        counts = np.sum(np.array(rows, dtype=int), axis=0)
        return f"{' / '.join(f'{100 * c / len(rows):.0f}' for c in counts)} % (of {len(rows)})"

    for condition in conditions:
        for older, who in ((False, "clean"), (True, "older-speaker renderings")):
            lines.append(f"| {condition.label} · {who} | {cell(results[('going on', condition.label, older)])} | "
                         f"{cell(results[('whole', condition.label, older)])} |")
    return lines


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="How often words that go on make the turn wait, and what it costs.")
    parser.add_argument("--texts", type=int, default=30,
                        help="texts of each part, of those with a place more words follow (default 30)")
    parser.add_argument("--output", type=Path, default=RESULTS)
    args = parser.parse_args(argv)

    from voicecheck.understanding.turn_end import SURE_OF_A_PARTICLE

    words = endpointing.load_words(print)
    if words is None:
        return 1
    tracks = endpointing.load_tracks()
    conditions = [endpointing.Condition(None, None)] + [endpointing.Condition(n, 10.0) for n in endpointing.NOISES]
    started = time.time()
    out = ["# Words that go on: waited for, and waited for in vain", "",
           f"Command: `.venv/bin/python bench/going_on.py --texts {args.texts}` · "
           f"{time.strftime('%Y-%m-%d %H:%M')}. Up to {args.texts} texts of each part of the spoken corpus "
           "(other people's phrasings), each cut after its last linking particle or comma that more words follow, and the same "
           "text whole, in each of its 3 voices (Kokoro, Open JTalk, eSpeak NG; none is the product's), "
           "clean and as the older-speaker rendering; heard by Whisper base 0.3 s into the pause, as the "
           "product hears it, and judged by `voicecheck.understanding.turn_end`. The line is the "
           f"recogniser's certainty words that stop on a particle need to make the turn wait 1.2 s longer "
           f"(`SURE_OF_A_PARTICLE`, shipped: **{SURE_OF_A_PARTICLE:g}**; 0 = none; a filler alone waits "
           "whatever the certainty). Left: the share of words going on that the turn waits for (a person "
           "pausing longer than end_silence_s in mid-answer, not cut). Right: the share of whole answers "
           "that wait longer for nothing (a reply about 2.5 s after the person stopped).", ""]
    for part, title in PARTS:
        rows = [r for r in spoken.read_spoken() if r.split == part]
        part_takes = takes(rows, args.texts, words.matcher.continuing_words)
        texts = len({t.text for t in part_takes if t.side == "whole"})
        print(f"{title}: {texts} texts, {len(part_takes)} takes", flush=True)
        results = measure(part_takes, conditions, tracks, words, print)
        out += [f"### {title}: {texts} texts", ""] + table(results, conditions, SURE_OF_A_PARTICLE) + [""]
    out.append(f"{time.time() - started:.0f} s to run.")
    args.output.write_text("\n".join(out) + "\n", encoding="utf-8")
    print("\n".join(out))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
