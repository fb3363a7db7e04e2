"""The benchmark: how accurately, how fast and how lightly voicecheck understands and answers.

Run:  make bench                         (the full run, ~20 minutes on 2 cores)
      .venv/bin/python bench/run.py --quick   (a subset, ~3 minutes)

Prints a Markdown table and writes it to bench/results.md. What is measured:

1. Accuracy of the matcher and of a naive baseline (bench/naive.py: one rapidfuzz call on
   the raw transcript, no normalisation), side by side, on the spoken-answer corpus
   (bench/corpus.tsv, rendered by bench/corpus.py), clean and mixed with crowd babble and
   pink noise at 20, 15, 10 and 5 dB SNR (bench/noise.py; fixed seeds). Every clip goes
   through the live listening path (endpointer + recogniser stream, bench/listen.py); the
   transcripts are cached in bench/out/ by audio hash and shared by matcher and baseline.
   Counting follows `python run.py evaluate` (voicecheck.evaluate): an answer is right when
   accepted or read back for confirmation with the right ids.
2. Latency from the end of the spoken answer to the decision, split into end-of-speech
   detection, recognition and matching, on a subset transcribed again with nothing else
   running in the bench and the product's own recogniser settings.
3. Start-up to the first spoken word and the voice's text → first audio sample.
4. Cost: real-time factor of each recogniser and peak memory of whole sessions.
5. Understanding on voices that are not ours (bench/understanding.py, after the rest; skip it
   with --skip-understanding): bench voices of three engines, older speaker, TV noise, the own
   voice and real recordings apart, wrong accepts counted; bench/results-understanding.md.
   Its first full run synthesises and hears ~2,800 clips (hours on 2 shared cores); later runs
   reuse the cached clips and transcripts.
6. Whole simulated sessions on those takes (bench/sessions.py): the share of questions that end
   with the right answer, with a wrong one, and turns per question; bench/results-sessions.md.

Recognisers whose model is missing are reported as not installed. Without
VOICECHECK_MODEL_MIRROR the bench uses ../shared/models when that folder exists.
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
from collections import deque
from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from bench import corpus as corpus_module  # noqa: E402
from bench.corpus import BENCH, CLIPS_DIR, OUT_DIR, Clip, read_corpus, render  # noqa: E402
from bench.listen import (CLEAN, LONGEST_PAD_S, Condition, HeardCache, Listened, cache_key, condition_audio,  # noqa: E402
                          conditions, listen, open_recognizer, worker_init, worker_listen)
from bench.naive import NaiveMatcher  # noqa: E402
from bench.noise import NOISES, load_noise  # noqa: E402

RESULTS_MD = BENCH / "results.md"
DETAILS_JSON = OUT_DIR / "details.json"
ENGINES = ("vosk", "whisper")

TARGETS = {
    "clean": 97.0,  # % of answers understood, clean audio
    "10dB": 92.0,  # % at 10 dB SNR
    "decision_ms": 50.0,  # after the recogniser's final result
    "first_word_s": 1.5,  # after start
    "first_audio_ms": 150.0,  # after the text is ready
    "memory_mb": 500.0,
}


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def pct(values, p: float) -> float:
    return float(np.percentile(np.asarray(values, dtype=float), p)) if len(values) else float("nan")


def load_clip(clip: Clip) -> np.ndarray:
    import soundfile

    data, rate = soundfile.read(str(clip.path), dtype="float32")
    assert rate == 16_000, clip.path
    return data


# ------------------------------------------------------------------------------------------
# Accuracy


@dataclass
class Score:
    correct: int
    total: int
    misses: list[dict] = field(default_factory=list)
    wrong_taken: int = 0  # misses where a wrong answer or command was taken (not "not understood")

    @property
    def percent(self) -> float:
        return 100.0 * self.correct / self.total if self.total else float("nan")


def score(clips: list[Clip], heard: dict[str, str], matcher) -> Score:
    """Accuracy the way `python run.py evaluate` counts it (voicecheck.evaluate)."""
    from voicecheck.evaluate import NONE, Case, evaluate_cases

    cases = [Case(c.row.line, c.row.question, c.row.expected, audio=c.path) for c in clips]
    from voicecheck.interfaces import Heard

    outcomes = evaluate_cases(cases, matcher, transcribe=lambda path, _qid: Heard(text=heard[str(path)]))
    misses = [{"line": o.case.line, "question": o.case.question, "expected": o.case.expected,
               "heard": o.heard, "chosen": o.chosen, "decision": o.decision}
              for o in outcomes if not o.correct]
    wrong = sum(1 for o in outcomes if not o.correct and o.chosen != NONE)
    return Score(sum(o.correct for o in outcomes), len(outcomes), misses, wrong)


def text_heard(clips: list[Clip]) -> dict[str, str]:
    return {str(c.path): c.row.text for c in clips}


def transcribe_all(engine: str, clips: list[Clip], conds: list[Condition], tracks, matcher,
                   cache: HeardCache, jobs: int, settings) -> tuple[dict[str, dict[str, Listened]], int]:
    """Every clip in every condition through the live path; cached results are reused."""
    from voicecheck.speech_io import endpoint_config

    config = endpoint_config(settings)
    results: dict[str, dict[str, Listened]] = {cond.key: {} for cond in conds}
    todo: deque = deque()
    for cond in conds:
        for clip in clips:
            todo.append((cond, clip))
    pending = {}
    total, done, fresh = len(todo), 0, 0
    started = time.perf_counter()

    def task_of(cond: Condition, clip: Clip):
        samples = condition_audio(load_clip(clip), clip.path.stem, cond, tracks)
        phrases = matcher.phrases(clip.row.question)
        key = cache_key(samples, engine, clip.row.question, phrases, config)
        return key, samples, clip.row.question, phrases

    def progress() -> None:
        if done % 25 == 0 or done == total:
            rate = (time.perf_counter() - started) / max(1, fresh)
            log(f"  {engine}: {done}/{total} answers heard ({fresh} transcribed, {rate:.2f} s each)")

    threads = 1 if jobs > 1 else None  # one thread per worker: two workers fill two cores
    with ProcessPoolExecutor(max_workers=jobs, initializer=worker_init, initargs=(engine, threads)) as pool:
        while todo or pending:
            while todo and len(pending) < 2 * jobs:
                cond, clip = todo.popleft()
                task = task_of(cond, clip)
                hit = cache.get(task[0])
                if hit is not None:
                    results[cond.key][str(clip.path)] = hit
                    done += 1
                    progress()
                    continue
                pending[pool.submit(worker_listen, task)] = (cond, clip)
            if not pending:
                continue
            finished, _ = wait(pending, return_when=FIRST_COMPLETED)
            for future in finished:
                cond, clip = pending.pop(future)
                key, heard = future.result()
                cache.put(key, heard)
                results[cond.key][str(clip.path)] = heard
                done += 1
                fresh += 1
                progress()
    return results, fresh


# ------------------------------------------------------------------------------------------
# Latency


def is_right(clip: Clip, match) -> bool:
    from voicecheck.evaluate import Case, Outcome, chosen_of

    case = Case(clip.row.line, clip.row.question, clip.row.expected)
    return Outcome(case, "", chosen_of(match), match.decision, match.score).correct


@dataclass
class LatencyRow:
    condition: str
    wait_ms: list[float] = field(default_factory=list)  # end of speech → endpointer ends the answer
    frame_ms: list[float] = field(default_factory=list)  # processing of one frame
    recognition_ms: list[float] = field(default_factory=list)
    match_ms: list[float] = field(default_factory=list)
    naive_ms: list[float] = field(default_factory=list)
    total_ms: list[float] = field(default_factory=list)
    naive_total_ms: list[float] = field(default_factory=list)
    rtf: list[float] = field(default_factory=list)  # recognition time / audio given
    rtf_speech: list[float] = field(default_factory=list)  # recognition time / seconds of speech
    end_missed: int = 0  # endpointer did not find the end before the clip ran out
    timed_out: int = 0
    same_text: int = 0  # same transcript as the accuracy pass (1 thread per worker)
    right: int = 0  # answers the matcher got right on this (live-length) path
    naive_right: int = 0
    n: int = 0


def measure_latency(engine: str, clips: list[Clip], conds: list[Condition], tracks, matcher, naive,
                    accuracy_heard: dict[str, dict[str, Listened]], settings) -> list[LatencyRow]:
    """The live path again on a subset, alone and with the product's own recogniser settings."""
    from voicecheck.speech_io import endpoint_config

    config = endpoint_config(settings)
    recognizer = open_recognizer(engine, settings)
    # Live, the endpointer listens until it hears the end or the answer reaches max_answer_s:
    # give it that much sound after the answer (silence, or more of the same noise).
    pad_s = min(LONGEST_PAD_S, config.max_answer_s + 1.0)
    rows = []
    for cond in conds:
        row = LatencyRow(cond.label)
        for clip in clips:
            samples = condition_audio(load_clip(clip), clip.path.stem, cond, tracks, pad_s=pad_s)
            phrases = matcher.phrases(clip.row.question)
            heard = listen(recognizer, samples, clip.row.question, phrases, config)
            row.n += 1
            if heard.timed_out:  # nothing heard: the turn's decision is "not understood"
                row.timed_out += 1
                row.right += int(is_right(clip, matcher.match(clip.row.question, "")))
                row.naive_right += int(is_right(clip, naive.match(clip.row.question, "")))
                continue
            t0 = time.perf_counter()
            ours = matcher.match(clip.row.question, heard.text)
            match_ms = 1000 * (time.perf_counter() - t0)
            t0 = time.perf_counter()
            theirs = naive.match(clip.row.question, heard.text)
            naive_ms = 1000 * (time.perf_counter() - t0)
            row.right += int(is_right(clip, ours))
            row.naive_right += int(is_right(clip, theirs))
            earlier = accuracy_heard.get(cond.key, {}).get(str(clip.path))
            row.same_text += int(earlier is not None and earlier.text == heard.text)
            if not heard.end_found:
                row.end_missed += 1
            wait_ms = 1000 * (heard.end_s - clip.speech_end_s)
            endpoint_ms = wait_ms + heard.frame_ms
            recognition_ms = 1000 * heard.recognition_s
            row.wait_ms.append(wait_ms)
            row.frame_ms.append(heard.frame_ms)
            row.recognition_ms.append(recognition_ms)
            row.match_ms.append(match_ms)
            row.naive_ms.append(naive_ms)
            row.total_ms.append(endpoint_ms + recognition_ms + match_ms)
            row.naive_total_ms.append(endpoint_ms + recognition_ms + naive_ms)
            if heard.utterance_s > 0:
                row.rtf.append(heard.recognition_s / heard.utterance_s)
                row.rtf_speech.append(heard.recognition_s / (clip.speech_end_s - clip.speech_start_s))
        log(f"  latency {engine} {cond.label}: {row.n} answers")
        rows.append(row)
    return rows


# ------------------------------------------------------------------------------------------
# The report


def fmt_pct(s: Score | None) -> str:
    return "–" if s is None else f"{s.percent:.1f} % ({s.correct}/{s.total})"


def met(ok: bool | None) -> str:
    return "n/a" if ok is None else ("**met**" if ok else "**not met**")


def ms(v: float) -> str:
    if v != v:  # nan
        return "–"
    return f"{v:.2f} ms" if v < 10 else f"{v:.0f} ms"


def machine_line(load_before: tuple[float, ...], load_after: tuple[float, ...]) -> str:
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return (f"{cpu}, {os.cpu_count()} cores, Python {platform.python_version()}; load average "
            f"{load_before[0]:.2f} at the start, {load_after[0]:.2f} at the end (1 min)")


def build_report(r: dict) -> str:
    L: list[str] = []
    add = L.append
    add("# voicecheck benchmark")
    add("")
    add(f"Command: `{r['command']}` · {r['when']} · {r['elapsed_min']:.1f} min · {r['machine']}")
    add("")
    add(f"Corpus: {r['answers']} spoken answers over {r['questions']} questions (bench/corpus.tsv), read by "
        f"Open JTalk in {len(corpus_module.VOICES)} voices ({', '.join(corpus_module.VOICES)}); "
        "noise: crowd babble (6 synthetic talkers) and pink noise, SNR = active speech power over noise power.")
    add("")
    add("## Engines")
    add("")
    add("| engine | status |")
    add("|---|---|")
    for engine, status in r["engines"].items():
        add(f"| {engine} | {status} |")
    add("")

    add("## Targets")
    add("")
    add("| target | measured | |")
    add("|---|---|---|")
    for name, measured, ok in r["targets"]:
        add(f"| {name} | {measured} | {met(ok)} |")
    add("")

    add("## Answer accuracy: matcher vs naive baseline")
    add("")
    add("Right = accepted or read back for confirmation with the right answer (as `python run.py evaluate` "
        "counts). The naive baseline is one `rapidfuzz.process.extractOne` over the raw transcript and the "
        "option labels, no normalisation (bench/naive.py). Each clip is the answer with 0.5 s of silence "
        "before and 0.5 s + 2.5 s after it; where the endpointer does not find the end (continuous babble), "
        "the end of the clip ends the answer. Live, it would listen on to its 30 s limit and hand the "
        "recogniser all of it (see the latency tables), so babble figures here are optimistic. "
        "*Wrong taken* counts the misses where a wrong answer or command was accepted or read back, "
        "rather than the person being asked again: the baseline never asks again, so it guesses.")
    add("")
    add("| condition | matcher right | naive baseline right | gain | wrong taken: matcher / baseline |")
    add("|---|---|---|---|---|")
    for label, ours, base in r["accuracy"]:
        gain = f"{ours.percent - base.percent:+.1f} pt" if ours and base else "–"
        add(f"| {label} | {fmt_pct(ours)} | {fmt_pct(base)} | {gain} | {ours.wrong_taken} / {base.wrong_taken} |")
    add("")
    if r.get("by_voice"):
        voices = list(corpus_module.VOICES)
        add("Matcher accuracy by voice:")
        add("")
        add("| condition | " + " | ".join(voices) + " |")
        add("|---|" + "---|" * len(voices))
        for label, per in r["by_voice"]:
            add(f"| {label} | " + " | ".join(f"{per[v].percent:.0f} %" if v in per else "–" for v in voices) + " |")
        add("")

    for engine, rows in r["latency"].items():
        add(f"## Latency, {engine}: end of the spoken answer → decision")
        add("")
        cfg = r["endpoint"]
        add(f"Endpointer as configured: the answer ends after {cfg['end_silence_s']:g} s without speech "
            f"({cfg['end_silence_after_short_s']:g} s after less than {cfg['short_speech_s']:g} s of speech); "
            f"webrtcvad on 30 ms frames. {rows[0].n} answers per condition, transcribed again alone with the "
            "product's recogniser settings. p50 / p95:")
        add("")
        add("| stage | " + " | ".join(row.condition for row in rows) + " |")
        add("|---|" + "---|" * len(rows))

        def line(name: str, attr: str) -> None:
            cells = [f"{ms(pct(getattr(row, attr), 50))} / {ms(pct(getattr(row, attr), 95))}" for row in rows]
            add(f"| {name} | " + " | ".join(cells) + " |")

        line("end-of-speech detection: trailing-silence wait", "wait_ms")
        line("end-of-speech detection: processing per 30 ms frame", "frame_ms")
        line("recognition (end of answer → final result)", "recognition_ms")
        line("matching, matcher (final result → decision)", "match_ms")
        line("matching, naive baseline", "naive_ms")
        line("**total, matcher**", "total_ms")
        line("total, naive baseline", "naive_total_ms")
        add(f"| end of speech not found: cut at the {cfg['max_answer_s']:g} s answer limit | "
            + " | ".join(f"{row.end_missed}/{row.n}" for row in rows) + " |")
        add("| answers right on this path, matcher / naive baseline | "
            + " | ".join(f"{row.right}/{row.n} / {row.naive_right}/{row.n}" for row in rows) + " |")
        add("| same transcript as the accuracy pass (which ends each clip 2.5 s after the answer) | "
            + " | ".join(f"{row.same_text}/{row.n - row.timed_out}" for row in rows) + " |")
        add("")

    add("## Start-up and voice")
    add("")
    add("| measure | value |")
    add("|---|---|")
    for name, value in r["startup"]:
        add(f"| {name} | {value} |")
    add("")

    add("## Cost")
    add("")
    add("| measure | value |")
    add("|---|---|")
    for name, value in r["cost"]:
        add(f"| {name} | {value} |")
    add("")
    if r.get("memory_stages"):
        add("Resident memory while starting up (bench/memory_probe.py; current / peak so far):")
        add("")
        add("| stage | RSS | peak |")
        add("|---|---|---|")
        for stage in r["memory_stages"]:
            add(f"| {stage['stage']} | {stage['rss_mb']:.0f} MB | {stage['peak_mb']:.0f} MB |")
        add("")

    if r.get("clean_misses"):
        add(f"## Misses, {r['main_engine']} clean (matcher)")
        add("")
        add("| line | question | heard | expected | chosen |")
        add("|---|---|---|---|---|")
        for m in r["clean_misses"][:25]:
            add(f"| {m['line']} | {m['question']} | {m['heard'] or '(nothing)'} | {m['expected']} | "
                f"{m['chosen']} ({m['decision']}) |")
        add("")
    add("All misses per condition, per-question accuracy and raw timings: bench/out/details.json.")
    return "\n".join(L) + "\n"


# ------------------------------------------------------------------------------------------


def engine_status(settings) -> dict[str, tuple[bool, str]]:
    from voicecheck.models import ENGINE_MODELS, model_status

    out = {}
    for engine in ENGINES:
        status = model_status(ENGINE_MODELS[engine], settings.models_dir)
        if status.ok:
            out[engine] = (True, f"installed: {status.describe()}")
        else:
            out[engine] = (False, f"**not installed** ({status.describe()}); not measured")
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="voicecheck benchmark (see the module docstring)")
    parser.add_argument("--quick", action="store_true", help="a subset: every 5th answer, 10 dB only, fewer repeats")
    parser.add_argument("--engines", nargs="*", choices=ENGINES, help="engines to measure (default: every installed one)")
    parser.add_argument("--jobs", type=int, default=2, help="worker processes for the accuracy pass (default 2)")
    parser.add_argument("--latency-answers", type=int, help="answers per condition in the latency pass")
    parser.add_argument("--output", type=Path, default=RESULTS_MD, help="where to write the Markdown table")
    parser.add_argument("--skip-understanding", action="store_true",
                        help="leave out the multi-voice understanding bench (bench/understanding.py)")
    args = parser.parse_args(argv)
    started = time.perf_counter()
    load_before = os.getloadavg()
    command = ".venv/bin/python bench/run.py" + (" --quick" if args.quick else "")

    from voicecheck.models import MIRROR_ENV

    shared = ROOT.parent / "shared" / "models"
    if not os.environ.get(MIRROR_ENV) and shared.is_dir():
        os.environ[MIRROR_ENV] = str(shared)
        log(f"{MIRROR_ENV} not set: using {shared}")

    from voicecheck.content import load_content
    from voicecheck.matcher import Matcher
    from voicecheck.settings import Settings
    from voicecheck.speech_io import endpoint_config

    settings = Settings()
    content = load_content(settings.prompts_dir)
    matcher = Matcher(content)
    naive = NaiveMatcher(content)

    rows = read_corpus()
    if args.quick:
        rows = rows[::5]
    log(f"rendering {len(rows)} answers (missing WAVs only) …")
    clips = render(rows, CLIPS_DIR)
    noises = NOISES
    snrs = (10.0,) if args.quick else (20.0, 15.0, 10.0, 5.0)
    conds = conditions(noises, snrs)
    log("noise tracks …")
    tracks = {name: load_noise(name, OUT_DIR / "noise", BENCH / "babble.txt") for name in noises}

    status = engine_status(settings)
    chosen = args.engines or [e for e in ENGINES if status[e][0]]
    engines = [e for e in chosen if status[e][0]]
    report: dict = {
        "command": command, "when": datetime.now().strftime("%Y-%m-%d %H:%M"),
        "answers": len(rows), "questions": len({r.question for r in rows}),
        "engines": {e: status[e][1] for e in ENGINES},
        "accuracy": [], "latency": {}, "startup": [], "cost": [], "targets": [],
    }
    cfg = endpoint_config(settings)
    report["endpoint"] = {"end_silence_s": cfg.end_silence_s, "end_silence_after_short_s": cfg.end_silence_after_short_s,
                          "short_speech_s": cfg.short_speech_s, "max_answer_s": cfg.max_answer_s}
    details: dict = {"conditions": {}}

    # The written answers, no recogniser: the matcher's ceiling.
    text_ours, text_base = score(clips, text_heard(clips), matcher), score(clips, text_heard(clips), naive)
    report["accuracy"].append(("written text (no recogniser)", text_ours, text_base))
    details["conditions"]["text"] = {"matcher_misses": text_ours.misses, "naive_misses": text_base.misses}

    n_latency = args.latency_answers or (10 if args.quick else 30)
    step = max(1, len(clips) // n_latency)
    latency_clips = clips[::step][:n_latency]
    latency_conds = [CLEAN] + [Condition(n, 10.0) for n in noises]
    rtf_cells = []
    main_engine = "whisper" if "whisper" in engines else (engines[0] if engines else None)
    report["main_engine"] = main_engine
    for engine in engines:
        cache = HeardCache(OUT_DIR / f"heard-{engine}.jsonl")
        log(f"{engine}: hearing {len(clips)} answers × {len(conds)} conditions ({args.jobs} workers) …")
        started_engine = time.perf_counter()
        heard, fresh = transcribe_all(engine, clips, conds, tracks, matcher, cache, args.jobs, settings)
        total = len(clips) * len(conds)
        report["engines"][engine] += (f"; {total} clips heard, {fresh} transcribed in this run "
                                      f"({(time.perf_counter() - started_engine) / 60:.1f} min, {args.jobs} workers), "
                                      f"{total - fresh} from the cache (bench/out/heard-{engine}.jsonl)")
        log(f"{engine}: latency pass ({len(latency_clips)} answers × {len(latency_conds)} conditions) …")
        lat = measure_latency(engine, latency_clips, latency_conds, tracks, matcher, naive, heard, settings)
        report["latency"][engine] = lat
        by_voice = []
        for cond in conds:
            texts = {path: h.text for path, h in heard[cond.key].items()}
            ours, base = score(clips, texts, matcher), score(clips, texts, naive)
            report["accuracy"].append((f"{engine} · {cond.label}", ours, base))
            per_q: dict[str, list[int]] = {}
            missed = {m["line"] for m in ours.misses}
            for c in clips:
                per_q.setdefault(c.row.question, [0, 0])
                per_q[c.row.question][0] += int(c.row.line not in missed)
                per_q[c.row.question][1] += 1
            details["conditions"][f"{engine}:{cond.key}"] = {
                "matcher": [ours.correct, ours.total], "naive": [base.correct, base.total],
                "per_question": per_q, "matcher_misses": ours.misses, "naive_misses": base.misses,
                "end_not_found": sum(1 for h in heard[cond.key].values() if not h.end_found),
            }
            if cond.key == "clean" or cond.snr_db == 10.0:
                per_voice = {}
                for voice in corpus_module.VOICES:
                    subset = [c for c in clips if c.row.voice == voice]
                    if subset:
                        per_voice[voice] = score(subset, texts, matcher)
                by_voice.append((f"{engine} · {cond.label}", per_voice))
            if engine == main_engine and cond.key == "clean":
                report["clean_misses"] = ours.misses
        if engine == main_engine:
            report["by_voice"] = by_voice
        clean_lat = lat[0]
        rtf_cells.append((f"{engine}: real-time factor (recognition time ÷ audio handed over; clean, p50 / p95)",
                          f"{pct(clean_lat.rtf, 50):.2f} / {pct(clean_lat.rtf, 95):.2f}"))
        rtf_cells.append((f"{engine}: recognition time ÷ seconds of speech (clean, p50 / p95)",
                          f"{pct(clean_lat.rtf_speech, 50):.2f} / {pct(clean_lat.rtf_speech, 95):.2f}"))
        details.setdefault("latency", {})[engine] = [row.__dict__ for row in lat]

    # Start-up, voice, memory
    from bench.startup import (median, read_session, render_session, run_process, run_session,
                               session_agreement, voice_timing)

    log("voice: text → first audio …")
    vt = voice_timing(content)
    log("sessions: text mode …")
    turns = read_session()
    repeats = 1 if args.quick else 3
    text_runs = [run_session("text", turns) for _ in range(repeats)]
    text_first = [r.first_line_s for r in text_runs if r.first_line_s is not None]
    text_ok = session_agreement(text_runs[0].summary, turns)
    report["startup"].append(("text mode (`run.py --text`, piped answers): launch → first printed line",
                              f"{median(text_first):.2f} s median of {len(text_first)} "
                              f"({', '.join(f'{v:.2f}' for v in text_first)})"))
    replay_runs = {}
    first_word = None
    for engine in engines:
        log(f"sessions: replayed session with {engine} …")
        session_dir = render_session(turns, OUT_DIR / "session")
        full = run_session("replay", turns, replay_dir=session_dir, engine=engine)
        replay_runs[engine] = full
        firsts = [full.first_line_s]
        if repeats > 1:
            short_dir = render_session(turns[:1], OUT_DIR / "session-start")
            firsts += [run_session("replay", turns[:1], replay_dir=short_dir, engine=engine).first_line_s
                       for _ in range(repeats - 1)]
        firsts = [f for f in firsts if f is not None]
        if engine == main_engine and firsts:
            first_word = median(firsts)
        report["startup"].append((
            f"voice, {engine} (`run.py --replay`): launch → greeting synthesised (recogniser and voice loaded, "
            "first phrase rendered; printed right after)",
            f"{median(firsts):.2f} s median of {len(firsts)} ({', '.join(f'{v:.2f}' for v in firsts)})"))
    report["startup"] += [
        ("voice load (Open JTalk set-up + first tiny phrase)", f"{vt.load_s * 1000:.0f} ms"),
        (f"text → first audio sample, every fixed phrase ({vt.phrases}), p50 / p95 / max",
         f"{ms(pct(vt.per_phrase_ms, 50))} / {ms(pct(vt.per_phrase_ms, 95))} / {ms(max(vt.per_phrase_ms))} "
         f"(longest: {vt.longest_chars} characters)"),
        ("text → first audio sample, the greeting", ms(vt.greeting_ms)),
        ("… the whole phrase at once (no piece-by-piece playback), p50 / p95",
         f"{ms(pct(vt.whole_phrase_ms, 50))} / {ms(pct(vt.whole_phrase_ms, 95))}"),
        ("… a phrase said before (CachedVoice)", ms(vt.cached_ms)),
    ]

    report["cost"] += rtf_cells
    for engine, run in replay_runs.items():
        right, total = session_agreement(run.summary, turns)
        status_text = run.summary.get("status") if run.summary else f"no summary (exit {run.returncode})"
        report["cost"].append((f"peak memory (max RSS), whole replayed session, {engine}",
                               f"{run.peak_rss_mb:.0f} MB ({run.total_s:.0f} s, {status_text}, "
                               f"{right}/{total} answers as scripted)"))
    report["cost"].append(("peak memory (max RSS), whole text session",
                           f"{text_runs[0].peak_rss_mb:.0f} MB ({text_ok[0]}/{text_ok[1]} answers as scripted)"))
    if main_engine:
        probe = run_process([sys.executable, str(BENCH / "memory_probe.py"), main_engine], env=dict(os.environ))
        stages = []
        for line in probe.stdout:
            try:
                stages.append(json.loads(line))
            except ValueError:
                continue
        report["memory_stages"] = stages

    # Targets
    acc = {label: ours for label, ours, _ in report["accuracy"]}
    if main_engine:
        clean = acc.get(f"{main_engine} · clean")
        at10 = [acc[f"{main_engine} · {n} 10 dB"] for n in noises if f"{main_engine} · {n} 10 dB" in acc]
        report["targets"].append((f"accuracy ≥ {TARGETS['clean']:g} % clean ({main_engine})",
                                  fmt_pct(clean), clean.percent >= TARGETS["clean"]))
        for n, s in zip(noises, at10):
            report["targets"].append((f"accuracy ≥ {TARGETS['10dB']:g} % at 10 dB SNR, {n} ({main_engine})",
                                      fmt_pct(s), s.percent >= TARGETS["10dB"]))
        match_all = [v for row in report["latency"][main_engine] for v in row.match_ms]
        p95 = pct(match_all, 95)
        report["targets"].append((f"decision ≤ {TARGETS['decision_ms']:g} ms after the final result "
                                  "(matching, p95 over all latency answers)", f"{ms(p95)} (max {ms(max(match_all))})",
                                  p95 <= TARGETS["decision_ms"]))
    else:
        report["targets"].append(("accuracy targets", "no recogniser installed", None))
    if first_word is not None:
        report["targets"].append((f"first spoken word ≤ {TARGETS['first_word_s']:g} s after start ({main_engine})",
                                  f"{first_word:.2f} s", first_word <= TARGETS["first_word_s"]))
    p95_audio = pct(vt.per_phrase_ms, 95)
    report["targets"].append((f"first audio ≤ {TARGETS['first_audio_ms']:g} ms after the text is ready "
                              "(every fixed phrase, p95; greeting)",
                              f"{ms(p95_audio)}; greeting {ms(vt.greeting_ms)}", p95_audio <= TARGETS["first_audio_ms"]))
    if main_engine in replay_runs:
        peak = replay_runs[main_engine].peak_rss_mb
        report["targets"].append((f"peak memory ≤ {TARGETS['memory_mb']:g} MB (whole replayed session, {main_engine})",
                                  f"{peak:.0f} MB", peak <= TARGETS["memory_mb"]))

    # Many rooms served through Wyoming satellites (bench/rooms.py): per-answer latency, peak memory.
    from bench import rooms as rooms_bench

    room_runs = []
    if main_engine:
        log("rooms: run.py serve with 1, 2, 4, 8 simulated satellites …")
        room_runs = rooms_bench.measure((1, 2) if args.quick else rooms_bench.ROOM_COUNTS)

    report["elapsed_min"] = (time.perf_counter() - started) / 60
    report["machine"] = machine_line(load_before, os.getloadavg())
    text = build_report(report)
    if room_runs:
        text += "\n" + rooms_bench.markdown(room_runs)
    print(text)
    args.output.write_text(text, encoding="utf-8")
    details["voice_ms"] = {"first_piece": vt.per_phrase_ms, "whole_phrase": vt.whole_phrase_ms}
    DETAILS_JSON.parent.mkdir(parents=True, exist_ok=True)
    DETAILS_JSON.write_text(json.dumps(details, ensure_ascii=False, indent=1, default=str), encoding="utf-8")
    log(f"written: {args.output} and {DETAILS_JSON}")

    # Voices that are not ours, older speakers, TV noise, real people: bench/understanding.py.
    if not args.skip_understanding and "whisper" in engines:
        from bench import understanding

        log("understanding on voices that are not ours (bench/understanding.py) …")
        print(understanding.run(quick=args.quick, log=log))
        # Whole sessions played from those takes: where each question ends (bench/sessions.py).
        from bench import sessions

        log("whole simulated sessions (bench/sessions.py) …")
        text = sessions.run(sessions=50 if args.quick else sessions.SESSIONS, log=log)
        sessions.RESULTS_MD.write_text(text, encoding="utf-8")
        print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
