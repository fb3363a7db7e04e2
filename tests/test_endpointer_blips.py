"""A TV's syllable passing the detector in a pause (a 60–90 ms burst) must not start the pause
anew: in a noisy room, with the person clearly louder than the background, a short burst is a
blip and the pause goes on. Where the person is barely louder, or the room is quiet, any burst
may be them, and the pause starts again as before."""
from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pytest

from voicecheck.listening.endpointer import EndpointConfig, Endpointer
from voicecheck.listening.frames import FRAME_S, FRAME_SAMPLES


class ScriptedDetector:
    """Says speech or not per frame from a pattern ("V" speech, "." not), with levels and a
    steady background, like SpeechDetector's verdicts."""

    def __init__(self, pattern: str, background_db: float | None, voice_db: float,
                 voice_share: float | None = None) -> None:
        self.pattern, self.index = pattern, 0
        self.background = SimpleNamespace(level_db=background_db, voice_share=voice_share)
        self.voice_db = voice_db
        self.last = None

    def is_speech(self, frame) -> bool:
        voiced = self.index < len(self.pattern) and self.pattern[self.index] == "V"
        self.index += 1
        level = self.voice_db if voiced else (self.background.level_db or -90.0)
        self.last = SimpleNamespace(speech=voiced, level_db=level)
        return voiced

    def hold(self, held: bool) -> None:
        pass


def ended_at(pattern: str, background_db: float | None = -35.0, voice_db: float = -15.0,
             voice_share: float | None = None) -> float:
    """Seconds from the start of the pattern until the answer is declared over."""
    endpointer = Endpointer(EndpointConfig(end_silence_s=1.3),
                            ScriptedDetector(pattern, background_db, voice_db, voice_share))
    frame = np.zeros(FRAME_SAMPLES, np.float32)
    for n in range(2000):
        endpointer.feed(frame)
        if endpointer.done:
            return round((n + 1) * FRAME_S, 2)
    raise AssertionError("never ended")


SPEECH = "V" * 30  # 0.9 s of answer
SPEECH_END_S = 0.9


def test_a_tv_blip_in_the_pause_costs_its_own_length_not_a_new_pause():
    blip = SPEECH + "." * 20 + "VVV" + "." * 200  # 0.6 s into the pause, a 90 ms blip
    wait = ended_at(blip) - SPEECH_END_S
    assert wait <= 1.3 + 0.15  # the blip and the frame after it, not a whole new 1.3 s
    assert ended_at(blip, background_db=None) - SPEECH_END_S > 1.3 + 0.6  # quiet room: as before


def test_the_person_going_on_starts_the_pause_again():
    went_on = SPEECH + "." * 20 + "V" * 8 + "." * 200  # 0.24 s more speech after a 0.6 s pause
    assert ended_at(went_on) == pytest.approx(SPEECH_END_S + 0.6 + 0.24 + 1.32, abs=0.04)


def test_a_voice_flickering_under_the_noise_adds_up_to_going_on():
    flicker = SPEECH + "." * 20 + "VV...VV" + "." * 200  # two short bursts of the same words
    assert ended_at(flicker) >= SPEECH_END_S + 0.6 + 0.21 + 1.3 - 0.01


def test_a_person_barely_louder_than_the_background_keeps_every_burst():
    blip = SPEECH + "." * 20 + "VVV" + "." * 200
    assert ended_at(blip, background_db=-20.0, voice_db=-15.0) - SPEECH_END_S > 1.3 + 0.6


def test_under_a_tvs_talk_a_person_11_db_over_it_is_clear_of_its_blips():
    # Silero hears a voice in most of the background (a TV's talk): 11 dB over it is enough to
    # tell the TV's bursts from the person going on; over a voiceless background (pink noise,
    # music) or one not measured yet, 12 dB still is.
    blip = SPEECH + "." * 20 + "VVV" + "." * 200  # a 90 ms burst of the TV's voice
    assert ended_at(blip, background_db=-26.0, voice_db=-15.0, voice_share=0.95) - SPEECH_END_S <= 1.3 + 0.2
    assert ended_at(blip, background_db=-26.0, voice_db=-15.0, voice_share=0.0) - SPEECH_END_S > 1.3 + 0.6
    assert ended_at(blip, background_db=-26.0, voice_db=-15.0) - SPEECH_END_S > 1.3 + 0.6
    # and the person going on is still heard
    went_on = SPEECH + "." * 20 + "V" * 8 + "." * 200
    assert ended_at(went_on, background_db=-26.0, voice_db=-15.0, voice_share=0.95) == pytest.approx(
        SPEECH_END_S + 0.6 + 0.24 + 1.32, abs=0.04)


def test_without_the_frames_levels_every_burst_counts_as_before():
    pattern = SPEECH + "." * 20 + "VVV" + "." * 200
    detector = ScriptedDetector(pattern, -35.0, -15.0)
    endpointer = Endpointer(EndpointConfig(end_silence_s=1.3), detector)
    frame = np.zeros(FRAME_SAMPLES, np.float32)
    for n in range(2000):
        endpointer.feed(frame, detector.is_speech(frame))  # judged by the caller, no level given
        if endpointer.done:
            break
    assert (n + 1) * FRAME_S - SPEECH_END_S > 1.3 + 0.6
