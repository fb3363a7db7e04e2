"""The person went on: an answer the device replied to after its first part is judged whole.

A clear first part (「いいえ」) ends the turn after a 0.8 s pause so the device replies at once; a
person who pauses there and goes on (「……でも階段を下りるときはあります」) must not be left with
the first part as their answer — judged on it alone the answer could be wrong, silently. The
listener hears the rest while the device acknowledges, and the questionnaire judges the whole
answer again, without reading the question again (voicecheck.listening.rest_of_answer)."""
from __future__ import annotations

import threading
import time
from dataclasses import replace

import numpy as np

from voicecheck.conversation import Progress, Questionnaire
from voicecheck.interfaces import Heard, RecordingMouth, ScriptedEars
from voicecheck.listening.endpointer import EndpointConfig, Endpointer
from voicecheck.listening.frames import FRAME_S, SAMPLE_RATE, frames_of
from voicecheck.listening.live import LiveListener
from voicecheck.listening.rest_of_answer import REST_BEGUN_WITHIN_S, hear_rest, still_one_answer_until_s
from voicecheck.talk import Talk

from speech_support import silence, spoken
from tests.fakes import IdMatcher

CONFIG = EndpointConfig(no_answer_timeout_s=3.0)


def _ended_early(after_s: float = 0.8):
    """An `after_frame` that ends the answer after `after_s` of silence (its words were complete)."""
    def step(endpointer: Endpointer) -> None:
        if endpointer.state == Endpointer.SPEAKING and endpointer.silence_s >= after_s - 1e-9:
            endpointer.end_now()
    return step


def _answer(pause_s: float, first: str = "いいえ", rest: str = "でも階段を下りるときはあります") -> np.ndarray:
    return np.concatenate([spoken(first, lead_s=0.0, tail_s=0.0), silence(pause_s),
                           spoken(rest, lead_s=0.0, tail_s=0.0), silence(3.0)])


def _turn(answer: np.ndarray, ends_early: bool = True) -> tuple[LiveListener, object]:
    """A question, then the answer arriving live (as from a microphone) while the turn runs; the
    turn ends early once the first part has been followed by 0.8 s of silence."""
    listener = LiveListener(stall_s=1.0)
    for frame in frames_of(silence(1.0)):
        listener.push(frame)
    listener.phrase_starts(opens_answer=True)
    for frame in frames_of(silence(2.0)):
        listener.push(frame)

    def person():
        for frame in frames_of(answer):
            listener.push(frame)
            time.sleep(0.0003)

    threading.Thread(target=person, daemon=True).start()
    result = listener.listen(CONFIG, after_frame=_ended_early() if ends_early else None)
    return listener, result


def test_a_person_who_goes_on_after_the_reply_is_heard_whole():
    listener, first = _turn(_answer(pause_s=1.0))
    assert first.utterance.ended_early
    first_len = len(first.utterance.samples)
    whole = listener.rest_of_answer(CONFIG)
    assert whole is not None
    u = whole.utterance
    assert not u.timed_out and u.started_at_s == first.utterance.started_at_s
    assert len(u.samples) > first_len + int(1.0 * SAMPLE_RATE)  # the rest is in it
    assert np.array_equal(u.samples[:first_len], first.utterance.samples)  # after the first part, unchanged
    assert u.speech_s > first.utterance.speech_s + 1.0
    assert listener.rest_of_answer(CONFIG) is None  # asked once per answer


def test_speech_after_a_pause_longer_than_the_end_silence_is_not_the_rest():
    listener, first = _turn(_answer(pause_s=CONFIG.end_silence_s + 1.2))
    assert first.utterance.ended_early
    assert listener.rest_of_answer(CONFIG) is None  # something new: the next question's turn hears it


def test_an_answer_that_ended_after_the_full_silence_has_no_rest():
    listener, first = _turn(_answer(pause_s=1.0), ends_early=False)
    assert not first.utterance.ended_early  # the pause of 1.0 s was part of the answer
    assert listener.rest_of_answer(CONFIG) is None


def test_a_voice_back_right_after_the_full_pause_is_the_rest_of_the_same_answer():
    """Under a TV an older voice's pause was measured 0.2–0.3 s too long and the answer was cut in
    it: a voice back within REST_BEGUN_WITHIN_S of the end is the same answer going on."""
    listener, first = _turn(_answer(pause_s=CONFIG.end_silence_s + 0.2), ends_early=False)
    assert not first.utterance.ended_early and not first.utterance.timed_out
    whole = listener.rest_of_answer(CONFIG)
    assert whole is not None and whole.utterance.speech_s > first.utterance.speech_s + 1.0
    listener, first = _turn(_answer(pause_s=CONFIG.end_silence_s + 0.8), ends_early=False)
    assert listener.rest_of_answer(CONFIG) is None  # back 0.8 s after the end: something new


def test_an_answer_without_a_rest_has_none():
    listener, first = _turn(np.concatenate([spoken("いいえ", lead_s=0.0, tail_s=0.0), silence(3.0)]))
    assert first.utterance.ended_early and listener.rest_of_answer(CONFIG) is None


def test_going_on_stops_the_acknowledgement_and_a_new_answer_later_does_not():
    """While the device acknowledges the first part, the person going on stops it (as a barge-in);
    speech after the rest could begin does not, and the stop is not carried to the next turn."""
    for pause_s, stops in ((1.0, True), (CONFIG.end_silence_s + 1.5, False)):
        listener = LiveListener(stall_s=2.0)
        stopped = []
        listener.on_barge_in = lambda: stopped.append(listener.now_s)
        for frame in frames_of(silence(1.0)):
            listener.push(frame)
        listener.phrase_starts(opens_answer=True)
        for frame in frames_of(silence(2.0)):
            listener.push(frame)
        go_on = threading.Event()
        first_part = np.concatenate([spoken("いいえ", lead_s=0.0, tail_s=0.0), silence(0.9)])
        rest = np.concatenate([silence(pause_s - 0.9), spoken("でも階段を下りるときはあります", lead_s=0.0, tail_s=0.0),
                               silence(3.0)])

        def person():
            for frame in frames_of(first_part):
                listener.push(frame)
                time.sleep(0.0003)
            go_on.wait(timeout=10)
            for frame in frames_of(rest):
                listener.push(frame)
                time.sleep(0.0003)

        thread = threading.Thread(target=person, daemon=True)
        thread.start()
        first = listener.listen(CONFIG, after_frame=_ended_early())
        assert first.utterance.ended_early
        listener.watch_for_rest(CONFIG)  # the device starts 「『いいえ』ですね。」
        go_on.set()
        whole = listener.rest_of_answer(CONFIG)
        thread.join(timeout=10)
        assert (len(stopped) == 1) is stops and (whole is not None) is stops
        assert not listener.barged_in  # the next turn starts afresh


def test_hear_rest_counts_from_the_last_speech_with_the_end_silence():
    from voicecheck.listening.endpointer import Utterance

    first = Utterance(samples=np.zeros(4800, np.float32), speech_s=0.6, last_speech_at_s=10.0,
                      ended_at_s=10.8, ended_early=True)
    assert still_one_answer_until_s(first, CONFIG) == 10.0 + CONFIG.end_silence_s
    short = Utterance(samples=np.zeros(4800, np.float32), speech_s=0.2, last_speech_at_s=10.0,
                      ended_at_s=10.8, ended_early=True)
    assert still_one_answer_until_s(short, CONFIG) == 10.0 + CONFIG.end_silence_after_short_s
    frame = np.zeros(int(FRAME_S * SAMPLE_RATE), np.float32)

    def frames_from(ended_at_s: float, speech_from_s: float):  # silence from the end, then speech
        t = ended_at_s
        while True:
            yield frame, t >= speech_from_s
            t += FRAME_S

    def frames(speech_from_s: float):
        return frames_from(first.ended_at_s, speech_from_s)

    class NoDetector:
        def is_speech(self, frame):
            raise AssertionError("the frames come judged")

    assert hear_rest(frames(11.0), first, CONFIG, NoDetector()) is not None  # 1.0 s pause: the same answer
    assert hear_rest(frames(11.5), first, CONFIG, NoDetector()) is None  # 1.5 s: a new one
    # After the full silence, speech begun within REST_BEGUN_WITHIN_S of the end is the rest (its
    # pause was measured too long: a quiet voice under a TV); later it is something new.
    not_early = Utterance(samples=first.samples, speech_s=0.6, last_speech_at_s=10.0, ended_at_s=11.3)
    assert still_one_answer_until_s(not_early, CONFIG) == 11.3 + REST_BEGUN_WITHIN_S
    assert hear_rest(frames_from(11.3, 11.4), not_early, CONFIG, NoDetector()) is not None
    assert hear_rest(frames_from(11.3, 11.8), not_early, CONFIG, NoDetector()) is None
    assert hear_rest(frames_from(11.3, 11.4), replace(not_early, truncated=True), CONFIG, NoDetector()) is None
    # The device's reply lengthens the time only after an early end: after the full silence, speech
    # going on under the reply began after the rest could have.
    assert hear_rest(frames_from(11.3, 12.0), not_early, CONFIG, NoDetector(), device_until_s=11.8) is None
    # Said under the device's reply, the rest may be heard only once the device stops: speech going
    # on then is the rest too, and everything since the first part ended is kept for the recogniser.
    assert hear_rest(frames(12.0), first, CONFIG, NoDetector()) is None
    whole = hear_rest(frames(12.0), first, CONFIG, NoDetector(), device_until_s=11.8)
    assert whole is not None
    assert len(whole.samples) >= len(first.samples) + round((12.0 - first.ended_at_s) / FRAME_S) * len(frame)
    assert hear_rest(frames(12.5), first, CONFIG, NoDetector(), device_until_s=11.8) is None  # a reply to it


# ------------------------------------------------------------------------- the questionnaire


class WentOnEars(ScriptedEars):
    """Scripted answers; after the question `question_id`, the person goes on with `rest`."""

    def __init__(self, answers, question_id: str, rest: str) -> None:
        super().__init__(answers)
        self.question_id, self.rest = question_id, rest
        self.asked_for_rest: list[str] = []

    def rest_of_answer(self, context, meanwhile):
        meanwhile()
        self.asked_for_rest.append(context.question_id)
        if context.question_id == self.question_id and self.rest is not None:
            rest, self.rest = self.rest, None
            return Heard(text=rest)
        return None


ALL_NO = ["no", "stairs_down+standing_up", "weekly"] + ["no"] * 13 + ["3か月前から"]


def _run(ears):
    mouth, events, saves = RecordingMouth(), [], []
    from voicecheck.content import load_content
    from voicecheck.settings import Settings

    content = load_content(Settings().prompts_dir)
    talk = Talk(content, IdMatcher(content), ears, mouth, events.append)
    q = Questionnaire(talk, save=lambda p: saves.append(p.to_json()))
    progress = Progress()
    return q.run(progress), progress, mouth, events, saves, content


def test_the_whole_answer_replaces_its_first_part_without_the_question_read_again():
    # 「いいえ」 to the situations-free question 'swelling'… here: frequency first heard "weekly",
    # then the person goes on and the whole answer says "daily".
    # The whole answer is read back (its rest was said over the device's voice): the person agrees.
    ears = WentOnEars(ALL_NO[:3] + ["yes"] + ALL_NO[3:], "frequency", "daily")
    outcome, progress, mouth, events, saves, content = _run(ears)
    assert outcome == "complete"
    assert progress.answers["frequency"].value == "daily"
    question = content.question("frequency").text
    assert mouth.said.count(question) == 1  # not read again
    label = lambda i: content.question("frequency").option(i).label  # noqa: E731
    acks = [s for s in mouth.said if s.startswith(f"「{label('weekly')}」") or s.startswith(f"「{label('daily')}」")]
    assert acks[0] == content.say("acknowledged_option", label=label("weekly"))
    assert len(acks) == 2 and acks[1] != content.say("acknowledged_option", label=label("daily"))  # asked, not told
    assert any(e["type"] == "read_back" and e["why"] == "went_on_over_reply" for e in events)
    heard = [e for e in events if e["type"] == "heard" and e.get("whole_after_reply")]
    assert [h["text"] for h in heard] == ["daily"]
    # the first part's answer was on disk until the whole one replaced it; the question was back on
    on_disk = [s["answers"].get("frequency", {}).get("value") for s in saves]
    assert "weekly" in on_disk and on_disk[-1] == "daily"


def test_a_went_on_emergency_answer_is_judged_whole_before_the_advice():
    # 「はい」…「いや、やっぱりないです」: judged whole, the emergency answer is no.
    ears = WentOnEars(["yes", "yes"] + ALL_NO[1:], "safety_now", "no")  # the second 「はい」 agrees to the read-back
    outcome, progress, *_ = _run(ears)
    assert outcome == "complete" and progress.answers["safety_now"].value == "no"


def test_a_went_on_answer_read_back_and_refused_is_asked_again():
    # 「たまにです……いや、週に一回はあります」 heard as 「たまにです。2週に1回はあります」 (live, under
    # the device's acknowledgement): the whole is read back, the person says no and answers again.
    ears = WentOnEars(ALL_NO[:2] + ["sometimes", "no", "weekly"] + ALL_NO[3:], "frequency", "sometimes")
    outcome, progress, *_ = _run(ears)
    assert outcome == "complete" and progress.answers["frequency"].value == "weekly"


def test_an_answer_read_back_or_asked_again_is_asked_about_its_rest_too():
    # The read-back of 「?weekly」 and the 「もう一度」 after words not understood are said while
    # listening for the rest (a pause measured too long may have cut the answer); the confirmation
    # itself (「はい」) and a command are not.
    answers = ["no", "stairs_down", "?weekly", "yes", "mumble", "no"] + ALL_NO[4:]
    ears = WentOnEars(answers, "nothing", None)
    outcome, progress, *_ = _run(ears)
    assert outcome == "complete" and progress.answers["frequency"].value == "weekly"
    assert ears.asked_for_rest[:4] == ["safety_now", "situations", "frequency", "getting_worse"]
    assert "yes_no" not in ears.asked_for_rest


def test_the_rest_of_an_answer_asked_again_is_judged_whole():
    # 「そんな感じです……引っかかるってどういうことですか」 under a TV: cut in its pause, the first part
    # not understood; the rest, said while the device asks again, makes the whole answer, judged
    # without the question read again (here it is understood: the whole is read back, agreed).
    answers = ["no", "stairs_down", "mumble", "yes"] + ALL_NO[3:]
    ears = WentOnEars(answers, "frequency", "weekly")
    outcome, progress, mouth, events, saves, content = _run(ears)
    assert outcome == "complete" and progress.answers["frequency"].value == "weekly"
    assert mouth.said.count(content.question("frequency").text) == 1
    assert content.say("not_understood") in mouth.said
    assert any(e["type"] == "read_back" and e["why"] == "went_on_over_reply" for e in events)


def test_a_whole_answer_not_understood_after_its_first_part_costs_one_try_and_one_apology():
    # Live under a TV at 5 dB: 「えっと……」 was cut in its pause and not understood; the rest came
    # while 「聞き取れませんでした」 was said, and the whole was not understood either. The person
    # answered once: the apology is not said again at once, the hint follows, and two more tries remain.
    answers = ["no", "stairs_down", "mumble", "mumble", "weekly"] + ALL_NO[3:]
    ears = WentOnEars(answers, "frequency", "mumble")
    outcome, progress, mouth, events, saves, content = _run(ears)
    assert outcome == "complete" and progress.answers["frequency"].value == "weekly"
    sorry = content.say("not_understood")
    assert mouth.said.count(sorry) == 2  # once for the first part, once for the next try
    assert not any(a == b == sorry for a, b in zip(mouth.said, mouth.said[1:]))


# ------------------------------------------------------------------------- through LiveEars


def test_live_ears_hear_the_rest_and_decode_the_whole_answer(content):
    """The live ears: 「いいえ」 ends the turn early (the real matcher says it is complete); the person
    goes on 1.0 s after it; `rest_of_answer` returns the decode of the whole answer."""
    import contextlib

    from voicecheck.interfaces import ListenContext
    from voicecheck.matcher import Matcher
    from voicecheck.recognizers.base import BufferedStream

    from test_early_end import judged_context, live_ears_listening, quiet, tone

    matcher = Matcher(content, this_year=2026)
    listening = threading.Event()

    @contextlib.contextmanager
    def microphone():
        def frames():
            yield from frames_of(quiet(1.0))
            listening.wait(timeout=10)
            for frame in frames_of(np.concatenate([quiet(0.5), tone(0.5), quiet(1.0), tone(1.5), quiet(8.0)])):
                threading.Event().wait(0.004)  # faster than real time, slow enough for the worker thread
                yield frame
        yield frames()

    class ByLength:
        """「いいえ。」 for the first part alone, the whole sentence for more."""
        name = "by-length"

        def transcribe(self, samples, context):
            text = "いいえ。" if len(samples) < 2.5 * SAMPLE_RATE else "いいえ、でも階段を下りるときは腫れます。"
            return Heard(text=text, timings={"recognition": 0.01})

        def start(self, context):
            return BufferedStream(self.transcribe, context)

    ears, duplex = live_ears_listening(microphone, ByLength(), listening)
    context = judged_context(matcher, "swelling")
    first = ears.listen(context)
    said = []
    other = ears.rest_of_answer(ListenContext("frequency"), lambda: said.append(1))  # not the question just answered
    assert other is None and said == [1]  # only the acknowledgement
    whole = ears.rest_of_answer(context, lambda: said.append(2))
    duplex.close()
    assert first.text == "いいえ。" and first.timings["early_end"] == 1.0
    assert whole is not None and whole.text == "いいえ、でも階段を下りるときは腫れます。"
    assert whole.timings["whole_after_reply"] == 1.0 and whole.timings["speech"] > 1.8
    assert said == [1, 2]
