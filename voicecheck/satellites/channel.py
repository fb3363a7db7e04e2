"""The bridge between a room's network side (asyncio) and its conversation (a plain thread).

The conversation core is synchronous: it calls `Ears.listen` and `Mouth.say` and waits. The
`wyoming` side is asyncio. A `RoomChannel` sits between them: the event loop pushes microphone
frames and `played` notices into it, and the room's session thread takes frames out and has
events sent through the current connection with `call`. Everything in it is guarded by one
condition variable, and every wait has a timeout, so a dropped satellite or a server shutting
down reaches a waiting session thread at once, as `RoomOffline` or `ServerStopping`.

Microphone audio is kept only while a session runs and the device is not speaking (the room's
own voice must not be heard as an answer), and never more than `buffer_s` of it: memory stays
bounded however long a satellite streams.
"""
from __future__ import annotations

import asyncio
import concurrent.futures
import threading
import time
from collections import deque
from collections.abc import Awaitable, Callable
from typing import Any

import numpy as np

from voicecheck.audio import FRAME_MS

FRAME_S = FRAME_MS / 1000.0


class RoomOffline(Exception):
    """The satellite is not connected, or its connection changed, while a session was using it."""


class ServerStopping(Exception):
    """`serve` is shutting down; the session stops where it is (its answers are saved)."""


class RoomChannel:
    def __init__(self, name: str, loop: asyncio.AbstractEventLoop, buffer_s: float = 10.0,
                 echo_tail_s: float = 0.3) -> None:
        self.name = name
        self.loop = loop
        self.echo_tail_s = echo_tail_s
        self._cond = threading.Condition()
        self._frames: deque[np.ndarray] = deque(maxlen=max(1, int(buffer_s / FRAME_S)))
        self._connection: Any = None  # the current SatelliteConnection
        self._generation = 0  # changes with every connect and disconnect
        self._stopping = False
        self._session_active = False
        self._speaking = False
        self._muted_until = 0.0
        self._played = 0
        self.sends_played = False  # the satellite has said `played` at least once
        self.last_audio_at: float | None = None
        self.dropped_frames = 0

    # ------------------------------------------------------------------ event-loop side

    def attach(self, connection: Any) -> None:
        with self._cond:
            self._connection = connection
            self._generation += 1
            self._frames.clear()
            self.last_audio_at = None
            self._cond.notify_all()

    def detach(self) -> None:
        with self._cond:
            self._connection = None
            self._generation += 1
            self._frames.clear()
            self._speaking = False
            self._cond.notify_all()

    def push_frames(self, frames: list[np.ndarray]) -> None:
        now = time.monotonic()
        with self._cond:
            self.last_audio_at = now
            if not self._session_active or self._speaking or now < self._muted_until:
                return
            if len(self._frames) + len(frames) > (self._frames.maxlen or 0):
                self.dropped_frames += len(self._frames) + len(frames) - (self._frames.maxlen or 0)
            self._frames.extend(frames)
            self._cond.notify_all()

    def note_played(self) -> None:
        with self._cond:
            self._played += 1
            self.sends_played = True
            self._cond.notify_all()

    def stop(self) -> None:
        with self._cond:
            self._stopping = True
            self._cond.notify_all()

    # ------------------------------------------------------------------ session-thread side

    @property
    def generation(self) -> int:
        return self._generation

    @property
    def connected(self) -> bool:
        return self._connection is not None

    @property
    def stopping(self) -> bool:
        return self._stopping

    @property
    def connection(self) -> Any:
        return self._connection

    def _check(self, generation: int) -> None:
        if self._stopping:
            raise ServerStopping
        if self._connection is None or generation != self._generation:
            raise RoomOffline

    def check(self, generation: int) -> None:
        with self._cond:
            self._check(generation)

    def wait_connected(self, timeout_s: float | None) -> bool:
        """Wait until a satellite is connected (True), the timeout passes (False) or the server stops."""
        deadline = None if timeout_s is None else time.monotonic() + timeout_s
        with self._cond:
            while self._connection is None:
                if self._stopping:
                    raise ServerStopping
                remaining = None if deadline is None else deadline - time.monotonic()
                if remaining is not None and remaining <= 0:
                    return False
                self._cond.wait(0.5 if remaining is None else min(remaining, 0.5))
            return True

    def wait_for_audio(self, generation: int, timeout_s: float) -> bool:
        """True once microphone audio has arrived on this connection (within the timeout)."""
        deadline = time.monotonic() + timeout_s
        with self._cond:
            while self.last_audio_at is None:
                self._check(generation)
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return False
                self._cond.wait(min(remaining, 0.25))
            return True

    def open_session(self) -> int:
        with self._cond:
            self._session_active = True
            self._frames.clear()
            return self._generation

    def close_session(self) -> None:
        with self._cond:
            self._session_active = False
            self._speaking = False
            self._frames.clear()

    def next_frames(self, generation: int, wait_s: float) -> list[np.ndarray]:
        """Every frame heard so far (waiting up to `wait_s` for one); [] when none came."""
        deadline = time.monotonic() + wait_s
        with self._cond:
            while not self._frames:
                self._check(generation)
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return []
                self._cond.wait(remaining)
            self._check(generation)
            frames = list(self._frames)
            self._frames.clear()
            return frames

    def begin_speaking(self) -> int:
        """The device starts to speak: the microphone is ignored until `end_speaking`. Returns
        the `played` count to wait beyond."""
        with self._cond:
            self._speaking = True
            self._frames.clear()
            return self._played

    def end_speaking(self) -> None:
        with self._cond:
            self._speaking = False
            # The last syllable still rings in the room for a moment after the satellite says it
            # has finished; what the microphone hears then is the device, not the person.
            self._muted_until = time.monotonic() + self.echo_tail_s
            self._frames.clear()

    def wait_played(self, generation: int, after: int, until: float) -> bool:
        """Wait for a `played` beyond count `after` until the monotonic time `until`."""
        with self._cond:
            while self._played <= after:
                self._check(generation)
                remaining = until - time.monotonic()
                if remaining <= 0:
                    return False
                self._cond.wait(min(remaining, 0.25))
            return True

    def call(self, generation: int, action: Callable[[Any], Awaitable[Any]], timeout_s: float = 15.0) -> Any:
        """Run `action(connection)` on the event loop and wait for its result.

        A connection that fails or changes meanwhile becomes RoomOffline here."""
        with self._cond:
            self._check(generation)
            connection = self._connection
        try:
            future = asyncio.run_coroutine_threadsafe(action(connection), self.loop)
        except RuntimeError:  # the loop has closed
            raise ServerStopping from None
        try:
            return future.result(timeout_s)
        except (ConnectionError, OSError, TimeoutError, asyncio.CancelledError, concurrent.futures.CancelledError) as error:
            future.cancel()
            with self._cond:
                if self._stopping:
                    raise ServerStopping from None
            raise RoomOffline(str(error)) from None
