"""A pause inside an answer is heard as long as the person made it, not longer.

Two things made pauses sound longer than they were, so that older voices going on after a 1.1 s
pause were cut (bench voices, dev part): with music or pink noise 10 dB under the voice, a quiet
last syllable stood only 3–5 dB over the background, under the detector's 6 dB bar, although
Silero was sure of it; and a next word's first consonant comes a little before the detector hears
the voice in it, just when the pause would end."""
from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pytest

from voicecheck.listening.background import BackgroundLevel
from voicecheck.listening.detector import SpeechDetector
from voicecheck.listening.endpointer import EndpointConfig, Endpointer
from voicecheck.listening.frames import FRAME_S, FRAME_SAMPLES, SAMPLE_RATE, frames_of
from voicecheck.listening.vad import SileroVoiceActivity


# ------------------------------------------------------------------ what the background is like


def test_the_background_knows_how_often_a_voice_is_heard_in_it():
    background = BackgroundLevel(window_s=0.9)  # 30 frames
    for n in range(30):
        background.update(-40.0, voiced=n % 3 == 0)
    assert background.voice_share == pytest.approx(10 / 30)
    background.hold(True)  # an answer: its own voice is not the background's
    for _ in range(30):
        background.update(-20.0, voiced=True)
    assert background.voice_share == pytest.approx(10 / 30)
    background.hold(False)
    background.reset()
    assert background.voice_share is None


def test_without_verdicts_the_voice_share_is_not_known():
    background = BackgroundLevel(window_s=0.9)
    for _ in range(30):
        background.update(-40.0)
    assert background.level_db is not None and background.voice_share is None


def test_digital_silence_among_the_rooms_sound_does_not_widen_its_swing():
    # A satellite's gated microphone, a recording's silent lead-in: frames with no sound at all
    # between stretches of the room's hiss. The room still swings by 1 dB, not by 60.
    background = BackgroundLevel(window_s=0.9)  # 30 frames
    for n in range(30):
        background.update(-120.0 if n % 8 == 0 else -62.0 + (n % 2))
    assert background.spread_db <= 1.5 and background.level_db == pytest.approx(-62.0, abs=1.0)


def test_a_source_of_nothing_but_digital_silence_keeps_it_as_its_level():
    background = BackgroundLevel(window_s=0.9)
    for _ in range(30):
        background.update(-120.0)
    assert background.level_db == -120.0 and background.spread_db == 0.0


def test_where_silence_is_most_of_the_window_the_few_sounding_frames_do_not_become_the_room():
    # An idle virtual sink or a recording's gaps, then the first frames of a voice before the answer
    # is known to have begun: the level stays the silence's, so the voice still stands over it.
    background = BackgroundLevel(window_s=0.9)
    for n in range(30):
        background.update(-30.0 if n >= 24 else -120.0)
    assert background.level_db == -120.0


def test_a_voice_well_over_a_hiss_broken_by_digital_silence_is_speech():
    detector = SpeechDetector(vad=ToneIsVoice(noise_probability=0.0))
    hiss = (np.random.default_rng(3).standard_normal(FRAME_SAMPLES) * 10 ** (-62 / 20)).astype(np.float32)
    for n in range(140):  # 4 s of the room: hiss, a quarter of it in short stretches of digital silence
        detector.judge(np.zeros(FRAME_SAMPLES, np.float32) if n % 28 < 7 else hiss)
    t = np.arange(FRAME_SAMPLES) / SAMPLE_RATE
    voice = (10 ** (-35 / 20) * np.sqrt(2) * np.sin(2 * np.pi * 150 * t)).astype(np.float32)  # -35 dBFS
    verdicts = [detector.judge(voice) for _ in range(5)]
    assert verdicts[-1].speech, (verdicts[-1], detector.background.spread_db)


# ------------------------------------------------------------------ the detector's bar


class ToneIsVoice(SileroVoiceActivity):
    """Silero as scripted: sure of a tone (few zero crossings), and of noise only when told that
    the background talks (a TV's voices)."""

    def __init__(self, noise_probability: float) -> None:  # no model: nothing to load
        self.noise_probability = noise_probability
        self.threshold = 0.5

    def probability(self, frame: np.ndarray) -> float:
        crossings = np.count_nonzero(np.diff(np.signbit(frame))) / len(frame)
        return 0.9 if crossings < 0.1 else self.noise_probability


NOISE = np.random.default_rng(7).standard_normal(4 * SAMPLE_RATE).astype(np.float32) * 0.01  # -40 dBFS


def soft_last_syllable(noise_probability: float):
    """The verdict on a voice 4–5 dB over the background (under the usual 6 dB bar)."""
    detector = SpeechDetector(vad=ToneIsVoice(noise_probability))
    for frame in frames_of(NOISE):  # the room before the answer
        detector.judge(frame)
    t = np.arange(int(0.3 * SAMPLE_RATE)) / SAMPLE_RATE
    tone = (0.024 * np.sin(2 * np.pi * 150 * t)).astype(np.float32)  # its power: 2.9 × the noise's
    verdicts = [detector.judge(frame) for frame in frames_of(tone)]  # the tone alone: few crossings
    margin = verdicts[-1].level_db - verdicts[-1].background_db
    assert 3.0 <= margin < 6.0, margin
    return verdicts[-1]


def test_where_the_background_has_no_voice_in_it_a_soft_voice_silero_is_sure_of_is_faint_speech():
    verdict = soft_last_syllable(noise_probability=0.0)  # pink noise, a fan, music without singing
    assert verdict.faint and verdict.loud and not verdict.speech


def test_under_a_tvs_talk_the_full_bar_stays():
    verdict = soft_last_syllable(noise_probability=0.9)  # Silero hears the TV's voices too
    assert not verdict.faint and not verdict.speech


# ------------------------------------------------------------------ the end of a pause


class Scripted:
    """Per frame from a pattern: "V" speech, "f" a faint voice (near a background with no voice in
    it), "L" a sound over the room that is not (yet) a voice, "." the room."""

    def __init__(self, pattern: str) -> None:
        self.pattern, self.index, self.last = pattern, 0, None

    def is_speech(self, frame) -> bool:
        kind = self.pattern[self.index] if self.index < len(self.pattern) else "."
        self.index += 1
        self.last = SimpleNamespace(speech=kind == "V", level_db=-20.0 if kind != "." else -60.0, loud=kind != ".",
                                    faint=kind == "f")
        return kind == "V"


def ended_at(pattern: str) -> tuple[float, float]:
    """(when the answer was declared over, its last speech), seconds from the pattern's start."""
    endpointer = Endpointer(EndpointConfig(end_silence_s=1.3, noisy_room_dbfs=None), Scripted(pattern))
    frame = np.zeros(FRAME_SAMPLES, np.float32)
    for n in range(2000):
        endpointer.feed(frame)
        if endpointer.done:
            return round((n + 1) * FRAME_S, 2), endpointer.last_speech_at_s
    raise AssertionError("never ended")


SPEECH = "V" * 30  # 0.9 s of answer
PAUSE = "." * 43  # 1.29 s: the pause would end on the frame after it


def test_a_first_consonant_as_the_pause_would_end_holds_the_end_until_the_voice_is_heard():
    ended, last_speech = ended_at(SPEECH + PAUSE + "LL" + "VVVVVV" + "." * 100)
    assert last_speech == pytest.approx(0.9 + 1.29 + 0.06 + 0.18)  # the answer went on


def test_a_sound_that_stays_no_voice_holds_the_end_only_briefly():
    ended, last_speech = ended_at(SPEECH + PAUSE + "L" * 20 + "." * 100)  # a door, a cough
    assert last_speech == pytest.approx(0.9)
    assert ended == pytest.approx(0.9 + 1.29 + 0.03 + EndpointConfig().onset_hold_s, abs=0.001)


def test_in_a_quiet_pause_the_end_comes_as_before():
    ended, _ = ended_at(SPEECH + "." * 100)
    assert ended == pytest.approx(0.9 + 1.32, abs=0.001)


def test_a_faint_voice_carries_the_words_on_across_a_dip():
    _, last_speech = ended_at(SPEECH + "." + "ffffff" + "." * 100)  # 「…です」 and a quiet 「か」
    assert last_speech == pytest.approx(0.9 + 0.03 + 0.18)


def test_a_faint_voice_after_a_pause_does_not_resume_the_answer():
    """Live, behind the echo canceller, the TV's voices can be faint too: one in a pause is not the
    person going on (it holds the end only as any sound does)."""
    ended, last_speech = ended_at(SPEECH + "." * 20 + "ffffff" + "." * 100)
    assert last_speech == pytest.approx(0.9)
    assert ended == pytest.approx(0.9 + 1.32, abs=0.001)


def test_a_faint_voice_never_starts_an_answer():
    ended, last_speech = ended_at("." * 10 + "f" * 30 + "." * 10 + SPEECH + "." * 100)
    assert last_speech == pytest.approx((10 + 30 + 10 + 30) * FRAME_S)
