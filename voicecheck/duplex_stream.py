"""The loudspeaker and the microphone as one sound-card stream, for listening while talking.

Why one stream: when each piece of speech was played by its own playback call while a separate
microphone stream ran, the device's voice came back through the microphone 60–389 ms after it
was handed over — a different delay for every piece (measured in the virtual room) — so nothing
could line its echo up with what had been played. In one PortAudio stream, every microphone
block arrives in the same callback as the block the loudspeaker is given: the echo's delay is
the sound card's own latency, the same all session (about 80 ms in the virtual room), which an
echo canceller follows easily.

`DuplexStream` yields (microphone frame, played frame) pairs of 30 ms at 16 kHz; `play` queues
sound and returns once it has been played; `silence_now` drops what is still queued.

Why 10 ms callbacks and a 40 ms latency rather than one 30 ms frame per callback: the sound card
keeps a few blocks in each direction, so its latency grows with the block. Measured in the
virtual room (PulseAudio through ALSA), a click played by the stream came back in 167 ms with
30 ms blocks ("low" latency: 60 ms in, 90 ms out) and in 97 ms with 10 ms blocks at 40 ms
(40 in, 50 out). Every reply comes that much sooner after the person stops. Smaller still
(10 ms blocks, "low": 20/30 ms) drifted as the buffer ran short; 40 ms keeps a margin for a busy
machine (the recogniser decodes on the other core meanwhile).
"""
from __future__ import annotations

import queue
import threading
import time
from collections import deque
from typing import Iterator

import numpy as np

from voicecheck.audio import AudioDeviceError, find_device, load_sounddevice, resample
from voicecheck.listening.frames import FRAME_SAMPLES, SAMPLE_RATE


class PlaybackQueue:
    """Sound waiting for the loudspeaker, handed out block by block from the sound card's thread."""

    def __init__(self) -> None:
        self._pieces: deque[tuple[np.ndarray, threading.Event]] = deque()
        self._offset = 0  # samples of the first piece already handed out
        self._lock = threading.Lock()

    def add(self, samples: np.ndarray) -> threading.Event:
        """Queue 16 kHz samples; the event is set once the last of them has been handed out."""
        done = threading.Event()
        samples = np.clip(np.asarray(samples, dtype=np.float32), -1.0, 1.0)
        with self._lock:
            if samples.size:
                self._pieces.append((samples, done))
            else:
                done.set()
        return done

    def fill(self, block: np.ndarray) -> None:
        """Write the next samples into `block` (silence where nothing is queued)."""
        block[:] = 0.0
        filled = 0
        with self._lock:
            while filled < len(block) and self._pieces:
                samples, done = self._pieces[0]
                take = min(len(block) - filled, len(samples) - self._offset)
                block[filled:filled + take] = samples[self._offset:self._offset + take]
                filled += take
                self._offset += take
                if self._offset >= len(samples):
                    self._pieces.popleft()
                    self._offset = 0
                    done.set()

    def clear(self) -> None:
        """Drop everything still queued; whoever waits for it is released."""
        with self._lock:
            self._drop_all()

    def _drop_all(self) -> None:  # with the lock held
        for _, done in self._pieces:
            done.set()
        self._pieces.clear()
        self._offset = 0

    def fade_out(self, seconds: float = 0.04) -> None:
        """Stop soon and softly: the next `seconds` of sound fade to nothing (a cut in the middle
        of a word clicks), the rest is dropped; whoever waits for it is released."""
        with self._lock:
            if not self._pieces:
                return
            samples, _ = self._pieces[0]
            tail = samples[self._offset:self._offset + max(1, int(seconds * SAMPLE_RATE))].copy()
            tail *= np.linspace(1.0, 0.0, len(tail), dtype=np.float32)
            self._drop_all()
            self._pieces.append((tail, threading.Event()))

    @property
    def busy(self) -> bool:
        with self._lock:
            return bool(self._pieces)


CALLBACK_SAMPLES = SAMPLE_RATE // 100  # 10 ms per sound-card callback (see the module doc)
SUGGESTED_LATENCY_S = 0.04
# A stream that calls back every 10 ms and has given nothing for this long has stopped: PortAudio's
# ALSA layer may give up on a stream after underruns (「ContinuePoll … failed」, seen once in a live
# session on the busy 2-core machine: the device fell silent and ended the session). It is opened
# again. Shorter gaps are left alone: the stream comes back by itself after a 1–3 s freeze of the
# sound server (measured in the virtual room), while a new stream there gives its first block only
# 1.7 s after it starts — so only a stream that has begun to call back counts as stopped.
RESTART_AFTER_S = 2.5
# A callback this late (nothing for this long, then sound again) is a hiccup: the sound in between
# is lost, and the sound server may have come back with its echo at another delay (measured in the
# virtual room: a 2 s freeze of the server moved the echo from 90 ms to 0.7 s). With 10 ms blocks
# and a 40 ms latency, a gap this long cannot be bridged by the sound card's buffers.
HICCUP_S = 0.5
MAX_RESTARTS = 10  # per session; then a silent card is given up on after `stall_s`
POLL_S = 0.25
_HICCUP = object()  # in the captured queue: sound went missing here


class DuplexStream:
    """One 16 kHz mono PortAudio stream for the speaker and the microphone; open with `with`.

    Both devices must accept 16 kHz in one stream (PulseAudio and PipeWire always do); when they
    do not, opening raises AudioDeviceError and the caller keeps separate streams.
    """

    def __init__(self, microphone: str | int | None = None, speaker: str | int | None = None,
                 stall_s: float = 5.0) -> None:
        self.microphone = find_device(microphone, "input")
        self.speaker = find_device(speaker, "output")
        self.stall_s = stall_s
        self.playback = PlaybackQueue()
        self._captured: queue.Queue[tuple[np.ndarray, np.ndarray] | None] = queue.Queue()
        self._stream = None
        self.captured_samples = 0
        self.output_latency_s = 0.0
        self.overflows = 0
        self.restarts = 0  # times the stream stopped and was opened again
        # Times the sound came back after HICCUP_S or more without it (reopenings too), counted by
        # the reader as it reaches the place: the frames it yields next come after the gap.
        self.hiccups = 0
        self._blocks = 0  # blocks the current stream has given (0: not begun yet)
        # When the card last showed it works: a block, or a reopening begun or done. `play` waits
        # as long as the reader may still bring the card back (see `stopped_for_good`).
        self._alive_at = time.monotonic()
        self._last_block_at: float | None = None  # the last callback, of whichever stream
        self._gave_up = threading.Event()  # the reader found the card gone for good
        self._lock = threading.Lock()  # the stream is reopened by the reader while another thread may close it
        self._closed = True  # not opened yet, or closed

    def _callback(self, indata, outdata, frames, time_info, status) -> None:  # PortAudio's thread
        if status and (status.input_overflow or status.output_underflow):
            self.overflows += 1
        played = np.empty(frames, dtype=np.float32)
        self.playback.fill(played)
        outdata[:, 0] = played
        self.captured_samples += frames
        now = time.monotonic()
        if self._last_block_at is not None and now - self._last_block_at > HICCUP_S:
            self._captured.put(_HICCUP)  # in order: the reader counts it between the frames it fell between
        self._blocks += 1
        self._alive_at = self._last_block_at = now
        self._captured.put((indata[:, 0].copy(), played))

    @property
    def captured_s(self) -> float:
        """Seconds of sound the microphone has delivered so far, read or not (the capture clock)."""
        return self.captured_samples / SAMPLE_RATE

    def __enter__(self) -> "DuplexStream":
        self._blocks = 0
        self._gave_up.clear()
        self._stream = self._open()
        self._alive_at = time.monotonic()
        self._closed = False
        self.output_latency_s = float(self._stream.latency[1])
        return self

    def _open(self):
        """A started PortAudio stream for both devices, or AudioDeviceError."""
        sd = load_sounddevice()
        stream, failure = None, None
        # A sound card that refuses short blocks still gets the one stream, with 30 ms blocks.
        for blocksize, latency in ((CALLBACK_SAMPLES, SUGGESTED_LATENCY_S), (FRAME_SAMPLES, "low")):
            try:
                stream = sd.Stream(samplerate=SAMPLE_RATE, channels=1, dtype="float32", blocksize=blocksize,
                                   device=(self.microphone.index, self.speaker.index), latency=latency,
                                   callback=self._callback)
            except sd.PortAudioError as error:
                failure = error
                continue
            try:
                stream.start()
                break
            except sd.PortAudioError as error:
                stream.close()
                stream, failure = None, error
        if stream is None:
            raise AudioDeviceError(
                f"マイク「{self.microphone.name}」とスピーカー「{self.speaker.name}」を 16 kHz で"
                f"一緒に開けません: {failure}")
        return stream

    def _restart(self) -> bool:
        """Open the stream again after it stopped calling back; False when it is closed or cannot
        be opened. What is queued for the loudspeaker stays queued: the new stream plays it on."""
        with self._lock:
            if self._closed or self.restarts >= MAX_RESTARTS:
                return False
            self._alive_at = time.monotonic()  # closing a stream the sound server holds up may take a while
            if self._stream is not None:
                _close_quietly(self._stream)
                self._stream = None
            self.restarts += 1
            self._blocks = 0
            try:
                self._stream = self._open()
            except AudioDeviceError:
                return False
            self._alive_at = time.monotonic()  # the new stream gets its own time to begin
            return True

    def __exit__(self, *exc) -> None:
        self.playback.clear()
        with self._lock:
            self._closed = True
            if self._stream is not None:
                _close_quietly(self._stream)
                self._stream = None
        self._captured.put(None)  # whoever reads the frames stops now, not after stall_s

    def __iter__(self) -> Iterator[tuple[np.ndarray, np.ndarray]]:
        """(microphone, played) frame pairs; AudioDeviceError when the sound stops coming."""
        microphone = played = np.zeros(0, dtype=np.float32)
        silent_s = 0.0  # how long nothing has come from the current stream
        while True:
            try:
                item = self._captured.get(timeout=POLL_S)
            except queue.Empty:
                silent_s += POLL_S
                if self._blocks and silent_s >= RESTART_AFTER_S and self._restart():
                    silent_s = 0.0  # the new stream gets its own stall_s to begin
                elif silent_s >= self.stall_s:
                    self._gave_up.set()
                    raise AudioDeviceError(
                        f"The microphone '{self.microphone.name}' stopped sending sound for {self.stall_s:.0f} seconds."
                    ) from None
                continue
            silent_s = 0.0
            if item is None:  # closed
                return
            if item is _HICCUP:
                self.hiccups += 1
                continue
            heard, given = item
            microphone, played = np.concatenate([microphone, heard]), np.concatenate([played, given])
            while len(microphone) >= FRAME_SAMPLES:
                yield microphone[:FRAME_SAMPLES], played[:FRAME_SAMPLES]
                microphone, played = microphone[FRAME_SAMPLES:], played[FRAME_SAMPLES:]

    def play(self, samples: np.ndarray, rate: int) -> None:
        """Play mono samples; return once they have been heard (or dropped by `silence_now`)."""
        if self._closed:  # (between a stream that stopped and its successor, the sound waits queued)
            raise AudioDeviceError(f"The speaker '{self.speaker.name}' is not open.")
        samples = np.asarray(samples, dtype=np.float32)
        if rate != SAMPLE_RATE:
            samples = resample(samples, rate, SAMPLE_RATE)
        done = self.playback.add(samples)
        while not done.wait(timeout=POLL_S):
            if self.stopped_for_good():
                self.playback.clear()
                raise AudioDeviceError(f"The speaker '{self.speaker.name}' stopped playing.")
        time.sleep(self.output_latency_s)  # the last block is still in the sound card's buffer

    def stopped_for_good(self) -> bool:
        """Whether the card will give no more sound. Not while the reader may still open the stream
        again: a stream stopped by a busy machine (PortAudio's 「ContinuePoll … failed」) comes back in
        RESTART_AFTER_S plus the new stream's start (1.7 s in the virtual room, more when busy).
        Waiting only the sound's length plus `stall_s` ended a CI session while the card was coming
        back: in the virtual room with its sound server frozen 6 s, that wait gave up and the card
        played on 3.7 s later."""
        if self._gave_up.is_set() or self._closed:
            return True
        return time.monotonic() - self._alive_at > RESTART_AFTER_S + self.stall_s

    def coming_back(self) -> bool:
        """The card itself has gone quiet (no callback for a while) and may yet be opened again —
        as opposed to a card that plays on while its frames are not being read."""
        return time.monotonic() - self._alive_at > POLL_S and not self.stopped_for_good()

    def silence_now(self) -> None:
        """Stop talking at once (a 40 ms fade): what is still queued is dropped."""
        self.playback.fade_out()


def _close_quietly(stream) -> None:
    """Stop and close a stream that may already have failed (its errors say nothing new then)."""
    for step in (stream.stop, stream.close):
        try:
            step()
        except Exception:  # noqa: BLE001 - a stream that stopped by itself may refuse to be stopped
            pass
