"""Whisper (faster-whisper, CTranslate2 int8 on the CPU): the engine with measured Japanese figures.

Decoding is beam search with several hypotheses kept (`BEAM`, `HYPOTHESES`, temperature 0: the
same audio always gives the same result). Short answers are what Whisper base mishears most
(「はい」 as 「開」, 「ううん」 as 「うるー」); the second or third hypothesis often holds the word,
and whether the hypotheses agree tells how sure the recogniser is. The answer matcher reads them
in order (voicecheck.understanding.hypotheses).

What the device just asked (`ListenContext.asked`) is given to the decoder as the text before the
answer, as it would be in a transcript of the conversation: it steadies the language and the
vocabulary without listing answers Whisper could copy. (A list of the expected answers as a
prompt made Whisper write an option it had not heard, so the options are never given.)

The encoder hears a 10-second window (longer for longer answers) instead of Whisper's 30
seconds: a third of the time for a short answer, and on the bench voices as accurate.

Runaway output, a known Whisper failure on noise, silence and very short clips, is kept in
check: only the speech part of the clip is decoded, the number of new tokens is bounded by
the length of that speech, a phrase repeated over and over is cut back to one, and a decode
that ran away is tried once more with more silence around the speech.
"""
from __future__ import annotations

import math
import os
import re
import time
from dataclasses import dataclass
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


ENCODER_WINDOW_FRAMES = 1000  # 10 s of 10 ms mel frames: the shortest window the encoder is given
ENCODER_MARGIN_FRAMES = 200  # at least 2 s of silence after the speech within the window
BEAM = 5  # beam width
HYPOTHESES = 5  # hypotheses kept for the matcher
NO_SPEECH_TEXT = ("ご視聴ありがとうございました", "ご視聴ありがとうございます", "おやすみなさい")  # Whisper's filler for silence


@dataclass(frozen=True)
class Decoded:
    texts: tuple[str, ...]  # hypotheses, best first, repetition cut back
    logprobs: tuple[float, ...]  # average log probability per token of each
    no_speech: float
    looped: bool  # the best hit the token limit or repeated itself


_SENTENCE_END = re.compile(r"(?<=[。？！?!])")


def asked_prompt(asked: str, max_chars: int = PROMPT_MAX_CHARS) -> str | None:
    """The last sentence of what the device asked, as the text that came before the answer.

    Only the last sentence: the emergency question lists symptoms before it asks, and Whisper,
    given that list, wrote a symptom out of it for an answer it could not read."""
    sentences = [s.strip() for s in _SENTENCE_END.split(" ".join(asked.split())) if s.strip()]
    return sentences[-1][-max_chars:] if sentences else None


_NOT_WORDS = re.compile(r"[\s、。，．,.!?！？「」『』…・ー〜~]")
ECHO_SIMILARITY = 85.0  # a hypothesis this close to part of the question is the question, not an answer
ECHO_MIN_CHARS = 6


def echoes_prompt(text: str, prompt: str | None) -> bool:
    """Whisper sometimes writes out the question it was given as context instead of what was
    said, when the audio holds little it can read (「…ひどくなったりしていますか。」 twice over):
    such a hypothesis is dropped. It is a question (ends in か) made of the question's words; an
    answer that repeats the question's words (「ひどくなったりはしてないです」) is kept."""
    if not prompt:
        return False
    from rapidfuzz import fuzz

    heard = _NOT_WORDS.sub("", text)
    half = len(heard) // 2
    if len(heard) % 2 == 0 and heard[:half] == heard[half:]:
        heard = heard[:half]  # the same sentence twice
    asked = _NOT_WORDS.sub("", prompt)
    if len(heard) < ECHO_MIN_CHARS or not asked or not heard.endswith("か"):
        return False
    return fuzz.partial_ratio(heard, asked) >= ECHO_SIMILARITY


COPY_SIMILARITY = 95.0
COPY_MIN_CHARS = 8
UNSURE = 0.5  # per-token probability below which a hypothesis is a guess


def copies_question(text: str, asked: str, confidence: float) -> bool:
    """A guess that is word for word a part of the question (「お尻や股のまわりがしびれる」 for an
    answer Whisper could not read) came from the question, not from the person: dropped. Said
    with confidence, the same words are an answer that repeats the question, and kept."""
    if confidence >= UNSURE or not asked:
        return False
    from rapidfuzz import fuzz

    heard = _NOT_WORDS.sub("", text)
    return len(heard) >= COPY_MIN_CHARS and fuzz.partial_ratio(heard, _NOT_WORDS.sub("", asked)) >= COPY_SIMILARITY


class WhisperRecognizer:
    name = "whisper"

    def __init__(self, model_dir: Path | str, cpu_threads: int | None = None, bias: bool = False,
                 language: str = "ja", open_questions: Iterable[str] = (), beam: int = BEAM,
                 hypotheses: int = HYPOTHESES, use_asked: bool = True) -> None:
        try:
            from faster_whisper import WhisperModel
            from faster_whisper.tokenizer import Tokenizer
        except ImportError as error:
            raise RecognizerError(f"The Python package faster-whisper is missing ({error}).") from None
        self.model_dir = Path(model_dir)
        self.bias = bias
        self.beam, self.hypotheses, self.use_asked = max(1, beam), max(1, min(hypotheses, beam)), use_asked
        # Free-text answers get no list of expected phrases: it would only pull them off course.
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
        self.tokenizer = Tokenizer(self.model.hf_tokenizer, self.model.model.is_multilingual,
                                   task="transcribe", language=language)
        from faster_whisper.transcribe import get_suppressed_tokens

        self._suppressed = get_suppressed_tokens(self.tokenizer, [-1])

    def start(self, context: ListenContext) -> BufferedStream:
        return BufferedStream(self.transcribe, context)

    def _prompt_text(self, context: ListenContext) -> str | None:
        if self.bias and context.question_id not in self.open_questions:
            return bias_prompt(context.phrases)
        if self.use_asked:
            return asked_prompt(context.asked)
        return None

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
        prompt = self._prompt_text(context)
        decoded = self._decode(speech, prompt, speech_s)
        if decoded.looped:
            # A short clip sometimes sends Whisper round in a loop ("イェイェイェ…" for a lone
            # "いいえ"); with another second of silence on each side it usually hears the word.
            retry = self._decode(_pad(speech, LOOP_RETRY_PADDING_S), prompt, speech_s)
            if not retry.looped:
                decoded = retry
        texts = [t for t, logprob in zip(decoded.texts, decoded.logprobs)
                 if t and t not in NO_SPEECH_TEXT and not echoes_prompt(t, prompt)
                 and not copies_question(t, context.asked, math.exp(logprob))]
        best = texts[0] if texts else ""
        confidence = round(math.exp(decoded.logprobs[decoded.texts.index(best)]), 3) if best else None
        return Heard(
            text=best,
            alternatives=tuple(dict.fromkeys(t for t in texts[1:] if t != best)),
            confidence=confidence,
            no_speech=round(decoded.no_speech, 3),
            timings={"recognition": round(time.perf_counter() - started, 3), "audio": round(speech_s, 3)},
        )

    def _decode(self, speech: np.ndarray, prompt: str | None, speech_s: float) -> Decoded:
        from faster_whisper.audio import pad_or_trim

        limit = token_limit(speech_s)
        model = self.model
        features = model.feature_extractor(speech)[..., :-1]
        full = model.feature_extractor.nb_max_frames
        # The encoder's cost grows with its window. A short answer padded with silence to 10 s
        # (not Whisper's usual 30 s) is decoded about three times faster and, measured on the
        # bench voices, heard as well (bench/results-understanding.md).
        window = min(full, max(ENCODER_WINDOW_FRAMES, features.shape[-1] + ENCODER_MARGIN_FRAMES))
        segment = pad_or_trim(features[:, :full], window)
        encoded = model.encode(segment)
        previous = self.tokenizer.encode(" " + prompt.strip()) if prompt else []
        tokens_in = model.get_prompt(self.tokenizer, previous, without_timestamps=True)
        result = model.model.generate(
            encoded, [tokens_in],
            beam_size=self.beam, num_hypotheses=self.hypotheses, patience=1.0, length_penalty=1.0,
            max_length=len(tokens_in) + limit, return_scores=True, return_no_speech_prob=True,
            suppress_blank=True, suppress_tokens=self._suppressed,
        )[0]
        texts, logprobs = [], []
        looped = False
        for rank, (ids, score) in enumerate(zip(result.sequences_ids, result.scores)):
            ids = [i for i in ids if i < self.tokenizer.eot]
            raw = self.tokenizer.decode(ids).strip()
            text = limit_repetition(raw)
            if rank == 0:
                looped = len(ids) >= limit or text != raw
            texts.append(text)
            logprobs.append(float(score) * len(ids) / (len(ids) + 1) if ids else -10.0)
        return Decoded(tuple(texts), tuple(logprobs), float(result.no_speech_prob), looped)
