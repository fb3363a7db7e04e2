"""The engines every room shares, loaded once: content, matcher, voice and the recognition queue.

Open JTalk does two jobs here, the voice and the katakana readings the matcher compares, and
its C engine is one global object: one lock lets one room at a time use it. Both jobs take
milliseconds per phrase, so rooms hardly ever wait for it; recognition, which takes seconds,
has its own fair queue (voicecheck.satellites.recognition_queue).
"""
from __future__ import annotations

import threading
from dataclasses import dataclass
from typing import Any

import numpy as np

from voicecheck.content import Content
from voicecheck.recognizers.base import Recognizer
from voicecheck.satellites.recognition_queue import FairRecognitionQueue

OPEN_JTALK_LOCK = threading.RLock()


class LockedVoice:
    """A voice (normally the cached Open JTalk voice) usable from many room threads."""

    def __init__(self, voice: Any) -> None:
        self.voice = voice
        self.name = voice.name

    def synthesize(self, text: str, *, slow: bool = False) -> tuple[np.ndarray, int]:
        with OPEN_JTALK_LOCK:
            return self.voice.synthesize(text, slow=slow)


class LockedMatcher:
    """The answer matcher usable from many room threads (its readings come from Open JTalk).

    Every method of the matcher (match, understand, phrases …) is called under the lock."""

    def __init__(self, matcher: Any) -> None:
        self.matcher = matcher

    def __getattr__(self, name: str) -> Any:
        value = getattr(self.matcher, name)
        return locked(value) if callable(value) else value


def locked(function):
    """A function (the coach's command matcher) run under the Open JTalk lock."""

    def call(*args, **kwargs):
        with OPEN_JTALK_LOCK:
            return function(*args, **kwargs)

    return call


@dataclass
class SharedEngines:
    content: Content
    matcher: LockedMatcher
    voice: LockedVoice
    recognition: FairRecognitionQueue | None  # None when nothing needs a recogniser

    @classmethod
    def build(cls, settings, content: Content | None = None, recognizer: Recognizer | None = None,
              voice: Any = None, matcher: Any = None) -> "SharedEngines":
        """Load what is not handed in: the content, matcher, voice and recogniser the settings name."""
        from voicecheck.content import load_content

        content = content or load_content(settings.prompts_dir)
        if matcher is None:
            from voicecheck.matcher import Matcher

            matcher = Matcher(content)
        if voice is None:
            from voicecheck.voices import select_voice

            voice = select_voice(settings)
        if recognizer is None:
            from voicecheck.recognizers import select_recognizer

            recognizer = select_recognizer(settings)
        return cls(content, LockedMatcher(matcher), LockedVoice(voice), FairRecognitionQueue(recognizer))

    def close(self) -> None:
        if self.recognition is not None:
            self.recognition.close()
