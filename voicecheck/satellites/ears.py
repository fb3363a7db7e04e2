"""A room's ears: the satellite's microphone through the same end-of-answer detection as live mode.

The frames come from the satellite (via the RoomChannel) instead of a local microphone; from
there on it is the live path: the endpointer of voicecheck.listening with the settings' timings
(voicecheck.speech_io.endpoint_config), then the shared recogniser, reached through the fair
recognition queue. If the satellite stops sending audio for a while (some only stream after
their wake word), the missing time counts as silence, so the no-answer timeout still runs in
real time.
"""
from __future__ import annotations

import logging
import time
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import numpy as np

from voicecheck.audio import FRAME_SAMPLES, write_wav
from voicecheck.interfaces import Heard, ListenContext
from voicecheck.listening.endpointer import capture_utterance
from voicecheck.recognizers.base import RecognizerError
from voicecheck.satellites.channel import FRAME_S, RoomChannel, ServerStopping
from voicecheck.speech_io import endpoint_config

log = logging.getLogger("voicecheck.satellites")

SILENT_FRAME = np.zeros(FRAME_SAMPLES, dtype=np.float32)
LATE_AUDIO_ALLOWANCE_S = 1.0  # network jitter tolerated before missing audio counts as silence


class RoomEars:
    def __init__(self, channel: RoomChannel, recognizer, settings, generation: int,
                 audio_dir: Path | None = None, detector=None) -> None:
        self.channel = channel
        # One speech detector per room, kept across turns and sessions: it learns the room's
        # steady background (a TV, a fan) and keeps it (voicecheck.listening).
        self.detector = detector
        self.recognizer = recognizer
        self.settings = settings
        self.generation = generation
        self.audio_dir = audio_dir if settings.keep_audio else None
        self.turn = 0
        self.contexts: list[ListenContext] = []  # every turn listened for, in order
        self.answer_ends: list[float] = []  # monotonic time each answer was judged finished (bench)

    def frames(self) -> Iterator[np.ndarray]:
        started = time.monotonic()
        stream_s = 0.0
        while True:
            got = self.channel.next_frames(self.generation, wait_s=0.25)
            for frame in got:
                stream_s += FRAME_S
                yield frame
            if not got:
                behind = time.monotonic() - started - stream_s - LATE_AUDIO_ALLOWANCE_S
                for _ in range(int(behind / FRAME_S)):
                    stream_s += FRAME_S
                    yield SILENT_FRAME

    def listen(self, context: ListenContext) -> Heard:
        self.turn += 1
        self.contexts.append(context)
        config = endpoint_config(self.settings, context.timeout_s)
        utterance = capture_utterance(self.frames(), config, vad=self.detector)
        timings = {"waited": utterance.waited_s}
        if utterance.timed_out:
            return Heard(text="", timed_out=True, timings=timings)
        self.answer_ends.append(time.monotonic())
        try:
            heard = self.recognizer.transcribe(utterance.samples, context)
        except RecognizerError:
            if self.channel.stopping:  # the shared recogniser was closed because serve is stopping
                raise ServerStopping from None
            raise
        timings.update(heard.timings)
        timings.update({"speech": utterance.speech_s, "endpoint": utterance.trailing_silence_s})
        log.debug("[%s] timings endpoint=%.3f queued=%.3f recognition=%.3f", self.channel.name,
                  timings["endpoint"], timings.get("queued", 0.0), timings.get("recognition", 0.0))
        source = None
        if self.audio_dir is not None:
            name = f"{self.turn:03d}-{context.question_id or 'answer'}.wav"
            source = str(write_wav(self.audio_dir / name, utterance.samples))
        return replace(heard, timings=timings, source=source)
