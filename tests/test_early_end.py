"""Finding the end of an answer from its words: heard in its pauses, a complete answer is replied to
after a short pause, an answer still going on (「えっと……」「階段と……」) is waited for, and a
hearing is reused rather than decoded twice. The words' rules use the real matcher; the sound is
synthetic (a tone is speech, zeros are silence) so every frame's fate is known."""
from __future__ import annotations

import contextlib
from concurrent.futures import Future

import numpy as np
import pytest

from voicecheck.interfaces import Heard, ListenContext
from voicecheck.listening.early_end import EarlyEndConfig, EarlyHearing
from voicecheck.listening.endpointer import EndpointConfig, Endpointer, capture_utterance
from voicecheck.listening.frames import FRAME_S, frames_of
from voicecheck.settings import Settings
from voicecheck.speech_io import MicrophoneEars
from voicecheck.understanding.turn_end import COMPLETE, GOING_ON, OPEN, UNSURE

RATE = 16_000


@pytest.fixture(scope="module")
def matcher(content):
    from voicecheck.matcher import Matcher

    return Matcher(content, this_year=2026)


def tone(seconds: float) -> np.ndarray:
    t = np.arange(int(seconds * RATE)) / RATE
    return (0.3 * np.sin(2 * np.pi * 220 * t)).astype(np.float32)


def quiet(seconds: float) -> np.ndarray:
    return np.zeros(int(seconds * RATE), np.float32)


class LoudIsSpeech:
    def is_speech(self, frame: np.ndarray) -> bool:
        return float(np.max(np.abs(frame))) > 0.1


class AtOnce:
    """A worker that runs each job as it is given (the tests need no thread timing)."""

    def submit(self, fn, *args):
        future: Future = Future()
        future.set_result(fn(*args))
        return future


class Script:
    """Hears the n-th stretch of speech so far as texts[n - 1]; counts its calls."""

    def __init__(self, *texts: str) -> None:
        self.texts, self.calls = texts, []

    def __call__(self, samples: np.ndarray) -> Heard:
        frames = samples[: len(samples) // 480 * 480].reshape(-1, 480)
        voiced = np.abs(frames).max(axis=1) > 0.1
        parts = int(voiced[0]) + int(np.count_nonzero(np.diff(voiced.astype(np.int8)) == 1))
        self.calls.append(len(samples) / RATE)
        return Heard(text=self.texts[min(parts, len(self.texts)) - 1])


def run(audio: np.ndarray, hear, judge, config: EarlyEndConfig = EarlyEndConfig(),
        endpoint: EndpointConfig = EndpointConfig()):
    early = EarlyHearing(hear, judge, AtOnce(), config)
    utterance = capture_utterance(frames_of(audio), endpoint, vad=LoudIsSpeech(), after_frame=early.step)
    return utterance, early


def said_for(seconds: float, utterance) -> float:
    """Silence between the end of the speech and the decided end."""
    return utterance.ended_at_s - seconds


def test_a_complete_answer_ends_after_a_short_pause_and_is_not_decoded_again(matcher):
    audio = np.concatenate([quiet(0.5), tone(1.2), quiet(5.0)])
    hear = Script("いいえ、ありません。")
    utterance, early = run(audio, hear, lambda heard: matcher.turn_end("swelling", heard))
    assert utterance.ended_early and not utterance.timed_out
    after = EarlyEndConfig().complete_after_s
    assert after - 0.05 <= said_for(1.7, utterance) <= after + 0.1  # not end_silence_s (1.3 s)
    assert early.heard().text == "いいえ、ありません。" and len(hear.calls) == 1


def test_only_a_filler_so_far_waits_longer_than_the_usual_pause(matcher):
    # 「えっと」, 1.6 s of thought (longer than end_silence_s), then the answer.
    audio = np.concatenate([quiet(0.5), tone(0.5), quiet(1.6), tone(1.0), quiet(5.0)])
    hear = Script("えっと", "えっと、週に一回です。")
    utterance, early = run(audio, hear, lambda heard: matcher.turn_end("frequency", heard))
    assert utterance.ended_at_s > 3.6  # both parts are in the answer
    assert early.heard().text == "えっと、週に一回です。"


@pytest.mark.parametrize("question, first, whole, first_s, pause_s, ended_after_s", [
    ("situations", "下りの階段と", "下りの階段と、立ち上がるときです。", 1.0, 1.5, 4.0),
    # 「そうですね……半年くらい前からです」 with a 1.2 s pause, which a TV's noise can stretch past
    # end_silence_s by hiding the ends of the words (measured: cut at pink noise 10 dB).
    ("since_when", "そうですね。", "そうですね。半年くらい前からです。", 0.7, 1.35, 3.5),
])
def test_a_pause_after_words_that_do_not_end_an_answer_is_not_the_end(matcher, question, first, whole,
                                                                      first_s, pause_s, ended_after_s):
    audio = np.concatenate([quiet(0.5), tone(first_s), quiet(pause_s), tone(1.0), quiet(5.0)])
    utterance, early = run(audio, Script(first, whole), lambda heard: matcher.turn_end(question, heard))
    assert utterance.ended_at_s > ended_after_s and not utterance.ended_early
    assert early.heard().text == whole


def test_the_reply_is_foreseen_from_pauses_that_may_end_the_answer_not_from_unfinished_ones(matcher):
    # 「下りの階段と」 (going on: no reply yet), then the whole answer (it may end here: foreseen)
    audio = np.concatenate([quiet(0.5), tone(1.0), quiet(1.5), tone(1.0), quiet(5.0)])
    foreseen: list[str] = []
    early = EarlyHearing(Script("下りの階段と", "下りの階段と、立ち上がるときです。"),
                         lambda heard: matcher.turn_end("situations", heard), AtOnce(),
                         foresee=lambda heard: foreseen.append(heard.text))
    capture_utterance(frames_of(audio), EndpointConfig(), vad=LoudIsSpeech(), after_frame=early.step)
    assert foreseen == ["下りの階段と、立ち上がるときです。"]


def test_a_failing_foresight_changes_nothing():
    def broken(heard):
        raise RuntimeError("the voice is gone")

    audio = np.concatenate([quiet(0.5), tone(1.0), quiet(5.0)])
    early = EarlyHearing(Script("はい"), None, AtOnce(), foresee=broken)
    capture_utterance(frames_of(audio), EndpointConfig(), vad=LoudIsSpeech(), after_frame=early.step)
    assert early.heard().text == "はい"


def test_without_a_judge_the_usual_pause_ends_the_answer_and_the_hearing_is_reused():
    audio = np.concatenate([quiet(0.5), tone(1.0), quiet(5.0)])
    hear = Script("はい")
    utterance, early = run(audio, hear, None)
    assert not utterance.ended_early and 1.25 <= said_for(1.5, utterance) <= 1.4
    assert early.heard().text == "はい" and len(hear.calls) == 1


def test_the_setting_off_keeps_the_usual_pause_for_complete_answers(matcher):
    audio = np.concatenate([quiet(0.5), tone(1.0), quiet(5.0)])
    utterance, early = run(audio, Script("はい、あります。"), lambda heard: matcher.turn_end("swelling", heard),
                           EarlyEndConfig(end_when_complete=False))
    assert not utterance.ended_early and said_for(1.5, utterance) >= 1.25
    assert early.heard().text == "はい、あります。"


class RmsIsVoice:
    """The voice detector for a noisy room: a frame is voiced when it is well above the hum."""

    def is_speech(self, frame: np.ndarray) -> bool:
        return float(np.sqrt(np.mean(frame.astype(np.float64) ** 2))) > 0.05


@pytest.mark.parametrize("room_dbfs, ends_early", [(-75.0, True), (-35.0, False)])
def test_a_complete_answer_ends_early_only_in_a_quiet_room(matcher, room_dbfs, ends_early):
    # Under a TV, what the person says over the device's acknowledgement is lost with its echo, so
    # the rest of a two-part answer would not be heard: there the full end_silence_s is waited.
    from voicecheck.listening.detector import SpeechDetector

    audio = np.concatenate([quiet(1.0), tone(1.2), quiet(5.0)])
    hum = np.random.default_rng(7).standard_normal(len(audio)) * 10 ** (room_dbfs / 20)
    room = (audio + hum).astype(np.float32)
    early = EarlyHearing(Script("いいえ、ありません。"), lambda heard: matcher.turn_end("swelling", heard), AtOnce())
    utterance = capture_utterance(frames_of(room), EndpointConfig(), vad=SpeechDetector(vad=RmsIsVoice()),
                                  after_frame=early.step)
    assert utterance.ended_early is ends_early
    waited = said_for(2.2, utterance)
    if ends_early:
        assert waited < EndpointConfig().end_silence_s - 0.3
    else:
        assert waited >= EndpointConfig().end_silence_s - 0.05
    assert early.heard().text == "いいえ、ありません。"  # the pause's hearing is the answer either way


def test_under_a_tv_a_short_answer_waits_the_usual_pause_not_a_fillers(matcher):
    # 「はい」 is shorter than short_speech_s: a filler or a cough that short waits 2 s, words that
    # answer only end_silence_s.
    from voicecheck.listening.detector import SpeechDetector

    config = EndpointConfig()
    audio = np.concatenate([quiet(1.0), tone(0.25), quiet(5.0)])
    room = (audio + np.random.default_rng(7).standard_normal(len(audio)) * 10 ** (-35 / 20)).astype(np.float32)
    waited = {}
    for text in ("はい。", "大丈夫です。", "えっと", "スペレース"):
        early = EarlyHearing(Script(text), lambda heard: matcher.turn_end("swelling", heard), AtOnce())
        utterance = capture_utterance(frames_of(room), config, vad=SpeechDetector(vad=RmsIsVoice()),
                                      after_frame=early.step)
        assert not utterance.ended_early
        waited[text] = said_for(1.25, utterance)
    # Words that answer, clearly or not, are not a cough: the usual pause (measured live under the
    # TV: an unsure 「はい」 was replied to 2.2 s after it ended). Nothing understood waits longer.
    for text in ("はい。", "大丈夫です。"):
        assert config.end_silence_s - 0.05 <= waited[text] <= config.end_silence_s + 0.1, text
    for text in ("えっと", "スペレース"):
        assert waited[text] >= config.end_silence_after_short_s - 0.05, text


def test_speech_after_a_hearing_makes_it_outdated():
    # A short pause (heard as OPEN), then more speech and a long pause with the endpointer's own end.
    audio = np.concatenate([quiet(0.5), tone(0.8), quiet(0.5), tone(0.8), quiet(5.0)])
    hear = Script("階段", "階段を下りるとき")
    utterance, early = run(audio, hear, lambda heard: OPEN)
    assert early.heard().text == "階段を下りるとき"  # the hearing of the whole answer, not of its first part
    assert len(hear.calls) == 2


def test_an_unsure_or_read_back_answer_is_not_ended_early(matcher):
    # 「大丈夫です」 depends on the context: read back, so the person gets the full pause to go on.
    audio = np.concatenate([quiet(0.5), tone(1.0), quiet(5.0)])
    utterance, _ = run(audio, Script("大丈夫です。"), lambda heard: matcher.turn_end("swelling", heard))
    assert not utterance.ended_early


@pytest.mark.parametrize("question, text, verdict", [
    ("swelling", "いいえ、腫れていません。", COMPLETE),
    ("near_fall", "はい", COMPLETE),
    ("frequency", "週に一回くらいです", COMPLETE),
    ("age_50_plus", "昭和18年生まれです", COMPLETE),
    ("near_fall", "もう一回お願いします", COMPLETE),
    ("yes_no", "はい、そうです", COMPLETE),
    ("swelling", "えっと", GOING_ON),
    # A short interjection said as a question asks back (pardon?): the person waits for the device,
    # so the usual pause, never the filler's longer one — and never an early end. Thinking aloud
    # (「うーん?」「え、」) still waits longer.
    ("swelling", "え?", UNSURE),
    ("situations", "ん？", UNSURE),
    ("since_when", "はあ?", UNSURE),
    ("yes_no", "はい?", UNSURE),  # as likely to ask back as to answer: no early end
    ("frequency", "うーん?", GOING_ON),
    ("swelling", "え、", GOING_ON),
    ("swelling", "え", GOING_ON),
    ("swelling", "うーん、", GOING_ON),
    ("swelling", "腫れてはいないけど", GOING_ON),
    ("near_fall", "はい、あと", GOING_ON),
    ("situations", "えっと、下りの階段と", GOING_ON),
    ("getting_worse", "前より", GOING_ON),
    ("swelling", "腫れてない、えーと", GOING_ON),
    ("situations", "そうですねえ、階段を下りるときと。", GOING_ON),  # Whisper's full stop says nothing
    ("since_when", "はっきりとは覚えていないんですけど。", GOING_ON),
    ("swelling", "いいえ。", COMPLETE),
    ("yes_no", "いや…", OPEN),  # a whole no, though いや also links (「いや、週に一回です」): the usual pause
    ("frequency", "たまにです。いや", GOING_ON),  # a correction begins
    ("yes_no", "でも", GOING_ON),  # a linking word alone, not an answer
    # A clause of reason left hanging (言いさし) is how many people stop answering a yes/no or a
    # one-option question: the usual pause, never the short one …
    ("safety_now", "ろれつがうまく回らなくて", UNSURE),
    ("getting_worse", "変わらないで", UNSURE),
    ("swelling", "腫れてないから", UNSURE),
    ("going_out_less", "もともと出かけないので。", UNSURE),
    ("swelling", "痛くて", OPEN),  # not understood: the usual pause, then asked again
    # … but not a verb's own て-form, which may still take its negation (「腫れて……いません」),
    ("swelling", "腫れて", GOING_ON),
    ("swelling", "腫れて、", GOING_ON),  # nor a clause with a comma after it,
    ("frequency", "階段で", GOING_ON),  # nor a particle after a noun,
    ("situations", "階段を下りるときで、", GOING_ON),
    ("situations", "立ち上がるとき転びそうになるので", GOING_ON),  # nor where several answers may follow
    # A final particle that is part of the answer's own words (「はい、たまに」 written 「入たまに」:
    # たま + に) ends nothing half-said: the usual pause. One that is not (「週に……」) still waits.
    ("frequency", "入たまに。", UNSURE),
    ("frequency", "週に", GOING_ON),
    # 「そうですね」 buys time before an answer that is not a yes or a no …
    ("since_when", "そうですね。", GOING_ON),
    ("frequency", "うーん、そうですねー。", GOING_ON),
    ("situations", "そうだね", GOING_ON),
    # … but is itself the answer when a yes or a no was asked for
    ("yes_no", "そうですね。", COMPLETE),
    ("near_fall", "うーん、そうですね", COMPLETE),
    ("since_when", "そうです。", OPEN),  # not a phrase that buys time
    # Where several answers may follow, words that name a choice never end the turn early, but they
    # are words, not a cough: the usual pause even when short (「4」, as the question's hint asks).
    ("situations", "階段を下りるときです", UNSURE),
    ("situations", "4", UNSURE),
    ("situations", "いちとさん", UNSURE),
    ("situations", "お皿を洗いました", OPEN),  # names no choice: the endpointer alone
    ("since_when", "半年前です", OPEN),  # free text: the full pause
    # The answer its question asks for (「いつごろからですか」, with 「三か月前から」 as its example) is
    # whole, though it stops on a particle: the usual pause, not the longer one …
    ("since_when", "三か月前から", OPEN),
    ("since_when", "三か月前から、", OPEN),  # Whisper's comma after a voice that fell silent
    ("since_when", "3か月くらい前から。", OPEN),
    ("since_when", "退院してから", OPEN),
    # … but not with a filler after it, nor at a question that does not ask with that particle.
    ("since_when", "三か月前から、えーと", GOING_ON),
    ("situations", "朝起きてから", GOING_ON),
    ("since_when", "三か月前と", GOING_ON),
    ("swelling", "大丈夫です", UNSURE),  # read back, not accepted
    ("swelling", "腫れてるかもしれない", UNSURE),  # a guess: read back
    ("yes_no", "対象です。", UNSURE),  # 「はいそうです」 misheard: asked about again
    ("swelling", "スペレース", OPEN),  # nothing understood (the TV, a cough)
    ("yes_no", "ぱい。", UNSURE),  # はい garbled (live, under the TV): a word, asked again after the usual pause
    ("near_fall", "開始", UNSURE),  # the same, at a question
    ("frequency", "ぱい。", OPEN),  # not where a yes or a no is asked for
    ("yes_no", "スペレース", OPEN),  # no reply's vowels
    ("safety_now", "", OPEN),
    # Nothing written but marks (what Whisper gives for a voice it cannot make out under the TV) is
    # no filler: no sign of more to come.
    ("swelling", "、、", OPEN),
    ("situations", "…", OPEN),
    ("swelling", "\ufffd", OPEN),
])
def test_what_the_words_say_about_the_end(matcher, question, text, verdict):
    assert matcher.turn_end(question, Heard(text=text)) == verdict


class ScriptRecognizer:
    """A recogniser for MicrophoneEars: hears every clip as one text; counts decodes."""

    name = "script"

    def __init__(self, text: str) -> None:
        self.text, self.decodes = text, 0

    def transcribe(self, samples, context) -> Heard:
        self.decodes += 1
        return Heard(text=self.text, timings={"recognition": 0.01})

    def start(self, context):
        recognizer = self

        class Stream:
            def accept(self, samples):
                pass

            def finish(self):
                return recognizer.transcribe(None, context)

        return Stream()


def test_microphone_ears_reply_soon_to_a_complete_answer(matcher):
    """The product's ears with the conversation's judge: decoded once, in the pause, ended early."""
    audio = np.concatenate([quiet(1.0), tone(1.2), quiet(8.0)])

    @contextlib.contextmanager
    def microphone():
        yield frames_of(audio)

    recognizer = ScriptRecognizer("いいえ、腫れていません。")
    ears = MicrophoneEars(Settings(turn_tone=False), recognizer, open_frames=microphone)
    ears.detector = LoudIsSpeech()
    context = ListenContext("swelling", matcher.phrases("swelling"),
                            judge=lambda heard: matcher.turn_end("swelling", heard))
    heard = ears.listen(context)
    assert heard.text == "いいえ、腫れていません。" and recognizer.decodes == 1
    # Frames come faster than real time here, so the early end depends on the worker thread's
    # speed; either way the answer is decoded once and never cut before the pause.
    assert heard.timings["endpoint"] >= EarlyEndConfig().complete_after_s - FRAME_S


def live_ears_listening(microphone, recognizer, listening):
    """LiveEars on a simulated one-stream card (`microphone`: frames, waiting on `listening` after
    the first second); returns (ears, duplex) once that second is heard and `listening` is set."""
    import threading

    from voicecheck.duplex import DuplexAudio
    from voicecheck.listening.detector import SpeechDetector
    from voicecheck.listening.live import LiveListener
    from voicecheck.speech_io import LiveEars

    listener = LiveListener(detector=SpeechDetector(vad=LoudIsSpeech()), stall_s=2.0)
    duplex = DuplexAudio(Settings(), open_frames=microphone, player=lambda samples, rate: None, listener=listener)
    ears = LiveEars(Settings(turn_tone=False, early_answers=True), recognizer, duplex)
    duplex.start()
    while listener.now_s < 1.0 - 1e-6:
        threading.Event().wait(0.01)
    listening.set()
    return ears, duplex


def judged_context(matcher, question_id: str) -> ListenContext:
    """The context a question's turn has, with the matcher's judge of the words heard so far."""
    return ListenContext(question_id, matcher.phrases(question_id),
                         judge=lambda heard: matcher.turn_end(question_id, heard))


def test_live_ears_hear_the_answer_in_its_pause_too(matcher):
    """early_answers' ears (one stream for the session): a clear answer given after the question is
    decoded once, in its pause, and the turn ends before the full end_silence_s."""
    import threading

    listening = threading.Event()

    @contextlib.contextmanager
    def microphone():
        def frames():
            yield from frames_of(quiet(1.0))
            listening.wait(timeout=10)
            for frame in frames_of(np.concatenate([quiet(0.5), tone(1.2), quiet(8.0)])):
                threading.Event().wait(0.005)  # faster than real time, slow enough for the worker thread
                yield frame
        yield frames()

    recognizer = ScriptRecognizer("いいえ、腫れていません。")
    ears, duplex = live_ears_listening(microphone, recognizer, listening)
    heard = ears.listen(judged_context(matcher, "swelling"))
    duplex.close()
    assert heard.text == "いいえ、腫れていません。" and recognizer.decodes == 1 and heard.timings["hearings"] >= 1
    assert heard.timings["endpoint"] < 1.0 and heard.timings["early_end"] == 1.0  # the words said it was over


@pytest.mark.parametrize("text, confidence, verdict", [
    ("私たちの", 0.07, OPEN),  # 「膝のけがはないです」 under the TV, guessed: no sign of more to come
    ("私たちの", 0.8, GOING_ON),  # the same words heard with certainty: the person goes on
    ("えっと、下りの階段と", 0.3, UNSURE),  # guessed: no longer wait; words naming a choice, the usual one
    # 「毎日です」 under a TV's babble, heard at 0.44: above the matcher's line for a guess (0.4),
    # but misheard; it waited 1.2 s more until the bar for a particle ending was 0.5
    ("マンチで", 0.44, OPEN),
    ("えっと、下りの階段と", 0.55, GOING_ON),
    ("えっと、下りの階段と", None, GOING_ON),  # a recogniser without a confidence: the words alone
    ("うーん", 0.2, GOING_ON),  # only a filler: thinking, however unsure the hearing
    # An espeak-ng older voice under pink noise: made-up katakana, not a filler to wait after
    ("ピンチャンチ・ケン・ヨーミー・アティ・タイ", 0.35, OPEN),
    # Whisper going round under pink noise and babble: the words twice in a row, however sure
    ("動かしづらいってどのくらい大丈夫で動かしづらいってどのくらい大丈夫で", 0.78, OPEN),
    ("転びそうになったことや、実際に転んだことや、実際に転んだことや、", 0.68, OPEN),
    ("転びそうになったことや、実際に転んだことや、", 0.68, GOING_ON),
    ("痛い痛い、", 0.8, GOING_ON),  # a person's own short repeat is no loop
    # Fillers written in katakana by ear are fillers too: 「エッド」 for 「えっと」 under a TV at 5 dB
    # (live) made the turn end before the answer came
    ("エッド", 0.23, GOING_ON),
    ("アノー", 0.3, GOING_ON),
    ("えっとー", 0.3, GOING_ON),  # the long vowel split off as a word of its own
    ("カクン", 0.3, OPEN),  # a katakana word that is no filler
])
def test_words_stopping_on_a_particle_wait_longer_only_when_the_recogniser_is_fairly_sure(matcher, text, confidence,
                                                                                            verdict):
    assert matcher.turn_end("situations", Heard(text=text, confidence=confidence)) == verdict


def test_another_line_of_certainty_can_be_tried_without_changing_the_shipped_one(matcher):
    """bench/going_on.py measures other lines than SURE_OF_A_PARTICLE on the same hearings."""
    from voicecheck.understanding.turn_end import turn_end

    heard = Heard(text="えっと、下りの階段と", confidence=0.55)
    kind = matcher.kind_of("situations")
    assert turn_end(matcher, "situations", heard, kind) == GOING_ON
    assert turn_end(matcher, "situations", heard, kind, sure_of_a_particle=0.6) != GOING_ON
    assert turn_end(matcher, "situations", heard, kind, sure_of_a_particle=0.0) == GOING_ON
    assert turn_end(matcher, "situations", Heard(text="うーん", confidence=0.2), kind, sure_of_a_particle=0.9) == GOING_ON


@pytest.mark.parametrize("text, prefix", [
    ("立ち上がるときと、階段を下りるとき", "立ち上がるときと、階段を"),  # its last such place
    ("痛みはあるけど、歩けます", "痛みはあるけど"),
    ("はい、あります", None),  # too short before the comma to be words going on
    ("毎日です", None),  # nowhere a sentence cannot stop
])
def test_the_going_on_bench_cuts_a_text_where_a_sentence_cannot_stop(matcher, text, prefix):
    from bench.going_on import going_on_prefix

    assert going_on_prefix(text, matcher.continuing_words) == prefix
