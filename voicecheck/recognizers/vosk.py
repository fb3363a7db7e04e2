"""Vosk: streaming recognition with a small grammar per question.

A grammar is a list of phrases, each a sequence of words of the model's vocabulary. Vosk
silently drops a word it does not know, which can turn "階段を下りるとき" into "とき", so
every phrase is first split into vocabulary words here, along Open JTalk's morphological
analysis (joining morphemes where the vocabulary has the longer word), falling back to
smaller listed words or to the reading in kana where a written form is not listed.
Phrases that cannot be spelled with the vocabulary are left out and reported.

`[unk]` is added when the model knows it, so an answer outside the grammar comes back as
"[unk]" (dropped from the text) rather than forced onto the nearest option.

Open questions (free text, given to the recogniser by id) and turns with no phrases are
decoded without a grammar, with the model's whole vocabulary and language model.
"""
from __future__ import annotations

import json
import re
import time
import unicodedata
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Iterable, Protocol

import numpy as np

from voicecheck.audio import SAMPLE_RATE, pcm16_bytes
from voicecheck.interfaces import Heard, ListenContext
from voicecheck.reading import FRONTEND_OPTIONS
from voicecheck.recognizers.base import RecognizerError, join_japanese, transcribe_by_stream

UNKNOWN_WORD = "[unk]"


class Vocabulary(Protocol):
    max_word_length: int

    def __contains__(self, word: object) -> bool: ...


class WordsFileVocabulary:
    """The words of a Kaldi `words.txt` ("word id" per line)."""

    def __init__(self, path: Path | str) -> None:
        self.path = Path(path)
        words: set[str] = set()
        with open(self.path, encoding="utf-8") as handle:
            for line in handle:
                word = line.split(" ", 1)[0].strip()
                if word and not word.startswith(("<", "#")):
                    words.add(word)
        self.words = frozenset(words)
        self.max_word_length = min(32, max((len(w) for w in self.words), default=1))

    def __contains__(self, word: object) -> bool:
        return word in self.words


class ModelVocabulary:
    """Asks a loaded Vosk model (for models shipped without words.txt)."""

    max_word_length = 16

    def __init__(self, model) -> None:
        self._model = model
        self._known = lru_cache(maxsize=100_000)(lambda word: model.vosk_model_find_word(word) >= 0)

    def __contains__(self, word: object) -> bool:
        return isinstance(word, str) and bool(word) and self._known(word)


# ---------------------------------------------------------------------------------------------
# Phrases -> vocabulary words

_HIRAGANA_START, _KATAKANA_START = 0x3041, 0x30A1


def katakana_to_hiragana(text: str) -> str:
    return "".join(chr(ord(c) - 0x60) if "ァ" <= c <= "ヶ" else c for c in text)


def hiragana_to_katakana(text: str) -> str:
    return "".join(chr(ord(c) + 0x60) if "ぁ" <= c <= "ゖ" else c for c in text)


def _fullwidth_ascii(text: str) -> str:
    """The Japanese model spells Latin letters and digits full width (１, ａｇ)."""
    return "".join(chr(ord(c) + 0xFEE0) if "!" <= c <= "~" else c for c in text)


def phrase_chunks(phrase: str) -> list[str]:
    """Normalise a phrase and cut it at spaces and punctuation (they are never words)."""
    text = unicodedata.normalize("NFKC", phrase)
    kept = []
    for char in text:
        category = unicodedata.category(char)
        kept.append(" " if category[0] in "PSZC" and char not in "ー々〆" else char)
    return [_fullwidth_ascii(chunk) for chunk in "".join(kept).split()]


def segment(text: str, vocabulary: Vocabulary) -> list[str] | None:
    """Split text into the fewest vocabulary words (longest first on ties), or None."""
    n = len(text)
    limit = vocabulary.max_word_length
    best: list[tuple[int, int] | None] = [None] * (n + 1)  # (word count, previous cut)
    best[0] = (0, -1)
    for end in range(1, n + 1):
        for start in range(max(0, end - limit), end):
            if best[start] is None or text[start:end] not in vocabulary:
                continue
            count = best[start][0] + 1
            if best[end] is None or count < best[end][0]:
                best[end] = (count, start)
    if best[n] is None:
        return None
    words, end = [], n
    while end > 0:
        start = best[end][1]
        words.append(text[start:end])
        end = start
    return words[::-1]


def _morphemes(text: str) -> list[tuple[str, str]]:
    """(written form, reading in katakana) per morpheme, from Open JTalk's analyser."""
    import pyopenjtalk

    return [(m["string"], m["pron"] if m["pron"] not in ("", "*") else m["read"])
            for m in pyopenjtalk.run_frontend(text, **FRONTEND_OPTIONS)]


def _spell_morpheme(surface: str, reading: str, vocabulary: Vocabulary) -> list[str] | None:
    """One morpheme in vocabulary words: its written form, else its reading in hiragana or katakana."""
    reading = re.sub(r"[^\u30a0-\u30ff]", "", reading or "")
    for candidate in (surface, katakana_to_hiragana(reading), reading):
        pieces = segment(candidate, vocabulary) if candidate else None
        if pieces:
            return pieces
    return None


def split_into_words(phrase: str, vocabulary: Vocabulary) -> tuple[str, ...] | None:
    """The phrase as a sequence of vocabulary words, or None when it cannot be spelled with them.

    Words follow the morphological analysis (so "平らな" is 平ら+な, not 平+らな, which would
    give the recogniser a wrong reading of 平), joining neighbouring morphemes where the
    vocabulary has the longer word (さ+ん → さん). A morpheme missing from the vocabulary is
    split into smaller listed words, or spelled by its reading.
    """
    words: list[str] = []
    for chunk in phrase_chunks(phrase):
        if chunk in vocabulary:
            words.append(chunk)
            continue
        morphemes = [(_fullwidth_ascii(s), r) for s, r in _morphemes(chunk)
                     if s and unicodedata.category(s[0])[0] not in "PSZ"]
        n = len(morphemes)
        # best[j] = (cost, words) for the first j morphemes; a listed span costs 1 per word,
        # a morpheme spelled from pieces costs one more, so analysed words win over fragments.
        best: list[tuple[float, list[str]] | None] = [None] * (n + 1)
        best[0] = (0.0, [])
        for j in range(1, n + 1):
            for i in range(max(0, j - 6), j):
                if best[i] is None:
                    continue
                span = "".join(surface for surface, _ in morphemes[i:j])
                if span in vocabulary:
                    option = (best[i][0] + 1, best[i][1] + [span])
                elif j == i + 1 and (pieces := _spell_morpheme(*morphemes[i], vocabulary)):
                    option = (best[i][0] + len(pieces) + 1, best[i][1] + pieces)
                else:
                    continue
                if best[j] is None or option[0] < best[j][0]:
                    best[j] = option
        if best[n] is None:
            return None
        words += best[n][1]
    return tuple(words) or None


@dataclass(frozen=True)
class Grammar:
    phrases: tuple[str, ...]  # space-separated vocabulary words, "[unk]" last when known
    dropped: tuple[str, ...] = ()  # phrases that could not be spelled with the vocabulary

    def as_json(self) -> str:
        # ensure_ascii=False matters: Vosk's JSON reader does not decode \\u escapes and would
        # drop every Japanese word as unknown.
        return json.dumps(list(self.phrases), ensure_ascii=False)

    @property
    def tokens(self) -> set[str]:
        return {token for phrase in self.phrases for token in phrase.split()}


def build_grammar(phrases: Iterable[str], vocabulary: Vocabulary) -> Grammar:
    spelled: dict[str, None] = {}
    dropped: list[str] = []
    for phrase in phrases:
        words = split_into_words(phrase, vocabulary)
        if words is None:
            dropped.append(phrase)
        else:
            spelled[" ".join(words)] = None
    if UNKNOWN_WORD in vocabulary:
        spelled[UNKNOWN_WORD] = None
    return Grammar(tuple(spelled), tuple(dropped))


# ---------------------------------------------------------------------------------------------
# Recognition


@dataclass(frozen=True)
class Word:
    word: str
    confidence: float
    start_s: float
    end_s: float


def parse_result(result_json: str) -> list[Word]:
    result = json.loads(result_json)
    if "result" in result:
        return [Word(w["word"], float(w.get("conf", 1.0)), float(w.get("start", 0.0)), float(w.get("end", 0.0)))
                for w in result["result"]]
    text = result.get("text", "")  # words switched off: text only, no confidences
    return [Word(word, 1.0, 0.0, 0.0) for word in text.split()]


class VoskStream:
    """One answer: audio in as it comes, partial guesses, and a final result.

    Vosk ends a segment by itself after a short silence (its own endpoint). A slow speaker's
    answer can span several such segments; they are all kept and joined, and the turn ends
    only when the caller (the microphone endpointer, or the end of a file) says so.
    """

    def __init__(self, model, grammar: Grammar | None) -> None:
        import vosk

        try:
            if grammar is None:
                self._recognizer = vosk.KaldiRecognizer(model, float(SAMPLE_RATE))
            else:
                self._recognizer = vosk.KaldiRecognizer(model, float(SAMPLE_RATE), grammar.as_json())
        except Exception as error:  # vosk raises a bare Exception
            raise RecognizerError(f"Vosk could not start recognising: {error}.") from None
        self._recognizer.SetWords(True)
        self.grammar = grammar
        self.words: list[Word] = []
        self.endpoints = 0  # segments Vosk closed by itself
        self._partial = ""
        self.decode_s = 0.0
        self.audio_s = 0.0

    def accept(self, samples: np.ndarray) -> None:
        started = time.perf_counter()
        self.audio_s += len(samples) / SAMPLE_RATE
        if self._recognizer.AcceptWaveform(pcm16_bytes(samples)):
            self.words += parse_result(self._recognizer.Result())
            self.endpoints += 1
            self._partial = ""
        else:
            self._partial = json.loads(self._recognizer.PartialResult()).get("partial", "")
        self.decode_s += time.perf_counter() - started

    def partial(self) -> str:
        pending = [w.word for w in self.words] + self._partial.split()
        return join_japanese([w for w in pending if w != UNKNOWN_WORD])

    def finish(self) -> Heard:
        started = time.perf_counter()
        self.words += parse_result(self._recognizer.FinalResult())
        self._partial = ""
        finish_s = time.perf_counter() - started
        known = [w for w in self.words if w.word != UNKNOWN_WORD]
        if known:
            confidence = float(np.mean([w.confidence for w in known]))
            if len(known) < len(self.words):  # part of the answer was outside the grammar
                confidence *= len(known) / len(self.words)
        else:
            confidence = 0.0 if self.words else None
        return Heard(
            text=join_japanese([w.word for w in known]),
            confidence=None if confidence is None else round(confidence, 3),
            timings={"recognition": round(finish_s, 3), "decoding": round(self.decode_s + finish_s, 3),
                     "audio": round(self.audio_s, 3)},
        )


class VoskRecognizer:
    name = "vosk"

    def __init__(self, model_dir: Path | str, words_file: Path | str | None = None,
                 open_questions: Iterable[str] = ()) -> None:
        import vosk

        vosk.SetLogLevel(-1)
        self.model_dir = Path(model_dir)
        try:
            self.model = vosk.Model(str(self.model_dir))
        except Exception:  # vosk raises a bare Exception("Failed to create a model")
            raise RecognizerError(
                f"Vosk could not load the model in {self.model_dir}. Check it with `python run.py models verify`."
            ) from None
        words_file = Path(words_file) if words_file else self.model_dir / "graph" / "words.txt"
        self.vocabulary: Vocabulary = (
            WordsFileVocabulary(words_file) if words_file.is_file() else ModelVocabulary(self.model)
        )
        self._grammars: dict[tuple[str, ...], Grammar] = {}
        # Questions answered in the person's own words (free text): decoded without a grammar.
        self.open_questions = frozenset(open_questions)

    def grammar_for(self, context: ListenContext) -> Grammar | None:
        """The grammar for this turn (cached per phrase list); None for open dictation."""
        if not context.phrases or context.question_id in self.open_questions:
            return None
        key = tuple(context.phrases)
        if key not in self._grammars:
            grammar = build_grammar(key, self.vocabulary)
            if not any(p != UNKNOWN_WORD for p in grammar.phrases):
                raise RecognizerError(
                    f"None of the phrases for '{context.question_id}' can be spelled with the words of the Vosk model."
                )
            self._grammars[key] = grammar
        return self._grammars[key]

    def start(self, context: ListenContext) -> VoskStream:
        return VoskStream(self.model, self.grammar_for(context))

    def transcribe(self, samples: np.ndarray, context: ListenContext) -> Heard:
        # Trailing silence lets Vosk close the last segment the way it would live.
        padded = np.concatenate([np.asarray(samples, dtype=np.float32), np.zeros(SAMPLE_RATE // 2, np.float32)])
        return transcribe_by_stream(self, padded, context)
