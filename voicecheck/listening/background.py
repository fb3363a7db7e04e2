"""How loud the steady background is: the TV, a fan, the street.

At the device the person answering is louder than the TV across the room, so a frame is only
the person's voice when it stands clearly above the background. The background is a low
percentile of the frame levels of the last few seconds: speech always has gaps between
words, and those gaps show the background even while someone talks; a low percentile of a
long window is hardly moved by the talk itself.

While an answer is going on (`hold()`), the estimate stays as it was and the answer's frames are
not added to the window, so a long answer can raise the bar neither above its own quieter
syllables nor, once it is over, above the next answer. Before enough sound has
been heard to know the background (`level_db` is None), only the absolute floor applies —
an answer that begins at once is never lost for want of a background.

It also keeps how often the voice detector heard a voice in the background (`voice_share`):
nearly always under a TV's talk, nearly never with a fan, pink noise or instrumental music. Where
the background has no voice in it, the detector's own verdict can be trusted closer to it
(voicecheck.listening.detector).
"""
from __future__ import annotations

from collections import deque

import numpy as np

from voicecheck.listening.frames import FRAME_S

# Below this a frame holds no sound at all: digital silence, never a room's quiet (a microphone's
# own hiss lies far above). It comes from sources, not rooms: a satellite that gates its microphone,
# the missing audio RoomEars fills in, a recording's silent lead-in, a virtual sound card's idle sink.
NO_SIGNAL_DBFS = -90.0


class BackgroundLevel:
    def __init__(self, window_s: float = 4.0, percentile: float = 20.0, known_after_s: float = 0.45) -> None:
        self.percentile = percentile
        self._levels: deque[float] = deque(maxlen=max(2, round(window_s / FRAME_S)))
        self._voiced: deque[bool] = deque(maxlen=self._levels.maxlen)
        self._known_after = max(1, round(known_after_s / FRAME_S))
        self._held = False
        self._value: float | None = None
        self._spread: float = 0.0
        self._voice_share: float | None = None

    @property
    def level_db(self) -> float | None:
        return self._value

    @property
    def spread_db(self) -> float:
        """How much the background itself goes up and down (median minus 10th percentile, dB).

        Crowd babble swings by 5 dB or more from syllable to syllable, fan noise by 2: a voice
        must clear the background by more where the background itself jumps about."""
        return self._spread

    @property
    def voice_share(self) -> float | None:
        """The share of the window's frames in which the voice detector heard a voice (None: not
        known — the background is not known yet, or no verdicts were given)."""
        return self._voice_share

    def hold(self, held: bool) -> None:
        """An answer is going on (True) or over (False)."""
        self._held = held

    def update(self, frame_level_db: float, voiced: bool | None = None) -> float | None:
        """Learn one frame's level (and, when given, whether the voice detector heard a voice in it)."""
        if self._held and self._value is not None:
            # The answer's own frames are not the background: kept in the window, they made its
            # median the voice once the answer filled half of it, and the spread computed when the
            # answer ended set the bar above the next answer (live: a 「はい」 right after an answer
            # given over the device was never heard). The estimate stays as it was until the end.
            return self._value
        self._levels.append(frame_level_db)
        if voiced is not None:
            self._voiced.append(bool(voiced))
        if len(self._levels) < self._known_after:
            return self._value
        if self._held and self._value is None:
            # An answer began before the background was known: its own frames would set the bar
            # at the level of the voice and cut the answer. The background waits for its end.
            return None
        levels = np.fromiter(self._levels, float, len(self._levels))
        low, estimate, mid = np.percentile(levels, (10.0, self.percentile, 50.0))
        # Stretches of digital silence among the room's sound are no part of its swing: with them
        # the spread was the gap between silence and hiss (up to 26 dB instead of 1, satellite test
        # rooms), the bar a voice must clear rose with it, and the first syllables of 「もう終わりに
        # します」 were not heard as the person. The level itself still counts them: where silence
        # is most of what a source gives (a recording's gaps, an idle virtual sink), the few frames
        # with sound in it may be the voice's own first frames, and must not become the room.
        sounding = levels[levels > NO_SIGNAL_DBFS]
        if self._known_after <= len(sounding) < len(levels):  # else one percentile call, as per frame before
            low, mid = np.percentile(sounding, (10.0, 50.0))
        self._spread = float(mid - low)
        self._value = float(estimate)
        # Known only once as many frames came with a verdict as the levels' window holds.
        self._voice_share = (sum(self._voiced) / len(self._voiced)
                             if self._voiced and len(self._voiced) >= len(self._levels) else None)
        return self._value

    def reset(self) -> None:
        self._levels.clear()
        self._voiced.clear()
        self._value = None
        self._voice_share = None
        self._spread = 0.0
