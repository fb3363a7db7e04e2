"""Japanese speech services for Home Assistant: Wyoming `tts` (the Open JTalk voice) and `asr`.

Home Assistant's Wyoming integration connects, sends `describe` and reads the `info` naming
the programs; an Assist pipeline then opens a connection per request:
- speech to text: `transcribe`, `audio-start`, `audio-chunk`…, `audio-stop` → `transcript`
- text to speech: `synthesize` → `audio-start`, `audio-chunk`…, `audio-stop`
Recognition shares the rooms' recogniser through the fair queue (each connection is its own
client), and the voice is the rooms' voice. The port listens on 127.0.0.1 unless the settings
name another address. Every connection is bounded: events by WireLimits, audio to
MAX_ASR_AUDIO_S, text to MAX_TTS_CHARS, and at most MAX_CONNECTIONS at once; anything beyond
closes that connection with a log line and leaves every other one alone.
"""
from __future__ import annotations

import asyncio
import logging

import numpy as np
from wyoming.event import Event
from wyoming.info import AsrModel, AsrProgram, Attribution, Info, TtsProgram, TtsVoice

from voicecheck import __version__
from voicecheck.interfaces import ListenContext
from voicecheck.satellites.config import ServicesConfig
from voicecheck.satellites.events import EventWriter, OversizedEvent, ProtocolError, WireLimits, read_event
from voicecheck.satellites.pcm import MicFrames, PcmFormat, checked_format, chunks, encode
from voicecheck.satellites.shared_engines import SharedEngines
from voicecheck.voices.base import phrase_pieces

log = logging.getLogger("voicecheck.satellites")

ASR_PROGRAM = "voicecheck-asr"
TTS_PROGRAM = "voicecheck-tts"
TTS_VOICE = "voicecheck-ja"
MAX_ASR_AUDIO_S = 60.0
MAX_TTS_CHARS = 2000
MAX_CONNECTIONS = 8
IDLE_TIMEOUT_S = 120.0
TTS_FORMAT = PcmFormat(22_050, 2, 1)  # what Piper and most Wyoming voices send; plenty for speech

ENGINE_MODELS = {"whisper": "faster-whisper-base", "vosk": "vosk-model-small-ja-0.22"}
_ATTRIBUTION = {
    "whisper": Attribution(name="SYSTRAN faster-whisper / OpenAI Whisper", url="https://github.com/SYSTRAN/faster-whisper"),
    "vosk": Attribution(name="Alpha Cephei Vosk", url="https://alphacephei.com/vosk/"),
}
_VOICE_ATTRIBUTION = Attribution(name="Open JTalk (HTS voice Mei)", url="https://open-jtalk.sourceforge.net/")
_OURS = Attribution(name="voicecheck", url="")


def service_info(engine: str) -> Info:
    model = ENGINE_MODELS.get(engine, engine)
    return Info(
        asr=[AsrProgram(
            name=ASR_PROGRAM, attribution=_OURS, installed=True, version=__version__,
            description=f"voicecheck 日本語音声認識（{model}）",
            models=[AsrModel(name=model, attribution=_ATTRIBUTION.get(engine, _OURS), installed=True,
                             description=f"{model}（日本語）", version=None, languages=["ja"])],
        )],
        tts=[TtsProgram(
            name=TTS_PROGRAM, attribution=_OURS, installed=True, version=__version__,
            description="voicecheck 日本語音声合成（Open JTalk）",
            voices=[TtsVoice(name=TTS_VOICE, attribution=_VOICE_ATTRIBUTION, installed=True,
                             description="Open JTalk の日本語の声", version=None, languages=["ja"])],
        )],
    )


class SpeechServices:
    """The Wyoming tts + asr server (start/stop on the running event loop)."""

    def __init__(self, config: ServicesConfig, engines: SharedEngines, limits: WireLimits | None = None) -> None:
        self.config = config
        self.engines = engines
        self.limits = limits or WireLimits()
        self.info_event = service_info(engines.recognition.name if engines.recognition else "").event()
        self._server: asyncio.AbstractServer | None = None
        self._connections: set[asyncio.Task] = set()
        self.served = 0  # requests answered (transcripts + syntheses)
        self.closed_for_errors = 0

    @property
    def port(self) -> int:
        assert self._server is not None
        return self._server.sockets[0].getsockname()[1]

    async def start(self) -> None:
        self._server = await asyncio.start_server(self._accept, self.config.host, self.config.port,
                                                  limit=self.limits.stream_limit)
        log.info("音声サービス（Wyoming tts・asr）を %s:%d で開きました", self.config.host, self.port)

    async def stop(self) -> None:
        if self._server is not None:
            self._server.close()
        for task in list(self._connections):
            task.cancel()
        await asyncio.gather(*self._connections, return_exceptions=True)

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        events = EventWriter(writer)
        if len(self._connections) >= MAX_CONNECTIONS:
            log.warning("音声サービス: 同時接続が %d を超えたので %s を閉じました", MAX_CONNECTIONS, events.peer)
            events.close()
            return
        task = asyncio.current_task()
        assert task is not None
        self._connections.add(task)
        try:
            await _ServiceConnection(self, reader, events).run()
        finally:
            self._connections.discard(task)
            events.close()


class _ServiceConnection:
    def __init__(self, services: SpeechServices, reader: asyncio.StreamReader, writer: EventWriter) -> None:
        self.services = services
        self.engines = services.engines
        self.reader = reader
        self.writer = writer
        # One recognition client per host (not per connection: Home Assistant opens one per request).
        self.client = f"asr:{writer.peer.rsplit(':', 1)[0]}"
        self._audio: list[np.ndarray] | None = None
        self._audio_s = 0.0
        self._frames = MicFrames()
        self._language: str | None = None

    async def run(self) -> None:
        peer = self.writer.peer
        try:
            while True:
                event = await asyncio.wait_for(read_event(self.reader, self.services.limits), IDLE_TIMEOUT_S)
                if event is None:
                    return
                if not await self._handle(event):
                    return
        except OversizedEvent as error:
            self.services.closed_for_errors += 1
            log.warning("音声サービス: %s から大きすぎるデータが届いたので接続を閉じました（%s）", peer, error)
        except ProtocolError as error:
            self.services.closed_for_errors += 1
            log.warning("音声サービス: %s から読めないデータが届いたので接続を閉じました（%s）", peer, error)
        except asyncio.TimeoutError:
            log.info("音声サービス: %s が %d 秒何も送らないので接続を閉じました", peer, IDLE_TIMEOUT_S)
        except (ConnectionError, OSError):
            return

    async def _handle(self, event: Event) -> bool:
        kind = event.type
        if kind == "describe":
            await self.writer.write(self.services.info_event)
        elif kind == "transcribe":
            language = event.data.get("language")
            self._language = language if isinstance(language, str) else None
            self._audio, self._audio_s = [], 0.0
        elif kind == "audio-start":
            checked_format(event.data, "audio-start")
            self._audio, self._audio_s = [], 0.0
            self._frames = MicFrames()
        elif kind == "audio-chunk":
            fmt = checked_format(event.data, "audio-chunk")
            if self._audio is None:
                self._audio = []
            frames = self._frames.feed(event.payload or b"", fmt)
            self._audio.extend(frames)
            self._audio_s += len(frames) * 0.03
            if self._audio_s > MAX_ASR_AUDIO_S:
                raise OversizedEvent(f"more than {MAX_ASR_AUDIO_S:.0f} s of audio in one request")
        elif kind == "audio-stop":
            if self._audio is not None:
                await self._transcribe()
        elif kind == "synthesize":
            await self._synthesize(event.data.get("text"))
        elif kind == "ping":
            await self.writer.write(Event("pong"))
        return True

    async def _transcribe(self) -> None:
        queue = self.engines.recognition
        samples = np.concatenate(self._audio) if self._audio else np.zeros(0, dtype=np.float32)
        self._audio, self._audio_s = None, 0.0
        if queue is None:
            await self.writer.write(Event("error", data={"text": "speech recognition is not available", "code": "no-asr"}))
            return
        context = ListenContext(question_id=None, phrases=())
        heard = await asyncio.get_running_loop().run_in_executor(None, queue.transcribe, self.client, samples, context)
        await self.writer.write(Event("transcript", data={"text": heard.text, "language": "ja"}))
        self.services.served += 1

    async def _synthesize(self, text: object) -> None:
        if not isinstance(text, str):
            raise ProtocolError("synthesize: text is missing")
        if len(text) > MAX_TTS_CHARS:
            raise OversizedEvent(f"synthesize: text of {len(text)} characters is over {MAX_TTS_CHARS}")
        loop = asyncio.get_running_loop()
        fmt = TTS_FORMAT
        await self.writer.write(Event("audio-start", data={**fmt.as_data(), "timestamp": 0}))
        sent_s = 0.0
        for piece in phrase_pieces(text):
            samples, rate = await loop.run_in_executor(None, lambda p=piece: self.engines.voice.synthesize(p))
            pcm = encode(samples, rate, fmt)
            for chunk in chunks(pcm, fmt):
                await self.writer.write(Event("audio-chunk", data={**fmt.as_data(), "timestamp": int(sent_s * 1000)},
                                              payload=chunk))
                sent_s += fmt.seconds(len(chunk))
        await self.writer.write(Event("audio-stop", data={"timestamp": int(sent_s * 1000)}))
        self.services.served += 1

