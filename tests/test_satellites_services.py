"""The Wyoming speech services (tts + asr) that Home Assistant can use, with the `wyoming` package's
own client as the peer: describe → info, synthesize → audio, transcribe → transcript; and a
malformed or oversized request closes only its own connection."""
from __future__ import annotations

import asyncio
import logging

import numpy as np
import pytest
from rapidfuzz import fuzz
from wyoming.asr import Transcribe, Transcript
from wyoming.audio import AudioChunk, AudioStart, AudioStop
from wyoming.client import AsyncTcpClient
from wyoming.info import Describe, Info
from wyoming.tts import Synthesize

from satellite_peers import build_engines, extra, pcm16, serve_config, session_answers
from speech_support import whisper_model_dir
from voicecheck.satellites.config import ServicesConfig
from voicecheck.satellites.phrases import load_room_phrases
from voicecheck.satellites.server import VoicecheckServer
from voicecheck.reading import reading
from voicecheck.satellites.speech_services import ASR_PROGRAM, TTS_PROGRAM
from voicecheck.settings import Settings

pytestmark = pytest.mark.model


@pytest.fixture(scope="module")
def engines():
    model = whisper_model_dir()
    if model is None:
        pytest.skip("faster-whisper-base is not installed (models/ or VOICECHECK_MODEL_MIRROR)")
    shared = build_engines(model)
    yield shared
    shared.close()


def with_services(engines, tmp_path, scenario, host="127.0.0.1"):
    settings = Settings(data_dir=tmp_path / "data")

    async def go():
        server = VoicecheckServer(serve_config(services=ServicesConfig(True, host, 0)), engines, settings,
                                  load_room_phrases(settings.prompts_dir))
        await server.start()
        try:
            return await scenario(server.services)
        finally:
            await server.stop()

    return asyncio.run(go())


async def request(port: int, *events, until: str, timeout_s: float = 120.0):
    """Send events with the wyoming client; collect what comes back up to an event of type `until`."""
    async with AsyncTcpClient("127.0.0.1", port) as client:
        for event in events:
            await client.write_event(event)
        received = []
        while True:
            event = await asyncio.wait_for(client.read_event(), timeout_s)
            if event is None:
                return received
            received.append(event)
            if event.type == until:
                return received


def test_describe_names_the_japanese_voice_and_recogniser(engines, tmp_path):
    async def scenario(services):
        (info_event,) = await request(services.port, Describe().event(), until="info")
        return Info.from_event(info_event), services._server.sockets[0].getsockname()[0]

    info, bound = with_services(engines, tmp_path, scenario)
    assert bound == "127.0.0.1"  # loopback unless the settings name another address
    assert [p.name for p in info.asr] == [ASR_PROGRAM] and info.asr[0].models[0].languages == ["ja"]
    assert [p.name for p in info.tts] == [TTS_PROGRAM] and info.tts[0].voices[0].languages == ["ja"]
    assert info.asr[0].models[0].name == "faster-whisper-base"


def test_synthesize_returns_the_voice_as_audio_and_transcribe_hears_another_voice(engines, tmp_path):
    answer = session_answers("jm_kumo")["situations"]  # 「えっと、下りの階段と、立ち上がるときです」
    samples = answer.samples()

    async def scenario(services):
        spoken = await request(services.port, Synthesize(text="こんにちは。膝の調子はいかがですか。").event(),
                               until="audio-stop")
        mic = [Transcribe(language="ja").event(), AudioStart(rate=16000, width=2, channels=1).event()]
        pcm = pcm16(samples)
        mic += [AudioChunk(rate=16000, width=2, channels=1, audio=pcm[i:i + 2048]).event()
                for i in range(0, len(pcm), 2048)]
        mic.append(AudioStop().event())
        heard = await request(services.port, *mic, until="transcript")
        return spoken, heard, services.served

    spoken, heard, served = with_services(engines, tmp_path, scenario)
    assert [e.type for e in spoken[:1]] == ["audio-start"] and spoken[-1].type == "audio-stop"
    chunks = [AudioChunk.from_event(e) for e in spoken if e.type == "audio-chunk"]
    seconds = sum(c.seconds for c in chunks)
    assert 1.5 < seconds < 8.0
    audio = np.frombuffer(b"".join(c.audio for c in chunks), dtype="<i2")
    assert np.abs(audio).max() > 3000  # real speech, not silence
    transcript = Transcript.from_event(heard[-1])
    assert "階段" in transcript.text and transcript.language == "ja"
    assert served == 2


def test_a_malformed_or_oversized_request_closes_only_its_connection(engines, tmp_path, caplog):
    caplog.set_level(logging.INFO, logger="voicecheck.satellites")
    stop = extra("command_stop_jm_kumo").samples()

    async def raw(port: int, data: bytes) -> bytes:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        writer.write(data)
        await writer.drain()
        answer = await asyncio.wait_for(reader.read(), 10)  # b"" once the server has closed it
        writer.close()
        return answer

    async def scenario(services):
        port = services.port
        # A healthy client keeps its connection open through all of the bad ones.
        async with AsyncTcpClient("127.0.0.1", port) as steady:
            closed = await asyncio.gather(
                raw(port, b"not an event at all\n"),
                raw(port, b'{"type": "audio-chunk", "data": {"rate": 16000, "width": 2, "channels": 1}, '
                          b'"payload_length": 900000000}\n'),
                raw(port, b'{"type": "synthesize", "data": {"text": "' + "あ".encode() * 3000 + b'"}}\n'),
                raw(port, b'{"type": "audio-chunk", "data": {"rate": 16000, "width": 7, "channels": 1}, '
                          b'"payload_length": 4}\n\x00\x00\x00\x00'),
            )
            await steady.write_event(Describe().event())
            info = await asyncio.wait_for(steady.read_event(), 10)
            pcm = pcm16(stop)
            await steady.write_event(AudioStart(rate=16000, width=2, channels=1).event())
            await steady.write_event(AudioChunk(rate=16000, width=2, channels=1, audio=pcm).event())
            await steady.write_event(AudioStop().event())
            transcript = await asyncio.wait_for(steady.read_event(), 120)
        return closed, info, transcript, services.closed_for_errors

    closed, info, transcript, errors = with_services(engines, tmp_path, scenario)
    assert closed == [b"", b"", b"", b""]
    assert errors == 4
    assert info.type == "info" and transcript.type == "transcript"
    # The steady client's speech was heard. Compared by sound, not by its words: Whisper's exact
    # writing of this clip differs between machines (「モーバリにします」 on an AMD EPYC here).
    assert fuzz.ratio(reading(transcript.data["text"]), reading("もう終わりにします")) >= 70, transcript.data["text"]
    messages = [r.getMessage() for r in caplog.records]
    assert sum("読めないデータ" in m for m in messages) == 2
    assert sum("大きすぎるデータ" in m for m in messages) == 2


def test_too_long_an_audio_request_is_refused(engines, tmp_path):
    async def scenario(services):
        client = AsyncTcpClient("127.0.0.1", services.port)
        await client.connect()
        second = bytes(32000)
        answer = None
        try:
            await client.write_event(AudioStart(rate=16000, width=2, channels=1).event())
            for _ in range(70):
                await client.write_event(AudioChunk(rate=16000, width=2, channels=1, audio=second).event())
            await client.write_event(AudioStop().event())
            answer = await asyncio.wait_for(client.read_event(), 30)
        except ConnectionError:
            pass  # closed while we still sent, or with our audio unread in its buffer (a reset)
        try:
            await client.disconnect()
        except ConnectionError:
            pass
        return answer

    assert with_services(engines, tmp_path, scenario) is None  # closed, no transcript
