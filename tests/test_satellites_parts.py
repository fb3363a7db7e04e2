"""The satellite server's parts on their own, without a model or real time: the wire format with its
limits, PCM conversion, the settings tables, daily check-in times, and the fair recognition queue."""
from __future__ import annotations

import asyncio
import json
import threading
import time
from datetime import datetime, time as clock_time
from pathlib import Path

import numpy as np
import pytest
from wyoming.event import Event, async_write_event

from voicecheck.audio import FRAME_SAMPLES, SAMPLE_RATE
from voicecheck.cli import build_parser
from voicecheck.interfaces import Heard, ListenContext
from voicecheck.satellites.config import SatelliteConfig, serve_config
from voicecheck.satellites.connection import parse_info
from voicecheck.satellites.events import OversizedEvent, ProtocolError, WireLimits, read_event
from voicecheck.satellites.pcm import MicFrames, PcmFormat, checked_format, decode, encode
from voicecheck.satellites.phrases import load_room_phrases
from voicecheck.satellites.recognition_queue import FairRecognitionQueue
from voicecheck.satellites.scheduler import next_daily_start, run_daily
from voicecheck.settings import Settings, SettingsError, load_settings

LIMITS = WireLimits(header_bytes=1024, data_bytes=2048, payload_bytes=4096)


def read_all(raw: bytes, limits: WireLimits = LIMITS) -> list[Event | None]:
    async def go():
        reader = asyncio.StreamReader(limit=limits.stream_limit)
        reader.feed_data(raw)
        reader.feed_eof()
        events = []
        while True:
            event = await read_event(reader, limits)
            events.append(event)
            if event is None:
                return events
    return asyncio.run(go())


def written(event: Event) -> bytes:
    """The bytes the wyoming package itself writes for an event."""
    class Sink:
        def __init__(self):
            self.data = b""

        def writelines(self, parts):
            self.data += b"".join(parts)

        def write(self, part):
            self.data += part

        async def drain(self):
            pass

    sink = Sink()
    asyncio.run(async_write_event(event, sink))
    return sink.data


# ------------------------------------------------------------------ wire


def test_events_written_by_wyoming_are_read_back_with_data_and_payload():
    audio = bytes(range(256)) * 4
    raw = written(Event("audio-chunk", {"rate": 16000, "width": 2, "channels": 1}, audio)) + written(Event("describe"))
    first, second, end = read_all(raw)
    assert (first.type, first.data["rate"], first.payload) == ("audio-chunk", 16000, audio)
    assert second.type == "describe" and end is None


@pytest.mark.parametrize("raw, oversized", [
    (b"this is not json\n", False),
    (b'["a list"]\n', False),
    (b'{"data": {}}\n', False),  # no type
    (b'{"type": "x", "data": [1]}\n', False),
    (b'{"type": "x", "payload_length": -5}\n', False),
    (b'{"type": "x", "payload_length": "many"}\n', False),
    (b'{"type": "x", "data_length": 3}\n[1]', False),  # extra data that is not an object
    (b'{"type": "audio-chunk", "payload_length": 100}\nshort', False),  # closed mid-payload
    (b'{"type": "x", "payload_length": 999999999}\n', True),
    (b'{"type": "x", "data_length": 5000}\n', True),
    (b'{"type": "x", "data": {"pad": "' + b"a" * 2000 + b'"}}\n', True),
    (b"a" * 3000, True),  # a header line that never ends
])
def test_malformed_and_oversized_events_are_refused_before_reading_them(raw, oversized):
    with pytest.raises(OversizedEvent if oversized else ProtocolError):
        read_all(raw)


def test_clean_close_between_events_is_not_an_error():
    assert read_all(b"") == [None]
    with pytest.raises(ProtocolError):
        read_all(b'{"type": "describe"')


# ------------------------------------------------------------------ PCM


@pytest.mark.parametrize("fmt", [PcmFormat(16000, 2, 1), PcmFormat(22050, 2, 1), PcmFormat(48000, 2, 2),
                                 PcmFormat(16000, 4, 1), PcmFormat(8000, 1, 1)])
def test_speech_is_sent_in_the_satellites_format_and_keeps_its_length(fmt):
    t = np.arange(SAMPLE_RATE) / SAMPLE_RATE
    tone = (0.5 * np.sin(2 * np.pi * 440 * t)).astype(np.float32)
    pcm = encode(tone, SAMPLE_RATE, fmt)
    assert len(pcm) == fmt.rate * fmt.width * fmt.channels
    assert fmt.seconds(len(pcm)) == pytest.approx(1.0)
    back = decode(pcm, fmt)
    assert np.max(np.abs(back)) == pytest.approx(0.5, abs=0.02)


def test_microphone_chunks_of_any_format_become_30ms_frames_at_16khz():
    fmt = PcmFormat(48000, 2, 2)
    second = encode(np.full(48000, 0.25, np.float32), 48000, fmt)
    mic = MicFrames()
    frames = []
    for start in range(0, len(second), 4000):  # odd-sized chunks, as a network delivers them
        frames += mic.feed(second[start:start + 4000], fmt)
    assert all(len(f) == FRAME_SAMPLES for f in frames)
    assert len(frames) in (32, 33)  # one second of 30 ms frames (the resampler keeps a few samples back)
    assert np.median(np.concatenate(frames)) == pytest.approx(0.25, abs=0.01)


def test_unusable_audio_formats_are_protocol_errors():
    for data in ({"rate": 16000, "width": 3, "channels": 1}, {"rate": "fast", "width": 2, "channels": 1},
                 {"rate": 16000, "width": 2}, {"rate": 10**7, "width": 2, "channels": 1}):
        with pytest.raises(ProtocolError):
            checked_format(data, "test")
    with pytest.raises(ProtocolError):
        decode(b"\x00\x01\x02", PcmFormat(16000, 2, 1))  # not whole samples


def test_info_gives_the_speaker_format_or_the_default():
    info = parse_info(Event("info", {"snd": [{"snd_format": {"rate": 22050, "width": 2, "channels": 1}}],
                                     "satellite": {"name": "居間", "area": "1階", "supports_trigger": True}}))
    assert (info.snd_format, info.area, info.supports_trigger) == (PcmFormat(22050, 2, 1), "1階", True)
    assert parse_info(Event("info", {"satellite": {"name": "old"}})).snd_format == PcmFormat(16000, 2, 1)
    assert parse_info(Event("info", {"snd": [{"snd_format": {"rate": 22050, "width": 3, "channels": 1}}]})
                      ).snd_format == PcmFormat(16000, 2, 1)


# ------------------------------------------------------------------ settings


def write_config(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "settings.toml"
    path.write_text(text, encoding="utf-8")
    return path


def serve_args(path: Path, *extra: str):
    return build_parser().parse_args(["serve", "--config", str(path), *extra])


def test_satellites_table_and_command_line_satellites(tmp_path):
    path = write_config(tmp_path, """
volume = 0.8
[satellites]
"居間" = "tcp://192.168.1.20:10700"
"room-2" = { uri = "tcp://192.168.1.21:10700", daily = ["18:00", "09:30"] }
[speech_services]
enabled = true
port = 10400
""")
    config = serve_config(serve_args(path, "--satellite", "寝室=tcp://10.0.0.5:10700", "--start-now", "寝室"))
    rooms = {s.name: s for s in config.satellites}
    assert rooms["居間"] == SatelliteConfig("居間", "tcp://192.168.1.20:10700", "wake", ())
    assert rooms["room-2"].daily == (clock_time(9, 30), clock_time(18, 0))
    assert rooms["寝室"].start == "now" and rooms["居間"].start == "wake"
    assert (config.services.enabled, config.services.host, config.services.port) == (True, "127.0.0.1", 10400)
    # the plain settings still load from the same file, tables and all
    assert load_settings(path).settings.volume == 0.8


@pytest.mark.parametrize("text, words", [
    ('[satellites]\n"居間" = "192.168.1.20:10700"\n', "アドレス"),
    ('[satellites]\n"居間" = "tcp://192.168.1.20"\n', "ポート"),
    ('[satellites]\n"../etc" = "tcp://a:1"\n', "名前"),
    ('[satellites]\n"居間" = { uri = "tcp://a:1", start = "later" }\n', "start"),
    ('[satellites]\n"居間" = { uri = "tcp://a:1", daily = "9時" }\n', "時刻"),
    ('[satellites]\n"居間" = { uri = "tcp://a:1", colour = "red" }\n', "colour"),
    ('[speech_services]\nhost = "my pc"\n', "host"),
    ('[speech_services]\nport = 70000\n', "port"),
])
def test_a_wrong_satellite_setting_names_the_file_the_value_and_what_is_allowed(tmp_path, text, words):
    path = write_config(tmp_path, text)
    with pytest.raises(SettingsError) as error:
        serve_config(serve_args(path))
    assert str(path) in str(error.value) and words in str(error.value)


def test_the_speech_services_are_off_and_on_loopback_unless_asked(tmp_path):
    path = write_config(tmp_path, '[satellites]\n"居間" = "tcp://192.168.1.20:10700"\n')
    config = serve_config(serve_args(path))
    assert not config.services.enabled and config.services.host == "127.0.0.1"
    config = serve_config(serve_args(path, "--speech-services", "--services-host", "0.0.0.0"))
    assert config.services.enabled and config.services.host == "0.0.0.0"


def test_serve_without_satellites_says_what_to_write(tmp_path, capsys):
    from voicecheck.cli import main

    path = write_config(tmp_path, "volume = 1.0\n")
    assert main(["serve", "--config", str(path)]) == 2
    assert "[satellites]" in capsys.readouterr().err


def test_room_phrases_are_content(tmp_path):
    phrases = load_room_phrases(Settings().prompts_dir)
    assert "よろしいですか" in phrases.checkin_offer
    (tmp_path / "satellites.toml").write_text('checkin_offer = "x"\n', encoding="utf-8")
    from voicecheck.content import ContentError

    with pytest.raises(ContentError):
        load_room_phrases(tmp_path)


# ------------------------------------------------------------------ daily check-ins


def test_next_daily_start_is_later_today_or_tomorrow():
    times = (clock_time(9, 30), clock_time(18, 0))
    assert next_daily_start(datetime(2026, 5, 1, 8, 0), times) == datetime(2026, 5, 1, 9, 30)
    assert next_daily_start(datetime(2026, 5, 1, 9, 30), times) == datetime(2026, 5, 1, 18, 0)
    assert next_daily_start(datetime(2026, 5, 1, 23, 0), times) == datetime(2026, 5, 2, 9, 30)
    assert next_daily_start(datetime(2026, 5, 1, 23, 0), ()) is None


def test_the_daily_task_starts_a_session_at_each_time(monkeypatch):
    import voicecheck.satellites.scheduler as scheduler

    monkeypatch.setattr(scheduler, "LONGEST_NAP_S", 0.02)
    clock = {"now": datetime(2026, 5, 1, 9, 29, 59)}
    started = []

    async def go():
        task = asyncio.create_task(run_daily((clock_time(9, 30), clock_time(18, 0)),
                                             lambda kind: started.append((kind, clock["now"].time())),
                                             lambda: clock["now"]))
        for moment in ("09:29:59.5", "09:30:00.1", "12:00:00", "18:00:00.1", "23:59:00"):
            clock["now"] = datetime.combine(clock["now"].date(), clock_time.fromisoformat(moment))
            await asyncio.sleep(0.1)
        task.cancel()

    asyncio.run(go())
    assert started == [("daily", clock_time(9, 30, 0, 100000)), ("daily", clock_time(18, 0, 0, 100000))]


# ------------------------------------------------------------------ fair recognition


class SlowRecognizer:
    """Takes 50 ms per answer and notes who asked, in order; never two at once."""

    name = "slow"

    def __init__(self) -> None:
        self.busy = threading.Lock()
        self.order: list[str] = []

    def start(self, context):
        raise NotImplementedError

    def transcribe(self, samples, context):
        assert self.busy.acquire(blocking=False), "two recognitions at once"
        try:
            time.sleep(0.05)
            self.order.append(context.question_id)
            return Heard(text=context.question_id)
        finally:
            self.busy.release()


def test_recognition_takes_turns_between_rooms_and_never_runs_twice_at_once():
    recognizer = SlowRecognizer()
    queue = FairRecognitionQueue(recognizer, max_waiting=10)
    busy = [queue.submit("room-a", np.zeros(10), ListenContext(f"a{i}")) for i in range(4)]
    time.sleep(0.01)  # room-a's first answer is being decoded; then room-b and room-c ask
    others = [queue.submit(room, np.zeros(10), ListenContext(f"{room[-1]}0")) for room in ("room-b", "room-c")]
    results = [f.result(5) for f in busy + others]
    queue.close()
    assert [r.text for r in results] == ["a0", "a1", "a2", "a3", "b0", "c0"]
    # room-b and room-c did not wait behind room-a's whole backlog
    assert recognizer.order == ["a0", "a1", "b0", "c0", "a2", "a3"]
    assert all("queued" in r.timings for r in results)


def test_a_room_cannot_pile_up_requests_and_errors_reach_the_room():
    from voicecheck.recognizers.base import RecognizerError

    class Failing(SlowRecognizer):
        def transcribe(self, samples, context):
            raise RecognizerError("model broken")

    queue = FairRecognitionQueue(Failing(), max_waiting=1)
    handle = queue.client("room-a")
    with pytest.raises(RecognizerError, match="model broken"):
        handle.transcribe(np.zeros(10), ListenContext("x"))
    queue.close()
    with pytest.raises(RecognizerError):
        queue.submit("room-a", np.zeros(10), ListenContext("x"))
    assert json.dumps(handle.name)


# ------------------------------------------------------------------ a room's ears and mouth, without a network


class _Loop:
    """Stands in for the event loop: the channel only hands it coroutines in `call`."""


def test_a_satellite_that_stops_streaming_still_times_out_in_real_time():
    from voicecheck.satellites.channel import RoomChannel
    from voicecheck.satellites.ears import RoomEars

    channel = RoomChannel("居間", _Loop())
    channel.attach(object())
    generation = channel.open_session()
    ears = RoomEars(channel, recognizer=None, settings=Settings(), generation=generation)
    started = time.monotonic()
    heard = ears.listen(ListenContext("safety_now", timeout_s=1.0))
    assert heard.timed_out and 0.9 < time.monotonic() - started < 4.0


def test_a_drop_reaches_a_listening_room_at_once():
    from voicecheck.satellites.channel import RoomChannel, RoomOffline, ServerStopping
    from voicecheck.satellites.ears import RoomEars

    channel = RoomChannel("居間", _Loop())
    channel.attach(object())
    generation = channel.open_session()
    ears = RoomEars(channel, recognizer=None, settings=Settings(), generation=generation)
    threading.Timer(0.3, channel.detach).start()
    started = time.monotonic()
    with pytest.raises(RoomOffline):
        ears.listen(ListenContext("safety_now", timeout_s=30.0))
    assert time.monotonic() - started < 2.0
    channel.attach(object())  # back, but the session belongs to the old connection
    with pytest.raises(RoomOffline):
        channel.check(generation)
    channel.stop()
    with pytest.raises(ServerStopping):
        channel.check(channel.generation)


def test_the_microphone_is_kept_only_during_a_session_when_the_device_is_quiet_and_bounded():
    from voicecheck.satellites.channel import RoomChannel

    channel = RoomChannel("居間", _Loop(), buffer_s=0.3, echo_tail_s=0.2)
    channel.attach(object())
    frame = np.ones(FRAME_SAMPLES, np.float32)
    channel.push_frames([frame] * 5)  # no session yet
    generation = channel.open_session()
    assert channel.next_frames(generation, 0.05) == []
    channel.begin_speaking()
    channel.push_frames([frame] * 5)  # the device's own voice
    channel.end_speaking()
    channel.push_frames([frame] * 5)  # the last syllable still ringing
    assert channel.next_frames(generation, 0.05) == []
    time.sleep(0.25)
    channel.push_frames([frame] * 50)
    assert len(channel.next_frames(generation, 0.05)) == 10  # at most buffer_s of audio is kept
    assert channel.dropped_frames == 40


def test_a_second_server_for_the_same_room_stops_with_a_message(tmp_path):
    from voicecheck.satellites.room_sessions import room_data_dir
    from voicecheck.store import SessionRunning, SessionStore

    from satellite_peers import serve_config
    from voicecheck.satellites.phrases import load_room_phrases
    from voicecheck.satellites.server import VoicecheckServer
    from voicecheck.satellites.shared_engines import SharedEngines

    settings = Settings(data_dir=tmp_path / "data")
    engines = SharedEngines(content=None, matcher=None, voice=None, recognition=None)
    held = SessionStore(room_data_dir(settings.data_dir, "寝室")).lock()  # another serve has 寝室
    config = serve_config(SatelliteConfig("居間", "tcp://127.0.0.1:9"), SatelliteConfig("寝室", "tcp://127.0.0.1:9"))

    async def go():
        server = VoicecheckServer(config, engines, settings, load_room_phrases(settings.prompts_dir))
        with pytest.raises(SessionRunning, match="別のセッション"):
            await server.start()
        assert server.rooms == {}
        # 居間's folder was let go again: a later server can take it
        SessionStore(room_data_dir(settings.data_dir, "居間")).lock().release()

    asyncio.run(go())
    held.release()

