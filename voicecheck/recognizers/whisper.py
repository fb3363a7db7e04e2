"""Whisper (faster-whisper, CTranslate2 int8 on the CPU) for machines with more CPU to spare.

Decoding is greedy (beam 1, temperature 0: fast and repeatable). Runaway output, a known
Whisper failure on noise, silence and very short clips, is kept in check: only the speech
part of the clip is decoded, the number of new tokens is bounded by the length of that
speech, a phrase repeated over and over is cut back to one, and a decode that ran away is
tried once more with more silence around the speech.

The question's expected phrases can be given to the decoder as a prompt ("previous
text"), the usual way to bias Whisper. It is off by default because it did not help here:
on the project's spoken-answer set (tests/data/spoken_answers.tsv, Open JTalk voice, clean
and with noise) a prompt fixed a few spellings but also made Whisper write a prompt phrase
it had not heard ("平らな道を歩いているとき" came out as the first option, "階段や段差を下りる
とき"), and a confidently wrong answer is worse than one the matcher asks again about.
The matcher's reading-based fuzzy matching does the biasing instead, after decoding.
"""
from __future__ import annotations

import math
import os
import re
import time
from pathlib import Path
from typing import Iterable

import numpy as np

from voicecheck.audio import SAMPLE_RATE, trim_silence
from voicecheck.interfaces import Heard, ListenContext
from voicecheck.recognizers.base import BufferedStream, RecognizerError

TOKENS_PER_SECOND = 12  # Japanese speech is about 8 morae a second; Whisper needs fewer tokens
MIN_TOKENS, MAX_TOKENS = 24, 220  # 220 leaves room for the prompt in Whisper's 448-token window
PROMPT_MAX_CHARS = 120
LOOP_RETRY_PADDING_S = 1.0
SHORT_ANSWER_S = 1.5  # speech shorter than this (after trimming) is decoded with more silence around it
SHORT_ANSWER_PADDING_S = 0.75  # added to the 0.25 s the trimming leaves: one second each side

_REPEATS = re.compile(r"(.{2,24}?)\1{3,}")  # a unit of 2..24 characters said four times or more


def limit_repetition(text: str) -> str:
    """Cut a phrase repeated four or more times in a row back to a single time."""
    previous = None
    while previous != text:
        previous, text = text, _REPEATS.sub(r"\1", text)
    return text


def _pad(samples: np.ndarray, seconds: float) -> np.ndarray:
    padding = np.zeros(int(seconds * SAMPLE_RATE), dtype=np.float32)
    return np.concatenate([padding, samples, padding])


def token_limit(speech_s: float) -> int:
    return int(min(MAX_TOKENS, max(MIN_TOKENS, MIN_TOKENS + TOKENS_PER_SECOND * speech_s)))


def bias_prompt(phrases: tuple[str, ...], max_chars: int = PROMPT_MAX_CHARS) -> str | None:
    """The expected phrases as a short Japanese list, the way earlier text would have read."""
    chosen: list[str] = []
    length = 0
    for phrase in dict.fromkeys(p.strip() for p in phrases if p and p.strip()):
        if length + len(phrase) + 1 > max_chars:
            break
        chosen.append(phrase)
        length += len(phrase) + 1
    return "、".join(chosen) + "。" if chosen else None


class WhisperRecognizer:
    name = "whisper"

    def __init__(self, model_dir: Path | str, cpu_threads: int | None = None, bias: bool = False,
                 language: str = "ja", open_questions: Iterable[str] = ()) -> None:
        try:
            from faster_whisper import WhisperModel
        except ImportError as error:
            raise RecognizerError(f"The Python package faster-whisper is missing ({error}).") from None
        self.model_dir = Path(model_dir)
        self.bias = bias
        # Free-text answers get no prompt: a list of commands would only pull them off course.
        self.open_questions = frozenset(open_questions)
        self.language = language
        threads = cpu_threads or max(1, min(4, os.cpu_count() or 1))
        try:
            self.model = WhisperModel(str(self.model_dir), device="cpu", compute_type="int8", cpu_threads=threads)
        except Exception as error:  # ctranslate2 raises RuntimeError/ValueError with file details
            raise RecognizerError(
                f"Whisper could not load the model in {self.model_dir} ({error}). "
                "Check it with `python run.py models verify`."
            ) from None

    def start(self, context: ListenContext) -> BufferedStream:
        return BufferedStream(self.transcribe, context)

    def transcribe(self, samples: np.ndarray, context: ListenContext) -> Heard:
        started = time.perf_counter()
        speech = trim_silence(np.asarray(samples, dtype=np.float32))
        if speech.size == 0:
            return Heard(text="", confidence=None,
                         timings={"recognition": round(time.perf_counter() - started, 3), "audio": 0.0})
        speech_s = len(speech) / SAMPLE_RATE
        if speech_s < SHORT_ANSWER_S:
            # Whisper guesses wildly on a lone word with no room around it (はい, いいえ, うん are
            # the commonest answers); a second of silence on each side steadies it.
            speech = _pad(speech, SHORT_ANSWER_PADDING_S)
        biased = self.bias and context.question_id not in self.open_questions
        prompt = bias_prompt(context.phrases) if biased else None
        text, confidence, looped = self._decode(speech, prompt, speech_s)
        if looped:
            # A short clip sometimes sends Whisper round in a loop ("イェイェイェ…" for a lone
            # "いいえ"); with another second of silence on each side it usually hears the word.
            retry = self._decode(_pad(speech, LOOP_RETRY_PADDING_S), prompt, speech_s)
            if not retry[2]:
                text, confidence, looped = retry
        return Heard(
            text=text,
            confidence=confidence,
            timings={"recognition": round(time.perf_counter() - started, 3), "audio": round(speech_s, 3)},
        )

    def _decode(self, speech: np.ndarray, prompt: str | None, speech_s: float) -> tuple[str, float | None, bool]:
        """(text, confidence, looped): looped when the output hit the token limit or repeated itself."""
        limit = token_limit(speech_s)
        segments, _info = self.model.transcribe(
            speech,
            language=self.language,
            task="transcribe",
            beam_size=1,
            best_of=1,
            temperature=0.0,  # no fallback re-decoding at higher temperatures: fast, repeatable
            condition_on_previous_text=False,
            initial_prompt=prompt,
            without_timestamps=True,
            max_new_tokens=limit,
            compression_ratio_threshold=None,
            log_prob_threshold=-1.0,
            no_speech_threshold=0.6,
            vad_filter=False,  # silence is trimmed above with the same VAD as the microphone
        )
        texts, logprobs, hit_limit = [], [], False
        for segment in segments:
            texts.append(segment.text.strip())
            logprobs.append(segment.avg_logprob)
            hit_limit = hit_limit or len(segment.tokens) >= limit
        raw = "".join(texts).strip()
        text = limit_repetition(raw)
        confidence = round(math.exp(float(np.mean(logprobs))), 3) if logprobs and text else None
        return text, confidence, hit_limit or text != raw
