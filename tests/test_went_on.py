"""Speech begun before a prompt could be heard is not an answer to it (voicecheck.listening.live).

After a complete first part the device replies in a short pause; a person who then goes on with
the rest of that answer talks over the next question's first words. That is not an answer to the
new question — taken as one, it would be a wrong accept — so the turn hears it out and then waits
for the real answer (with the turn tone)."""
from __future__ import annotations

import numpy as np

from voicecheck.listening.endpointer import EndpointConfig, Endpointer
from voicecheck.listening.frames import SAMPLE_RATE
from voicecheck.listening.live import EARLIEST_ANSWER_S, LiveListener

from speech_support import silence, spoken
from test_live_listening import keep_pushing, push_all


def _talk(seconds_before: float, text: str = "それと、階段を下りるときもそうなんです") -> tuple[np.ndarray, np.ndarray]:
    """A voice cut where a prompt begins: `seconds_before` of its audio comes before the prompt."""
    voice = spoken(text, lead_s=0.0, tail_s=0.0)
    cut = int(seconds_before * SAMPLE_RATE)
    return voice[:cut], voice[cut:]


def _listener_after(before: np.ndarray, after: np.ndarray, then_s: float = 3.0) -> LiveListener:
    listener = LiveListener(stall_s=0.5)
    push_all(listener, silence(1.0))
    push_all(listener, before)
    listener.phrase_starts(opens_answer=True)  # the next question begins
    push_all(listener, np.concatenate([after, silence(then_s)]))
    return listener


def test_talk_running_over_the_start_of_a_question_is_not_its_answer():
    before, after = _talk(0.8)
    listener = _listener_after(before, after)
    tones = []
    keep_pushing(listener, 4.0)
    result = listener.listen(EndpointConfig(no_answer_timeout_s=1.5), on_waiting=lambda: tones.append(1))
    assert result.utterance.timed_out and result.candidates == 0
    assert result.went_on > 0.8
    assert tones == [1]  # the person is told it is their turn: their answer is still wanted


def test_talk_begun_just_after_the_question_started_is_not_its_answer_either():
    listener = LiveListener(stall_s=0.5)
    push_all(listener, silence(1.0))
    listener.phrase_starts(opens_answer=True)
    push_all(listener, silence(EARLIEST_ANSWER_S * 0.4))
    push_all(listener, np.concatenate([spoken("いいえ、そうじゃなくて", lead_s=0.0), silence(3.0)]))
    keep_pushing(listener, 4.0)
    result = listener.listen(EndpointConfig(no_answer_timeout_s=1.5))
    assert result.utterance.timed_out and result.went_on > 0.3


def test_an_answer_begun_once_the_question_could_be_heard_is_kept():
    listener = LiveListener(stall_s=0.5)
    push_all(listener, silence(1.0))
    listener.phrase_starts(opens_answer=True)
    push_all(listener, silence(EARLIEST_ANSWER_S + 1.5))
    push_all(listener, np.concatenate([spoken("いいえ、ありません", lead_s=0.0), silence(3.0)]))
    keep_pushing(listener, 4.0)
    result = listener.listen(EndpointConfig(no_answer_timeout_s=1.5))
    assert not result.utterance.timed_out and result.early and result.went_on == 0.0


def test_talk_still_going_when_the_turn_begins_is_heard_out_and_the_answer_after_it_taken():
    import threading
    import time

    from voicecheck.listening.frames import frames_of

    before, after = _talk(0.6, "それと坂道を下りるときも階段を下りるときもだいたいそうなんです")
    listener = LiveListener(stall_s=0.5)
    push_all(listener, silence(1.0))
    push_all(listener, before)
    listener.phrase_starts(opens_answer=True)
    split = int(0.9 * SAMPLE_RATE)  # the device finishes a short question while the person goes on
    push_all(listener, after[:split])
    rest = np.concatenate([after[split:], silence(1.8), spoken("はい、あります", lead_s=0.0), silence(4.0)])
    tones: list[int] = []

    def feed():
        for frame in frames_of(rest):
            listener.push(frame)
            time.sleep(0.0005)

    threading.Thread(target=feed, daemon=True).start()
    result = listener.listen(EndpointConfig(no_answer_timeout_s=3.0),
                             on_waiting=lambda: tones.append(1))
    u = result.utterance
    assert not u.timed_out and not result.early
    assert result.went_on > 1.0
    answer_begins = 1.0 + (len(before) + len(after)) / SAMPLE_RATE + 1.8
    assert abs(u.onset_s - answer_begins) < 0.3  # the answer is the 「はい、あります」, not what went on
    assert u.speech_s < 1.6
    assert tones == [1]  # the turn is signalled once, when what went on has ended


def test_the_endpointer_places_the_onset_of_speech_without_its_pre_roll():
    endpointer = Endpointer(EndpointConfig(), start_at_s=10.0)
    from voicecheck.listening.frames import frames_of

    for frame in frames_of(np.concatenate([silence(1.2), spoken("はい", lead_s=0.0), silence(2.5)])):
        endpointer.feed(frame)
        if endpointer.done:
            break
    u = endpointer.finish()
    assert u.started_at_s < u.onset_s
    assert abs(u.onset_s - 11.2) < 0.1


def test_a_hearing_of_what_went_on_is_not_reused_for_the_answer_after_it():
    """Pauses are timed from each endpointer's start: the hearing of the speech that went on must not
    pass for a hearing of the answer that follows it in the same turn (voicecheck.listening.early_end)."""
    from concurrent.futures import ThreadPoolExecutor

    from voicecheck.interfaces import Heard
    from voicecheck.listening.early_end import EarlyHearing

    class Answer:  # an endpointer in a pause, 0.9 s after its speech (the same for both)
        SPEAKING, ENDED = "speaking", "ended"

        def __init__(self, words: str) -> None:
            self.words, self.state = words, self.SPEAKING
            self.silence_s, self.pause_started_at_s, self.extra_silence_s = 0.9, 2.1, 0.0
            self.background_db = None  # a quiet room
            self.kept = [np.zeros(480, np.float32)]

        def end_now(self) -> None:
            self.state = self.ENDED

    heard_words = []
    answer = {"now": None}

    def hear(samples):
        heard_words.append(answer["now"].words)
        return Heard(text=answer["now"].words)

    with ThreadPoolExecutor(max_workers=1) as worker:
        early = EarlyHearing(hear, lambda heard: "complete", worker)
        went_on = answer["now"] = Answer("それと階段でも")
        early.step(went_on)
        early._running.future.result()
        early.step(went_on)  # its hearing is in, and complete: that speech ends here
        assert went_on.state == went_on.ENDED
        real = answer["now"] = Answer("はい、あります")
        real.state = real.ENDED
        early.step(real)  # the answer ends in a pause that starts at the same time on its own clock
        assert early.heard() is None  # decoded afresh, never the words that went on
