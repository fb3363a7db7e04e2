"""`python run.py evaluate MANIFEST.tsv [--json]`: how well answers are understood, for testers.

The manifest is tab-separated with a header row and the columns
  text      what was said (or `audio`: a WAV file, relative to the manifest, to transcribe first)
  question  a question id, or `yes_no` for confirmations
  expected  an option id, several joined with `+` (any order), a command id (repeat, back, skip,
            help, stop), `none` where the answer must be rejected as not understood, `text`
            where a free-text answer must be kept as said, or `X?` (e.g. `no?`) for an answer
            whose meaning depends on context (「大丈夫です」): it must never be accepted without
            a read-back.
An answer counts as understood when the matcher accepts it or would read it back for
confirmation with the right ids; "none" is right only when the matcher asks again; "X?" is right
when it is read back as X or asked again.
A WRONG ACCEPT is the worst outcome: an answer taken without a read-back that is not the expected
one (anything accepted for "none" or "X?" included). A wrong read-back is a read-back of the wrong
answer (the person has to refuse it). Both are counted and listed.

Exit status: 0 every answer matched, 1 some were missed, 2 the manifest could not be used.
"""
from __future__ import annotations

import csv
import errno
import io
import json
import os
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TextIO

from voicecheck.content import COMMAND_IDS, UNKNOWN
from voicecheck.interfaces import Heard
from voicecheck.matcher import YES_NO, Match, Matcher

NONE = "none"  # expected: the answer must be rejected as not understood
TEXT = "text"  # expected: a free-text answer kept as said
MAX_MANIFEST_BYTES = 32 * 2**20  # a manifest is a list of short answers; /dev/zero is not one


@dataclass(frozen=True)
class Case:
    line: int
    question: str
    expected: str
    text: str | None = None
    audio: Path | None = None


@dataclass(frozen=True)
class Outcome:
    case: Case
    heard: str
    chosen: str
    decision: str
    score: float

    @property
    def correct(self) -> bool:
        expected = self.case.expected
        if expected.endswith("?"):  # context-dependent: read back as X, or asked again
            return self.decision == "reprompt" or (self.decision == "confirm" and _same(expected[:-1], self.chosen))
        return _same(expected, self.chosen)

    @property
    def wrong_accept(self) -> bool:
        """Taken without a read-back, and not what was meant: the worst outcome."""
        if self.decision != "accept":
            return False
        return self.case.expected.endswith("?") or not _same(self.case.expected, self.chosen)

    @property
    def wrong_read_back(self) -> bool:
        return self.decision == "confirm" and not self.correct


class ManifestError(Exception):
    """The manifest cannot be evaluated; the message says why, in plain words."""


def _same(expected: str, chosen: str) -> bool:
    if "+" in expected or "+" in chosen:
        return set(expected.split("+")) == set(chosen.split("+"))
    return expected == chosen


def chosen_of(match: Match) -> str:
    """What a match chose, written like the manifest's `expected` column."""
    if match.command:
        return match.command
    if match.decision == "reprompt":
        return NONE
    if match.text is not None:
        return TEXT
    return "+".join(match.option_ids) if match.option_ids else NONE


def _allowed(matcher: Matcher, question_id: str) -> tuple[str, set[str]]:
    """The question's kind and the values its `expected` column may hold."""
    allowed = set(COMMAND_IDS) | {NONE}
    if question_id == YES_NO:
        return "yes_no", allowed | {"yes", "no", UNKNOWN}
    question = matcher.content.question(question_id)
    if question.kind == "yes_no":
        return question.kind, allowed | {"yes", "no", UNKNOWN}
    if question.kind == "free_text":
        return question.kind, allowed | {TEXT}
    return question.kind, allowed | set(question.option_ids)


def _manifest_text(manifest: Path) -> str:
    """The manifest as text (a BOM is dropped); ManifestError for a missing, unreadable,
    oversized or non-UTF-8 file."""
    try:
        with Path(manifest).open("rb") as f:
            raw = f.read(MAX_MANIFEST_BYTES + 1)
    except FileNotFoundError:
        raise ManifestError(f"The manifest {manifest} does not exist.") from None
    except IsADirectoryError:
        raise ManifestError(f"{manifest} is a folder; give the path of a .tsv file.") from None
    except OSError as err:
        raise ManifestError(f"The manifest {manifest} cannot be read ({err.strerror or err}).") from None
    if len(raw) > MAX_MANIFEST_BYTES:
        raise ManifestError(f"The manifest {manifest} is larger than {MAX_MANIFEST_BYTES // 2**20} MiB; "
                            "a manifest is a tab-separated list of answers.")
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError as err:
        line = raw[:err.start].count(b"\n") + 1
        raise ManifestError(f"The manifest {manifest} is not UTF-8 text (line {line}). Save it as UTF-8.") from None


def _header(row: list[str]) -> list[str]:
    # Column names are matched whatever their case or surrounding spaces ("Audio", " text ").
    return [h.strip().lower() for h in row]


def manifest_has_audio(manifest: Path) -> bool:
    """Whether the manifest's answers are WAV files to transcribe (an `audio` column and no
    `text` column, as read_manifest decides). False when the file cannot be read: read_manifest
    then reports why."""
    try:
        text = _manifest_text(manifest)
    except ManifestError:
        return False
    header = _header(text.split("\n", 1)[0].rstrip("\r").split("\t"))
    return "text" not in header and "audio" in header


def read_manifest(manifest: Path, matcher: Matcher) -> list[Case]:
    """Read and check every row; raise ManifestError listing all problems found."""
    text = _manifest_text(manifest)
    reader = csv.reader(io.StringIO(text, newline=""), delimiter="\t", quoting=csv.QUOTE_NONE)
    try:
        rows = list(reader)
    except csv.Error as err:
        limit = csv.field_size_limit() // 1024
        raise ManifestError(f"The manifest {manifest} cannot be read at line {reader.line_num}: {err} "
                            f"(a field may hold at most {limit} KiB).") from None
    if not rows:
        raise ManifestError(f"The manifest {manifest} is empty; it needs a header row: text, question, expected.")
    header = _header(rows[0])
    source = "text" if "text" in header else "audio" if "audio" in header else None
    missing = [c for c in ("question", "expected") if c not in header]
    if source is None or missing:
        need = ", ".join(([] if source else ["text (or audio)"]) + missing)
        raise ManifestError(f"The manifest's header row lacks the column(s): {need}. "
                            f"Found: {', '.join(header) or 'nothing'}. Columns are separated by tabs.")
    at = {name: header.index(name) for name in (source, "question", "expected")}
    valid_ids = {q.id for q in matcher.content.questions} | {YES_NO}
    cases, problems = [], []
    for number, row in enumerate(rows[1:], start=2):
        if not any(cell.strip() for cell in row):
            continue
        if len(row) < len(header) and len(row) <= max(at.values()):
            problems.append(f"line {number}: expected {len(header)} tab-separated columns, found {len(row)}")
            continue
        question = row[at["question"]].strip()
        expected = row[at["expected"]].strip()
        value = row[at[source]]
        if question not in valid_ids:
            problems.append(f"line {number}: unknown question {question!r}")
            continue
        kind, allowed = _allowed(matcher, question)
        parts = expected.split("+") if expected else [""]
        if len(parts) > 1 and kind != "multi":
            problems.append(f"line {number}: {question} takes one answer, found {expected!r}")
            continue
        bad = [p for p in (expected[:-1].split("+") if expected.endswith("?") else parts) if p not in allowed]
        if bad:
            problems.append(f"line {number}: {bad[0]!r} is not an answer of {question}; "
                            f"expected one of {', '.join(sorted(allowed))}")
            continue
        if source == "audio":
            path = Path(value.strip())
            if not path.is_absolute():
                path = Path(manifest).parent / path
            if not path.is_file():
                problems.append(f"line {number}: audio file {value.strip()!r} not found")
                continue
            if not os.access(path, os.R_OK):
                problems.append(f"line {number}: audio file {value.strip()!r} cannot be read "
                                f"({os.strerror(errno.EACCES)})")
                continue
            cases.append(Case(number, question, expected, audio=path))
        else:
            cases.append(Case(number, question, expected, text=value))
    if problems:
        raise ManifestError("The manifest has problems:\n  " + "\n  ".join(problems))
    if not cases:
        raise ManifestError(f"The manifest {manifest} has a header but no answers to evaluate.")
    return cases


def evaluate_cases(cases: list[Case], matcher: Matcher,
                   transcribe: Callable[[Path, str], Heard] | None = None) -> list[Outcome]:
    """Each case through the product's own understanding (every hypothesis of a recording)."""
    outcomes = []
    for case in cases:
        if case.audio is not None:
            assert transcribe is not None
            try:
                heard = transcribe(case.audio, case.question)
            except Exception as err:  # a broken file is a miss to report, not a crash
                outcomes.append(Outcome(case, f"(could not transcribe: {err})", NONE, "error", 0.0))
                continue
        else:
            heard = Heard(text=case.text or "")
        match = matcher.understand(case.question, heard)
        outcomes.append(Outcome(case, heard.text, chosen_of(match), match.decision, match.score))
    return outcomes


def summarise(outcomes: list[Outcome], manifest: Path) -> dict:
    per_question: dict[str, dict[str, float]] = {}
    for o in outcomes:
        q = per_question.setdefault(o.case.question, {"correct": 0, "total": 0})
        q["total"] += 1
        q["correct"] += int(o.correct)
    for q in per_question.values():
        q["accuracy"] = round(q["correct"] / q["total"], 3)
    correct = sum(int(o.correct) for o in outcomes)
    decisions: dict[str, int] = {}
    for o in outcomes:
        decisions[o.decision] = decisions.get(o.decision, 0) + 1
    return {
        "manifest": str(manifest),
        "total": len(outcomes),
        "correct": correct,
        "accuracy": round(correct / len(outcomes), 3) if outcomes else 0.0,
        "wrong_accepts": sum(int(o.wrong_accept) for o in outcomes),
        "wrong_read_backs": sum(int(o.wrong_read_back) for o in outcomes),
        "decisions": decisions,
        "per_question": per_question,
        "misses": [
            {"line": o.case.line, "question": o.case.question,
             **({"audio": str(o.case.audio)} if o.case.audio else {}),
             "heard": o.heard, "expected": o.case.expected, "chosen": o.chosen,
             "decision": o.decision, "score": o.score,
             "outcome": "wrong accept" if o.wrong_accept else "wrong read-back" if o.wrong_read_back else "missed"}
            for o in outcomes if not o.correct or o.wrong_accept
        ],
    }


def _print_report(summary: dict, out: TextIO) -> None:
    engine = f", speech recognition: {summary['engine']}" if "engine" in summary else ""
    out.write(f"Answer matching: {summary['manifest']} ({summary['total']} answers{engine})\n\n")
    width = max(len("question"), *(len(q) for q in summary["per_question"]))
    out.write(f"{'question':<{width}}  correct  total  accuracy\n")
    for qid, q in summary["per_question"].items():
        out.write(f"{qid:<{width}}  {q['correct']:>7}  {q['total']:>5}  {q['accuracy']:>8.3f}\n")
    decisions = ", ".join(f"{k} {v}" for k, v in sorted(summary["decisions"].items()))
    out.write(f"\ndecisions: {decisions}\n")
    misses = summary["misses"]
    out.write(f"\nmisses: {len(misses)}\n")
    for m in misses:
        where = f" [{m['audio']}]" if "audio" in m else ""
        out.write(f"  line {m['line']}: {m['question']}{where} heard 「{m['heard']}」 expected {m['expected']}, "
                  f"chose {m['chosen']} ({m['decision']}, {m['score']:g}) — {m['outcome']}\n")
    out.write(f"\nwrong accepts: {summary['wrong_accepts']} (taken without a read-back, not what was meant)\n")
    out.write(f"wrong read-backs: {summary['wrong_read_backs']}\n")
    out.write(f"accuracy: {summary['accuracy']:.3f} ({summary['correct']}/{summary['total']})\n")


def run_evaluate(manifest: Path, *, as_json: bool, matcher: Matcher,
                 transcribe: Callable[[Path, str], Heard] | None = None, out: TextIO = sys.stdout,
                 engine: str | None = None) -> int:
    """Evaluate a manifest and print the report; return the exit status (0, 1 or 2, see above)."""
    manifest = Path(manifest)
    try:
        cases = read_manifest(manifest, matcher)
    except ManifestError as err:
        if as_json:
            out.write(json.dumps({"error": str(err)}, ensure_ascii=False) + "\n")
        else:
            out.write(f"{err}\n")
        return 2
    if any(c.audio is not None for c in cases) and transcribe is None:
        message = ("This manifest has an audio column, but no speech recogniser is available to "
                   "transcribe it. Install a speech model (python run.py models fetch) or use a "
                   "manifest with a text column.")
        out.write((json.dumps({"error": message}, ensure_ascii=False) if as_json else message) + "\n")
        return 2
    summary = summarise(evaluate_cases(cases, matcher, transcribe), manifest)
    if engine and any(c.audio is not None for c in cases):
        summary["engine"] = engine
    if as_json:
        out.write(json.dumps(summary, ensure_ascii=False, indent=2) + "\n")
    else:
        _print_report(summary, out)
    return 0 if not summary["misses"] else 1
