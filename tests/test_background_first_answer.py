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
    assert listener.detector.under_voice.level_db is not None  # learnt under the device's voice
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


def test_the_room_under_the_devices_voice_only_stands_in_for_the_background():
    """Under the device's voice the echo canceller takes the TV out with it: what is left there must
    not pull the room's background down once the room itself has been heard (live under the TV, it
    did: the end of each answer came later, and the TV was heard in its pauses)."""
    detector = SpeechDetector(vad=LoudIsSpeech())
    # Steady tones too soft for LoudIsSpeech: never "speech" here, only levels.
    tv, under_voice = 0.01 * np.sqrt(2), 0.0005 * np.sqrt(2)  # about -40 and -66 dBFS
    for frame in frames_of(voice(1.0, under_voice)):
        detector.judge(frame, echo_db=-30.0)
    stand_in = detector.under_voice.level_db
    assert detector.background.level_db is None and stand_in is not None and stand_in < -60
    for _ in range(5):  # the device's phrases (the TV taken out under them) and its pauses (the TV)
        for frame in frames_of(voice(1.0, tv)):
            detector.judge(frame)
        for frame in frames_of(voice(2.0, under_voice)):
            detector.judge(frame, echo_db=-30.0)
    assert abs(detector.background.level_db - (-40.0)) < 1.5
    assert detector.last.background_db == detector.background.level_db  # the room's, no longer the stand-in
