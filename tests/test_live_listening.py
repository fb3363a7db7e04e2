"""The listening layer fed frame by frame, no devices: the turn tone, answers kept while the device talks,
the device's own voice gated by its reference, the tone called only when nobody has answered yet."""
from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pytest

from voicecheck.duplex import TONE_RATE, turn_tone
from voicecheck.listening.detector import FrameVerdict
from voicecheck.listening.endpointer import EndpointConfig
from voicecheck.listening.frames import FRAME_S, FRAME_SAMPLES, SAMPLE_RATE, FrameCutter, frames_of
from voicecheck.listening.live import LiveListener
from voicecheck.speech_io import MicrophoneEars
from voicecheck.settings import Settings

from speech_support import silence, spoken


def test_turn_tone_is_short_soft_and_click_free():
    tone = turn_tone()
    assert TONE_RATE == SAMPLE_RATE and 0.1 < len(tone) / TONE_RATE < 0.3
    rms_db = 10 * np.log10(np.mean(tone.astype(np.float64) ** 2))
    assert -23 < rms_db < -17
    assert abs(tone[0]) < 1e-3 and abs(tone[-1]) < 1e-3
    assert np.all(turn_tone(0.0) == 0)


def test_frame_cutter_makes_whole_frames_from_any_blocks():
    cutter = FrameCutter()
    frames = cutter.push(np.ones(1000, np.float32)) + cutter.push(np.ones(500, np.float32))
    assert [len(f) for f in frames] == [FRAME_SAMPLES] * 3


def push_all(listener, samples):
    for frame in frames_of(samples):
        listener.push(frame)


def keep_pushing(listener, seconds):
    """The source goes on (silence) while the turn runs, as a microphone would."""
    import threading
    import time

    def feed():
        for frame in frames_of(silence(seconds)):
            listener.push(frame)
            time.sleep(0.0005)

    thread = threading.Thread(target=feed, daemon=True)
    thread.start()
    return thread


def test_an_answer_given_while_the_question_is_read_is_kept_without_waiting():
    listener = LiveListener(stall_s=0.5)
    push_all(listener, silence(1.0))
    listener.phrase_starts(opens_answer=True)
    push_all(listener, np.concatenate([silence(1.5), spoken("いいえ、ありません"), silence(2.0)]))
    listener.phrase_starts()  # the device goes on with the options; the person has answered already
    push_all(listener, silence(3.0))
    tones = []
    keep_pushing(listener, 6.0)
    result = listener.listen(EndpointConfig(no_answer_timeout_s=5.0), on_waiting=lambda: tones.append(1))
    assert result.early and not result.utterance.timed_out and result.utterance.speech_s > 0.5
    assert tones == []  # nobody is told "your turn" after answering


def test_the_device_voice_is_not_an_answer_and_the_tone_marks_the_turn():
    listener = LiveListener(stall_s=0.5)
    push_all(listener, silence(1.0))
    own = spoken("膝の力がカクンと抜けるのは、どんなときですか")
    listener.phrase_starts(opens_answer=True)
    listener.device_plays(own, SAMPLE_RATE)
    push_all(listener, own * 0.5)  # its echo, 6 dB down
    listener.device_played()
    push_all(listener, silence(1.0))
    tones = []
    keep_pushing(listener, 4.0)
    result = listener.listen(EndpointConfig(no_answer_timeout_s=1.0), on_waiting=lambda: tones.append(1))
    assert result.utterance.timed_out and tones == [1]
    # For the record of a turn that took nothing: the microphone heard a voice — the device's own,
    # kept under the echo's bar — and the room's background (levels only).
    heard = result.not_heard
    assert heard["voice_under_bar_s"] > 0.5 and heard["voice_s"] >= heard["voice_under_bar_s"]
    assert "loudest_under_bar_db" in heard and "background_db" in heard


def test_a_quiet_turn_that_took_nothing_heard_no_voice():
    listener = LiveListener(stall_s=0.5)
    push_all(listener, silence(1.0))
    listener.phrase_starts(opens_answer=True)
    push_all(listener, silence(1.0))
    keep_pushing(listener, 3.0)
    result = listener.listen(EndpointConfig(no_answer_timeout_s=1.0))
    assert result.utterance.timed_out
    assert result.not_heard["voice_s"] == 0.0 and result.not_heard["voice_under_bar_s"] == 0.0


def test_microphone_ears_sound_the_turn_tone_once_the_microphone_is_open():
    import contextlib

    calls = []

    class Stream:
        def accept(self, samples):
            pass

        def finish(self):
            from voicecheck.interfaces import Heard
            return Heard(text="はい")

    class Recognizer:
        name = "fake"

        def start(self, context):
            return Stream()

    @contextlib.contextmanager
    def microphone():
        calls.append("microphone")
        yield frames_of(np.concatenate([silence(0.5), spoken("はい"), silence(3.0)]))

    from voicecheck.interfaces import ListenContext

    ears = MicrophoneEars(Settings(turn_tone=True), Recognizer(), open_frames=microphone,
                          tone=lambda: calls.append("tone"))
    assert ears.listen(ListenContext("yes_no")).text == "はい"
    assert calls == ["microphone", "tone"]  # the microphone is open before "your turn"
    quiet = MicrophoneEars(Settings(turn_tone=False), Recognizer(), open_frames=microphone,
                           tone=lambda: calls.append("tone"))
    quiet.listen(ListenContext("yes_no"))
    assert calls.count("tone") == 1


def test_the_record_of_a_turn_that_took_nothing_says_what_the_microphone_heard():
    from voicecheck.listening.endpointer import Utterance
    from voicecheck.listening.live import TurnResult
    from voicecheck.speech_io import LiveEars

    nothing = Utterance(samples=np.zeros(0, np.float32), timed_out=True, speech_s=0.0, waited_s=20.0)
    result = TurnResult(nothing, went_on=0.0, not_heard={"voice_s": 1.2, "voice_under_bar_s": 1.1,
                                                         "loudest_under_bar_db": -31.0, "background_db": -33.5})
    heard = LiveEars._heard(object(), result, None, None)  # the timed-out path uses nothing else
    assert heard.timed_out and heard.text == ""
    assert heard.timings["voice_under_bar_s"] == 1.1 and heard.timings["background_db"] == -33.5
    assert heard.timings["waited"] == 20.0 and heard.timings["went_on"] == 0.0


class ScriptedDetector:
    """A detector whose verdicts are given frame by frame (speech, loud-but-no-voice, silence)."""

    def __init__(self, script: str, background_db: float | None = None) -> None:
        self.script, self.index, self.background_db = script, 0, background_db
        self.config = SimpleNamespace(floor_dbfs=-60.0)
        self.background = None

    def hold(self, on: bool) -> None:
        pass

    def judge(self, frame, echo_db=None):
        kind = self.script[self.index] if self.index < len(self.script) else "."
        self.index += 1
        if kind == "S":
            return FrameVerdict(speech=True, voiced=True, level_db=-20.0, background_db=self.background_db, loud=True)
        if kind == "L":  # clearly over the room, not (yet) heard as a voice: a first consonant
            return FrameVerdict(speech=False, voiced=False, level_db=-40.0, background_db=self.background_db, loud=True)
        return FrameVerdict(speech=False, voiced=False, level_db=-75.0, background_db=self.background_db)


@pytest.mark.parametrize("background_db, one_answer", [(None, True), (-40.0, False)])
def test_the_live_path_holds_the_end_for_a_next_words_first_consonant_in_a_quiet_room(background_db, one_answer):
    """The onset hold (EndpointConfig.onset_hold_s) acts on the live listener too: a sound over the
    room just as the pause would end, then the voice, is the answer going on, not a new one. With a
    steady background (a TV) the live listener leaves it out (see live.feed_judged)."""
    config = EndpointConfig(no_answer_timeout_s=5.0)
    pause = round(config.end_silence_s / FRAME_S) - 1  # frames: the pause ends on the next one
    script = "." * 50 + "S" * 20 + "." * pause + "LLL" + "S" * 20 + "." * 100
    listener = LiveListener(ScriptedDetector(script, background_db), stall_s=0.5)
    listener.phrase_starts(opens_answer=True)
    push_all(listener, silence(len(script) * FRAME_S))
    keep_pushing(listener, 4.0)
    result = listener.listen(config, grace_s=0.0)
    assert not result.utterance.timed_out
    assert (result.utterance.speech_s >= 1.1) is one_answer  # both stretches of speech: one answer
