"""Where the device's echo falls against what it played, measured from its own speech.

With one sound-card stream (voicecheck.duplex_stream) the echo comes back a fixed time after the
sound is played — about 90 ms in the virtual room — and the echo canceller and the level gate are
built on that. A hiccup of the sound server moves it: measured in the virtual room, a 2 s freeze
of the server left the echo 0.70 s late, a 6 s one 2.7 s and then 1.0 s late, shrinking by about
10 ms a second (the server's own buffers draining). That is beyond what AEC3 finds (about 0.5 s)
and beyond the gate's window, and the device's own 「はい」か「いいえ」でお答えください was taken as
the person's 「はい」 — to the emergency question.

`EchoDelay` finds the delay by comparing the loudness of what was played with the loudness of
what the microphone heard, frame by frame, at every delay up to `max_delay_s`: speech rises and
falls syllable by syllable, so its echo's rise and fall lines up at one delay only. Frames where
the person talks are left out. `ReferenceDelay` then holds the played sound back by the extra
delay, so the canceller and the gate see it where its echo really is.
"""
from __future__ import annotations

from collections import deque

import numpy as np

from voicecheck.listening.frames import FRAME_S, level_db

FLOOR_DB = -70.0  # levels below this are the same silence (a digital zero would weigh too much)


class EchoDelay:
    """The echo's delay in frames, from the device's own speech (None until it has been measured)."""

    def __init__(self, max_delay_s: float = 3.0, window_s: float = 6.0, every_s: float = 1.0,
                 loud_db: float = -45.0, sounding_s: float = 2.0, sure: float = 0.8,
                 heard_share: float = 0.75) -> None:
        self.max_frames = round(max_delay_s / FRAME_S)
        self.window = round(window_s / FRAME_S)
        self.every = max(1, round(every_s / FRAME_S))
        self.loud_db = loud_db
        self.sounding = round(sounding_s / FRAME_S)  # the device must have sounded this much in the window
        self.heard_share = heard_share  # … and this share of the window must be free of the person
        # The correlation a delay needs to be believed: the device's own echo in the virtual room
        # gave 0.97–0.99 when healthy and 0.92–0.98 once a hiccup had moved it; just after the
        # hiccup, while the server's buffers were still settling, 0.5–0.7 at delays 1 s off.
        self.sure = sure
        self._played: deque[float] = deque(maxlen=self.window + self.max_frames)
        self._heard: deque[float] = deque(maxlen=self.window + self.max_frames)
        self._since = 0
        self.frames: int | None = None  # the last delay measured
        self.measured = 0  # how many times it has been measured (a new figure: a larger number)
        self.correlation = 0.0

    def add(self, microphone: np.ndarray, played: np.ndarray, person: bool = False) -> None:
        """One frame pair from the sound card: what the microphone heard (before any echo
        cancelling) and what the loudspeaker was given in the same callback."""
        self._played.append(max(level_db(played), FLOOR_DB))
        self._heard.append(np.nan if person else max(level_db(microphone), FLOOR_DB))
        self._since += 1
        if self._since >= self.every:
            self._since = 0
            self._measure()

    def forget(self) -> None:
        """The delay may have moved (a hiccup of the sound card): measure it afresh."""
        self.frames = None
        self._since = 0

    def _measure(self) -> None:
        played = np.fromiter(self._played, float)
        heard = np.fromiter(self._heard, float)
        if len(played) < self.window + self.max_frames:
            return
        recent = heard[-self.window:]
        valid = ~np.isnan(recent)
        # (All the played frames kept can have reached the microphone within the window.)
        if np.sum(played > self.loud_db) < self.sounding:
            return  # the device has hardly spoken: nothing to line up
        # Row d: the played levels `d` frames before each heard one in the window.
        rows = np.lib.stride_tricks.sliding_window_view(played, self.window)[::-1][:, valid]
        heard_now = recent[valid]
        if heard_now.size < self.heard_share * self.window:
            return  # the person talked through much of it: too little of the echo alone to go by
        x = rows - rows.mean(axis=1, keepdims=True)
        y = heard_now - heard_now.mean()
        spread = np.linalg.norm(x, axis=1) * np.linalg.norm(y)
        with np.errstate(invalid="ignore", divide="ignore"):
            r = np.where(spread > 1e-9, (x @ y) / np.maximum(spread, 1e-12), -1.0)
        delay = int(np.argmax(r))
        # Believed only where the device spoke for `sounding_s` within the frames lined up: a short
        # sound (the turn tone, a 「はい」) lines up with any loud stretch of the room, and on the
        # held-out echo bench such figures reached 0.85–1.0 at delays 2 s off.
        spoke = int(np.sum(rows[delay] > self.loud_db))
        best, best_r = (delay, float(r[delay])) if r[delay] > self.sure and spoke >= self.sounding else (None, self.sure)
        if best is not None:
            self.frames, self.correlation = best, best_r
            self.measured += 1


class ReferenceDelay:
    """The played sound held back by `frames` frames (zeros until there is that much)."""

    def __init__(self, max_frames: int) -> None:
        self._kept: deque[np.ndarray] = deque(maxlen=max_frames + 1)
        self.frames = 0

    def __call__(self, played: np.ndarray) -> np.ndarray:
        self._kept.append(played)
        if self.frames == 0:
            return played
        if len(self._kept) <= self.frames:
            return np.zeros_like(played)
        return self._kept[-1 - self.frames]
