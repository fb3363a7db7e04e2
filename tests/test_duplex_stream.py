"""Listening while talking, without devices: the loudspeaker's queue, the echo canceller (real AEC3)
on the device's own voice coming back through a simulated room, and the live listener fed
(microphone, played) pairs as the one-stream sound card gives them."""
from __future__ import annotations

import threading
import time
from pathlib import Path

import numpy as np
import pytest

from voicecheck.audio import read_wav
from voicecheck.duplex import DuplexAudio
from voicecheck.duplex_stream import PlaybackQueue
from voicecheck.listening.endpointer import EndpointConfig
from voicecheck.listening.frames import FRAME_SAMPLES, SAMPLE_RATE, frames_of, level_db
from voicecheck.listening.live import LiveListener
from voicecheck.settings import Settings

from speech_support import silence, spoken

OTHER_VOICE = Path(__file__).parent / "data" / "live_room" / "no_jm_kumo.wav"
ECHO_DELAY_S = 0.08  # the sound card's latency measured in the virtual room


def test_the_playback_queue_hands_out_pieces_in_order_then_silence():
    playback = PlaybackQueue()
    first = playback.add(np.full(700, 0.5, np.float32))
    second = playback.add(np.full(300, -0.5, np.float32))
    block = np.empty(FRAME_SAMPLES, np.float32)
    playback.fill(block)
    assert np.all(block == 0.5) and not first.is_set()
    playback.fill(block)
    assert np.all(block[:220] == 0.5) and np.all(block[220:] == -0.5) and first.is_set() and not second.is_set()
    playback.fill(block)
    assert np.all(block[:40] == -0.5) and np.all(block[40:] == 0.0) and second.is_set() and not playback.busy


def test_silencing_drops_what_is_queued_and_releases_the_waiting_speaker():
    playback = PlaybackQueue()
    done = playback.add(np.ones(SAMPLE_RATE * 10, np.float32))
    waiter = threading.Thread(target=done.wait, daemon=True)
    waiter.start()
    playback.clear()
    waiter.join(timeout=1.0)
    assert not waiter.is_alive() and not playback.busy
    block = np.empty(FRAME_SAMPLES, np.float32)
    playback.fill(block)
    assert np.all(block == 0.0)


def room(played: np.ndarray, person: np.ndarray | None = None, gain_db: float = -6.0) -> np.ndarray:
    """What the microphone hears: the loudspeaker's sound after the sound card's delay, softer, with a
    little reverberation and hiss, plus the person."""
    rng = np.random.default_rng(7)
    delay = int(ECHO_DELAY_S * SAMPLE_RATE)
    tail = rng.standard_normal(int(0.25 * SAMPLE_RATE)) * np.exp(-np.arange(int(0.25 * SAMPLE_RATE)) / 1200)
    tail[0] = 8.0
    echo = np.convolve(played, tail / np.sqrt(np.sum(tail ** 2)))[: len(played)] * 10 ** (gain_db / 20)
    heard = np.concatenate([np.zeros(delay, np.float32), echo])[: len(played)]
    heard = heard + rng.standard_normal(len(played)) * 10 ** (-62 / 20)
    if person is not None:
        heard = heard + person
    return heard.astype(np.float32)


def level(samples: np.ndarray) -> float:
    return level_db(np.asarray(samples, dtype=np.float32))


@pytest.fixture(scope="module")
def device_voice() -> np.ndarray:
    return np.concatenate([spoken("膝の力がカクンと抜けるのは、どんなときですか。"),
                           spoken("「はい」か「いいえ」でお答えください。")])


def test_the_echo_canceller_takes_the_device_voice_out_and_leaves_a_later_answer(device_voice):
    from voicecheck.listening.echo_cancel import EchoCanceller

    person = read_wav(OTHER_VOICE) * 0.5
    played = np.concatenate([device_voice, silence(0.5), np.zeros(len(person), np.float32), silence(0.5)])
    answer = np.concatenate([np.zeros(len(device_voice) + int(0.5 * SAMPLE_RATE), np.float32), person,
                             silence(0.5)])
    heard = room(played, answer)
    canceller = EchoCanceller()
    cleaned = np.concatenate([canceller.process(m, p) for m, p in zip(frames_of(heard), frames_of(played))])
    talking = slice(SAMPLE_RATE, len(device_voice))  # after its first second
    assert level(heard[talking]) - level(cleaned[talking]) >= 12.0  # the echo is much softer (17–19 dB here)
    answering = slice(len(device_voice) + int(0.5 * SAMPLE_RATE), len(device_voice) + int(0.5 * SAMPLE_RATE) + len(person))
    assert abs(level(cleaned[answering]) - level(heard[answering])) <= 3.0  # the answer is left as it was


def pairs(microphone: np.ndarray, played: np.ndarray):
    return list(zip(frames_of(microphone), frames_of(played)))


class PairSource:
    """(microphone, played) pairs as the one-stream sound card yields them: the question's frames,
    then — once the device has finished asking and listens — the rest, then silence."""

    def __init__(self, asking, after, then_silence_s: float) -> None:
        self.asking, self.after = asking, after + pairs(silence(then_silence_s), silence(then_silence_s))
        self.listening = threading.Event()

    def __enter__(self):
        def frames():
            yield from self.asking
            self.listening.wait(timeout=10)
            yield from self.after
        return frames()

    def __exit__(self, *exc):
        return False


def run_turn(microphone, played, asking_s: float, timeout_s: float, canceller):
    """The listener fed through DuplexAudio; the turn starts once `asking_s` of sound has arrived."""
    items = pairs(microphone, played)
    cut = int(round(asking_s / (FRAME_SAMPLES / SAMPLE_RATE)))
    source = PairSource(items[:cut], items[cut:], timeout_s + 3.0)
    listener = LiveListener(stall_s=2.0)
    duplex = DuplexAudio(Settings(), open_frames=lambda: source, player=lambda samples, rate: None,
                         listener=listener, canceller=canceller)
    listener.phrase_starts(opens_answer=True)  # the question opens the answer window
    duplex.start()
    while listener.now_s < cut * FRAME_SAMPLES / SAMPLE_RATE - 1e-6:
        threading.Event().wait(0.01)
    source.listening.set()
    try:
        return listener.listen(EndpointConfig(no_answer_timeout_s=timeout_s))
    finally:
        duplex.close()


def test_with_one_stream_the_device_voice_is_not_an_answer(device_voice):
    from voicecheck.listening.echo_cancel import EchoCanceller

    played = np.concatenate([silence(0.5), device_voice, silence(0.6)])
    result = run_turn(room(played, gain_db=0.0), played, len(played) / SAMPLE_RATE, 1.0, EchoCanceller())
    # as loud at the microphone as in the file, and neither taken while it spoke nor after
    assert result.utterance.timed_out and result.candidates == 0


def test_with_one_stream_an_answer_after_the_question_is_found(device_voice):
    from voicecheck.listening.echo_cancel import EchoCanceller

    person = read_wav(OTHER_VOICE) * 0.5
    played = np.concatenate([silence(0.5), device_voice, silence(0.4 + len(person) / SAMPLE_RATE + 0.3)])
    answer = np.zeros(len(played), np.float32)
    at = int((0.9 + len(device_voice) / SAMPLE_RATE) * SAMPLE_RATE)
    answer[at:at + len(person)] = person
    result = run_turn(room(played, answer), played, 0.5 + len(device_voice) / SAMPLE_RATE + 0.3, 3.0,
                      EchoCanceller())
    utterance = result.utterance
    assert not utterance.timed_out and not result.early and result.candidates == 1
    begins, ends = at / SAMPLE_RATE, (at + 22240) / SAMPLE_RATE  # the clip's speech: 0.02–1.39 s
    assert 0.5 + len(device_voice) / SAMPLE_RATE <= utterance.started_at_s <= begins + 0.1  # not the question
    assert utterance.last_speech_at_s >= ends - 0.3  # the whole answer


def test_with_one_stream_an_answer_right_after_the_turn_tone_is_found():
    # A long question, the turn tone, and the answer half a second after it (the person in the
    # virtual room): once, the gate learnt the answer's own level as the device's echo and missed it.
    from voicecheck.duplex import turn_tone
    from voicecheck.listening.echo_cancel import EchoCanceller

    question = np.concatenate([spoken("はじめに、急ぎの確認です。転んだあとで膝がひどく痛む、脚に体重をかけられない。"),
                               spoken("このようなことはありますか。「はい」か「いいえ」でお答えください。")])
    person = read_wav(OTHER_VOICE) * 0.5
    tone = turn_tone()
    asked = np.concatenate([silence(0.5), question, silence(0.6), tone])
    played = np.concatenate([asked, silence(0.5 + len(person) / SAMPLE_RATE + 0.5)])
    answer = np.zeros(len(played), np.float32)
    at = len(asked) + SAMPLE_RATE // 2
    answer[at:at + len(person)] = person
    result = run_turn(room(played, answer), played, len(asked) / SAMPLE_RATE, 3.0, EchoCanceller())
    assert not result.utterance.timed_out
    assert result.utterance.last_speech_at_s >= (at + 22240) / SAMPLE_RATE - 0.3


def test_when_the_canceller_is_not_cancelling_the_gate_looks_back_further_than_without_one():
    # a loudspeaker delay beyond AEC3's reach (~1 s): its late, loud echo must not open an answer
    from voicecheck.duplex import CANCELLED_ECHO_DELAY_S, NOT_CANCELLING_EXTRA_S
    from voicecheck.listening.frames import FRAME_S

    duplex = DuplexAudio(Settings(), open_frames=lambda: None, player=lambda s, r: None, canceller=object())
    without = duplex._gate_delay_s
    duplex._trust_canceller(False)
    assert duplex.listener.echo.delay_frames == round((without + NOT_CANCELLING_EXTRA_S) / FRAME_S)
    duplex._trust_canceller(True)
    assert duplex.listener.echo.delay_frames == round(CANCELLED_ECHO_DELAY_S / FRAME_S)


def test_the_cancellation_meter_is_not_fooled_by_a_person_talking_over_the_device():
    # live, an answer given over the choices made the energy-averaged meter call a working canceller
    # broken for seconds; the gate then went back to its wide window and missed the next 「はい」
    from voicecheck.listening.echo_cancel import CancellationMeter

    rng = np.random.default_rng(5)
    played = lambda: (0.2 * rng.standard_normal(FRAME_SAMPLES)).astype(np.float32)  # noqa: E731
    meter = CancellationMeter()
    for _ in range(100):  # the device talks; AEC3 takes 40 dB out
        echo = played() * 0.5
        meter.update(echo, echo * 0.01, played())
    assert meter.working
    for _ in range(60):  # the person talks over it: their voice is rightly left in
        person = (0.1 * rng.standard_normal(FRAME_SAMPLES)).astype(np.float32)
        meter.update(played() * 0.5 + person, person, played(), person=True)
    assert meter.working
    for _ in range(30):  # and a second of it not yet recognised as the person: the median holds
        person = (0.1 * rng.standard_normal(FRAME_SAMPLES)).astype(np.float32)
        meter.update(played() * 0.5 + person, person, played())
    assert meter.working
    broken = CancellationMeter()
    for _ in range(100):  # a delay beyond AEC3's reach: nothing taken out
        echo = played() * 0.5
        broken.update(echo, echo * 0.9, played())
    assert broken.reduction_db is not None and not broken.working


class _FakeStream:
    """Records how it was opened; `refuse` makes a block size fail as a sound card would."""

    opened: list[dict] = []
    refuse: set[int] = set()

    def __init__(self, **kwargs) -> None:
        if kwargs["blocksize"] in self.refuse:
            raise _FakePortAudioError(f"blocksize {kwargs['blocksize']} not supported")
        self.kwargs, self.latency = kwargs, (0.04, 0.05)
        _FakeStream.opened.append(kwargs)

    def start(self) -> None:
        pass

    def stop(self) -> None:
        pass

    def close(self) -> None:
        pass


class _FakePortAudioError(Exception):
    pass


@pytest.fixture
def fake_card(monkeypatch):
    import types

    from voicecheck import duplex_stream
    from voicecheck.audio import Device

    module = types.SimpleNamespace(Stream=_FakeStream, PortAudioError=_FakePortAudioError)
    monkeypatch.setattr(duplex_stream, "load_sounddevice", lambda: module)
    monkeypatch.setattr(duplex_stream, "find_device",
                        lambda spec, kind: Device(index=0 if kind == "input" else 1, name=f"fake {kind}",
                                                  input_channels=1, output_channels=1, default_rate=16000.0))
    _FakeStream.opened, _FakeStream.refuse = [], set()
    return _FakeStream


def test_the_stream_uses_short_blocks_for_a_quick_reply_and_still_yields_30_ms_frames(fake_card):
    from voicecheck.duplex_stream import CALLBACK_SAMPLES, SUGGESTED_LATENCY_S, DuplexStream

    stream = DuplexStream()
    with stream:
        opened = fake_card.opened[-1]
        assert opened["blocksize"] == CALLBACK_SAMPLES == 160 and opened["latency"] == SUGGESTED_LATENCY_S
        assert stream.output_latency_s == pytest.approx(0.05)
        voice = np.linspace(-0.5, 0.5, 4 * CALLBACK_SAMPLES, dtype=np.float32)
        stream.playback.add(np.full(2 * CALLBACK_SAMPLES, 0.25, np.float32))
        for start in range(0, len(voice), CALLBACK_SAMPLES):  # four 10 ms callbacks
            out = np.zeros((CALLBACK_SAMPLES, 1), np.float32)
            stream._callback(voice[start:start + CALLBACK_SAMPLES, None], out, CALLBACK_SAMPLES, None, None)
    pairs = list(stream)  # closed: what was captured, then the end
    assert len(pairs) == 1  # 40 ms captured: one whole 30 ms frame
    microphone, played = pairs[0]
    assert len(microphone) == len(played) == FRAME_SAMPLES
    assert np.array_equal(microphone, voice[:FRAME_SAMPLES])
    assert np.all(played[:2 * CALLBACK_SAMPLES] == 0.25) and np.all(played[2 * CALLBACK_SAMPLES:] == 0.0)


def test_a_card_that_refuses_short_blocks_gets_30_ms_blocks(fake_card):
    from voicecheck.duplex_stream import CALLBACK_SAMPLES, DuplexStream

    fake_card.refuse = {CALLBACK_SAMPLES}
    with DuplexStream():
        assert fake_card.opened[-1]["blocksize"] == FRAME_SAMPLES and fake_card.opened[-1]["latency"] == "low"


def test_a_card_that_refuses_both_says_so_plainly(fake_card):
    from voicecheck.audio import AudioDeviceError
    from voicecheck.duplex_stream import CALLBACK_SAMPLES, DuplexStream

    fake_card.refuse = {CALLBACK_SAMPLES, FRAME_SAMPLES}
    with pytest.raises(AudioDeviceError, match="一緒に開けません"):
        with DuplexStream():
            pass


def test_a_stream_that_stops_calling_back_is_opened_again_and_plays_on(fake_card, monkeypatch):
    """PortAudio's ALSA layer may give up on a stream after underruns (seen live on a busy machine):
    its callbacks stop, and the device fell silent and ended the session. The stream is opened again
    and what was queued for the loudspeaker is played on."""
    from voicecheck import duplex_stream
    from voicecheck.duplex_stream import CALLBACK_SAMPLES, DuplexStream

    monkeypatch.setattr(duplex_stream, "RESTART_AFTER_S", 0.05)
    monkeypatch.setattr(duplex_stream, "POLL_S", 0.05)
    card = DuplexStream(stall_s=2.0)

    def callbacks(n: int) -> None:  # the sound card's thread, as the current stream would call it
        for _ in range(n):
            out = np.zeros((CALLBACK_SAMPLES, 1), np.float32)
            card._callback(np.zeros((CALLBACK_SAMPLES, 1), np.float32), out, CALLBACK_SAMPLES, None, None)

    with card:
        done = card.playback.add(np.full(6 * CALLBACK_SAMPLES, 0.25, np.float32))
        callbacks(3)  # 30 ms played and heard, then the stream stops calling back
        frames = iter(card)
        assert len(next(frames)[0]) == FRAME_SAMPLES
        reader = threading.Thread(target=lambda: [_ for _ in frames], daemon=True)
        reader.start()  # finds nothing coming and opens the stream again
        deadline = time.monotonic() + 2.0
        while len(fake_card.opened) < 2 and time.monotonic() < deadline:
            time.sleep(0.01)
        assert len(fake_card.opened) == 2 and card.restarts >= 1
        callbacks(3)  # the new stream plays what was still queued
        assert done.is_set()
    reader.join(timeout=2.0)
    assert not reader.is_alive()


def test_a_card_that_never_calls_back_is_given_up_on_after_stall_s_without_reopening(fake_card, monkeypatch):
    # A new stream may take a while to begin (1.7 s in the virtual room): it is not reopened for that.
    from voicecheck import duplex_stream
    from voicecheck.audio import AudioDeviceError
    from voicecheck.duplex_stream import DuplexStream

    monkeypatch.setattr(duplex_stream, "RESTART_AFTER_S", 0.05)
    monkeypatch.setattr(duplex_stream, "POLL_S", 0.05)
    with DuplexStream(stall_s=0.3) as card:
        with pytest.raises(AudioDeviceError, match="stopped sending sound"):
            next(iter(card))
        assert card.restarts == 0 and len(fake_card.opened) == 1


def test_the_loudspeaker_waits_while_a_stopped_stream_is_opened_again(fake_card, monkeypatch):
    """Seen in CI: the stream stopped in the middle of a short greeting, and the playback gave up
    after the sound's length plus stall_s, before the reopened stream had begun — the session ended.
    Now `play` waits as long as the card may come back, and returns once the new stream has played."""
    from voicecheck import duplex_stream
    from voicecheck.duplex_stream import CALLBACK_SAMPLES, DuplexStream

    monkeypatch.setattr(duplex_stream, "RESTART_AFTER_S", 0.2)
    monkeypatch.setattr(duplex_stream, "POLL_S", 0.02)
    card = DuplexStream(stall_s=0.3)

    def callbacks(n: int) -> None:
        for _ in range(n):
            out = np.zeros((CALLBACK_SAMPLES, 1), np.float32)
            card._callback(np.zeros((CALLBACK_SAMPLES, 1), np.float32), out, CALLBACK_SAMPLES, None, None)

    with card:
        played = threading.Event()
        problems: list[Exception] = []

        def speak() -> None:
            try:
                card.play(np.full(6 * CALLBACK_SAMPLES, 0.25, np.float32), 16000)  # 60 ms
                played.set()
            except Exception as error:  # noqa: BLE001 - the test reports it
                problems.append(error)

        speaker = threading.Thread(target=speak, daemon=True)
        speaker.start()
        time.sleep(0.05)
        callbacks(3)  # 30 ms played, then the stream stops calling back
        started = time.monotonic()
        reader = threading.Thread(target=lambda: [_ for _ in card], daemon=True)
        reader.start()
        while len(fake_card.opened) < 2 and time.monotonic() - started < 2.0:
            time.sleep(0.01)
        assert len(fake_card.opened) == 2
        time.sleep(0.25)  # the new stream takes its time to begin: past the old wait (60 ms + stall_s)
        assert time.monotonic() - started > 0.06 + 0.3 and not problems
        callbacks(4)
        speaker.join(timeout=2.0)
        assert played.is_set() and not problems
    reader.join(timeout=2.0)


def test_the_loudspeaker_gives_up_once_the_card_is_gone_for_good(fake_card, monkeypatch):
    from voicecheck import duplex_stream
    from voicecheck.audio import AudioDeviceError
    from voicecheck.duplex_stream import DuplexStream

    monkeypatch.setattr(duplex_stream, "RESTART_AFTER_S", 0.05)
    monkeypatch.setattr(duplex_stream, "POLL_S", 0.02)
    with DuplexStream(stall_s=0.2) as card:  # a stream that never begins
        started = time.monotonic()
        with pytest.raises(AudioDeviceError, match="stopped playing"):
            card.play(np.full(1600, 0.25, np.float32), 16000)
        assert time.monotonic() - started < 2.0


def test_sound_that_comes_back_after_a_gap_is_a_hiccup_counted_where_it_fell(fake_card, monkeypatch):
    """A gap in the callbacks (a busy machine, a stalled sound server) loses what was said in it, and
    the echo may come back at another delay: voicecheck.duplex asks again and measures the echo anew.
    The reader counts it between the frames it fell between."""
    from voicecheck import duplex_stream
    from voicecheck.duplex_stream import CALLBACK_SAMPLES, DuplexStream

    monkeypatch.setattr(duplex_stream, "HICCUP_S", 0.05)
    card = DuplexStream()

    def callbacks(n: int) -> None:
        for _ in range(n):
            out = np.zeros((CALLBACK_SAMPLES, 1), np.float32)
            card._callback(np.zeros((CALLBACK_SAMPLES, 1), np.float32), out, CALLBACK_SAMPLES, None, None)

    with card:
        callbacks(3)  # one whole 30 ms frame
        time.sleep(0.1)
        callbacks(3)
    frames = iter(card)
    next(frames)
    assert card.hiccups == 0
    next(frames)
    assert card.hiccups == 1
