"""The echo's delay measured from the device's own speech, and the reference held back to it.

Measured in the virtual room: after the sound server stalled, the device's echo came back 0.7–2.7 s
late instead of 90 ms, past the canceller's reach and the gate's window, and the device's own
「「はい」か「いいえ」でお答えください」 was taken as the person's 「はい」 to the emergency question."""
from __future__ import annotations

import numpy as np

from voicecheck.listening.echo_delay import EchoDelay, ReferenceDelay
from voicecheck.listening.frames import FRAME_S, FRAME_SAMPLES, SAMPLE_RATE, frames_of


def talk(seconds: float, seed: int = 1) -> np.ndarray:
    """Speech-like sound: noise in syllables of 120–300 ms with pauses between words."""
    rng = np.random.default_rng(seed)
    out, n = [], int(seconds * SAMPLE_RATE)
    while sum(len(p) for p in out) < n:
        syllable = int(rng.uniform(0.12, 0.3) * SAMPLE_RATE)
        envelope = np.sin(np.linspace(0, np.pi, syllable)) * rng.uniform(0.05, 0.3)
        out.append((rng.standard_normal(syllable) * envelope).astype(np.float32))
        if rng.random() < 0.3:
            out.append(np.zeros(int(rng.uniform(0.1, 0.5) * SAMPLE_RATE), np.float32))
    return np.concatenate(out)[:n]


def delayed(samples: np.ndarray, seconds: float, gain_db: float = -6.0, noise: float = 0.002) -> np.ndarray:
    shift = int(seconds * SAMPLE_RATE)
    out = np.concatenate([np.zeros(shift, np.float32), samples[:len(samples) - shift]]) * 10 ** (gain_db / 20)
    return (out + np.random.default_rng(7).standard_normal(len(out)) * noise).astype(np.float32)


def measure(played: np.ndarray, heard: np.ndarray, person=lambda i: False) -> EchoDelay:
    meter = EchoDelay()
    for i, (p, h) in enumerate(zip(frames_of(played), frames_of(heard))):
        meter.add(h, p, person=person(i))
    return meter


def test_the_echo_delay_is_found_from_the_device_speech():
    voice = talk(14.0)
    for late_s in (0.09, 0.7, 1.0, 2.7):
        meter = measure(voice, delayed(voice, late_s))
        assert meter.frames is not None and abs(meter.frames * FRAME_S - late_s) <= 0.03, (late_s, meter.frames)
        assert meter.correlation >= meter.sure


def test_the_person_talking_is_left_out_of_the_measure():
    voice, person = talk(14.0), talk(14.0, seed=5)
    heard = delayed(voice, 1.0)
    talking = slice(int(10 * SAMPLE_RATE), int(11 * SAMPLE_RATE))
    heard[talking] += person[talking] * 2  # louder than the echo, and nothing like the device
    meter = measure(voice, heard, person=lambda i: 10.0 <= i * FRAME_S < 11.1)
    assert meter.frames is not None and abs(meter.frames * FRAME_S - 1.0) <= 0.03


def test_no_delay_is_claimed_while_the_person_talks_through_most_of_it():
    voice, person = talk(14.0), talk(14.0, seed=5)
    meter = measure(voice, delayed(voice, 1.0) + person, person=lambda i: i * FRAME_S >= 6.0)
    assert meter.frames is None


def test_no_delay_is_claimed_without_the_device_speaking_or_without_its_echo():
    quiet = np.zeros(int(14 * SAMPLE_RATE), np.float32)
    assert measure(quiet, delayed(talk(14.0), 0.5)).frames is None  # the device said nothing
    unrelated = measure(talk(14.0), delayed(talk(14.0, seed=9), 0.5))  # no echo of it at all
    assert unrelated.frames is None


def test_the_reference_is_held_back_by_whole_frames():
    hold = ReferenceDelay(max_frames=10)
    frames = [np.full(FRAME_SAMPLES, i, np.float32) for i in range(1, 8)]
    assert [hold(f)[0] for f in frames[:2]] == [1, 2]  # no hold: as played
    hold.frames = 3
    out = [hold(f)[0] for f in frames[2:]]
    assert out == [0, 1, 2, 3, 4]  # three frames late, silence until there is that much


class _Card:
    """Frame pairs as the one-stream sound card gives them, with its count of hiccups."""

    def __init__(self, heard, played, hiccup_at: int | None = None, watch=None) -> None:
        self.heard, self.played, self.hiccup_at, self.watch = heard, played, hiccup_at, watch
        self.hiccups = 0

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return None

    def __iter__(self):
        for n, (h, p) in enumerate(zip(frames_of(self.heard), frames_of(self.played))):
            if n == self.hiccup_at:
                self.hiccups = 1
            if self.watch is not None:
                self.watch(n)
            yield h, p


def _run(card) -> "DuplexAudio":
    import pytest

    from voicecheck.duplex import DuplexAudio
    from voicecheck.listening.echo_cancel import echo_canceller
    from voicecheck.settings import Settings

    canceller = echo_canceller()
    if canceller is None:
        pytest.skip("pywebrtc-audio is not installed")
    audio = DuplexAudio(Settings(), open_frames=lambda: card, player=lambda s, r: None, canceller=canceller)
    card.audio = audio
    audio.start()
    audio._thread.join(timeout=60)
    return audio


def test_after_a_hiccup_the_gate_is_wary_until_the_delay_is_measured_and_cancelled():
    """The whole chain in DuplexAudio: a sound card whose echo comes 1.0 s late after a hiccup.
    Right after it, the gate allows for an echo as loud as the file anywhere in 3 s; once two
    measures agree, the reference is held back ~0.9 s, the canceller works again, and the gate
    goes back to trusting it."""
    from voicecheck.duplex import CANCELLED_COUPLING_FLOOR_DB
    from voicecheck.listening.echo import WARY_COUPLING_FLOOR_DB

    voice = talk(40.0)
    states = []

    def watch(n: int) -> None:
        if n == 10:
            audio = card.audio
            echo = audio.listener.echo
            states.append((audio.unsure, echo.coupling_floor_db, echo.delay_frames, echo.sustained_frames))

    card = _Card(delayed(voice, 1.0, gain_db=-10.0, noise=0.0005), voice, hiccup_at=5, watch=watch)
    audio = _run(card)
    # wary: the echo as loud as the file anywhere in 3 s, no sustained sound under it taken for the person
    assert states == [(True, WARY_COUPLING_FLOOR_DB, audio.echo_delay.max_frames, 0)]
    assert abs(audio._hold_reference.frames * FRAME_S - 0.91) <= 0.06, audio._hold_reference.frames
    assert not audio.unsure and audio.listener.echo.coupling_floor_db == CANCELLED_COUPLING_FLOOR_DB
    assert audio.listener.echo.sustained_frames > 0 and not audio.listener.echo.wary
    assert audio.cancellation.working
    assert list(audio.listener._sound_lost_at) == [5]


def test_a_healthy_echo_is_left_to_the_canceller():
    voice = talk(30.0)
    audio = _run(_Card(delayed(voice, 0.09, gain_db=-10.0, noise=0.0005), voice))
    assert audio.echo_delay.frames == 3 and audio._hold_reference.frames == 0 and audio.realigned == 0
    assert not audio.unsure and audio.cancellation.working


def test_an_echo_late_from_the_start_is_lined_up_too():
    # A loudspeaker with a long delay of its own (Bluetooth: about 1 s) is past AEC3's reach from
    # the first word; with the reference held back it is cancelled like any other.
    voice = talk(40.0)
    audio = _run(_Card(delayed(voice, 1.0, gain_db=-10.0, noise=0.0005), voice))
    assert abs(audio._hold_reference.frames * FRAME_S - 0.91) <= 0.06 and audio.cancellation.working


def test_a_wary_gate_takes_no_sustained_sound_under_the_device_for_the_person():
    # Live, after a hiccup the uncancelled echo ran on over the residue learnt before the hiccup, the
    # sustained-voice rule lowered the bar to that residue, and 「3番、ほぼ毎日」 in the device's voice
    # was taken as the answer.
    from voicecheck.listening.echo import EchoGate, WARY_COUPLING_FLOOR_DB

    gate = EchoGate(delay_s=0.3, coupling_floor_db=-12.0)
    gate.coupling_db, gate.learnt = -40.0, True  # behind a canceller that worked
    for index in range(40):
        gate.played_frame(index, np.full(FRAME_SAMPLES, 0.2, np.float32))
        gate.learn(index, -20.0, person=True)  # the echo, far over the learnt residue, taken for the person
    assert gate.echo_db(39) < -40  # healthy: taken for a person talking over the device
    gate.be_wary(window_frames=100)
    for index in range(40, 60):
        gate.played_frame(index, np.full(FRAME_SAMPLES, 0.2, np.float32))
        gate.learn(index, -20.0, person=True)
    reference = gate.reference_db(59)
    assert gate.echo_db(59) >= reference + WARY_COUPLING_FLOOR_DB - 1e-9 and gate.delay_frames == 100
    gate.settle()
    assert gate.coupling_floor_db == -12.0 and gate.sustained_frames > 0
