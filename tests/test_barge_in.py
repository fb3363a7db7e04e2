"""Barge-in (early_answers): a person who starts answering while the device reads the choices has
the floor — the device stops and hears the answer out. The question itself is never cut."""
from __future__ import annotations

import threading

import numpy as np
import pytest

from voicecheck.duplex import DuplexAudio
from voicecheck.duplex_stream import PlaybackQueue
from voicecheck.interfaces import FakeClock
from voicecheck.listening.detector import SpeechDetector
from voicecheck.listening.endpointer import EndpointConfig
from voicecheck.listening.frames import FRAME_S, FRAME_SAMPLES, SAMPLE_RATE, frames_of
from voicecheck.listening.live import BARGE_IN_S, LiveListener
from voicecheck.settings import Settings
from voicecheck.speech_io import SpeakerMouth
from voicecheck.voices.base import phrase_pieces


class LoudIsSpeech:
    def is_speech(self, frame: np.ndarray) -> bool:
        return float(np.max(np.abs(frame))) > 0.1


def voice(seconds: float, amplitude: float = 0.3) -> np.ndarray:
    t = np.arange(int(seconds * SAMPLE_RATE)) / SAMPLE_RATE
    return (amplitude * np.sin(2 * np.pi * 220 * t)).astype(np.float32)


_HISS = np.random.default_rng(3)


def quiet(seconds: float) -> np.ndarray:
    """A quiet room: a little hiss (-60 dBFS), as every real microphone gives."""
    return (0.001 * _HISS.standard_normal(int(seconds * SAMPLE_RATE))).astype(np.float32)


class Room:
    """A listener fed by hand: the device's phrases (soft at the microphone) and the person."""

    def __init__(self) -> None:
        self.listener = LiveListener(detector=SpeechDetector(vad=LoudIsSpeech()), stall_s=1.0)
        self.barge_ins = 0
        self.listener.on_barge_in = self._barged
        self.push(quiet(1.0))  # the background is learnt

    def _barged(self) -> None:
        self.barge_ins += 1

    def push(self, microphone: np.ndarray, played: np.ndarray | None = None) -> None:
        played = np.zeros_like(microphone) if played is None else played
        for mic, out in zip(frames_of(microphone), frames_of(played)):
            self.listener.push(mic, played=out)

    def device_says(self, seconds: float, opens_answer: bool, person: np.ndarray | None = None,
                    person_at_s: float = 0.0) -> None:
        """One phrase of the device, optionally with the person talking over it from `person_at_s` on."""
        self.listener.phrase_starts(opens_answer)
        played = voice(seconds, 0.05)
        microphone = played * 0.1 + quiet(seconds)
        if person is not None:
            at = int(person_at_s * SAMPLE_RATE)
            microphone[at: at + len(person)] += person[: len(microphone) - at]
        self.push(microphone, played)

    def turn(self, then: np.ndarray = quiet(3.0)):
        """A turn, with `then` and then quiet arriving while it listens (for as long as it listens)."""
        done = threading.Event()

        def feed():
            self.push(then)
            while not done.is_set():
                self.push(quiet(0.3))
                done.wait(0.001)

        feeding = threading.Thread(target=feed, daemon=True)
        feeding.start()
        try:
            return self.listener.listen(EndpointConfig(no_answer_timeout_s=2.0, end_silence_s=1.0))
        finally:
            done.set()
            feeding.join()


def test_talking_over_the_choices_stops_the_device_once_and_the_answer_is_heard_out():
    room = Room()
    room.device_says(6.0, opens_answer=True)  # the question
    room.device_says(2.0, opens_answer=False)  # 「1番、…」
    room.device_says(3.0, opens_answer=False, person=voice(1.5))  # the person answers over 「2番、…」
    assert room.barge_ins == 1
    result = room.turn()
    assert result.barged_in and not result.utterance.timed_out
    assert result.utterance.speech_s >= 1.4  # the whole answer, not the part after the barge-in
    assert not room.turn().barged_in  # told once, for its own turn


def test_the_question_itself_is_never_cut_but_an_answer_over_it_is_kept():
    # 「…今、どれか一つでも当てはまりますか」: an answer given after the first items has not heard the rest
    room = Room()
    room.device_says(6.0, opens_answer=True, person=voice(1.5), person_at_s=2.0)
    assert room.barge_ins == 0
    result = room.turn()
    assert not result.barged_in and not result.utterance.timed_out and result.candidates == 1


def test_a_short_yes_or_a_filler_over_the_choices_does_not_stop_the_device():
    room = Room()
    room.device_says(6.0, opens_answer=True)
    room.device_says(3.0, opens_answer=False, person=voice(BARGE_IN_S - 0.2))
    assert room.barge_ins == 0
    assert room.turn().candidates == 1  # still heard, after the choices


def test_a_read_back_is_not_talked_over():
    room = Room()
    room.device_says(6.0, opens_answer=True)
    room.turn(voice(1.0))
    room.device_says(2.0, opens_answer=False, person=voice(1.5))  # 「『たまに』ですね。よろしいですか。」
    assert room.barge_ins == 0


def test_the_device_voice_alone_never_takes_the_floor():
    room = Room()
    room.device_says(6.0, opens_answer=True)
    for _ in range(4):
        room.device_says(3.0, opens_answer=False)
    assert room.barge_ins == 0


def test_a_barge_in_stops_the_loudspeaker_and_mutes_the_device_until_the_turn():
    silenced, played = [], []
    duplex = DuplexAudio(Settings(), open_frames=lambda: None, player=lambda samples, rate: played.append(len(samples)),
                         silence=lambda: silenced.append(True))
    assert duplex.listener.on_barge_in == duplex.barge_in
    duplex.barge_in()
    assert silenced == [True] and duplex.interrupted.is_set()
    duplex.play(np.ones(1600, np.float32), 16_000)
    assert played == []  # the person has the floor


def test_barge_in_can_be_switched_off():
    duplex = DuplexAudio(Settings(barge_in=False), open_frames=lambda: None, player=lambda s, r: None,
                         silence=lambda: None)
    assert duplex.listener.on_barge_in is None


def test_without_a_way_to_stop_the_loudspeaker_there_is_no_barge_in():
    # separate streams: a playback call cannot be cut short
    duplex = DuplexAudio(Settings(), open_frames=lambda: None, player=lambda s, r: None)
    assert duplex.listener.on_barge_in is None


class PieceVoice:
    """A voice whose every piece is 0.3 s of tone (the mouth says a phrase piece by piece)."""

    def synthesize(self, text: str, slow: bool = False):
        return voice(0.3), SAMPLE_RATE


def test_the_mouth_stops_after_the_piece_playing_and_says_nothing_more_until_cleared():
    interrupted = threading.Event()
    played, phrases = [], []

    def player(samples, rate):
        played.append(len(samples))
        if len(played) == 2:
            interrupted.set()  # the person starts talking during the second piece

    clock = FakeClock()
    mouth = SpeakerMouth(PieceVoice(), Settings(pause_s=0.5), clock=clock, player=player,
                         on_phrase=phrases.append, interrupted=interrupted.is_set)
    mouth.say("1番、たまに。月に数回まで。2番、週に一回以上。3番、ほぼ毎日。")
    assert len(played) == 2 and clock.sleeps == []  # no more pieces, no pause after them
    mouth.say("3番、ほぼ毎日。")
    assert len(played) == 2 and len(phrases) == 1
    interrupted.clear()  # the turn has begun
    mouth.say("「週に一回以上」ですね。")
    assert len(played) == 3 and len(phrases) == 2 and clock.sleeps == [0.5]


def test_silencing_fades_out_what_is_playing_and_drops_the_rest():
    playback = PlaybackQueue()
    first = playback.add(np.full(SAMPLE_RATE, 0.5, np.float32))
    second = playback.add(np.full(SAMPLE_RATE, 0.5, np.float32))
    block = np.empty(FRAME_SAMPLES, np.float32)
    playback.fill(block)
    playback.fade_out(0.04)
    assert first.is_set() and second.is_set()  # the mouth is released at once
    out = np.concatenate([_filled(playback, block) for _ in range(4)])
    assert out[0] == pytest.approx(0.5, abs=0.01) and np.all(np.diff(out[:640]) <= 1e-6)  # a fade, no click
    assert np.all(out[640:] == 0.0) and not playback.busy


def _filled(playback: PlaybackQueue, block: np.ndarray) -> np.ndarray:
    playback.fill(block)
    return block.copy()


class SimulatedCard:
    """The one-stream sound card, simulated (voicecheck.duplex_stream.DuplexStream's contract): each
    30 ms block of the loudspeaker's queue goes out, and the microphone gets its echo (20 dB down,
    two blocks later) plus the person's track. Runs a few times faster than real time."""

    def __init__(self, person: np.ndarray) -> None:
        self.playback = PlaybackQueue()
        self.person = person
        self.played: list[np.ndarray] = []
        self.running = True

    def __enter__(self):
        return self._pairs()

    def __exit__(self, *exc):
        self.running = False
        return False

    def _pairs(self):
        echo = [np.zeros(FRAME_SAMPLES, np.float32)] * 2
        index = 0
        while self.running:
            out = np.empty(FRAME_SAMPLES, np.float32)
            self.playback.fill(out)
            self.played.append(out)
            echo.append(out * 0.1)
            mic = echo.pop(0).copy()
            start = index * FRAME_SAMPLES
            mic[: len(self.person[start:start + FRAME_SAMPLES])] += self.person[start:start + FRAME_SAMPLES]
            index += 1
            threading.Event().wait(FRAME_S / 4)
            yield mic, out

    def play(self, samples, rate):
        self.playback.add(samples).wait(timeout=30)

    def silence_now(self):
        self.playback.fade_out()


def test_a_whole_question_read_through_the_mouth_stops_when_the_person_answers_over_the_choices():
    from voicecheck.speech_io import LiveEars

    # 5 s in: over the choices, once the gate has learnt how loud the device is at the microphone
    person = np.concatenate([quiet(5.0), voice(1.5) + quiet(1.5), quiet(20.0)])
    card = SimulatedCard(person)
    listener = LiveListener(detector=SpeechDetector(vad=LoudIsSpeech()), stall_s=2.0)
    settings = Settings(turn_tone=False, early_answers=True, pause_s=0.2)
    duplex = DuplexAudio(settings, open_frames=lambda: card, player=card.play, listener=listener,
                         silence=card.silence_now)
    question = "膝の力が抜けるのは、どのくらいの回数ですか。"
    mouth = SpeakerMouth(PieceVoice(), settings, player=duplex.play, interrupted=duplex.interrupted.is_set,
                         on_phrase=lambda text: listener.phrase_starts(text == question))

    class Recognizer:
        """Hears 「週に一回くらいです。」 in any answer at least 1.4 s long (the whole of it)."""

        name = "script"

        def transcribe(self, samples, context):
            from voicecheck.interfaces import Heard
            whole = len(samples) >= 1.4 * SAMPLE_RATE
            return Heard(text="週に一回くらいです。" if whole else "週に")

        def start(self, context):
            from voicecheck.recognizers.base import BufferedStream

            return BufferedStream(self.transcribe, context)

    ears = LiveEars(settings, Recognizer(), duplex)
    duplex.start()
    try:
        threading.Event().wait(0.3)  # the background is learnt
        mouth.say(question)
        options = ["次の中から一つ選んでください。", "1番、たまに。月に数回まで。", "2番、週に一回以上。", "3番、ほぼ毎日。"]
        for option in options:
            mouth.say(option * 6)  # long enough that the person starts during the choices
        from voicecheck.interfaces import ListenContext
        heard = ears.listen(ListenContext("frequency"))
    finally:
        duplex.close()
    sounding = sum(1 for block in card.played if np.any(block))
    full = round(sum(len(phrase_pieces(text)) for text in [question, *(o * 6 for o in options)]) * 0.3 / FRAME_S)
    assert heard.text == "週に一回くらいです。" and heard.timings["barged_in"] == 1.0, (heard, sounding, full, listener.now_s)
    assert sounding < full / 2  # the device stopped reading the choices


def test_a_long_answer_does_not_raise_the_bar_for_the_next_one():
    # live: an answer given over the choices, the read-back, then 「はい」 — never heard, because the
    # answer's own frames had filled the background's window and the spread set the bar above a voice
    from voicecheck.listening.background import BackgroundLevel

    background = BackgroundLevel()
    for _ in range(100):
        background.update(-62.0)  # a quiet room
    before = background.level_db, background.spread_db
    background.hold(True)
    for _ in range(200):  # six seconds of answer
        background.update(-22.0)
    background.hold(False)
    background.update(-62.0)
    assert background.level_db == pytest.approx(before[0], abs=0.5)
    assert background.spread_db <= before[1] + 1.0


def test_a_yes_right_after_the_read_back_of_an_answer_that_stopped_the_device_is_heard():
    room = Room()
    room.device_says(6.0, opens_answer=True)
    room.device_says(3.0, opens_answer=False, person=voice(3.0))  # a long answer over the choices
    assert room.barge_ins == 1
    assert room.turn(quiet(0.2)).barged_in
    room.device_says(3.0, opens_answer=False)  # 「…ですね。よろしいですか。」
    result = room.turn(np.concatenate([quiet(0.5), voice(0.6)]))
    assert not result.utterance.timed_out and result.utterance.speech_s >= 0.5
