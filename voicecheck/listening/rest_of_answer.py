"""The person went on: the rest of an answer that the device replied to after its first part.

A clear first part (「いいえ」) ends the turn after a 0.8 s pause (voicecheck.listening.early_end)
so the device replies quickly. Some people pause there and go on: 「いいえ……あ、でも階段を
下りるときはあります」. Judged on the first part alone, that answer would be wrong — and the worst
outcome, because it silently changes the advice. So after such an early end the device listens
on while it acknowledges; speech that begins before the pause has lasted `end_silence_s` (what
would have been one answer without the early end) is heard out, and the whole answer — first
part, pause and rest — is judged again (voicecheck.conversation asks for it after saying 「『いいえ』
ですね」, before the next question).

While the device talks, what the microphone hears of the person is partly taken out with the
device's echo (the echo canceller's double-talk suppression, the gate behind it) — under a TV, the
rest of an answer said over the acknowledgement may be heard only once the device stops. So speech
already going on when the device stops (`GOING_ON_WHEN_DEVICE_STOPS_S` after its last sound) counts
as the rest too, and the whole stretch since the first part ended is kept for the recogniser.

An answer that ended after the full `end_silence_s` can have a rest too: the pause was measured
longer than it was. An older voice's quiet last syllable and a soft first one after the pause stand
only a few dB over a TV and pass for silence, so a 1.0–1.1 s pause reached 1.3 s and the answer was
cut in it — on the bench voices' dev part, with the microphone alone, 21 two-part answers with
babble, 11 with music and 10 with pink noise at 10 dB, and in every one the voice came back
between 0.3 s before and 0.22 s after the end was decided. Speech that begins within
`REST_BEGUN_WITHIN_S` of the end is therefore the rest of the same answer: no one hears the device's
reply and answers it that fast.

`hear_rest` works on any stream of judged frames: the live listener's buffer, or the bench's
recordings.
"""
from __future__ import annotations

from dataclasses import replace
from typing import Callable, Iterable

import numpy as np

from voicecheck.listening.endpointer import EndpointConfig, Endpointer, Utterance
from voicecheck.listening.frames import FRAME_S


# Speech heard this soon after the device's last sound was already going on under it (a reply to
# what the device said would come later: hearing it out and reacting takes longer).
GOING_ON_WHEN_DEVICE_STOPS_S = 0.4
# Speech that begins this soon after the end of an answer was decided is the same answer going on
# (see the module doc): the voice was already coming back, or was back but not yet heard as a voice.
REST_BEGUN_WITHIN_S = 0.4


def still_one_answer_until_s(first: Utterance, config: EndpointConfig) -> float:
    """Stream time until which new speech still belongs to `first`: its last speech plus the
    silence that would have ended it without an early end, and at least `REST_BEGUN_WITHIN_S`
    after its end was decided."""
    needed = config.end_silence_after_short_s if first.speech_s < config.short_speech_s else config.end_silence_s
    return max(first.last_speech_at_s + needed, first.ended_at_s + REST_BEGUN_WITHIN_S)


def hear_rest(frames: Iterable[tuple[np.ndarray, bool]], first: Utterance, config: EndpointConfig, detector,
              after_frame: Callable[[Endpointer], None] | None = None,
              device_until_s: float | None = None) -> Utterance | None:
    """The whole answer when the person went on after `first` ended, else None.

    `frames`: (frame, is speech) from where `first` ended on. `device_until_s`: where the device's
    reply to the first part stopped sounding (stream time), if it did; it counts only after an
    early end (after the full pause, speech going on under the reply began after the rest could).
    The returned utterance holds the first part, the pause and the rest as one answer;
    `after_frame` sees its endpointer (hearings in its pauses hear the whole answer)."""
    if not first.ended_in_a_pause:
        return None
    until = still_one_answer_until_s(first, config)
    if device_until_s is not None and first.ended_early:
        until = max(until, device_until_s + GOING_ON_WHEN_DEVICE_STOPS_S)
    # A start is confirmed a little after the speech's onset: wait that long past `until`.
    waiting = max(FRAME_S, until - first.ended_at_s + config.start_window_s)
    endpointer = Endpointer(replace(config, no_answer_timeout_s=waiting), detector, start_at_s=first.ended_at_s)
    endpointer.kept = [first.samples] if len(first.samples) else []
    heard_since: list[np.ndarray] = []  # every frame since the first part ended
    for frame, voiced in frames:
        heard_since.append(frame)
        was_waiting = endpointer.state == Endpointer.WAITING
        endpointer.feed(frame, voiced)
        if endpointer.state == Endpointer.SPEAKING and endpointer.origin_s + endpointer.onset_s >= until:
            return None  # something new, not the rest of the answer (the next turn hears it)
        if was_waiting and endpointer.state == Endpointer.SPEAKING:
            # The whole stretch, not only the pre-roll: the rest's first words may have been
            # said under the device's voice, softened but still there for the recogniser.
            endpointer.kept = [first.samples, *heard_since] if len(first.samples) else list(heard_since)
        if after_frame is not None:
            after_frame(endpointer)
        if endpointer.done:
            break
    rest = endpointer.finish()
    if rest.timed_out or rest.onset_s >= until:
        return None
    return replace(rest, speech_s=round(first.speech_s + rest.speech_s, 3), started_at_s=first.started_at_s,
                   onset_s=first.onset_s, waited_s=first.waited_s)

