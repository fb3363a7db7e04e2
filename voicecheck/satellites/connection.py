"""One connection to one satellite, speaking the controller's side of the Wyoming protocol.

A satellite (e.g. `wyoming-satellite` on a Raspberry Pi) is the TCP server; we connect as
Home Assistant would: `describe` → `info`, then `run-satellite`. From then on the satellite
sends microphone audio (`audio-chunk`), and `run-pipeline` (start stage `asr`) or `detection`
when its wake word fires. We send speech as `audio-start` / `audio-chunk` / `audio-stop`, and
a satellite that supports it answers `played` when its speaker has finished.

What goes out is only ever: describe, run-satellite, pause-satellite, ping/pong, run-pipeline
(to ask a satellite to listen without its wake word) and speech audio. Never a transcript, an
answer or any text: the dialogue stays on this machine.
"""
from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from wyoming.event import Event

from voicecheck.satellites.channel import RoomChannel
from voicecheck.satellites.config import SatelliteConfig
from voicecheck.satellites.events import EventWriter, ProtocolError, WireLimits, read_event
from voicecheck.satellites.pcm import SPEECH_DEFAULT, SUPPORTED_WIDTHS, MicFrames, PcmFormat, checked_format, chunks

log = logging.getLogger("voicecheck.satellites")

INFO_TIMEOUT_S = 10.0
PING_EVERY_S = 10.0
SILENT_LINK_S = 35.0  # a satellite that answers pings and then says nothing this long is gone


@dataclass(frozen=True)
class SatelliteInfo:
    """What a satellite's `info` says that matters here."""

    name: str | None = None
    area: str | None = None
    snd_format: PcmFormat = SPEECH_DEFAULT
    supports_trigger: bool = False  # accepts run-pipeline from us to start listening
    has_wake_word: bool = False


def _dict(value: Any) -> dict:
    return value if isinstance(value, dict) else {}


def parse_info(event: Event) -> SatelliteInfo:
    """Read the few fields we use, leniently: satellites of every age send differently shaped infos."""
    data = event.data
    satellite = _dict(data.get("satellite"))
    snd_format = SPEECH_DEFAULT
    for program in data.get("snd") or []:
        fmt = _dict(_dict(program).get("snd_format"))
        try:
            snd_format = checked_format(fmt, "info.snd")
        except ProtocolError as error:
            log.warning("info のスピーカー形式が使えないので 16 kHz モノラル 16 bit で送ります（%s）", error)
        break
    if snd_format.width not in SUPPORTED_WIDTHS:
        snd_format = SPEECH_DEFAULT
    wake = bool(data.get("wake")) or bool(satellite.get("active_wake_words"))
    text = lambda v: v if isinstance(v, str) and v.strip() else None  # noqa: E731
    return SatelliteInfo(text(satellite.get("name")), text(satellite.get("area")), snd_format,
                         satellite.get("supports_trigger") is True, wake)


class SatelliteConnection:
    """The controller's side of one TCP (or Unix socket) connection to a satellite."""

    def __init__(self, config: SatelliteConfig, channel: RoomChannel, on_wake: Callable[[str], None],
                 limits: WireLimits | None = None, connect_timeout_s: float = 10.0) -> None:
        self.config = config
        self.channel = channel
        self.on_wake = on_wake
        self.limits = limits or WireLimits()
        self.connect_timeout_s = connect_timeout_s
        self.info = SatelliteInfo()
        self._reader: asyncio.StreamReader | None = None
        self._writer: EventWriter | None = None
        self._mic = MicFrames()
        self._answers_pings = False
        self._last_event_at = time.monotonic()
        self._warned_no_wake = False

    @property
    def name(self) -> str:
        return self.config.name

    async def open(self) -> SatelliteInfo:
        """Connect, ask for `info`, and tell the satellite we are ready (`run-satellite`)."""
        unix = self.config.unix_path
        if unix:
            opening = asyncio.open_unix_connection(unix, limit=self.limits.stream_limit)
        else:
            host, port = self.config.host_port or ("", 0)
            opening = asyncio.open_connection(host, port, limit=self.limits.stream_limit)
        reader, writer = await asyncio.wait_for(opening, self.connect_timeout_s)
        self._reader, self._writer = reader, EventWriter(writer)
        await self.send(Event("describe"))
        deadline = time.monotonic() + INFO_TIMEOUT_S
        while True:
            event = await asyncio.wait_for(read_event(reader, self.limits), max(0.1, deadline - time.monotonic()))
            if event is None:
                raise ConnectionError("the satellite closed the connection before sending its info")
            if event.type == "info":
                self.info = parse_info(event)
                break
            await self._handle(event)  # a satellite may already stream before it answers
        await self.send(Event("run-satellite"))
        self._last_event_at = time.monotonic()
        return self.info

    async def send(self, event: Event) -> None:
        if self._writer is None:
            raise ConnectionError("not connected")
        await self._writer.write(event)

    async def run(self) -> None:
        """Handle the satellite's events until it closes the connection.

        ProtocolError for a malformed or oversized event, ConnectionError for a silent link."""
        assert self._reader is not None
        pinger = asyncio.create_task(self._keep_alive())
        try:
            while True:
                event = await read_event(self._reader, self.limits)
                if event is None:
                    return
                self._last_event_at = time.monotonic()
                await self._handle(event)
        finally:
            pinger.cancel()

    async def _keep_alive(self) -> None:
        # Newer satellites answer `ping`; for those a link that goes quiet (a Pi unplugged, Wi-Fi
        # gone) is noticed within SILENT_LINK_S instead of when TCP finally gives up.
        while True:
            await asyncio.sleep(PING_EVERY_S)
            if self._answers_pings and time.monotonic() - self._last_event_at > SILENT_LINK_S:
                log.warning("[%s] サテライトから %d 秒何も届きません。つなぎ直します", self.name, SILENT_LINK_S)
                self.close()
                return
            try:
                await self.send(Event("ping"))
            except (ConnectionError, OSError):
                return

    async def _handle(self, event: Event) -> None:
        kind = event.type
        if kind == "audio-chunk":
            fmt = checked_format(event.data, "audio-chunk")
            self.channel.push_frames(self._mic.feed(event.payload or b"", fmt))
        elif kind == "run-pipeline":
            stage = event.data.get("start_stage")
            if stage == "asr":
                self.on_wake("run-pipeline")
            elif stage == "wake" and not self._warned_no_wake and self.config.start == "wake" and not self.config.daily:
                self._warned_no_wake = True
                log.warning("[%s] このサテライトにはウェイクワードがありません。始め方は start = \"now\" か daily を"
                            "設定してください", self.name)
        elif kind == "detection":
            self.on_wake("detection")
        elif kind == "played":
            self.channel.note_played()
        elif kind == "ping":
            await self.send(Event("pong", data={"text": event.data.get("text")} if isinstance(event.data.get("text"), str) else {}))
        elif kind == "pong":
            self._answers_pings = True
        elif kind == "error":
            text = event.data.get("text")
            log.warning("[%s] サテライトがエラーを知らせました: %s", self.name, str(text)[:200])
        # everything else (audio-start/stop of the microphone, voice-started, streaming-started …) is not needed

    # ------------------------------------------------------------------ what the room sends

    async def speech_start(self, fmt: PcmFormat) -> None:
        await self.send(Event("audio-start", data={**fmt.as_data(), "timestamp": 0}))

    async def speech_audio(self, pcm: bytes, fmt: PcmFormat, offset_s: float) -> None:
        """Send one piece of speech as audio chunks (timestamps in ms from the start of the speech)."""
        sent = 0
        for chunk in chunks(pcm, fmt):
            timestamp = int(round((offset_s + fmt.seconds(sent)) * 1000))
            await self.send(Event("audio-chunk", data={**fmt.as_data(), "timestamp": timestamp}, payload=chunk))
            sent += len(chunk)

    async def speech_stop(self, total_s: float) -> None:
        await self.send(Event("audio-stop", data={"timestamp": int(round(total_s * 1000))}))

    async def ask_to_listen(self) -> None:
        """Ask a satellite with a wake word to stream its microphone now (resuming after a drop)."""
        await self.send(Event("run-pipeline", data={"start_stage": "asr", "end_stage": "tts", "restart_on_end": False}))

    async def session_over(self) -> None:
        # `run-satellite` again puts a satellite with a wake word back to waiting for it.
        await self.send(Event("run-satellite"))

    async def pause(self) -> None:
        await self.send(Event("pause-satellite"))

    def close(self) -> None:
        if self._writer is not None:
            self._writer.close()
        if self._reader is not None:
            self._reader.feed_eof()
