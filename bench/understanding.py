"""Understanding on voices that are not ours: every spoken answer through the live path, scored.

    .venv/bin/python bench/understanding.py            full run (≈ 2,500 decodes; cached after)
    .venv/bin/python bench/understanding.py --quick    every 4th text, one voice each

What is heard (see bench/spoken.py for the corpus and bench/voices/ for the voices):
  - bench voices (Kokoro, eSpeak NG, Open JTalk with other HTS voices), each text by three of
    them, in four conditions: clean; as an older speaker (bench/voices/older.py); with TV-like
    noise at 10 dB SNR (bench/voices/tv.py); older speaker with TV at 15 dB;
  - the product's own voice (Open JTalk "mei") on the same texts, clean and TV 10 dB, reported
    apart and never pooled;
  - real people's recordings (bench/real_clips.py), clean, reported apart.

Each clip is heard exactly as live: `voicecheck.speech_io.MicrophoneEars` with the clip as its
microphone (30 ms frames into the endpointer, the recogniser's stream, its `Heard` with every
hypothesis), the question's phrases and the question's own text as context; then the product's
decision, `Matcher.understand(question, heard)`. Counting follows `voicecheck.evaluate`:
understood = accepted or read back with the expected answer (for `none`: asked again; for `X?`:
read back as X or asked again); a WRONG ACCEPT is an answer taken without a read-back that is not
the expected one — the worst outcome; a wrong read-back is a read-back of the wrong answer; missed
= asked again where an answer was expected.

Transcripts are cached in bench/out/heard-understanding-<engine>.jsonl by a hash of the audio,
the context and the listening code (recognisers, endpointing, speech_io), so a second run only
decides again, and a change to the recogniser or endpointer hears everything again.

Outputs: Markdown tables on stdout and in bench/results-understanding.md; every clip with what was
heard (text and alternatives) and the decision in bench/out/understanding.json (`load_results`),
for the session simulation.

`--rescore` decides again on the hearings saved in bench/out/understanding.json (a changed matcher
or changed labels) in seconds, without the recogniser.

API (for bench/run.py and the session simulation): `load_clips`, `transcribe_all`, `decide_all`,
`summarise`, `report_markdown`, `load_results`, `takes`, `rescore`.
"""
from __future__ import annotations

import argparse
import hashlib
import json
import os
import sys
import time
from collections import defaultdict
from contextlib import nullcontext
from dataclasses import asdict, dataclass, field, fields
from datetime import datetime
from functools import lru_cache
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from bench import spoken  # noqa: E402
from bench.noise import NOISE_SECONDS, SAMPLE_RATE, mix_at_snr, noise_offset  # noqa: E402
from bench.voices.tv import RECIPE as TV_RECIPE  # noqa: E402

BENCH = ROOT / "bench"
OUT_DIR = BENCH / "out"
RESULTS_MD = BENCH / "results-understanding.md"
RESULTS_JSON = OUT_DIR / "understanding.json"
QUICK_MD = OUT_DIR / "results-understanding-quick.md"
CACHE_VERSION = 1
PAD_S = 2.5  # silence (or noise) after each clip, for the endpointer to find the end
# The room heard before each clip (the device was speaking): the ears start fresh for every clip
# and need the first half second to learn the background (voicecheck/listening/detector.py).
PRE_ROLL_S = 1.0


@dataclass(frozen=True)
class Condition:
    key: str
    label: str
    older: bool
    snr_db: float | None  # TV noise at this SNR; None: quiet


CONDITIONS = (
    Condition("clean", "clean", False, None),
    Condition("older", "older speaker", True, None),
    Condition("tv10", "TV 10 dB", False, 10.0),
    Condition("older_tv15", "older + TV 15 dB", True, 15.0),
)
OWN_CONDITIONS = ("clean", "tv10")
# Issue #10's first-try targets (understood %, held-out answers) and the wrong-accept ceiling.
TARGETS = (("clean", 95.0), ("tv10", 90.0), ("older", 90.0))
MAX_WRONG_ACCEPT_PCT = 0.5
BY_KEY = {c.key: c for c in CONDITIONS}


@dataclass(frozen=True)
class BenchClip:
    id: str  # unique: group, voice, condition, text
    group: str  # "voices" (not ours), "own" (the product's voice), "real" (people)
    voice: str  # "kokoro/jf_alpha", "own/mei", or the real recording's source repository
    condition: str  # a Condition key
    question: str
    expected: str
    split: str  # "dev" / "heldout" (typed corpus) or "real"
    text: str  # what is said
    path: Path  # the clip before noise (clean or older-speaker WAV)
    source: str = ""  # corpus source (typed corpus) or recording licence (real)


# ------------------------------------------------------------------------------------------
# Clips


def load_clips(quick: bool = False, own_voice: bool = True, real: bool = True,
               render: bool = True, progress=None, limit: int | None = None) -> tuple[list[BenchClip], dict[str, str]]:
    """Every clip of the bench, rendered or gathered when missing; returns (clips, notes).

    `notes` says what is missing (a voice whose engine is not installed, real recordings not
    found) in plain words, keyed by voice or source.
    """
    from bench.voices import missing

    notes: dict[str, str] = {}
    rows = spoken.read_spoken()
    if not spoken.up_to_date():
        notes["spoken corpus"] = ("bench/corpora/spoken.tsv no longer matches typed_all.tsv "
                                  "(run `python bench/spoken.py select`); measured on the committed selection")
    if quick:
        rows = [spoken.SpokenRow(r.line, r.text, r.question, r.expected, r.source, r.split, r.voices[:1])
                for r in rows[::spoken.QUICK_EVERY]]
    if limit is not None:
        rows = rows[:limit]
    if render:
        notes.update(spoken.render_all(rows, own_voice=own_voice, progress=progress))
    else:
        notes.update(missing())
    clips: list[BenchClip] = []
    for row in rows:
        for voice in row.voices:
            if voice in notes:
                continue
            for cond in CONDITIONS:
                path = spoken.clip_path(row.text, voice, cond.older)
                clips.append(BenchClip(f"{voice}|{cond.key}|{row.question}|{row.text}", "voices", voice, cond.key,
                                       row.question, row.expected, row.split, row.text, path, row.source))
        if own_voice:
            for key in OWN_CONDITIONS if not quick else ("clean",):
                path = spoken.clip_path(row.text, spoken.OWN_VOICE, BY_KEY[key].older)
                clips.append(BenchClip(f"{spoken.OWN_VOICE}|{key}|{row.question}|{row.text}", "own", spoken.OWN_VOICE,
                                       key, row.question, row.expected, row.split, row.text, path, row.source))
    clips = [c for c in clips if c.path.is_file()]
    if real:
        from bench.real_clips import gather

        present, absent = gather()
        if not present:
            notes["real recordings"] = ("none found: set VOICECHECK_REAL_CLIPS or fetch the repositories listed in "
                                        "bench/corpora/real_clips.tsv (bench/real_clips.py says which)")
        elif absent:
            notes["real recordings"] = f"{len(absent)} of {len(present) + len(absent)} not found (bench/real_clips.py lists them)"
        for rc in present:
            clips.append(BenchClip(f"real|{rc.id}|{rc.question}", "real", rc.repo, "clean", rc.question, rc.expected,
                                   "real", rc.said, rc.wav, rc.licence))
    return clips, notes


@lru_cache(maxsize=4)
def _tv_track() -> np.ndarray:
    from bench.voices.tv import load_tv

    return load_tv(OUT_DIR / "noise", BENCH / "babble.txt")


def clip_audio(clip: BenchClip) -> np.ndarray:
    """The clip as the microphone hears it: PRE_ROLL_S of the room before it, PAD_S after it, TV
    noise mixed in throughout when the condition has it."""
    from voicecheck.audio import read_wav

    samples = read_wav(clip.path)
    pre = np.zeros(int(PRE_ROLL_S * SAMPLE_RATE), np.float32)
    padded = np.concatenate([pre, samples, np.zeros(int(PAD_S * SAMPLE_RATE), np.float32)])
    snr = BY_KEY[clip.condition].snr_db
    if snr is None:
        return padded
    track = _tv_track()
    if len(padded) > len(track):
        track = np.tile(track, int(np.ceil(len(padded) / len(track))))
    offset = noise_offset(len(track), len(padded), clip.path.name, "tv")
    noise = track[offset: offset + len(padded)]
    return mix_at_snr(padded, noise, snr, measured=len(pre) + len(samples))


# ------------------------------------------------------------------------------------------
# Hearing: the live listening path, cached


@lru_cache(maxsize=None)
def listening_fingerprint() -> str:
    """The text of the code between the microphone and the transcript."""
    import voicecheck

    package = Path(voicecheck.__file__).parent
    h = hashlib.sha256(str(CACHE_VERSION).encode())
    files = [package / "audio.py", package / "speech_io.py", package / "interfaces.py"]
    files += sorted((package / "recognizers").glob("*.py")) + sorted((package / "listening").glob("*.py"))
    for path in files:
        if path.is_file():
            h.update(path.name.encode() + b"\0" + path.read_bytes())
    return h.hexdigest()[:16]


def cache_key(samples: np.ndarray, engine: str, context, config) -> str:
    h = hashlib.sha256()
    h.update(np.ascontiguousarray(samples, dtype=np.float32).tobytes())
    h.update("\x1f".join((engine, listening_fingerprint(), repr(context), repr(config))).encode("utf-8"))
    return h.hexdigest()


def heard_to_json(heard) -> dict:
    data = asdict(heard)
    data.pop("source", None)
    return data


def heard_from_json(data: dict):
    from voicecheck.interfaces import Heard

    known = {f.name for f in fields(Heard)}
    values = {k: v for k, v in data.items() if k in known}
    values["alternatives"] = tuple(values.get("alternatives") or ())
    return Heard(**values)


class JsonLinesCache:
    """JSON lines {"key", FIELD}; later lines win; a line cut short by an interrupted run is skipped."""

    field = "value"

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self.items: dict[str, object] = {}
        if self.path.is_file():
            for line in self.path.read_text(encoding="utf-8").splitlines():
                try:
                    entry = json.loads(line)
                    self.items[entry["key"]] = entry[self.field]
                except (ValueError, KeyError, TypeError):
                    continue

    def get(self, key: str):
        return self.items.get(key)

    def put(self, key: str, value) -> None:
        self.items[key] = value
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with self.path.open("a", encoding="utf-8") as f:
            f.write(json.dumps({"key": key, self.field: value}, ensure_ascii=False) + "\n")


class HeardCache(JsonLinesCache):
    """Each hearing of a clip, by its key."""

    field = "heard"

    def get(self, key: str):
        data = super().get(key)
        return heard_from_json(data) if data is not None else None

    def put(self, key: str, heard) -> None:
        super().put(key, heard_to_json(heard))


class Listener:
    """The product's recogniser behind the product's microphone ears, fed from a clip."""

    def __init__(self, engine: str = "whisper", settings=None, cpu_threads: int | None = None) -> None:
        from bench.listen import open_recognizer
        from voicecheck.content import load_content
        from voicecheck.matcher import Matcher
        from voicecheck.settings import Settings
        from voicecheck.speech_io import endpoint_config

        self.engine = engine
        self.settings = settings or Settings()
        self.content = load_content(self.settings.prompts_dir)
        self.matcher = Matcher(self.content)
        self.recognizer = open_recognizer(engine, self.settings, cpu_threads)
        self.config = endpoint_config(self.settings)
        self.asked = {q.id: q.text for q in self.content.questions}

    def context(self, question_id: str):
        from voicecheck.interfaces import ListenContext

        # As the conversation builds it; for yes/no confirmations there is no question text
        # here (live it is the read-back), as in `python run.py evaluate`.
        return ListenContext(question_id, self.matcher.phrases(question_id), self.settings.no_answer_timeout_s,
                             self.asked.get(question_id, ""))

    def hear(self, samples: np.ndarray, question_id: str):
        from voicecheck.audio import frames_of
        from voicecheck.speech_io import MicrophoneEars

        frames = list(frames_of(samples))
        ears = MicrophoneEars(self.settings, self.recognizer, open_frames=lambda: nullcontext(frames))
        return ears.listen(self.context(question_id))


_worker: dict = {}


def _worker_init(engine: str) -> None:
    _worker["listener"] = Listener(engine, cpu_threads=1)  # one thread each: the workers fill the cores


def _worker_hear(task: tuple[str, np.ndarray, str]):
    key, samples, question_id = task
    return key, heard_to_json(_worker["listener"].hear(samples, question_id))


def transcribe_all(clips: list[BenchClip], engine: str = "whisper", jobs: int = 1,
                   cache: HeardCache | None = None, listener: Listener | None = None,
                   log=None) -> tuple[dict[str, object], int]:
    """What was heard in every clip (clip id → Heard); cached results are reused. Returns (heard, fresh)."""
    log = log or (lambda message: print(message, file=sys.stderr, flush=True))
    cache = cache or HeardCache(OUT_DIR / f"heard-understanding-{engine}.jsonl")
    listener = listener or Listener(engine)
    heard: dict[str, object] = {}
    todo: list[tuple[BenchClip, str, np.ndarray]] = []
    for clip in clips:
        samples = clip_audio(clip)
        key = cache_key(samples, engine, listener.context(clip.question), listener.config)
        hit = cache.get(key)
        if hit is not None:
            heard[clip.id] = hit
        else:
            todo.append((clip, key, samples))
    log(f"understanding: {len(clips)} clips, {len(clips) - len(todo)} from the cache, {len(todo)} to hear")
    started = time.perf_counter()

    def progress(done: int) -> None:
        if done % 25 == 0 or done == len(todo):
            rate = (time.perf_counter() - started) / max(1, done)
            log(f"  heard {done}/{len(todo)} ({rate:.2f} s each, {rate * (len(todo) - done) / 60:.0f} min left)")

    if jobs <= 1:
        for i, (clip, key, samples) in enumerate(todo, start=1):
            result = listener.hear(samples, clip.question)
            cache.put(key, result)
            heard[clip.id] = result
            progress(i)
    else:
        from concurrent.futures import ProcessPoolExecutor

        by_key = {key: clip for clip, key, _ in todo}
        with ProcessPoolExecutor(max_workers=jobs, initializer=_worker_init, initargs=(engine,)) as pool:
            tasks = ((key, samples, clip.question) for clip, key, samples in todo)
            for i, (key, data) in enumerate(pool.map(_worker_hear, tasks, chunksize=4), start=1):
                result = heard_from_json(data)
                cache.put(key, result)
                heard[by_key[key].id] = result
                progress(i)
    return heard, len(todo)


# ------------------------------------------------------------------------------------------
# Deciding and scoring


@dataclass
class Decided:
    clip: BenchClip
    heard: object  # voicecheck.interfaces.Heard
    chosen: str  # as the manifest writes it: option ids, a command, "text" or "none"
    decision: str  # accept / confirm / reprompt
    score: float
    cautions: tuple[str, ...]
    correct: bool
    wrong_accept: bool
    wrong_read_back: bool

    @property
    def outcome(self) -> str:
        if self.wrong_accept:
            return "wrong accept"
        if self.wrong_read_back:
            return "wrong read-back"
        if self.correct:
            return {"accept": "accepted", "confirm": "read back"}.get(self.decision, "asked again (right)")
        return "missed (asked again)"

    def to_json(self) -> dict:
        c = self.clip
        return {
            "id": c.id, "group": c.group, "voice": c.voice, "condition": c.condition, "question": c.question,
            "expected": c.expected, "split": c.split, "text": c.text, "audio": str(c.path), "source": c.source,
            "heard": {"text": self.heard.text, "alternatives": list(self.heard.alternatives),
                      "confidence": self.heard.confidence, "no_speech": getattr(self.heard, "no_speech", None),
                      "timed_out": self.heard.timed_out, "timings": dict(self.heard.timings)},
            "decision": {"chosen": self.chosen, "decision": self.decision, "score": self.score,
                         "cautions": list(self.cautions)},
            "outcome": self.outcome, "correct": self.correct, "wrong_accept": self.wrong_accept,
            "wrong_read_back": self.wrong_read_back,
        }


def decision_function(matcher):
    """The product's decision from a whole `Heard` (every hypothesis); the one-text matcher if older."""
    understand = getattr(matcher, "understand", None)
    if understand is not None:
        return understand, "Matcher.understand (every hypothesis)"
    return (lambda qid, heard: matcher.match(qid, heard.text)), "Matcher.match (first hypothesis only)"


def decide_all(clips: list[BenchClip], heard: dict[str, object], matcher) -> list[Decided]:
    from voicecheck.evaluate import Case, Outcome, chosen_of

    decide, _ = decision_function(matcher)
    out = []
    for i, clip in enumerate(clips):
        h = heard.get(clip.id)
        if h is None:
            continue
        match = decide(clip.question, h)
        outcome = Outcome(Case(i, clip.question, clip.expected), h.text, chosen_of(match), match.decision, match.score)
        out.append(Decided(clip, h, outcome.chosen, match.decision, round(float(match.score), 1),
                           tuple(getattr(match, "cautions", ()) or ()), outcome.correct, outcome.wrong_accept,
                           outcome.wrong_read_back))
    return out


@dataclass
class Tally:
    n: int = 0
    understood: int = 0
    wrong_accepts: int = 0
    wrong_read_backs: int = 0
    missed: int = 0
    safety_wrong_accepts: int = 0
    examples: list = field(default_factory=list)

    def add(self, d: Decided) -> None:
        self.n += 1
        self.understood += int(d.correct)
        self.wrong_accepts += int(d.wrong_accept)
        self.wrong_read_backs += int(d.wrong_read_back)
        self.missed += int(not d.correct and not d.wrong_accept and not d.wrong_read_back)
        self.safety_wrong_accepts += int(d.wrong_accept and d.clip.question == "safety_now")

    def pct(self, value: int) -> str:
        return f"{100.0 * value / self.n:.1f} %" if self.n else "–"

    def cell(self) -> str:
        if not self.n:
            return "–"
        return f"{self.pct(self.understood)} · WA {self.wrong_accepts}"

    def to_json(self) -> dict:
        return {"n": self.n, "understood": self.understood, "wrong_accepts": self.wrong_accepts,
                "wrong_read_backs": self.wrong_read_backs, "missed": self.missed,
                "safety_now_wrong_accepts": self.safety_wrong_accepts}


def summarise(decided: list[Decided]) -> dict[str, dict[tuple, Tally]]:
    """Tallies by (condition, split), by (voice, condition), by (engine, condition), own voice, real."""
    out: dict[str, dict[tuple, Tally]] = defaultdict(lambda: defaultdict(Tally))
    for d in decided:
        c = d.clip
        if c.group == "voices":
            out["condition"][(c.condition, c.split)].add(d)
            out["condition"][(c.condition, "all")].add(d)
            out["voice"][(c.voice, c.condition)].add(d)
            out["voice_split"][(c.voice, c.condition, c.split)].add(d)
            out["engine"][(c.voice.split("/")[0], c.condition)].add(d)
        elif c.group == "own":
            out["own"][(c.condition, c.split)].add(d)
            out["own"][(c.condition, "all")].add(d)
        else:
            out["real"][(c.voice,)].add(d)
            out["real"][("all",)].add(d)
            kind = "to reject (none)" if c.expected == "none" else "ambiguous (X?)" if c.expected.endswith("?") else "answers"
            out["real_kind"][(kind,)].add(d)
    return out


def _row(label: str, t: Tally) -> str:
    return (f"| {label} | {t.n} | {t.pct(t.understood)} | **{t.wrong_accepts}** ({t.pct(t.wrong_accepts)}) | "
            f"{t.wrong_read_backs} | {t.missed} |")


def report_markdown(decided: list[Decided], notes: dict[str, str], meta: dict) -> str:
    s = summarise(decided)
    L: list[str] = []
    add = L.append
    add("# Understanding on voices that are not ours")
    add("")
    add(f"Command: `{meta['command']}` — {meta['when']}; recogniser: {meta['engine']}; decision: {meta['decision']}; "
        f"{meta['clips']} clips ({meta['fresh']} heard in this run, the rest from the cache); {meta['minutes']:.1f} min.")
    add("")
    add("understood = accepted or read back with the expected answer (for `none`: asked again; for `X?`: read back "
        "as X or asked again). **WA** = wrongly accepted: taken without a read-back and not what was meant (the "
        "worst outcome). Read-back wrong = a read-back of the wrong answer. Missed = asked again where an answer was "
        "expected.")
    add("")
    if notes:
        add("Not measured here:")
        for what, why in sorted(notes.items()):
            add(f"- {what}: {why}")
        add("")
    add("## Targets (issue #10), on voices that are not ours, held-out answers")
    add("")
    add("| target | measured | |")
    add("|---|---|---|")
    for key, goal in TARGETS:
        t = s["condition"].get((key, "heldout"))
        if t and t.n:
            ok = 100.0 * t.understood / t.n >= goal
            add(f"| understood ≥ {goal:g} %, {BY_KEY[key].label} | {t.pct(t.understood)} ({t.understood}/{t.n}) | "
                f"{'met' if ok else '**not met**'} |")
    for cond in CONDITIONS:
        t = s["condition"].get((cond.key, "all"))
        if t and t.n:
            ok = 100.0 * t.wrong_accepts / t.n <= MAX_WRONG_ACCEPT_PCT
            add(f"| wrongly accepted ≤ {MAX_WRONG_ACCEPT_PCT:g} %, {cond.label} (dev + held-out) | "
                f"{t.pct(t.wrong_accepts)} ({t.wrong_accepts}/{t.n}) | {'met' if ok else '**not met**'} |")
    safety_all = sum(t.safety_wrong_accepts for (c, part), t in s["condition"].items() if part == "all")
    add(f"| no wrong accept on `safety_now` (all conditions) | {safety_all} | {'met' if not safety_all else '**not met**'} |")
    add("")
    add("## Voices that are not ours, per condition")
    add("")
    add("| condition · part | answers | understood | wrongly accepted | read-back wrong | missed |")
    add("|---|---|---|---|---|---|")
    for cond in CONDITIONS:
        for part in ("dev", "heldout", "all"):
            t = s["condition"].get((cond.key, part))
            if t and t.n:
                add(_row(f"{cond.label} · {part}", t))
    add("")
    safety = sum(t.safety_wrong_accepts for (c, part), t in s["condition"].items() if part == "all")
    add(f"Wrong accepts on `safety_now` (all conditions): {safety}.")
    add("")
    add("## Per voice (understood · wrong accepts; dev and held-out together)")
    add("")
    add("| voice | " + " | ".join(c.label for c in CONDITIONS) + " | held-out, all conditions |")
    add("|---|" + "---|" * (len(CONDITIONS) + 1))
    voices = sorted({v for v, _ in s["voice"]})
    for voice in voices:
        held = Tally()
        for d in decided:
            if d.clip.group == "voices" and d.clip.voice == voice and d.clip.split == "heldout":
                held.add(d)
        add(f"| {voice} | " + " | ".join(s["voice"].get((voice, c.key), Tally()).cell() for c in CONDITIONS)
            + f" | {held.cell()} (n={held.n}) |")
    add("")
    add("Per engine:")
    add("")
    add("| engine | " + " | ".join(c.label for c in CONDITIONS) + " |")
    add("|---|" + "---|" * len(CONDITIONS))
    for engine in sorted({e for e, _ in s["engine"]}):
        add(f"| {engine} | " + " | ".join(s["engine"].get((engine, c.key), Tally()).cell() for c in CONDITIONS) + " |")
    add("")
    add("## The product's own voice (Open JTalk mei), apart — never pooled with the above")
    add("")
    add("| condition · part | answers | understood | wrongly accepted | read-back wrong | missed |")
    add("|---|---|---|---|---|---|")
    for key in OWN_CONDITIONS:
        for part in ("dev", "heldout", "all"):
            t = s["own"].get((key, part))
            if t and t.n:
                add(_row(f"{BY_KEY[key].label} · {part}", t))
    add("")
    add("## Real people's recordings, apart")
    add("")
    if not s["real"]:
        add("**No real recordings were present** (see bench/real_clips.py).")
    else:
        add("| source | answers | understood | wrongly accepted | read-back wrong | missed |")
        add("|---|---|---|---|---|---|")
        for (source,), t in sorted(s["real"].items(), key=lambda kv: (kv[0][0] == "all", kv[0][0])):
            add(_row("all real recordings" if source == "all" else source, t))
        for (kind,), t in sorted(s["real_kind"].items()):
            add(_row(f"… of which {kind}", t))
    add("")
    # Held-out answers are counted above, never listed: what is read is what gets tuned on.
    wrong = [d for d in decided if d.wrong_accept and d.clip.split != "heldout"]
    hidden = sum(d.wrong_accept and d.clip.split == "heldout" for d in decided)
    add(f"## Every wrong accept outside the held-out part ({len(wrong)}; {hidden} held-out, not listed)")
    add("")
    if wrong:
        add("| voice | condition | question | said | heard | expected | taken |")
        add("|---|---|---|---|---|---|---|")
        for d in sorted(wrong, key=lambda d: (d.clip.group, d.clip.question, d.clip.voice, d.clip.condition)):
            heard = d.heard.text or "(nothing)"
            add(f"| {d.clip.voice} | {d.clip.condition} | {d.clip.question} | {d.clip.text} | {heard} | "
                f"{d.clip.expected} | {d.chosen} |")
        add("")
    add("Every clip (heard text, alternatives, decision): bench/out/understanding.json.")
    return "\n".join(L) + "\n"


def results_json(decided: list[Decided], notes: dict[str, str], meta: dict) -> dict:
    s = summarise(decided)
    tables = {name: [{"key": list(k), **t.to_json()} for k, t in sorted(group.items())] for name, group in s.items()}
    return {"meta": meta, "notes": notes, "conditions": [asdict(c) for c in CONDITIONS], "tables": tables,
            "clips": [d.to_json() for d in decided]}


def load_results(path: Path = RESULTS_JSON) -> dict:
    """The last run's results: {"meta", "notes", "conditions", "tables", "clips": [per clip, see Decided.to_json]}."""
    return json.loads(Path(path).read_text(encoding="utf-8"))


def takes(results: dict, question: str, expected: str, group: str = "voices",
          condition: str | None = None) -> list[dict]:
    """Every heard clip answering `question` with `expected` (optionally in one condition): the
    takes a session simulation can draw from, a fresh one for each reprompt."""
    return [c for c in results["clips"] if c["question"] == question and c["expected"] == expected
            and c["group"] == group and (condition is None or c["condition"] == condition)]


def current_labels() -> dict[str, str]:
    """Clip id → expected answer from today's manifests (spoken.tsv and real_clips.tsv)."""
    from bench.real_clips import read_manifest

    by_text = {(r.question, r.text): r.expected for r in spoken.read_spoken()}
    labels = {}
    for c in read_manifest():
        labels[f"real|{c.id}|{c.question}"] = c.expected
    return labels | {f"@{q}|{t}": e for (q, t), e in by_text.items()}


def rescore(path: Path = RESULTS_JSON, output: Path | None = RESULTS_MD, log=None) -> str:
    """Decide again on the hearings saved by the last run (no recogniser, seconds): for a changed
    matcher or changed labels. Clips keep what was heard; labels come from today's manifests."""
    from voicecheck.content import load_content
    from voicecheck.matcher import Matcher
    from voicecheck.settings import Settings

    log = log or (lambda message: print(message, file=sys.stderr, flush=True))
    saved = load_results(path)
    labels = current_labels()
    clips, heard = [], {}
    for c in saved["clips"]:
        expected = labels.get(c["id"]) if c["group"] == "real" else labels.get(f"@{c['question']}|{c['text']}")
        clip = BenchClip(c["id"], c["group"], c["voice"], c["condition"], c["question"], expected or c["expected"],
                         c["split"], c["text"], Path(c["audio"]), c.get("source", ""))
        clips.append(clip)
        heard[clip.id] = heard_from_json(c["heard"])
    matcher = Matcher(load_content(Settings().prompts_dir))
    decided = decide_all(clips, heard, matcher)
    _, decision_name = decision_function(matcher)
    again = " (decided again: bench/understanding.py --rescore)"
    heard_by = saved["meta"]["command"].split(again)[0]  # the run that heard the clips, named once
    # The minutes stay those of the run that heard the clips (a rescore takes seconds).
    meta = dict(saved["meta"], decision=decision_name, fresh=0, when=datetime.now().strftime("%Y-%m-%d %H:%M"),
                command=heard_by + again)
    text = report_markdown(decided, saved.get("notes", {}), meta)
    if output is not None:
        output.write_text(text, encoding="utf-8")
    Path(path).write_text(json.dumps(results_json(decided, saved.get("notes", {}), meta), ensure_ascii=False,
                                     indent=1), encoding="utf-8")
    log(f"decided again on {len(decided)} saved hearings; written: {output or '(no Markdown file)'} and {path}")
    return text


# ------------------------------------------------------------------------------------------


def run(quick: bool = False, engine: str = "whisper", jobs: int = 1, own_voice: bool = True, real: bool = True,
        output: Path | None = RESULTS_MD, log=None, limit: int | None = None) -> str:
    """The whole bench: render, hear, decide, report. Returns the Markdown."""
    log = log or (lambda message: print(message, file=sys.stderr, flush=True))
    started = time.perf_counter()
    from voicecheck.models import MIRROR_ENV

    shared = ROOT.parent / "shared" / "models"
    if not os.environ.get(MIRROR_ENV) and shared.is_dir():
        os.environ[MIRROR_ENV] = str(shared)

    def rendered(done: int, total: int) -> None:
        if done % 50 == 0 or done == total:
            log(f"  rendered {done}/{total} voice clips (made once, then reused)")

    clips, notes = load_clips(quick=quick, own_voice=own_voice, real=real, progress=rendered, limit=limit)
    listener = Listener(engine)
    heard, fresh = transcribe_all(clips, engine=engine, jobs=jobs, listener=listener, log=log)
    decided = decide_all(clips, heard, listener.matcher)
    _, decision_name = decision_function(listener.matcher)
    meta = {"command": ".venv/bin/python bench/understanding.py" + (" --quick" if quick else ""),
            "when": datetime.now().strftime("%Y-%m-%d %H:%M"), "engine": engine, "decision": decision_name,
            "clips": len(decided), "fresh": fresh, "minutes": (time.perf_counter() - started) / 60,
            "tv_noise": TV_RECIPE, "noise_seconds": NOISE_SECONDS}
    text = report_markdown(decided, notes, meta)
    if quick and output == RESULTS_MD:  # the committed table is the full run's
        output = QUICK_MD
    if output is not None:
        output.write_text(text, encoding="utf-8")
    RESULTS_JSON.parent.mkdir(parents=True, exist_ok=True)
    RESULTS_JSON.write_text(json.dumps(results_json(decided, notes, meta), ensure_ascii=False, indent=1),
                            encoding="utf-8")
    log(f"written: {output or '(no Markdown file)'} and {RESULTS_JSON}")
    return text


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Understanding on voices that are not ours (see the docstring).")
    parser.add_argument("--quick", action="store_true", help="every 4th text, one voice each, own voice clean only")
    parser.add_argument("--engine", default="whisper", help="recogniser (default whisper)")
    parser.add_argument("--jobs", type=int, default=1, help="worker processes for hearing (default 1)")
    parser.add_argument("--no-own-voice", action="store_true", help="skip the product's own voice")
    parser.add_argument("--no-real", action="store_true", help="skip real recordings")
    parser.add_argument("--output", type=Path, default=RESULTS_MD, help="where to write the Markdown")
    parser.add_argument("--limit", type=int, help="only the first N texts (for development; not written to "
                                                   "bench/results-understanding.md unless --output says so)")
    parser.add_argument("--rescore", action="store_true",
                        help="decide again on the hearings of the last run (bench/out/understanding.json) with "
                             "today's matcher and labels, without hearing anything")
    args = parser.parse_args(argv)
    if args.rescore:
        print(rescore(output=args.output))
        return 0
    output = args.output if args.limit is None or args.output != RESULTS_MD else None
    print(run(quick=args.quick, engine=args.engine, jobs=args.jobs, own_voice=not args.no_own_voice,
              real=not args.no_real, output=output, limit=args.limit))
    return 0


if __name__ == "__main__":
    sys.exit(main())
