"""Endpointing bench: how soon the end of an answer is found in a living room with the TV on.

Run:  .venv/bin/python bench/endpointing.py            (offline table, ~2 minutes)
      .venv/bin/python bench/endpointing.py --live     (also through a virtual sound card, PulseAudio)
      (both are part of `make bench`)

Each answer is played into the listening layer as it would reach the microphone: the TV
(crowd babble, music or pink noise) is already on for `WARM_S` seconds while the device asks
— the detector runs all the time, so it knows the background when listening starts — then
the answer, then more of the same noise for as long as the endpointer keeps listening (up to
its 30 s cap). SNR is the active speech power of the answer over the noise power (bench/noise.py).

Measured per condition:
  end wait p50 / p95   from the end of the speech to the moment the answer is declared over
  within 1.5 s         answers whose end is found within 1.5 s of the end of speech
  cut at the cap       answers still "going on" at the 30 s cap (the end never found)
  cut in a pause       answers declared over inside a pause shorter than `end_silence_s`
                       (each set also holds answers made of two parts with a 0.6–1.1 s pause)
  start missed         answers whose first sound is not in the audio handed to the recogniser
  false start          a "start" on the TV alone, before the person said anything

The last table adds the words' side (voicecheck.listening.early_end): Whisper base hears the answer
in its pauses and the matcher says whether it is complete (end after 0.6 s), still going on
(「えっと」, a trailing と: wait 1.2 s more) or neither; `--no-words` leaves it out.

Sets: the answers of tests/data/other_voices (Kokoro voices jf_alpha and jm_kumo, not the
product's voice) are the reported set; the Open JTalk corpus (bench/out/corpus, the product's
own voice in four variants) was used to tune the thresholds and is shown apart (`--set tuning`).
`--set voices` is the large held-out set (the spoken corpus's held-out part by 11 voices, clean and
older-speaker renderings, and real people's recordings), reported per group of speakers;
`--set voices_dev` is its dev part, where new rules are tried before the held-out part is run.
"""
from __future__ import annotations

import argparse
import csv
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from bench.noise import SAMPLE_RATE, active_mask, active_power, mean_power, noise_offset  # noqa: E402

BENCH = ROOT / "bench"
OUT_DIR = BENCH / "out"
OTHER_VOICES = ROOT / "tests" / "data" / "other_voices"
WARM_S = 3.0  # the TV is on while the device asks
CAP_S = 30.0  # EndpointConfig.max_answer_s
WITHIN_S = 1.5  # target: end found within this after the end of speech
PAUSES_S = (0.6, 0.8, 1.0, 1.1)  # pauses inside the two-part answers (all shorter than end_silence_s)
NOISES = ("babble", "music", "pink")
SNRS = (20.0, 10.0, 5.0)


@dataclass(frozen=True)
class Case:
    name: str
    samples: np.ndarray  # the clean answer with the little silence around it
    speech_start_s: float
    speech_end_s: float
    pause_s: float = 0.0  # a pause inside the answer (two-part answers), else 0
    voice: str = ""
    question: str = ""  # what it answers (of a two-part answer: the first part's question)
    group: str = ""  # who speaks, as reported apart: an engine's voices, their older renderings, real people
    longest_pause_s: float = 0.0  # the longest silence inside the speech (as speech_span measures it)


def speech_span(samples: np.ndarray) -> tuple[float, float]:
    """First and last 10 ms of active speech in a clean clip (within 40 dB of its loudest part)."""
    mask = active_mask(samples)
    if not mask.any():
        return 0.0, 0.0
    first, last = int(np.argmax(mask)), len(mask) - int(np.argmax(mask[::-1]))
    return first * 0.010, last * 0.010


def longest_pause(samples: np.ndarray) -> float:
    """The longest run of 10 ms frames without voice between the first and the last voiced one."""
    mask = active_mask(samples)
    if not mask.any():
        return 0.0
    inside = mask[int(np.argmax(mask)): len(mask) - int(np.argmax(mask[::-1]))]
    longest = run = 0
    for voiced in inside:
        run = 0 if voiced else run + 1
        longest = max(longest, run)
    return longest * 0.010


def _read(path: Path) -> np.ndarray:
    from voicecheck.audio import read_wav

    return read_wav(path)


def _case(name: str, samples: np.ndarray, voice: str, pause_s: float = 0.0, question: str = "",
          group: str = "") -> Case:
    start, end = speech_span(samples)
    return Case(name, samples, start, end, pause_s, voice, question, group, longest_pause(samples))


def _two_part(name: str, first: np.ndarray, second: np.ndarray, pause_s: float, voice: str,
              question: str = "", group: str = "") -> Case:
    """Two answers said as one, with a pause between (the silence around each is cut first)."""
    a0, a1 = speech_span(first)
    b0, b1 = speech_span(second)
    lead = np.zeros(int(0.3 * SAMPLE_RATE), np.float32)
    joined = np.concatenate([lead, first[int(a0 * SAMPLE_RATE):int(a1 * SAMPLE_RATE)],
                             np.zeros(int(pause_s * SAMPLE_RATE), np.float32),
                             second[int(b0 * SAMPLE_RATE):int(b1 * SAMPLE_RATE)], lead])
    return _case(name, joined, voice, pause_s, question, group)


def with_pauses(cases: list[Case], every: int = 3) -> list[Case]:
    """The cases plus two-part answers made of neighbours by the same voice."""
    out = list(cases)
    by_voice: dict[str, list[Case]] = {}
    for case in cases:
        by_voice.setdefault(case.voice, []).append(case)
    n = 0
    for voice, group in sorted(by_voice.items()):
        for i in range(0, len(group) - 1, every):
            pause = PAUSES_S[n % len(PAUSES_S)]
            out.append(_two_part(f"{group[i].name}+{group[i + 1].name}", group[i].samples, group[i + 1].samples,
                                 pause, voice, group[i].question, group[i].group))
            n += 1
    return out


def held_out_cases() -> list[Case]:
    """Kokoro voices from tests/data/other_voices (the files with speech)."""
    manifest = OTHER_VOICES / "manifest.tsv"
    if not manifest.is_file():
        return []
    cases = []
    with manifest.open(encoding="utf-8", newline="") as f:
        for row in csv.DictReader(f, delimiter="\t"):
            if row["expected"] == "none":
                continue
            samples = _read(OTHER_VOICES / row["audio"])
            cases.append(_case(row["audio"], samples, row["voice"], question=row["question"]))
    return with_pauses(cases)


# The spoken corpus's engines, as the understanding bench names them (bench/voices).
ENGINE_GROUPS = {"kokoro": "Kokoro", "openjtalk": "Open JTalk (other voices)", "espeak": "eSpeak NG"}
OLDER_GROUP = "older-speaker renderings"
REAL_GROUP = "real people"


def voices_cases(log=print, split: str = "heldout") -> list[Case]:
    """Other people's voices: a part of the spoken corpus (held out: 60 texts; dev: 138), each text
    read by 3 of 11 voices of Kokoro, Open JTalk and eSpeak NG, heard clean and as the older-speaker
    rendering (slower, lower, tremor, breath, reverb); with the held-out part, the real people's
    recordings (bench/out/real/). The held-out part is never used to tune endpointing: rules are
    tried on the dev part. Missing clips are synthesised first (bench/spoken.py); missing recordings
    are left out and said so (bench/real_clips.py gathers them)."""
    from bench import real_clips, spoken

    rows = [r for r in spoken.read_spoken() if r.split == split]
    skipped = spoken.render_all(rows, own_voice=False)
    for voice, why in sorted(skipped.items()):
        log(f"  {voice}: not heard ({why})")
    cases = []
    for older in (False, True):
        for row in rows:
            for voice in row.voices:
                path = spoken.clip_path(row.text, voice, older)
                if voice in skipped or not path.is_file():
                    continue
                group = OLDER_GROUP if older else ENGINE_GROUPS.get(voice.split("/")[0], voice)
                cases.append(_case(f"{voice}{' older' if older else ''}: {row.text}", _read(path),
                                   f"{voice}{' older' if older else ''}", question=row.question, group=group))
    # One case per recording (a recording may answer several questions in the manifest).
    real = {clip.wav: clip for clip in real_clips.read_manifest()} if split == "heldout" else {}
    missing = sum(1 for wav in real if not wav.is_file())
    if missing:
        log(f"  real people: {missing} of {len(real)} recordings missing (run bench/real_clips.py)")
    for wav, clip in real.items():
        if wav.is_file():
            # Two-part answers are joined from one speaker's recordings: the word lists' two voice
            # actors; each other recording is its own speaker.
            speaker = clip.speaker.split(",")[0] if clip.repo.startswith("tofugu/") else clip.id
            cases.append(_case(f"real: {clip.id}", _read(wav), f"real: {speaker}", question=clip.question,
                               group=REAL_GROUP))
    return with_pauses(cases)


def tuning_cases(limit: int = 60) -> list[Case]:
    """The product's own voice (bench corpus, Open JTalk variants): used to tune, not reported as the result."""
    from bench.corpus import CLIPS_DIR, read_corpus, render

    rows = read_corpus()
    step = max(1, len(rows) // limit)
    clips = render(rows[::step][:limit], CLIPS_DIR)
    cases = [_case(c.path.name, _read(c.path), c.row.voice, question=c.row.question) for c in clips]
    return with_pauses(cases)


# ------------------------------------------------------------------------------------------ noise


def load_tracks() -> dict[str, np.ndarray]:
    import soundfile

    from bench.music import music
    from bench.noise import NOISE_SECONDS, load_noise

    tracks = {name: load_noise(name, OUT_DIR / "noise", BENCH / "babble.txt") for name in ("babble", "pink")}
    path = OUT_DIR / "noise" / "music.wav"
    if path.is_file():
        data, _ = soundfile.read(str(path), dtype="float32")
        tracks["music"] = data / np.float32(np.sqrt(mean_power(data)))
    else:
        tracks["music"] = music(NOISE_SECONDS)
        path.parent.mkdir(parents=True, exist_ok=True)
        soundfile.write(str(path), np.clip(tracks["music"] * 0.1, -1, 1), SAMPLE_RATE, subtype="FLOAT")
    return tracks


@dataclass(frozen=True)
class Condition:
    noise: str | None
    snr_db: float | None

    @property
    def label(self) -> str:
        return "quiet" if self.noise is None else f"{self.noise} {self.snr_db:g} dB"


def conditions() -> list[Condition]:
    return [Condition(None, None)] + [Condition(n, s) for n in NOISES for s in SNRS]


def room_sound(case: Case, condition: Condition, tracks: dict[str, np.ndarray],
               warm_s: float = WARM_S, after_s: float = CAP_S + 1.5) -> tuple[np.ndarray, np.ndarray]:
    """(warm-up noise, answer + noise after it): what the microphone hears, deterministic per case."""
    answer = np.concatenate([case.samples, np.zeros(int(after_s * SAMPLE_RATE), np.float32)])
    warm = np.zeros(int(warm_s * SAMPLE_RATE), np.float32)
    if condition.noise is None:
        return warm, answer
    track = tracks[condition.noise]
    total = len(warm) + len(answer)
    looped = np.tile(track, int(np.ceil((total + len(track)) / len(track))))
    offset = noise_offset(len(track), len(track) // 2, case.name, condition.noise)
    noise = looped[offset: offset + total].astype(np.float64)
    scale = np.sqrt(active_power(case.samples) / 10 ** (condition.snr_db / 10.0) / mean_power(noise))
    noise *= scale
    mixed = noise.copy()
    mixed[len(warm):len(warm) + len(case.samples)] += case.samples
    peak = float(np.max(np.abs(mixed)))
    if peak > 0.99:
        mixed *= 0.99 / peak
    mixed = mixed.astype(np.float32)
    return mixed[:len(warm)], mixed[len(warm):]


# ------------------------------------------------------------------------------------------ measuring


@dataclass
class Outcome:
    end_wait_s: float | None  # None: not ended before the cap
    at_cap: bool
    cut_in_pause: bool
    start_missed: bool
    false_start: bool
    timed_out: bool
    ended_early: bool = False  # ended in a short pause because the words were a complete answer
    # The answer had ended early on its first part and the person went on: the rest was heard and
    # the whole answer ends where measured (the live path); the microphone alone cuts it instead.
    rest_heard: bool = False


class _TimedHearing:
    """A hearing made at once, but ready only once as much stream time has passed as it took."""

    def __init__(self, result, ready_at: float, clock) -> None:
        self._result, self.ready_at, self._clock = result, ready_at, clock

    def done(self) -> bool:
        return self._clock() >= self.ready_at - 1e-9

    def result(self):
        return self._result

    def exception(self):
        return None


class StreamTimeWorker:
    """The product's single hearing thread, on the bench's stream clock: each hearing runs when
    submitted (one after another, as on the worker thread) and counts as finished only after the
    wall time it took, so a reply comes no sooner than the real decode allows."""

    def __init__(self) -> None:
        self.clock = lambda: 0.0
        self._free_at = 0.0

    def submit(self, fn, *args):
        start = max(self.clock(), self._free_at)
        began = time.perf_counter()
        result = fn(*args)
        self._free_at = start + (time.perf_counter() - began)
        return _TimedHearing(result, self._free_at, self.clock)


@dataclass(frozen=True)
class Words:
    """The words' side of the end of a turn: the recogniser and the matcher the product uses."""

    recognizer: object
    matcher: object

    @staticmethod
    def question_of(case_question: str) -> str:
        """The question a case answers; an answer to none is heard as a yes or a no."""
        return case_question or "yes_no"

    def context(self, question: str):
        """What the recogniser is told while it hears an answer to `question`, as live."""
        from voicecheck.interfaces import ListenContext

        asked = self.matcher.content.question(question).text if question != "yes_no" else ""
        return ListenContext(question, self.matcher.phrases(question), None, asked)

    def hearing(self, case: Case, worker):
        from voicecheck.listening.early_end import EarlyHearing

        question = self.question_of(case.question)
        context = self.context(question)
        return EarlyHearing(lambda samples: self.recognizer.transcribe(samples, context),
                            lambda heard: self.matcher.turn_end(question, heard), worker)


def feed(endpointer, detector, frame) -> None:
    """One frame of the answer, as the device's live listener (the default path) gives it: judged by
    the detector, and in a room with a steady background without the onset hold and the faint last
    syllable (voicecheck.listening.live.feed_judged). A detector that gives no whole verdict (the
    comparisons) is asked by the endpointer itself."""
    from voicecheck.listening.live import feed_judged

    if not hasattr(detector, "last"):
        endpointer.feed(frame)
        return
    detector.is_speech(frame)
    feed_judged(endpointer, frame, detector.last)


def run_case(case: Case, condition: Condition, tracks, make_detector, config, warm: bool = True,
             words: Words | None = None) -> Outcome:
    from voicecheck.listening.endpointer import Endpointer
    from voicecheck.listening.frames import frames_of

    warm_audio, answer = room_sound(case, condition, tracks)
    detector = make_detector()
    if warm:
        for frame in frames_of(warm_audio):
            detector.is_speech(frame)
    endpointer = Endpointer(config, detector)
    early = None
    if words is not None:
        worker = StreamTimeWorker()
        worker.clock = lambda: endpointer.elapsed_s
        early = words.hearing(case, worker)
    frames = frames_of(answer)
    for frame in frames:
        feed(endpointer, detector, frame)
        if early is not None:
            early.step(endpointer)
        if endpointer.done:
            break
    u = endpointer.finish()
    rest_heard = False
    if early is not None and u.ended_in_a_pause:
        # The live path listens on while the device replies to the answer (acknowledges it, reads it
        # back or asks again): what the person says before the pause has lasted end_silence_s, or
        # within REST_BEGUN_WITHIN_S of the end, is the rest of the same answer
        # (voicecheck.listening.rest_of_answer). (It does not after a command or the last try.)
        from voicecheck.listening.rest_of_answer import hear_rest

        whole_hearing = words.hearing(case, worker)

        def step(rest_endpointer) -> None:
            worker.clock = lambda: rest_endpointer.origin_s + rest_endpointer.elapsed_s
            whole_hearing.step(rest_endpointer)

        # Once, as the product does: a whole answer is read back without listening for more.
        whole = hear_rest(((f, detector.is_speech(f)) for f in frames), u, config, detector, step)
        if whole is not None:
            u, rest_heard = whole, True
    if u.timed_out:
        return Outcome(None, False, False, True, False, True)
    false_start = u.started_at_s + config.pre_roll_s < case.speech_start_s - 0.3
    start_missed = u.started_at_s > case.speech_start_s + 0.03
    at_cap = u.truncated
    ended = u.ended_at_s
    cut_in_pause = not at_cap and ended < case.speech_end_s - 0.05
    wait = None if at_cap else ended - case.speech_end_s
    return Outcome(wait, at_cap, cut_in_pause, start_missed, false_start, False, u.ended_early, rest_heard)


@dataclass
class Row:
    label: str
    outcomes: list[Outcome] = field(default_factory=list)

    def waits(self) -> list[float]:
        return [o.end_wait_s for o in self.outcomes if o.end_wait_s is not None and not o.cut_in_pause]

    def pct(self, p: float) -> float:
        w = self.waits()
        return float(np.percentile(w, p)) if w else float("nan")

    def within(self) -> int:
        return sum(1 for o in self.outcomes if o.end_wait_s is not None and not o.cut_in_pause
                   and o.end_wait_s <= WITHIN_S)

    def count(self, attr: str) -> int:
        return sum(1 for o in self.outcomes if getattr(o, attr))


def measure(cases: list[Case], tracks, make_detector, config, conds: list[Condition] | None = None,
            warm: bool = True, log=None, words: Words | None = None) -> list[Row]:
    rows = []
    for cond in conds or conditions():
        row = Row(cond.label)
        for case in cases:
            row.outcomes.append(run_case(case, cond, tracks, make_detector, config, warm, words))
        if log:
            log(f"  {cond.label}: {row.within()}/{len(cases)} within {WITHIN_S:g} s")
        rows.append(row)
    return rows


def table(rows: list[Row], n: int) -> list[str]:
    lines = ["| condition | end wait p50 / p95 | end found within 1.5 s | cut at the 30 s cap | "
             "cut in a pause | start missed | false start on the TV |",
             "|---|---|---|---|---|---|---|"]
    for row in rows:
        lines.append(f"| {row.label} | {row.pct(50):.2f} s / {row.pct(95):.2f} s | "
                     f"{100 * row.within() / n:.1f} % ({row.within()}/{n}) | {row.count('at_cap')} | "
                     f"{row.count('cut_in_pause')} | {row.count('start_missed')} | {row.count('false_start')} |")
    return lines


def words_table(rows: list[Row], n: int, cases: list[Case] | None = None, end_silence_s: float = 0.0) -> list[str]:
    lines = ["| condition | end wait p50 / p95 | end found within 1.5 s | cut at the 30 s cap | "
             "cut in a pause: after a complete sentence / other | the rest heard after the reply | "
             "ended early (complete, after 0.8 s) | microphone alone: within 1.5 s · cut after a complete sentence |",
             "|---|---|---|---|---|---|---|---|"]
    for row in rows:
        after_complete = sum(1 for o in row.outcomes if o.cut_in_pause and o.ended_early)
        other = sum(1 for o in row.outcomes if o.cut_in_pause and not o.ended_early)
        # A pause at least `end_silence_s` long may end an answer by design: said apart, when any.
        long = sum(1 for o, c in zip(row.outcomes, cases or []) if o.cut_in_pause and not o.ended_early
                   and end_silence_s and c.longest_pause_s >= end_silence_s)
        other_cell = f"{other} ({long} in a pause ≥ {end_silence_s:g} s)" if long else f"{other}"
        rest = row.count("rest_heard")
        # Without the rest (early_answers off: the microphone is closed while the device talks)
        # every answer whose rest was heard live is cut after its first part instead.
        alone_within = row.within() - sum(1 for o in row.outcomes if o.rest_heard and not o.cut_in_pause
                                          and o.end_wait_s is not None and o.end_wait_s <= WITHIN_S)
        lines.append(f"| {row.label} | {row.pct(50):.2f} s / {row.pct(95):.2f} s | "
                     f"{100 * row.within() / n:.1f} % ({row.within()}/{n}) | {row.count('at_cap')} | "
                     f"{after_complete} / {other_cell} | {rest} | {row.count('ended_early')} | "
                     f"{100 * alone_within / n:.1f} % ({alone_within}/{n}) · {after_complete + rest} |")
    return lines


def groups_table(rows: list[Row], cases: list[Case]) -> list[str]:
    """End found within 1.5 s and answers cut, per group of speakers and condition."""
    groups = list(dict.fromkeys(c.group for c in cases))
    lines = ["| end found within 1.5 s · cut in a pause · at the cap | " + " | ".join(
                 f"{g} ({sum(1 for c in cases if c.group == g)})" for g in groups) + " |",
             "|---" * (len(groups) + 1) + "|"]
    for row in rows:
        cells = []
        for g in groups:
            mine = [o for o, c in zip(row.outcomes, cases) if c.group == g]
            within = sum(1 for o in mine if o.end_wait_s is not None and not o.cut_in_pause and o.end_wait_s <= WITHIN_S)
            cells.append(f"{100 * within / len(mine):.0f} % · {sum(o.cut_in_pause for o in mine)} · "
                         f"{sum(o.at_cap for o in mine)}")
        lines.append(f"| {row.label} | " + " | ".join(cells) + " |")
    return lines


def load_words(log) -> Words | None:
    """Whisper base and the matcher, as the product loads them; None when the model is missing."""
    from voicecheck.content import load_content
    from voicecheck.matcher import Matcher
    from voicecheck.recognizers import load_recognizer
    from voicecheck.settings import Settings

    settings = Settings()
    try:
        recognizer = load_recognizer("whisper", settings)
    except Exception as error:  # noqa: BLE001 - the table says why it is missing
        log(f"words: not measured ({error})")
        return None
    return Words(recognizer, Matcher(load_content(settings.prompts_dir)))


def words_report(cases: list[Case], set_name: str, log, snrs: tuple[float, ...] = (10.0, 5.0)) -> list[str]:
    """The shipped detector with the words' side (voicecheck.listening.early_end) on."""
    from voicecheck.settings import Settings
    from voicecheck.speech_io import endpoint_config

    words = load_words(log)
    title = "### now, with the words: Silero + background + the answer heard in its pauses"
    if words is None:
        return [title, "", "Not measured: the Whisper model is not installed (`python run.py models fetch`).", ""]
    conds = [Condition(None, None)] + [Condition(n, s) for s in snrs for n in NOISES]
    log(f"{set_name} · with the words …")
    started = time.perf_counter()
    config = endpoint_config(Settings())
    rows = measure(cases, load_tracks(), detectors()["now: Silero + background"], config,
                   conds, log=log, words=words)
    n = len(cases)
    return [title, "",
            f"{n} answers, {set_name}; Whisper base decodes each answer in its pauses (on the bench's stream "
            "clock: a hearing counts only once as much time has passed as it took on this machine) and the "
            "matcher judges the words (`end_when_complete` on, the default). A two-part answer whose first "
            "part is already a complete answer to its question is ended in the pause when the pause is "
            "long enough, in a quiet room only: with a steady background above -50 dBFS (every noisy "
            "condition here) nothing ends early and the full end_silence_s is waited. Frames reach the "
            "endpointer as the live listener gives them (voicecheck.listening.live.feed_judged: with a "
            "steady background, without the onset hold and the faint last syllable). The live path "
            "(the default) then listens on while the device replies: speech begun before the pause "
            "has lasted end_silence_s, or within 0.4 s of the end (a pause measured longer than it was), "
            "is the rest of the same answer, and the whole answer ends where measured (*the rest heard "
            "after the reply*; voicecheck.listening.rest_of_answer). With the microphone alone "
            "(early_answers off) those answers are cut after their first part (last column). "
            f"{time.perf_counter() - started:.0f} s to run.",
            ""] + words_table(rows, n, cases, config.end_silence_s) + [""] + (
                ["Per group of speakers:", ""] + groups_table(rows, cases) + [""]
                if len({c.group for c in cases}) > 1 else [])


def detectors() -> dict[str, object]:
    """The detectors compared: what shipped before, and what ships now."""
    from voicecheck.listening.detector import DetectorConfig, SpeechDetector
    from voicecheck.listening.vad import WebrtcVoiceActivity

    return {
        "before: webrtcvad alone": lambda: WebrtcVoiceActivity(),
        "webrtcvad + background": lambda: SpeechDetector(DetectorConfig(vad="webrtc")),
        "Silero alone": lambda: SpeechDetector(DetectorConfig(above_background_db=-100.0)),
        "now: Silero + background": lambda: SpeechDetector(),
    }


def offline_report(cases: list[Case], set_name: str, log, compare: bool = True) -> list[str]:
    from voicecheck.settings import Settings
    from voicecheck.speech_io import endpoint_config

    config = endpoint_config(Settings())
    tracks = load_tracks()
    out = []
    n = len(cases)
    two_part = sum(1 for c in cases if c.pause_s)
    chosen = detectors() if compare else {"now: Silero + background": detectors()["now: Silero + background"]}
    for name, make in chosen.items():
        log(f"{set_name} · {name} …")
        started = time.perf_counter()
        rows = measure(cases, tracks, make, config, log=log)
        out += [f"### {name}", "",
                f"{n} answers ({two_part} of them in two parts with a pause of {min(PAUSES_S):g}–{max(PAUSES_S):g} s), "
                f"{set_name}; {time.perf_counter() - started:.0f} s to run.", ""]
        out += table(rows, n) + [""]
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--set", choices=("held_out", "tuning", "voices", "voices_dev"), default="held_out",
                        help="held_out: tests/data/other_voices; tuning: the own voice; voices: the spoken "
                             "corpus's held-out part (11 voices, clean and older-speaker) and real recordings; "
                             "voices_dev: the spoken corpus's dev part, to try rules on")
    parser.add_argument("--now-only", action="store_true", help="only the shipped detector (no comparison)")
    parser.add_argument("--no-words", action="store_true", help="leave out the table with the words' side (Whisper)")
    parser.add_argument("--words-only", action="store_true", help="only the table with the words' side")
    parser.add_argument("--words-snrs", type=float, nargs="+", default=[10.0, 5.0],
                        help="noise levels of the words' table (besides quiet)")
    parser.add_argument("--live", action="store_true", help="also measure through PulseAudio (bench/live_room.py)")
    parser.add_argument("--output", type=Path, default=None,
                        help="default: bench/endpointing.md (held_out), bench/endpointing-<set>.md (the others)")
    args = parser.parse_args(argv)

    def log(message: str) -> None:
        print(message, file=sys.stderr, flush=True)

    cases = {"held_out": held_out_cases, "tuning": tuning_cases, "voices": lambda: voices_cases(log),
             "voices_dev": lambda: voices_cases(log, "dev")}[args.set]()
    if not cases:
        log("no answers to measure (tests/data/other_voices is missing)")
        return 2
    set_name = {"held_out": "Kokoro voices jf_alpha and jm_kumo (tests/data/other_voices)",
                "tuning": "Open JTalk variants (bench corpus; the tuning set)",
                "voices": "the spoken corpus's held-out part (11 voices of Kokoro, Open JTalk, eSpeak NG; clean "
                          "and older-speaker renderings) and real people's recordings; never used to tune "
                          "endpointing",
                "voices_dev": "the spoken corpus's dev part (11 voices of Kokoro, Open JTalk, eSpeak NG; clean and "
                              "older-speaker renderings); where endpointing rules are tried"}[args.set]
    lines = ["# Endpointing: end of speech → the answer is declared over", "",
             f"Command: `.venv/bin/python bench/endpointing.py{'' if args.set == 'held_out' else ' --set ' + args.set}"
             f"{' --now-only' if args.now_only else ''}{' --no-words' if args.no_words else ''}"
             f"{' --words-only' if args.words_only else ''}"
             f"{'' if args.words_snrs == [10.0, 5.0] else ' --words-snrs ' + ' '.join(f'{x:g}' for x in args.words_snrs)}` · "
             f"{time.strftime('%Y-%m-%d %H:%M')}. The TV is on {WARM_S:g} s before each answer; "
             f"end_silence_s = 1.3 s (the default setting).", ""]
    if not args.words_only:
        lines += offline_report(cases, set_name, log, compare=not args.now_only)
    if not args.no_words:
        lines += words_report(cases, set_name, log, tuple(args.words_snrs))
    if args.live:
        from bench.live_room import live_report

        lines += live_report(log)
    text = "\n".join(lines) + "\n"
    print(text)
    output = args.output or BENCH / ("endpointing.md" if args.set == "held_out" else f"endpointing-{args.set}.md")
    output.write_text(text, encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
