"""Whole sessions, simulated on voices that are not ours: how many questions end with the right answer.

    .venv/bin/python bench/sessions.py                 200 sessions in each condition
    .venv/bin/python bench/sessions.py --sessions 50   fewer

Single answers tell only part of the story: a read-back the person refuses, a question asked
again, the emergency question answered wrongly — what counts is where each question ENDS. This
runs the product's own questionnaire (`voicecheck.conversation.Questionnaire`, with read-backs,
narrower reprompts and three tries) against a simulated person:

- each session has one condition (clean, older speaker, TV 10 dB, older speaker + TV 15 dB) and,
  for every question, an intended answer drawn from the spoken corpus (bench/corpora/spoken.tsv:
  answers by voices that are not the product's, as heard by the recogniser in
  bench/understanding.py — run that first);
- each time the device listens at a question, the person gives a take of the intended answer
  not used yet in this session (another text or another voice of the same answer), as heard;
- at a read-back the person says yes when it names the intended answer and no otherwise; the
  replies (bench/corpora/replies.tsv: はい, いいえ, 違います …) are spoken by the same bench voices
  in the same condition and heard by the recogniser too;
- the emergency question is answered "no" here (a "yes" ends the questionnaire by design; that
  path has its own tests), so every session runs through all 17 questions.

A question ends RIGHT when the recorded answer is the intended one, WRONG when another answer is
recorded (the worst outcome: nobody notices), and UNRESOLVED when it was marked unknown after three
tries or never reached. Turns count every time the device listened while on that question.
Sessions drawn only from held-out texts are reported apart.

Writes bench/results-sessions.md; deterministic for a seed.
"""
from __future__ import annotations

import argparse
import csv
import itertools
import random
import sys
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from bench import understanding  # noqa: E402
from bench.noise import stable_seed  # noqa: E402

REPLIES_TSV = ROOT / "bench" / "corpora" / "replies.tsv"
RESULTS_MD = ROOT / "bench" / "results-sessions.md"
SESSIONS = 200
SEED = 2026_11_27
COMMANDS = frozenset({"repeat", "back", "skip", "help", "stop"})
SAFETY = "safety_now"


def is_answer(label: str) -> bool:
    """An expected label a person can mean as their answer (not none, a command or an ambiguous one)."""
    return label not in COMMANDS and label != "none" and not label.endswith("?")


def read_replies(path: Path = REPLIES_TSV) -> list[dict[str, str]]:
    with Path(path).open(encoding="utf-8", newline="") as f:
        return [row for row in csv.DictReader(f, delimiter="\t")]


def reply_clips() -> list[understanding.BenchClip]:
    """The read-back replies, spoken by every bench voice available here, in every condition."""
    from bench import spoken
    from bench.voices import missing, roster

    absent = missing()
    clips = []
    for row in read_replies():
        for voice in (v.name for v in roster() if v.name not in absent):
            spoken.render_clip(row["text"], voice)
            for cond in understanding.CONDITIONS:
                path = spoken.clip_path(row["text"], voice, cond.older)
                clips.append(understanding.BenchClip(f"reply|{voice}|{cond.key}|{row['text']}", "replies", voice,
                                                     cond.key, "yes_no", row["expected"], "reply", row["text"], path,
                                                     row["source"]))
    return clips


@dataclass
class Takes:
    """Heard takes by (question, expected, condition), drawn without repeats within a session."""

    by_key: dict[tuple[str, str, str], list]
    rng: random.Random
    fallback: "Takes | None" = None  # where a question has no takes of its own (held-out texts)
    used: dict[tuple[str, str, str], list] = field(default_factory=dict)

    def labels(self, question: str, condition: str) -> list[str]:
        return sorted({e for (q, e, c) in self.by_key if q == question and c == condition and is_answer(e)})

    def draw(self, question: str, expected: str, condition: str):
        key = (question, expected, condition)
        if key not in self.by_key and self.fallback is not None:
            return self.fallback.draw(question, expected, condition)
        pool = self.used.get(key)
        if not pool:
            pool = list(self.by_key[key])
            self.rng.shuffle(pool)
            self.used[key] = pool
        return pool.pop()


class SimulatedPerson:
    """Ears for the questionnaire: answers each question with takes of one intended answer."""

    def __init__(self, content, takes: Takes, condition: str, intended: dict[str, str], said: list[str]) -> None:
        self.content, self.takes, self.condition, self.intended, self.said = content, takes, condition, intended, said
        self.question: str | None = None
        self.turns: dict[str, int] = defaultdict(int)
        self.last_verdict = "no"

    def _agrees(self) -> str:
        """yes when what was just read back is the intended answer."""
        last = self.said[-1] if self.said else ""
        if last == self.content.say("confirm_not_understood"):
            return self.last_verdict  # asked again for はい or いいえ: the same reply
        question = self.content.question(self.question)
        wanted = self.intended[self.question]
        if question.kind == "free_text":
            return "yes"  # their own words read back: kept
        for label in read_back_labels(self.content, question, wanted):
            if last == self.content.say("confirm_option", label=label):
                return "yes"
        return "no"

    def listen(self, context):
        from bench.understanding import heard_from_json

        if context.question_id != "yes_no":
            self.question = context.question_id
            self.turns[self.question] += 1
            take = self.takes.draw(self.question, self.intended[self.question], self.condition)
            return heard_from_json(take)
        self.turns[self.question or "?"] += 1
        self.last_verdict = self._agrees()
        return heard_from_json(self.takes.draw("yes_no", self.last_verdict, self.condition))


def read_back_labels(content, question, wanted: str) -> list[str]:
    """Every way the questionnaire may read `wanted` back (options of a multi answer in any order)."""
    if question.kind == "yes_no":
        phrase = {"yes": "yes_label", "no": "no_label"}.get(wanted, "unknown_label")
        return [content.say(phrase)]
    ids = wanted.split("+")
    separator = content.say("label_separator")
    return [separator.join(question.option(i).label for i in order) for order in itertools.permutations(ids)]


@dataclass
class Ending:
    question: str
    condition: str
    intended: str
    recorded: str | None  # None: unresolved
    turns: int

    @property
    def kind(self) -> str:
        if self.recorded is None:
            return "unresolved"
        return "right" if self.recorded == self.intended else "wrong"


def recorded_value(record, kind: str) -> str | None:
    if record is None or record.status == "skipped":
        return None
    if record.status == "unknown":
        return "unknown" if kind == "yes_no" else None
    if kind == "free_text":
        return "text" if record.value else None
    if isinstance(record.value, tuple):
        return "+".join(sorted(record.value))
    return str(record.value)


def simulate(content, matcher, takes: Takes, condition: str, rng: random.Random) -> list[Ending]:
    """One whole session; its endings, one per question."""
    from voicecheck.conversation import Progress, Questionnaire
    from voicecheck.talk import Talk
    from voicecheck.interfaces import RecordingMouth

    intended, counted = {}, set()
    for q in content.questions:
        for source in (takes, takes.fallback):
            if source is None:
                continue
            labels = [label for label in source.labels(q.id, condition) if not (q.id == SAFETY and label == "yes")]
            if labels:
                intended[q.id] = rng.choice(labels)
                if source is takes:
                    counted.add(q.id)  # answered with this split's own texts
                break
    mouth = RecordingMouth()
    person = SimulatedPerson(content, takes, condition, intended, mouth.said)
    talk = Talk(content, matcher, person, mouth, log=lambda event: None)
    progress = Progress()
    questionnaire = Questionnaire(talk, save=lambda p: None, retries=3, confirm=True)
    # A question given up after three tries is recorded "unknown", like a said 「わからない」;
    # only the first is unresolved, so the give-ups are noted as they happen.
    gave_up: set[str] = set()
    give_up = questionnaire._give_up

    def noting_give_up(question, heard):
        gave_up.add(question.id)
        return give_up(question, heard)

    questionnaire._give_up = noting_give_up
    questionnaire.run(progress)
    endings = []
    for q in content.questions:
        if q.id not in counted:
            continue
        wanted = intended[q.id]
        if q.kind == "multi":
            wanted = "+".join(sorted(wanted.split("+")))
        recorded = None if q.id in gave_up else recorded_value(progress.answers.get(q.id), q.kind)
        endings.append(Ending(q.id, condition, wanted, recorded, person.turns.get(q.id, 0)))
    return endings


def index_takes(clips: list[dict], split: str | None) -> dict[tuple[str, str, str], list]:
    by_key: dict[tuple[str, str, str], list] = defaultdict(list)
    for c in clips:
        if c["group"] == "voices" and (split is None or c["split"] == split):
            by_key[(c["question"], c["expected"], c["condition"])].append(c["heard"])
    return by_key


def run(sessions: int = SESSIONS, seed: int = SEED, log=None) -> str:
    from voicecheck.content import load_content
    from voicecheck.matcher import Matcher
    from voicecheck.settings import Settings

    log = log or (lambda message: print(message, file=sys.stderr, flush=True))
    results = understanding.load_results()
    settings = Settings()
    content = load_content(settings.prompts_dir)
    matcher = Matcher(content)
    replies = reply_clips()
    heard, _ = understanding.transcribe_all(replies, log=log)
    reply_takes: dict[tuple[str, str, str], list] = defaultdict(list)
    for clip in replies:
        if clip.id in heard:
            reply_takes[("yes_no", clip.expected, clip.condition)].append(understanding.heard_to_json(heard[clip.id]))
    conditions = [c.key for c in understanding.CONDITIONS]
    endings: dict[tuple[str, str], list[Ending]] = {}
    every = index_takes(results["clips"], None)
    every.update(reply_takes)
    for split in ("all", "heldout"):
        by_key = index_takes(results["clips"], None if split == "all" else split)
        by_key.update(reply_takes)
        for condition in conditions:
            rng = random.Random(stable_seed(seed, split, condition))
            takes = Takes(by_key, rng, None if split == "all" else Takes(every, rng))
            found: list[Ending] = []
            for _ in range(sessions):
                takes.used.clear()
                if takes.fallback is not None:
                    takes.fallback.used.clear()
                found += simulate(content, matcher, takes, condition, rng)
            endings[(split, condition)] = found
            log(f"sessions: {split} {condition}: {len(found)} questions")
    return report(endings, sessions, results["meta"])


def _pct(n: int, total: int) -> str:
    return f"{100 * n / total:.1f} % ({n})" if total else "–"


def report(endings: dict[tuple[str, str], list[Ending]], sessions: int, meta: dict) -> str:
    labels = {c.key: c.label for c in understanding.CONDITIONS}
    lines = [
        "# Whole simulated sessions (voices that are not ours)",
        "",
        f"`.venv/bin/python bench/sessions.py --sessions {sessions}` — {sessions} sessions per condition; takes "
        f"from the understanding bench run of {meta.get('when', '?')} ({meta.get('engine', '?')}).",
        "",
        "| texts | condition | questions | ended right | ended WRONG | unresolved | turns per question |",
        "|---|---|---|---|---|---|---|",
    ]
    for (split, condition), found in endings.items():
        n = len(found)
        right = sum(e.kind == "right" for e in found)
        wrong = sum(e.kind == "wrong" for e in found)
        unresolved = n - right - wrong
        turns = sum(e.turns for e in found) / n if n else 0.0
        lines.append(f"| {split} | {labels[condition]} | {n} | {_pct(right, n)} | {_pct(wrong, n)} | "
                     f"{_pct(unresolved, n)} | {turns:.2f} |")
    lines += ["", "## Questions that ended wrong (all texts)", "",
              "| question | condition | intended | recorded | times |", "|---|---|---|---|---|"]
    wrongs: dict[tuple, int] = defaultdict(int)
    for (split, condition), found in endings.items():
        if split != "all":
            continue
        for e in found:
            if e.kind == "wrong":
                wrongs[(e.question, labels[condition], e.intended, e.recorded)] += 1
    for (question, condition, intended, recorded), times in sorted(wrongs.items(), key=lambda kv: -kv[1])[:40]:
        lines.append(f"| {question} | {condition} | {intended} | {recorded} | {times} |")
    if not wrongs:
        lines.append("| – | – | – | – | 0 |")
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Simulate whole sessions on the understanding bench's takes.")
    parser.add_argument("--sessions", type=int, default=SESSIONS)
    parser.add_argument("--seed", type=int, default=SEED)
    parser.add_argument("--output", type=Path, default=RESULTS_MD)
    args = parser.parse_args(argv)
    if not understanding.RESULTS_JSON.is_file():
        print("sessions: run bench/understanding.py first (its per-clip results are the takes)", file=sys.stderr)
        return 2
    text = run(args.sessions, args.seed)
    print(text)
    if args.output:
        args.output.write_text(text, encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
