"""The room's background is learnt while the device talks, so the first answer of a session is heard.

Measured live: in a session whose sound card ran short, the echo gate stayed up through the
greeting and the whole first question (their pauses were shorter than the echo window), so no
frame taught the background; the detector then took the answer given right after the question
for the background itself, and the answer was never heard ("お返事が聞こえませんでした")."""
from __future__ import annotations

import threading

import numpy as np

from voicecheck.listening.detector import SpeechDetector
from voicecheck.listening.endpointer import EndpointConfig
from voicecheck.listening.frames import frames_of
from voicecheck.listening.live import LiveListener
from tests.test_barge_in import LoudIsSpeech, quiet, voice


def push(listener: LiveListener, microphone: np.ndarray, played: np.ndarray | None = None) -> None:
    played = np.zeros_like(microphone) if played is None else played
    for mic, out in zip(frames_of(microphone), frames_of(played)):
        listener.push(mic, played=out)


def test_an_answer_right_after_a_session_long_first_prompt_is_heard():
    listener = LiveListener(detector=SpeechDetector(vad=LoudIsSpeech()), stall_s=1.0)
    # From the very start the device talks (greeting, question), its phrases 0.3 s apart: the
    # microphone hears only what the echo canceller leaves (hiss) — never a long enough silence.
    for n in range(6):
        listener.phrase_starts(opens_answer=n == 5)
        played = voice(3.0, 0.05)
        push(listener, played * 0.001 + quiet(3.0), played)
        push(listener, quiet(0.3))
    assert listener.detector.background.level_db is not None  # learnt under the device's voice
    # The person answers 0.5 s after the device stops, then the room is quiet.
    push(listener, np.concatenate([quiet(0.5), voice(1.5, 0.3)]))
    done = threading.Event()

    def room_goes_on() -> None:
        while not done.is_set():
            push(listener, quiet(0.3))
            done.wait(0.001)

    feeding = threading.Thread(target=room_goes_on, daemon=True)
    feeding.start()
    try:
        result = listener.listen(EndpointConfig(no_answer_timeout_s=2.0, end_silence_s=1.0))
    finally:
        done.set()
        feeding.join()
    assert not result.utterance.timed_out
    assert result.utterance.speech_s >= 1.2

