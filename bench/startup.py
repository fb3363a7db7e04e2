"""Whole-program figures: start-up to the first spoken word, peak memory of a whole session,
and how long the voice takes from a text to its first audio sample.

Sessions run as real subprocesses of `python run.py`, each in a temporary data and config
folder so nothing touches the user's own sessions or settings. Peak memory is the child's
maximum resident set size as the kernel reports it (os.wait4), so it covers everything the
process ever held: models, dictionaries, Python itself.
"""
from __future__ import annotations

import csv
import hashlib
import re
import json
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
SESSION_TSV = ROOT / "bench" / "session.tsv"


@dataclass(frozen=True)
class SessionTurn:
    text: str
    question: str
    expected: str
    voice: str


@dataclass
class ProcessRun:
    command: list[str]
    first_line_s: float | None  # from launch to the first line on stdout
    total_s: float
    peak_rss_mb: float
    returncode: int
    stdout: list[str] = field(default_factory=list)
    stderr: str = ""
    summary: dict | None = None


def read_session(path: Path = SESSION_TSV) -> list[SessionTurn]:
    with Path(path).open(encoding="utf-8", newline="") as f:
        return [SessionTurn(r["text"], r["question"], r["expected"], r["voice"])
                for r in csv.DictReader(f, delimiter="\t", quoting=csv.QUOTE_NONE)]


def run_process(command: list[str], stdin_text: str = "", env: dict | None = None, timeout_s: float = 600.0) -> ProcessRun:
    """Run a command, timing its first stdout line, and read its peak memory from the kernel.

    A child forked from this (large) bench process starts with the bench's own peak memory in its
    kernel count, so where GNU time exists the command runs under it: time is forked from us, but
    the command is forked from the small time process, and time reports the command's own peak.
    """
    gnu_time = Path("/usr/bin/time")
    peak_file = None
    if gnu_time.exists():
        peak_file = tempfile.NamedTemporaryFile(prefix="voicecheck-peak-", delete=False)
        peak_file.close()
        command = [str(gnu_time), "-f", "%M", "-o", peak_file.name, *command]
    started = time.perf_counter()
    proc = subprocess.Popen(command, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            env=env, cwd=str(ROOT))
    err_chunks: list[bytes] = []

    def feed() -> None:
        try:
            proc.stdin.write(stdin_text.encode("utf-8"))
            proc.stdin.close()
        except BrokenPipeError:
            pass

    def drain() -> None:
        err_chunks.append(proc.stderr.read())

    threads = [threading.Thread(target=feed, daemon=True), threading.Thread(target=drain, daemon=True)]
    for t in threads:
        t.start()
    killer = threading.Timer(timeout_s, lambda: proc.kill())
    killer.start()
    first_line_s = None
    lines = []
    for raw in proc.stdout:
        if first_line_s is None:
            first_line_s = time.perf_counter() - started
        lines.append(raw.decode("utf-8", "replace").rstrip("\n"))
    _pid, status, usage = os.wait4(proc.pid, 0)
    total_s = time.perf_counter() - started
    killer.cancel()
    proc.returncode = os.waitstatus_to_exitcode(status)  # reaped here; Popen must not wait again
    for t in threads:
        t.join(timeout=5)
    peak_kb = float(usage.ru_maxrss)
    if peak_file is not None:
        try:
            peak_kb = float(Path(peak_file.name).read_text().split()[-1])
        except (OSError, ValueError, IndexError):
            pass  # keep the kernel's (possibly inflated) figure
        finally:
            Path(peak_file.name).unlink(missing_ok=True)
        command = command[5:]
    return ProcessRun(command, first_line_s, total_s, peak_kb / 1024.0, proc.returncode, lines,
                      b"".join(err_chunks).decode("utf-8", "replace"))


def isolated_env(work: Path) -> dict:
    env = dict(os.environ)
    env["XDG_CONFIG_HOME"] = str(work / "config")  # no user settings file
    env["VOICECHECK_DATA_DIR"] = str(work / "data")
    env.pop("VOICECHECK_CONFIG", None)
    return env


def session_command(work: Path, *mode: str, engine: str | None = None) -> list[str]:
    command = [sys.executable, str(ROOT / "run.py"), *mode, "--fresh", "--no-confirm",
               "--data-dir", str(work / "data"), "--summary", str(work / "summary.json")]
    if engine:
        command += ["--engine", engine]
    return command


def run_session(mode: str, turns: list[SessionTurn], *, replay_dir: Path | None = None,
                engine: str | None = None, timeout_s: float = 600.0) -> ProcessRun:
    """One whole session as a user would run it: `--text` with piped answers, or `--replay DIR`."""
    with tempfile.TemporaryDirectory(prefix="voicecheck-bench-") as tmp:
        work = Path(tmp)
        if mode == "text":
            command = session_command(work, "--text")
            stdin = "".join(t.text + "\n" for t in turns)
        else:
            assert replay_dir is not None
            command = session_command(work, "--replay", str(replay_dir), "--replay-out", str(work / "spoken"),
                                      engine=engine)
            stdin = ""
        run = run_process(command, stdin, isolated_env(work), timeout_s)
        summary_path = work / "summary.json"
        if summary_path.is_file():
            run.summary = json.loads(summary_path.read_text(encoding="utf-8"))
    return run


def session_agreement(summary: dict | None, turns: list[SessionTurn]) -> tuple[int, int]:
    """(answers the session recorded as the script meant them, questions in the script)."""
    if not summary:
        return 0, sum(1 for t in turns if t.question != "yes_no")
    answers = summary.get("answers", {})
    right = total = 0
    for t in turns:
        if t.question == "yes_no":
            continue
        total += 1
        got = answers.get(t.question)
        if t.expected == "text":
            right += int(isinstance(got, str) and bool(got.strip()))
        elif isinstance(got, list):
            right += int(set(got) == set(t.expected.split("+")))
        else:
            right += int(got == t.expected)
    return right, total


def render_session(turns: list[SessionTurn], out_dir: Path) -> Path:
    """The script's answers as numbered WAVs for `--replay` (made again when missing)."""
    from bench.corpus import VOICES, render_speech
    from bench.noise import SAMPLE_RATE
    from voicecheck.audio import write_wav

    out_dir.mkdir(parents=True, exist_ok=True)
    for i, turn in enumerate(turns, start=1):
        tag = hashlib.sha256(f"{turn.voice}\x1f{turn.text}".encode()).hexdigest()[:8]
        path = out_dir / f"{i:03d}-{turn.question}-{tag}.wav"
        for stale in out_dir.glob(f"{i:03d}-*.wav"):
            if stale != path:
                stale.unlink()
        if not path.is_file():
            v = VOICES[turn.voice]
            speech = render_speech(turn.text, speed=v.speed, half_tone=v.half_tone, formant=v.formant, gain_db=v.gain_db)
            pad = np.zeros(int(0.5 * SAMPLE_RATE), np.float32)
            write_wav(path, np.concatenate([pad, speech, pad]))
    for extra in out_dir.glob("*.wav"):
        if int(extra.name[:3]) > len(turns):
            extra.unlink()
    return out_dir


# ------------------------------------------------------------------------------------------
# The voice: text → first audio sample


@dataclass(frozen=True)
class VoiceTiming:
    load_s: float  # constructing the voice and its first synthesis (dictionary loading)
    per_phrase_ms: tuple[float, ...]  # text → first audio: cold synthesis of each phrase's first piece
    whole_phrase_ms: tuple[float, ...]  # cold synthesis of each whole phrase (before the first sound, if unsplit)
    cached_ms: float  # a phrase said before (CachedVoice)
    greeting_ms: float
    longest_ms: float
    longest_chars: int
    phrases: int


def spoken_phrases(content) -> list[str]:
    """Every fixed phrase the program says: questions, hints, help, and system phrases without blanks."""
    texts = []
    for q in content.questions:
        texts += [q.text, q.hint, q.help]
        texts += [o.label for o in q.options]
    texts += [t for t in content.system.values() if isinstance(t, str) and "{" not in t]
    # Separators such as 「、」 are glue for other phrases, never said on their own.
    words = re.compile(r"[\u3040-\u30ff\u3400-\u9fff0-9A-Za-z]")
    return list(dict.fromkeys(t.strip() for t in texts if t and words.search(t)))


def voice_timing(content) -> VoiceTiming:
    from voicecheck.settings import Settings
    from voicecheck.voices import select_voice
    from voicecheck.voices.base import phrase_pieces

    started = time.perf_counter()
    voice = select_voice(Settings())
    voice.synthesize("はい。")
    load_s = time.perf_counter() - started
    phrases = spoken_phrases(content)
    inner = voice.voice  # uncached: every figure below is a fresh synthesis

    def timed(text: str) -> float:
        t0 = time.perf_counter()
        samples, _rate = inner.synthesize(text)
        assert len(samples) > 0
        return 1000 * (time.perf_counter() - t0)

    # The speaker plays a phrase piece by piece and synthesises the next piece while one plays
    # (voicecheck.speech_io.SpeakerMouth), so the first sound waits only for the first piece.
    wholes = tuple(timed(t) for t in phrases)
    per_phrase = tuple(timed(phrase_pieces(t)[0]) for t in phrases)
    greeting = timed(phrase_pieces(content.say("greeting"))[0])
    voice.synthesize(phrases[0])
    t0 = time.perf_counter()
    voice.synthesize(phrases[0])
    cached_ms = 1000 * (time.perf_counter() - t0)
    longest = max(range(len(phrases)), key=lambda i: per_phrase[i])
    return VoiceTiming(load_s, per_phrase, wholes, cached_ms, greeting, per_phrase[longest],
                       len(phrases[longest]), len(phrases))


def median(values: list[float]) -> float:
    return statistics.median(values) if values else float("nan")
