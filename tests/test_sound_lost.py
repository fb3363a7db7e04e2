"""When the sound card stops for a moment (a busy machine: PortAudio's ALSA layer gives up on the
stream and voicecheck.duplex_stream opens it again), the turn waits for it rather than ending the
session, and an answer that lost sound in the middle is asked for again, never guessed from half."""
from __future__ import annotations

import threading
import time

import numpy as np
import pytest

from voicecheck.conversation import Progress
from voicecheck.interfaces import Heard
from voicecheck.listening.endpointer import EndpointConfig
from voicecheck.listening.frames import frames_of
from voicecheck.listening.live import LiveListener, SourceStopped

from speech_support import silence, spoken

LOST = "sound lost"  # in a feed: the sound card was opened again here


def feed(listener: LiveListener, *parts, gap_s: float = 0.0) -> threading.Thread:
    """Push the parts' frames from another thread, as the sound card's reader does; LOST marks
    where sound went missing (the reader then waits `gap_s` with nothing to give); a number is a
    wait of that many seconds with nothing to give."""

    def run() -> None:
        for part in parts:
            if isinstance(part, float):
                time.sleep(part)
                continue
            if isinstance(part, str):
                listener.sound_lost()
                time.sleep(gap_s)
                continue
            for frame in frames_of(part):
                listener.push(frame)
                time.sleep(0.0005)

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    return thread


CONFIG = EndpointConfig(no_answer_timeout_s=4.0)


def test_sound_lost_in_the_middle_of_an_answer_is_said_with_the_turn():
    listener = LiveListener(stall_s=2.0)
    fed = feed(listener, silence(0.5), spoken("はい、でも", tail_s=0.1), LOST, spoken("階段だけです"), silence(3.0))
    result = listener.listen(CONFIG, look_back=False)
    assert not result.utterance.timed_out and result.sound_lost
    fed.join(timeout=10)  # its detector must not be running while the interpreter ends

def test_sound_lost_long_before_the_answer_began_does_not_touch_it():
    listener = LiveListener(stall_s=2.0)
    fed = feed(listener, silence(0.3), LOST, silence(1.5), spoken("いいえ"), silence(3.0))
    result = listener.listen(CONFIG, look_back=False)
    assert not result.utterance.timed_out and not result.sound_lost
    fed.join(timeout=10)  # its detector must not be running while the interpreter ends

def test_sound_lost_just_before_the_answer_may_have_held_its_first_words():
    listener = LiveListener(stall_s=2.0)
    fed = feed(listener, silence(1.0), LOST, silence(0.2), spoken("ありません"), silence(3.0))
    result = listener.listen(CONFIG, look_back=False)
    assert result.sound_lost
    fed.join(timeout=10)  # its detector must not be running while the interpreter ends

def test_a_turn_that_heard_nothing_across_lost_sound_may_have_missed_the_whole_answer():
    listener = LiveListener(stall_s=2.0)
    fed = feed(listener, silence(1.0), LOST, silence(5.0))
    result = listener.listen(CONFIG, look_back=False)
    assert result.utterance.timed_out and result.sound_lost
    fed.join(timeout=10)  # its detector must not be running while the interpreter ends

def test_the_turn_waits_while_the_sound_card_is_being_opened_again():
    # Live, the listener gave up after stall_s (5 s) while the card came back in 6–9 s, and the
    # session ended with 「マイクの音が届かなくなりました」 (virtual room, sound server frozen 6 s).
    listener = LiveListener(stall_s=0.3)
    listener.source_coming_back = lambda: True
    fed = feed(listener, silence(0.5), 1.0, spoken("いいえ"), silence(3.0))
    result = listener.listen(CONFIG, look_back=False)
    assert not result.utterance.timed_out and result.utterance.speech_s > 0.2
    fed.join(timeout=10)  # its detector must not be running while the interpreter ends

def test_a_source_that_is_not_coming_back_still_stops_the_turn():
    listener = LiveListener(stall_s=0.3)
    listener.source_coming_back = lambda: False
    fed = feed(listener, silence(0.5), 1.0, spoken("いいえ"))
    with pytest.raises(SourceStopped):
        listener.listen(CONFIG, look_back=False)
    fed.join(timeout=10)  # its detector must not be running while the interpreter ends

def test_the_pump_tells_the_listener_when_the_sound_came_back_after_a_hiccup():
    from voicecheck.duplex import DuplexAudio
    from voicecheck.settings import Settings

    class Card:  # frames with the count of hiccups a DuplexStream keeps
        hiccups = 0

        def __enter__(self):
            return self

        def __exit__(self, *exc):
            return None

        def __iter__(self):
            for n, frame in enumerate(frames_of(silence(1.0))):
                if n == 10:
                    self.hiccups += 1
                yield frame, np.zeros_like(frame)

    audio = DuplexAudio(Settings(), open_frames=Card, player=lambda samples, rate: None)
    audio.start()
    audio._thread.join(timeout=10)
    assert list(audio.listener._sound_lost_at) == [10]


def test_an_answer_that_lost_sound_is_asked_for_again_without_costing_a_try(content):
    from tests.test_conversation import ALL_NO, make

    q, ears, mouth, events, saves = make(content, ALL_NO, retries=1)
    answers = iter([Heard(text="", sound_lost=True), Heard(text="", sound_lost=True)])
    scripted = ears.listen
    ears.listen = lambda context: next(answers, None) or scripted(context)
    progress = Progress()
    assert q.run(progress) == "complete"
    # With one try a question, a lost answer counted as a try would have given the first one up.
    assert progress.answers["safety_now"].status == "answered" and progress.answer_values()["safety_now"] == "no"
    assert mouth.said.count(content.say("sound_lost")) == 2
    assert content.say("no_answer") not in mouth.said
    assert any(e.get("sound_lost") for e in events if e.get("type") == "heard")
