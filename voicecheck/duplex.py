"""Microphone and speaker open together for a whole session: the device listens while it talks.

`DuplexAudio` keeps one microphone stream running in a thread and pushes every frame into a
`LiveListener` (voicecheck.listening.live); whatever the speaker plays goes through `play`, so
the listener knows the device's own voice when it comes back through the microphone. The
turn tone lives here too: a short soft tone when the device starts listening.
"""
from __future__ import annotations

import threading
from typing import Callable, ContextManager, Iterable

import numpy as np

from voicecheck.audio import AudioDeviceError, MicrophoneStream, play
from voicecheck.listening.frames import FRAME_S
from voicecheck.listening.live import LiveListener

TONE_HZ = 660.0  # low enough for ears that lost the high tones, clear of the voice's own pitch
TONE_S = 0.18
TONE_DBFS = -20.0  # soft: well under the voice (about -14 dBFS)
TONE_RATE = 16_000


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
    def __init__(self, settings, open_frames: Callable[[], ContextManager[Iterable[np.ndarray]]] | None = None,
                 player: Callable[[np.ndarray, int], None] | None = None,
                 listener: LiveListener | None = None) -> None:
        self.settings = settings
        self.listener = listener or LiveListener()
        self._open_frames = open_frames or (lambda: MicrophoneStream(settings.microphone))
        self._player = player or (lambda samples, rate: play(samples, rate, settings.speaker))
        self._thread: threading.Thread | None = None
        self._running = False
        self.problem: str | None = None

    def start(self) -> "DuplexAudio":
        if self._thread is None:
            self._running = True
            self._thread = threading.Thread(target=self._pump, name="microphone", daemon=True)
            self._thread.start()
        return self

    def _pump(self) -> None:
        try:
            with self._open_frames() as frames:
                if hasattr(frames, "captured_s"):
                    self.listener.capture_clock = lambda: int(frames.captured_s / FRAME_S)
                for frame in frames:
                    if not self._running:
                        break
                    self.listener.push(frame)
        except AudioDeviceError as error:
            self.problem = str(error)
        except Exception as error:  # noqa: BLE001 — the listener must learn that the sound stopped
            self.problem = f"The microphone stopped: {error}"
        finally:
            self.listener.stop(self.problem or "the microphone stream ended")

    def close(self) -> None:
        self._running = False

    def play(self, samples: np.ndarray, rate: int) -> None:
        """Play through the speaker; the listener is told first (its echo reference)."""
        self.listener.device_plays(samples, rate)
        try:
            self._player(samples, rate)
        finally:
            self.listener.device_played()

    def play_tone(self) -> None:
        self.play(turn_tone(self.settings.volume), TONE_RATE)
