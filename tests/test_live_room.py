"""The whole live path through a real sound server: PulseAudio null sinks for the room and the speaker,
a virtual microphone, the device's voice coming back into the room, a scripted person answering with
recordings by another voice (Kokoro), once in quiet and once with TV-like sound 10 dB under the answers.

Each run is a short session: four questions, then 「もう終わりにします」 (about 6 minutes each).

NOT YET IN `make test`: it runs only with VOICECHECK_LIVE_ROOM=1. Measured so far (quiet, Whisper base, a
loaded 2-core machine): three or four of the four answers right; the miss was 「週に一回くらいです」 heard
as 「1回くらいです」 — the microphone, opened anew after the turn tone, needs about half a second to start
delivering sound through ALSA → PulseAudio, and a quick answer loses its first syllables. Until the
microphone stays open for the whole session (voicecheck.duplex, setting early_answers), this test would
fail CI; with VOICECHECK_LIVE_ROOM=1 set in CI it must pass and must not be skipped.
"""
from __future__ import annotations

import os

import pytest

from bench.live_room import VirtualRoom, answer_level_db, pulseaudio_available, run_live_session, session_answers, tv_track

from speech_support import whisper_model_dir

EXPECTED = {"safety_now": "no", "situations": ["stairs_down", "standing_up"], "frequency": "weekly",
            "getting_worse": "yes"}

missing = pulseaudio_available()
wanted = os.environ.get("VOICECHECK_LIVE_ROOM") == "1"
if wanted and missing and os.environ.get("CI"):
    raise RuntimeError(f"the live tests were asked for, but PulseAudio is {missing} (see .ci/run)")
pytestmark = [pytest.mark.model,
              pytest.mark.skipif(not wanted, reason="the virtual-room session runs with VOICECHECK_LIVE_ROOM=1"),
              pytest.mark.skipif(missing is not None, reason=f"PulseAudio {missing}")]


@pytest.mark.parametrize("room_sound", ["quiet", "tv_10dB"])
def test_a_spoken_session_through_the_virtual_room_keeps_the_right_answers(room_sound, tmp_path):
    if whisper_model_dir() is None:
        pytest.skip("faster-whisper-base is not installed or mirrored")
    answers, _, yes = session_answers()
    with VirtualRoom(tmp_path / "pulse") as room:
        tv = tv_track(tmp_path / "tv.wav", answer_level_db(answers) - 10.0) if room_sound == "tv_10dB" else None
        run = run_live_session(room, tmp_path / "run", answers, yes, tv=tv)
    assert run.summary is not None, run.errors
    assert run.summary["status"] == "stopped", run.said
    got = run.summary["answers"]
    assert {q: got.get(q) for q in EXPECTED} == EXPECTED, (run.said, run.errors[-500:])
    assert run.reply_s, "the device never replied to an answer"
