"""One recogniser for every room: requests wait their turn, and the rooms take turns.

A recogniser (and its model, hundreds of MB) is loaded once and is not safe to call from two
threads at once, so one worker thread decodes one answer at a time. Waiting requests are kept
per client (a room, or one connection to the speech services); the worker serves the clients
round-robin, one request each, so a busy client cannot make another wait behind its whole
backlog. Each client may have only a few requests waiting, which also bounds memory.
"""
from __future__ import annotations

import threading
import time
from collections import deque
from concurrent.futures import Future
from dataclasses import dataclass, field, replace

import numpy as np

from voicecheck.interfaces import Heard, ListenContext
from voicecheck.recognizers.base import BufferedStream, Recognizer, RecognizerError

MAX_WAITING_PER_CLIENT = 2


@dataclass
class _Request:
    client: str
    samples: np.ndarray
    context: ListenContext
    future: Future = field(default_factory=Future)
    queued_at: float = field(default_factory=time.perf_counter)


@dataclass
class ClientStats:
    served: int = 0
    waited_s: float = 0.0  # total time spent waiting for the recogniser
    longest_wait_s: float = 0.0


class FairRecognitionQueue:
    """Serialises a recogniser between clients, round-robin; `client(name)` gives each its handle."""

    def __init__(self, recognizer: Recognizer, max_waiting: int = MAX_WAITING_PER_CLIENT) -> None:
        self.recognizer = recognizer
        self.name = recognizer.name
        self.max_waiting = max_waiting
        self._cond = threading.Condition()
        self._waiting: dict[str, deque[_Request]] = {}
        self._turns: deque[str] = deque()  # clients with waiting requests, in serving order
        self._closed = False
        self.stats: dict[str, ClientStats] = {}
        self.order: deque[str] = deque(maxlen=1000)  # recent clients in the order served (tests, bench)
        self._worker = threading.Thread(target=self._serve, name="voicecheck-recognition", daemon=True)
        self._worker.start()

    def client(self, name: str) -> "QueuedRecognizer":
        return QueuedRecognizer(self, name)

    def submit(self, client: str, samples: np.ndarray, context: ListenContext) -> Future:
        request = _Request(client, np.asarray(samples, dtype=np.float32), context)
        with self._cond:
            if self._closed:
                raise RecognizerError("The recogniser has been shut down.")
            waiting = self._waiting.setdefault(client, deque())
            if len(waiting) >= self.max_waiting:
                raise RecognizerError(f"Too many answers from {client} are already waiting to be recognised.")
            waiting.append(request)
            if client not in self._turns:
                self._turns.append(client)
            self._cond.notify()
        return request.future

    def transcribe(self, client: str, samples: np.ndarray, context: ListenContext) -> Heard:
        """Wait for this client's turn, then the recogniser's result (its errors are raised here)."""
        return self.submit(client, samples, context).result()

    def close(self) -> None:
        with self._cond:
            self._closed = True
            for waiting in self._waiting.values():
                for request in waiting:
                    request.future.set_exception(RecognizerError("The recogniser has been shut down."))
                waiting.clear()
            self._turns.clear()
            self._cond.notify_all()

    def _next(self) -> _Request | None:
        with self._cond:
            while not self._turns and not self._closed:
                self._cond.wait()
            if self._closed:
                return None
            client = self._turns.popleft()
            waiting = self._waiting[client]
            request = waiting.popleft()
            if waiting:
                self._turns.append(client)  # its next request waits behind every other client's
            else:
                del self._waiting[client]
            return request

    def _serve(self) -> None:
        while (request := self._next()) is not None:
            if not request.future.set_running_or_notify_cancel():
                continue
            started = time.perf_counter()
            waited = started - request.queued_at
            try:
                heard = self.recognizer.transcribe(request.samples, request.context)
            except BaseException as error:  # handed to the waiting room, which reports it
                request.future.set_exception(error)
            else:
                timings = {**heard.timings, "queued": round(waited, 3)}
                timings.setdefault("recognition", round(time.perf_counter() - started, 3))
                request.future.set_result(replace(heard, timings=timings))
            with self._cond:
                stats = self.stats.setdefault(request.client, ClientStats())
                stats.served += 1
                stats.waited_s += waited
                stats.longest_wait_s = max(stats.longest_wait_s, waited)
                self.order.append(request.client)


class QueuedRecognizer:
    """A recogniser as one client sees it (the Recognizer protocol): every call waits its turn."""

    def __init__(self, queue: FairRecognitionQueue, client: str) -> None:
        self.queue = queue
        self.client_name = client
        self.name = queue.name

    def start(self, context: ListenContext) -> BufferedStream:
        return BufferedStream(self.transcribe, context)

    def transcribe(self, samples: np.ndarray, context: ListenContext) -> Heard:
        return self.queue.transcribe(self.client_name, samples, context)
