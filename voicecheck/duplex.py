"""Microphone and speaker open together for a whole session: the device listens while it talks.

`DuplexAudio` keeps one microphone stream running in a thread and pushes every frame into a
`LiveListener` (voicecheck.listening.live); whatever the speaker plays goes through `play`, so
the listener knows the device's own voice when it comes back through the microphone. The
turn tone lives here too: a short soft tone when the device starts listening.
"""
from __future__ import annotations

import sys
import threading
from typing import Callable, ContextManager, Iterable

import numpy as np

from voicecheck.audio import AudioDeviceError, play
from voicecheck.listening.echo_cancel import CancellationMeter
from voicecheck.listening.frames import FRAME_S
from voicecheck.listening.live import LiveListener

TONE_HZ = 660.0  # low enough for ears that lost the high tones, clear of the voice's own pitch
TONE_S = 0.18
TONE_DBFS = -20.0  # soft: well under the voice (about -14 dBFS)
TONE_RATE = 16_000
# Behind the echo canceller, the gate still assumes the device's voice may reach the microphone
# only 12 dB under the file's level (voicecheck.listening.echo.EchoGate.coupling_floor_db).
CANCELLED_COUPLING_FLOOR_DB = -12.0
# AEC3 follows delays up to about 0.5 s, plus the room's tail: with a 0.5 s loudspeaker delay a
# 0.5 s window ended just as the echo of the last word arrived, uncancelled (bench/echo_cancel.py).
CANCELLED_ECHO_DELAY_S = 0.8
# An echo measured later than this is brought back to KEEP_ECHO_DELAY_S (a healthy stream's, 90 ms
# in the virtual room) by holding the reference back. AEC3 itself follows delays up to ~0.5 s, and
# does it better than a held reference: with 0.3 here, bench/echo_cancel.py's 500 ms echo was held
# back, and its later ERLE fell from 39 to 12 dB with 2–14 device frames taken as the person.
REALIGN_OVER_S = 0.6
KEEP_ECHO_DELAY_S = 0.09
REALIGN_STEP_S = 0.09  # a smaller change of the measured delay is left to the canceller
NOT_WORKING_MEASURES = 5  # (about 1 s apart) the canceller must have failed for, outside a hiccup
# When AEC3 is seen not to cancel (a loudspeaker delay beyond its reach, ~1 s over Bluetooth), the
# echo and its reverberation arrive late and loud: the gate looks back this much further than
# without a canceller (with a 1 s delay, an echo 6 dB over the file's level started an answer).
NOT_CANCELLING_EXTRA_S = 0.4


def turn_tone(volume: float = 1.0) -> np.ndarray:
    """A short soft tone with gentle edges (no click), 16 kHz."""
    t = np.arange(int(TONE_S * TONE_RATE)) / TONE_RATE
    fade = int(0.04 * TONE_RATE)
    envelope = np.ones_like(t)
    ramp = 0.5 - 0.5 * np.cos(np.linspace(0, np.pi, fade))
    envelope[:fade], envelope[-fade:] = ramp, ramp[::-1]
    amplitude = 10 ** (TONE_DBFS / 20) * np.sqrt(2) * max(0.0, min(1.0, volume))
    return (amplitude * envelope * np.sin(2 * np.pi * TONE_HZ * t)).astype(np.float32)


class DuplexAudio:
    """The session's microphone and speaker, with the listener told about both.

    On a real device the speaker and the microphone run as one sound-card stream
    (voicecheck.duplex_stream) and each microphone frame first goes through the echo canceller
    with what the speaker played in the same callback. Where the devices cannot be opened together
    at 16 kHz, or the canceller cannot be loaded, `start` raises AudioDeviceError: separate streams
    put the echo at a different delay for every piece played, and the level gate alone does not
    hear a person under the device's voice. `open_frames`/`player` replace the devices (tests and
    other frame sources): plain microphone frames, or (microphone, played) pairs.
    """

    def __init__(self, settings, open_frames: Callable[[], ContextManager[Iterable]] | None = None,
                 player: Callable[[np.ndarray, int], None] | None = None,
                 listener: LiveListener | None = None, canceller=None,
                 silence: Callable[[], None] | None = None) -> None:
        self.settings = settings
        self.listener = listener or LiveListener()
        # Set when the person talks over the choices (barge-in): the device stops at once and says
        # nothing more until the turn begins (voicecheck.speech_io.SpeakerMouth, LiveEars).
        self.interrupted = threading.Event()
        self._silence = silence  # stops the loudspeaker now (the one-stream card's silence_now)
        self.canceller = canceller  # voicecheck.listening.echo_cancel.EchoCanceller, or None
        self._card = None  # the one-stream sound card (DuplexStream), once open
        self._open_frames = open_frames
        self._player = player
        self._thread: threading.Thread | None = None
        self._running = False
        self.problem: str | None = None
        self.echo_delay = None  # voicecheck.listening.echo_delay.EchoDelay, with a canceller
        self._hold_reference = None  # … and the ReferenceDelay that lines the reference up with the echo
        self._delay_seen = 0  # measurements of the delay looked at
        self._previous_delay: int | None = None  # the one before (frames)
        self._delay_agreed = False  # two measures in a row have agreed since the last hiccup
        self._not_working_for = 0  # measures in a row taken while the canceller was not working
        self.realigned = 0  # times the reference was held back anew
        self.unsure = False  # since a hiccup: the echo's delay not measured again, or not cancelled yet
        self.hiccups_seen = 0
        self._behind_canceller()
        self._frames_since_played = 10**9  # frames since the speaker last played a sound
        if silence is not None:
            self._allow_barge_in()
        if open_frames is not None and player is None:
            self._player = lambda samples, rate: play(samples, rate, settings.speaker)

    def start(self) -> "DuplexAudio":
        if self._thread is None:
            if self._open_frames is None:
                self._open_devices()
            self._running = True
            self._thread = threading.Thread(target=self._pump, name="microphone", daemon=True)
            self._thread.start()
        return self

    def _open_devices(self) -> None:
        """The one-stream sound card with the echo canceller behind it, or AudioDeviceError (the
        caller then opens the microphone only once the device has asked: voicecheck.speech_io)."""
        from voicecheck.duplex_stream import DuplexStream
        from voicecheck.listening.echo_cancel import echo_canceller

        canceller = self.canceller or echo_canceller()
        if canceller is None:
            raise AudioDeviceError("エコー除去（pywebrtc-audio）を読み込めません")
        card = DuplexStream(self.settings.microphone, self.settings.speaker).__enter__()
        self._card = card
        self._open_frames = lambda: _Opened(card)
        self.listener.source_coming_back = card.coming_back
        if self._player is None:
            self._player = card.play
        if self._silence is None:
            self._silence = card.silence_now
            self._allow_barge_in()
        self.canceller = canceller
        self._behind_canceller()

    def _allow_barge_in(self) -> None:
        """Only where the loudspeaker can be stopped at once (one stream, its queue in our hands)
        and the person can be heard over it (the echo canceller): with separate streams a playback
        call cannot be cut short, and the gate alone does not hear a voice under the device's."""
        if getattr(self.settings, "barge_in", True):
            self.listener.on_barge_in = self.barge_in

    def barge_in(self) -> None:
        """The person talks over the device: stop talking now (called from the microphone thread)."""
        self.interrupted.set()
        if self._silence is not None:
            self._silence()

    def _behind_canceller(self) -> None:
        """With the echo cancelled, the gate is strict while the device sounds (AEC3 lets bursts
        through), and — once the canceller is seen to work — short after: the reference is exact (same
        stream), so the echo can only come within the sound card's latency and the room's
        reverberation, which the canceller follows (it finds delays up to ~0.5 s)."""
        echo = self.listener.echo
        if self.canceller is not None and echo.coupling_floor_db is None:
            from voicecheck.listening.echo_delay import EchoDelay, ReferenceDelay

            echo.coupling_floor_db = CANCELLED_COUPLING_FLOOR_DB
            self.cancellation = CancellationMeter()
            self._gate_delay_s = echo.delay_frames * FRAME_S  # the window without a canceller
            self.echo_delay = EchoDelay()
            self._hold_reference = ReferenceDelay(self.echo_delay.max_frames)

    def _without_echo(self, microphone: np.ndarray, played: np.ndarray) -> np.ndarray:
        """The microphone frame with the device's echo taken out — only where the echo can be: the
        canceller always hears both sides (it keeps learning the room), but outside the echo's
        reach its output is not used, because its suppressor also alters a voice a little, and
        an answer given after the device has stopped should reach the recogniser untouched."""
        if self.canceller is None:
            return microphone
        cleaned = self.canceller.process(microphone, played)
        self.cancellation.update(microphone, cleaned, played, person=self.listener.person_talking)
        self._trust_canceller(self.cancellation.working)
        self._frames_since_played = 0 if np.any(played) else self._frames_since_played + 1
        return cleaned if self._frames_since_played * FRAME_S <= CANCELLED_ECHO_DELAY_S else microphone

    def _trust_canceller(self, working: bool) -> None:
        """A working canceller leaves only a short echo tail: the gate looks back
        CANCELLED_ECHO_DELAY_S. Until it has shown that, or when it stops working (a loudspeaker
        whose delay is beyond its reach), the gate allows for a late echo, as without a canceller.
        After a hiccup, until the echo's delay has been measured again and the canceller works
        on it, the gate allows for the loudest, latest echo (`sound_hiccup`)."""
        echo = self.listener.echo
        if self.unsure:
            if not (working and self._delay_agreed):
                echo.delay_frames = self.echo_delay.max_frames
                return
            self.unsure = False
            echo.settle()
        wanted = round((CANCELLED_ECHO_DELAY_S if working else self._gate_delay_s + NOT_CANCELLING_EXTRA_S) / FRAME_S)
        echo.delay_frames = max(1, wanted)

    def _follow_echo_delay(self, microphone: np.ndarray, played: np.ndarray) -> np.ndarray:
        """Measure where the echo falls (before cancelling: the echo must be in it) and return
        `played` held back to line up with it when it comes later than the canceller reaches."""
        if self.echo_delay is None:
            return played
        self.echo_delay.add(microphone, played, person=self.listener.person_talking)
        if self.echo_delay.measured != self._delay_seen and self.echo_delay.frames is not None:
            self._delay_seen = self.echo_delay.measured
            measured = self.echo_delay.frames
            delay_s = measured * FRAME_S
            hold = round((delay_s - KEEP_ECHO_DELAY_S) / FRAME_S) if delay_s > REALIGN_OVER_S else 0
            # Acted on only when the measure before agrees (a single figure may be one sentence's
            # chance alignment) and the canceller is not working — since a hiccup, or for
            # NOT_WORKING_MEASURES measures in a row: one that works is the proof that the reference
            # lines up, and holding it back wrongly stops it. (A device that says the same words
            # twice lines them up with each other too: on bench/echo_cancel.py's held-out set, a
            # 2.4 s figure at 0.91 came while the canceller had stopped working for a moment, and
            # the reference held back by it let the device's voice start an answer.)
            agreed = self._previous_delay is not None and abs(measured - self._previous_delay) * FRAME_S <= REALIGN_STEP_S
            self._previous_delay = measured
            self._delay_agreed = self._delay_agreed or agreed
            self._not_working_for = 0 if self.cancellation.working else self._not_working_for + 1
            may_realign = self.unsure or self._not_working_for >= NOT_WORKING_MEASURES
            if (agreed and may_realign
                    and abs(hold - self._hold_reference.frames) * FRAME_S >= REALIGN_STEP_S - 1e-9):
                self._hold_reference.frames = max(0, hold)
                self.cancellation = CancellationMeter()  # it must show again that it cancels
                self.realigned += 1
        return self._hold_reference(played)

    def sound_hiccup(self) -> None:
        """The sound card's sound stopped for a while and came back (voicecheck.duplex_stream):
        what was said meanwhile is lost, and the echo may now come at another delay."""
        self.listener.sound_lost()
        if self.echo_delay is None:
            return
        self.unsure = True
        self.echo_delay.forget()
        self._previous_delay, self._delay_agreed = None, False
        self.cancellation = CancellationMeter()
        self.listener.echo.be_wary(self.echo_delay.max_frames)

    def _pump(self) -> None:
        try:
            with self._open_frames() as frames:
                if hasattr(frames, "captured_s"):
                    self.listener.capture_clock = lambda: int(frames.captured_s / FRAME_S)
                for item in frames:
                    if not self._running:
                        break
                    if getattr(frames, "hiccups", 0) != self.hiccups_seen:  # sound stopped and came back
                        self.hiccups_seen = frames.hiccups
                        self.sound_hiccup()
                    if isinstance(item, tuple):  # (microphone, what the speaker played meanwhile)
                        microphone, played = item
                        played = self._follow_echo_delay(microphone, played)
                        self.listener.push(self._without_echo(microphone, played), played=played)
                    else:
                        self.listener.push(item)
        except AudioDeviceError as error:
            self.problem = str(error)
        except Exception as error:  # noqa: BLE001 — the listener must learn that the sound stopped
            self.problem = f"The microphone stopped: {error}"
        finally:
            self.listener.stop(self.problem or "the microphone stream ended")

    def close(self) -> None:
        """Stop listening and wait for the microphone thread to end (the echo canceller is C++ code
        that must not be running while the interpreter shuts down)."""
        self._running = False
        if self._card is not None:
            self._card.__exit__(None, None, None)
            short = getattr(self._card, "overflows", 0)
            if short:  # for the caregiver (and the live bench, which reads the device's log)
                print(f"音の入出力が {short} 回とぎれました（機器が忙しかったとき）。声がとぎれて聞こえたら、"
                      "ほかのアプリを閉じるか、設定 early_answers を false にしてください。", file=sys.stderr)
            if self.hiccups_seen:
                from voicecheck.duplex_stream import HICCUP_S

                print(f"音が {self.hiccups_seen} 回、{HICCUP_S} 秒以上とぎれました。とぎれた間にお答えがあったときは、"
                      "もう一度うかがっています。", file=sys.stderr)
            restarts = getattr(self._card, "restarts", 0)
            if restarts:
                print(f"音の入出力が止まったので、{restarts} 回つなぎ直しました。"
                      "たびたび起きるなら、サウンドカードのつなぎ方を確かめてください。", file=sys.stderr)
        if self._thread is not None and self._thread is not threading.current_thread():
            self._thread.join(timeout=10)

    def play(self, samples: np.ndarray, rate: int) -> None:
        """Play through the speaker. With one stream the listener learns what was played from the
        stream itself; otherwise it is told here (its echo reference, placed by the clock).
        Nothing is played while the person has the floor (`interrupted`)."""
        if self.interrupted.is_set():
            return
        if self._card is not None:
            self._player(samples, rate)
            return
        self.listener.device_plays(samples, rate)
        try:
            self._player(samples, rate)
        finally:
            self.listener.device_played()

    def play_tone(self) -> None:
        self.play(turn_tone(self.settings.volume), TONE_RATE)


class _Opened:
    """An already open sound card used with `with` by the pump thread (it is closed by `close`)."""

    def __init__(self, card) -> None:
        self.card = card

    def __enter__(self):
        return self.card

    def __exit__(self, *exc) -> None:
        return None
