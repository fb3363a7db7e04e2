"""Test peers for the satellite server, built on the real `wyoming` package's server classes.

`FakeSatellite` is what a Raspberry Pi running wyoming-satellite looks like from voicecheck:
a Wyoming TCP server (wyoming.server.AsyncTcpServer + AsyncEventHandler) that answers
`describe` with an `info`, streams its "microphone" continuously at real-time pace once it gets
`run-satellite`, plays the speech it is sent (faster than real time, to keep tests short) and
says `played` when it has finished.

The microphone carries a `Resident`: a person who waits until the device has finished speaking
and the room has been quiet for a moment, then says a recorded answer (other voices than the
product's: tests/data/other_voices). The resident knows which question they were asked, as a
person would from hearing it; here it is read from the room's ears (`question_now`).
Everything the satellite receives is recorded, so a test can check what went over the wire.
"""
from __future__ import annotations

import asyncio
import csv
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from wyoming.audio import AudioFormat
from wyoming.event import Event
from wyoming.info import Attribution, Info, Satellite, SndProgram
from wyoming.server import AsyncEventHandler, AsyncTcpServer

from voicecheck.audio import SAMPLE_RATE, read_wav, speech_bounds

DATA = Path(__file__).resolve().parent / "data"
OTHER_VOICES = DATA / "other_voices"
MIC_CHUNK = 1024  # samples per microphone chunk (64 ms), as wyoming-satellite sends by default
SILENCE_CHUNK = np.zeros(MIC_CHUNK, dtype=np.float32)
# Low hiss instead of digital silence: a real microphone is never quite silent.
_NOISE = (np.random.default_rng(7).standard_normal(SAMPLE_RATE * 4) * 0.0008).astype(np.float32)


@dataclass(frozen=True)
class Recording:
    path: Path
    question: str
    expected: str
    voice: str

    def samples(self) -> np.ndarray:
        return read_wav(self.path)


def other_voice_recordings() -> list[Recording]:
    with open(OTHER_VOICES / "manifest.tsv", encoding="utf-8") as f:
        rows = list(csv.DictReader(f, delimiter="\t"))
    return [Recording(OTHER_VOICES / r["audio"], r["question"], r["expected"], r["voice"]) for r in rows]


def session_answers(voice: str) -> dict[str, Recording]:
    """question id → that voice's answer in its whole recorded session (yes_no: a "no")."""
    return {r.question: r for r in other_voice_recordings() if r.path.parent.name == f"session_{voice}"}


def plain_yes(voice: str) -> Recording:
    """That voice's short 「はい」 (tests/data/live_room): what a resident says to a read-back."""
    return Recording(DATA / "live_room" / f"yes_short_{voice}.wav", "yes_no", "yes", voice)


def extra(name: str) -> Recording:
    return next(r for r in other_voice_recordings() if r.path.stem == name)


def pcm16(samples: np.ndarray) -> bytes:
    return (np.clip(samples, -1, 1) * 32767).astype("<i2").tobytes()


@dataclass
class Spoken:
    """One stretch of device speech the satellite played."""

    started_at: float  # audio-start received (monotonic)
    first_audio_at: float | None = None
    audio_s: float = 0.0
    rate: int = 0
    width: int = 0
    channels: int = 0


@dataclass
class SatelliteLog:
    events: list[tuple[str, dict, int]] = field(default_factory=list)  # (type, data, payload bytes)
    spoken: list[Spoken] = field(default_factory=list)
    answers_given: list[str] = field(default_factory=list)  # file stems, in order
    answer_ends: list[float] = field(default_factory=list)  # monotonic time each answer's speech ended
    latencies: list[float] = field(default_factory=list)  # answer's end of speech → device's next audio
    connections: int = 0
    aborted_answers: int = 0


AnswerPicker = Callable[[], "Recording | None"]


class Resident:
    """Says an answer when the device has finished speaking and the room has been quiet `quiet_s`."""

    def __init__(self, pick: AnswerPicker, quiet_s: float = 1.5, max_answers: int = 60) -> None:
        self.pick = pick
        self.quiet_s = quiet_s
        self.max_answers = max_answers
        self.given = 0


class _SatelliteHandler(AsyncEventHandler):
    def __init__(self, satellite: "FakeSatellite", *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.sat = satellite
        self.mic_task: asyncio.Task | None = None
        self.sat.log.connections += 1
        self.sat.handler = self

    async def handle_event(self, event: Event) -> bool:
        sat = self.sat
        sat.log.events.append((event.type, dict(event.data), len(event.payload or b"")))
        now = time.monotonic()
        if event.type == "describe":
            if sat.misbehave:
                return await sat.misbehave(self)
            await self.write_event(sat.info().event())
        elif event.type == "run-satellite":
            if self.mic_task is None:
                self.mic_task = asyncio.create_task(sat.stream_microphone(self))
            if sat.wake is not None and not sat.woke:
                sat.woke = True
                await asyncio.sleep(0.3)
                if sat.wake == "detection":
                    await self.write_event(Event("detection", data={"name": "ok_nabu", "timestamp": 0}))
                await self.write_event(Event("run-pipeline", data={"start_stage": "asr", "end_stage": "tts"}))
        elif event.type == "audio-start":
            sat.device_busy = True
            sat.log.spoken.append(Spoken(started_at=now, rate=event.data.get("rate", 0),
                                         width=event.data.get("width", 0), channels=event.data.get("channels", 0)))
            if sat.drop_after_answers is not None and len(sat.log.answers_given) >= sat.drop_after_answers:
                sat.drop_after_answers = None
                asyncio.create_task(sat.go_away(sat.away_s))
                return False
        elif event.type == "audio-chunk":
            spoken = sat.log.spoken[-1] if sat.log.spoken else None
            if spoken is not None:
                if spoken.first_audio_at is None:
                    spoken.first_audio_at = now
                    if sat.pending_latency_from is not None:
                        sat.log.latencies.append(now - sat.pending_latency_from)
                        sat.pending_latency_from = None
                width, channels, rate = event.data["width"], event.data["channels"], event.data["rate"]
                spoken.audio_s += len(event.payload or b"") / (width * channels * rate)
        elif event.type == "audio-stop":
            spoken = sat.log.spoken[-1] if sat.log.spoken else None
            playing_s = (spoken.audio_s if spoken else 0.0) / sat.play_speed
            asyncio.create_task(sat.finish_playing(self, playing_s))
        elif event.type == "ping":
            await self.write_event(Event("pong"))
        return True

    async def disconnect(self) -> None:
        if self.mic_task is not None:
            self.mic_task.cancel()


class FakeSatellite:
    """A wyoming-satellite stand-in on 127.0.0.1 (see the module docstring)."""

    def __init__(self, name: str, resident: Resident | None = None, *, snd_rate: int = 22_050,
                 wake: str | None = None, play_speed: float = 40.0, sends_played: bool = True,
                 drop_after_answers: int | None = None, away_s: float = 2.0,
                 misbehave: Callable[[_SatelliteHandler], "asyncio.Future[bool]"] | None = None) -> None:
        self.name = name
        self.resident = resident
        self.snd_rate = snd_rate
        self.wake = wake  # None (streams at once), "run-pipeline" or "detection"
        self.woke = False
        self.play_speed = play_speed
        self.sends_played = sends_played
        self.drop_after_answers = drop_after_answers
        self.away_s = away_s
        self.misbehave = misbehave
        self.log = SatelliteLog()
        self.device_busy = False
        self.quiet_since: float | None = None
        self.pending_latency_from: float | None = None
        self.handler: _SatelliteHandler | None = None
        self._server: AsyncTcpServer | None = None
        self.port = 0

    @property
    def uri(self) -> str:
        return f"tcp://127.0.0.1:{self.port}"

    def info(self) -> Info:
        blank = Attribution(name="", url="")
        return Info(
            satellite=Satellite(name=self.name, attribution=blank, installed=True, description="test satellite",
                                version=None, area=self.name),
            snd=[SndProgram(name="speaker", attribution=blank, installed=True, description=None, version=None,
                            snd_format=AudioFormat(rate=self.snd_rate, width=2, channels=1))],
        )

    async def start(self) -> None:
        server = AsyncTcpServer("127.0.0.1", self.port)
        await server.start(lambda reader, writer: _SatelliteHandler(self, reader, writer))
        self._server = server
        self.port = server._server.sockets[0].getsockname()[1]  # the port the OS chose

    async def stop(self) -> None:
        if self._server is not None:
            await self._server.stop()
            self._server = None

    async def go_away(self, seconds: float) -> None:
        """Drop the connection and be unreachable for a while (a Pi losing Wi-Fi), then come back."""
        await self.stop()
        self.device_busy = False
        await asyncio.sleep(seconds)
        await self.start()

    async def finish_playing(self, handler: _SatelliteHandler, seconds: float) -> None:
        await asyncio.sleep(seconds)
        if self.sends_played:
            try:
                await handler.write_event(Event("played"))
            except (ConnectionError, RuntimeError):
                return
        self.device_busy = False
        self.quiet_since = time.monotonic()

    async def stream_microphone(self, handler: _SatelliteHandler) -> None:
        """Real-time microphone: hiss, and the resident's answers when it is their turn."""
        chunk_s = MIC_CHUNK / SAMPLE_RATE
        next_at = time.monotonic()
        answer: np.ndarray | None = None
        answer_name = ""
        speech_end = 0
        sent = 0
        noise_at = 0
        while True:
            now = time.monotonic()
            resident = self.resident
            if answer is not None and self.device_busy:
                # The device started speaking over the answer: stop, and say it again later.
                self.log.aborted_answers += 1
                self.log.answers_given.pop()
                resident.given -= 1
                answer = None
            if (answer is None and resident is not None and not self.device_busy and self.quiet_since is not None
                    and now - self.quiet_since >= resident.quiet_s and resident.given < resident.max_answers):
                try:
                    recording = resident.pick()
                except Exception as error:  # a broken picker must show, not silence the microphone
                    print(f"resident of {self.name}: {error!r}", flush=True)
                    raise
                self.quiet_since = None
                if recording is not None:
                    answer = recording.samples()
                    bounds = speech_bounds(answer)
                    speech_end = bounds[1] if bounds else len(answer)
                    answer_name, sent = recording.path.stem, 0
                    resident.given += 1
                    self.log.answers_given.append(answer_name)
            if answer is not None:
                piece = answer[sent:sent + MIC_CHUNK]
                if len(piece) < MIC_CHUNK:
                    piece = np.concatenate([piece, SILENCE_CHUNK[:MIC_CHUNK - len(piece)]])
                before, sent = sent, sent + MIC_CHUNK
                if before < speech_end <= sent:
                    ended = now + (speech_end - before) / SAMPLE_RATE
                    self.log.answer_ends.append(ended)
                    self.pending_latency_from = ended
                if sent >= len(answer):
                    answer = None
                    self.quiet_since = None  # wait for the device to speak before answering again
            else:
                piece = _NOISE[noise_at:noise_at + MIC_CHUNK]
                noise_at = (noise_at + MIC_CHUNK) % (len(_NOISE) - MIC_CHUNK)
            try:
                await handler.write_event(Event("audio-chunk", data={"rate": SAMPLE_RATE, "width": 2, "channels": 1,
                                                                     "timestamp": int(now * 1000)},
                                                payload=pcm16(piece)))
            except (ConnectionError, RuntimeError):
                return
            next_at += chunk_s
            await asyncio.sleep(max(0.0, next_at - time.monotonic()))


def question_picker(room, answers: dict[str, Recording], *, confirm_yes: Recording | None = None,
                    stop_at: dict[str, Recording] | None = None) -> AnswerPicker:
    """The resident's choice: the answer to the question the room is asking now.

    `stop_at` replaces the answer of some questions (e.g. with "もう終わりにします"). To a
    confirmation ("「…」ですね。よろしいですか。") the resident says yes when the room understood
    what they meant and no otherwise, as a person would (to 「ここで終わりにしますか」 after their
    own stop: yes, or the stop again); to the exercise offer, no."""
    stop_at = stop_at or {}

    def pick() -> Recording | None:
        ears = room.sessions.ears
        if not ears or not ears[-1].contexts:
            return None
        question = ears[-1].contexts[-1].question_id
        if question in stop_at:
            return stop_at[question]
        if question == "yes_no":
            confirming = pending_confirmation(room)
            if confirming is not None:
                asked, options, command = confirming
                meant = stop_at.get(asked) or answers.get(asked)  # what the resident said there
                if command is not None:
                    # 「ここで終わりにしますか」 after a doubtfully heard 「もう終わりにします」: the
                    # resident meant it, so they confirm it, with a yes or by saying it again (a stop
                    # answers the stop question). A "no" would refuse their own stop, and the session
                    # would go on through every other question.
                    if meant is not None and meant.expected == command:
                        return confirm_yes or meant
                elif confirm_yes is not None and meant is not None and "+".join(options) == meant.expected:
                    return confirm_yes
            return answers.get("yes_no")
        return answers.get(question)

    return pick


def pending_confirmation(room) -> tuple[str, list[str], str | None] | None:
    """(question, options, command) when the room's last turn was a confirmation: of an understood
    answer (command None), or of a command it was not sure it heard (options [])."""
    sessions = room.sessions.store.sessions()
    if not sessions:
        return None
    events = sessions[-1].transcript()
    for event in reversed(events):
        if event.get("type") == "answer":
            return None
        if event.get("type") == "match" and event.get("question") != "yes_no":
            if event.get("decision") == "confirm":
                return event.get("question"), list(event.get("options") or []), event.get("command")
            return None
    return None


def wire_text_leaks(log: SatelliteLog) -> list[str]:
    """Every event type and data value sent to a satellite that is not plain protocol or speech audio."""
    allowed = {"describe", "run-satellite", "pause-satellite", "ping", "pong", "run-pipeline",
               "audio-start", "audio-chunk", "audio-stop"}
    leaks = []
    for kind, data, _ in log.events:
        if kind not in allowed:
            leaks.append(kind)
            continue
        for key, value in data.items():
            if isinstance(value, str) and key not in ("start_stage", "end_stage"):
                leaks.append(f"{kind}.{key}={value[:30]}")
    return leaks


async def wait_until(condition: Callable[[], bool], timeout_s: float, what: str) -> None:
    deadline = time.monotonic() + timeout_s
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout_s:.0f} s waiting for {what}")
        await asyncio.sleep(0.1)



def build_engines(model_dir: Path):
    """The shared engines with the real matcher, the product voice and Whisper from `model_dir`."""
    from voicecheck.content import load_content
    from voicecheck.matcher import Matcher
    from voicecheck.recognizers.whisper import WhisperRecognizer
    from voicecheck.satellites.recognition_queue import FairRecognitionQueue
    from voicecheck.satellites.shared_engines import LockedMatcher, LockedVoice, SharedEngines
    from voicecheck.settings import Settings
    from voicecheck.voices import select_voice

    settings = Settings()
    content = load_content(settings.prompts_dir)
    recognizer = WhisperRecognizer(model_dir, open_questions=[q.id for q in content.questions if q.kind == "free_text"])
    return SharedEngines(content, LockedMatcher(Matcher(content)), LockedVoice(select_voice(settings)),
                         FairRecognitionQueue(recognizer))


def serve_config(*satellites, services=None):
    from voicecheck.satellites.config import ServeConfig, ServicesConfig

    return ServeConfig(tuple(satellites), services or ServicesConfig(), "test")
