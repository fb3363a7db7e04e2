"""Rooms served through Wyoming satellites, end to end, with the real `wyoming` package as the peer.

Each fake satellite (tests/satellite_peers.py) streams recorded answers by other voices than the
product's as microphone audio at real-time pace, waits for the device to finish speaking, and
records everything it is sent. The server is the one `python run.py serve` runs, with Whisper.
Recognition is not perfect on these voices (see bench/results.md), so the tests count: every
answer the room accepted must be the one the resident meant (never a wrong answer), and most
must be understood.
"""
from __future__ import annotations

import asyncio
import logging
import time

import pytest

from satellite_peers import (FakeSatellite, Resident, build_engines, extra, plain_yes, question_picker, serve_config,
                             session_answers, wait_until, wire_text_leaks)
from speech_support import whisper_model_dir
from voicecheck.satellites.config import SatelliteConfig
from voicecheck.satellites.phrases import load_room_phrases
from voicecheck.satellites.server import VoicecheckServer
from voicecheck.settings import Settings
from voicecheck.store import SessionStore

pytestmark = pytest.mark.model

EXPECTED_QUESTIONS = 17


@pytest.fixture(scope="module")
def engines():
    model = whisper_model_dir()
    if model is None:
        pytest.skip("faster-whisper-base is not installed (models/ or VOICECHECK_MODEL_MIRROR)")
    shared = build_engines(model)
    yield shared
    shared.close()


@pytest.fixture
def settings(tmp_path):
    return Settings(data_dir=tmp_path / "data", pause_s=0.1)


def run_rooms(engines, settings, satellites, configs, pickers, *, timeout_s, first_retry_s=0.5, max_sessions=1,
              before=None, until=None):
    """Start the satellites and the server, give each satellite its resident, wait, stop everything."""

    async def scenario():
        for satellite in satellites:
            await satellite.start()
        server = VoicecheckServer(serve_config(*[c(s) for c, s in zip(configs, satellites)]), engines, settings,
                                  load_room_phrases(settings.prompts_dir), max_sessions=max_sessions,
                                  first_retry_s=first_retry_s)
        await server.start()
        for satellite, pick in zip(satellites, pickers):
            if pick is not None:
                satellite.resident = Resident(pick(server.rooms[satellite.name]))
        try:
            if before is not None:
                await before(server)
            if until is not None:
                await wait_until(lambda: until(server), timeout_s, "the rooms")
            else:
                await asyncio.wait_for(server.wait_rooms_done(), timeout_s)
        finally:
            await server.stop()
            for satellite in satellites:
                await satellite.stop()
        return server

    return asyncio.run(scenario())


def room_summaries(settings, name):
    return [r.load_summary() for r in SessionStore(settings.data_dir / "rooms" / name).finished()]


def wrong_accepts(summary, answers) -> list[str]:
    """Questions whose saved answer is not what the resident's recording meant."""
    wrong = []
    for qid, detail in summary["answer_details"].items():
        if detail["status"] != "answered" or qid not in answers:
            continue
        expected = answers[qid].expected
        value = detail["value"]
        if expected == "text":
            continue
        got = "+".join(value) if isinstance(value, list) else value
        if got != expected:
            wrong.append(f"{qid}: {got} (meant {expected})")
    return wrong


def assert_only_speech_on_the_wire(satellite):
    assert wire_text_leaks(satellite.log) == []
    spoken = satellite.log.spoken
    assert spoken and all((s.rate, s.width, s.channels) == (satellite.snd_rate, 2, 1) for s in spoken)


def test_a_whole_session_through_one_satellite_started_by_its_wake_word(engines, settings):
    answers = session_answers("jm_kumo")
    satellite = FakeSatellite("居間", wake="detection", snd_rate=22_050)
    started = time.monotonic()
    server = run_rooms(
        engines, settings, [satellite], [lambda s: SatelliteConfig(s.name, s.uri)],
        [lambda room: question_picker(room, answers, confirm_yes=plain_yes("jm_kumo"))], timeout_s=900)
    elapsed = time.monotonic() - started
    (summary,) = room_summaries(settings, "居間")
    assert summary["status"] == "complete" and summary["mode"] == "satellite"
    assert len(summary["answer_details"]) == EXPECTED_QUESTIONS
    transcript = SessionStore(settings.data_dir / "rooms" / "居間").finished()[0].transcript()
    assert wrong_accepts(summary, answers) == [], "\n".join(
        f"{e.get('type')} {e.get('question', '')} {e.get('text', '')} {e.get('alternatives', '')} {e.get('value', '')}"
        for e in transcript if e.get("type") != "say")
    understood = [q for q, d in summary["answer_details"].items() if d["status"] == "answered"]
    assert len(understood) >= 11, summary["answer_details"]
    assert summary["answers"]["since_when"]  # the free answer is kept in words
    assert summary["exercises_done"] == []  # the resident declined the exercises
    assert summary["triage"] in ("see_doctor_soon", "self_care") and summary["causes"]
    # one wake word started one session: no wake word between questions
    assert server.rooms["居間"].sessions.finished == [summary["session_id"]]
    assert_only_speech_on_the_wire(satellite)
    # the whole read-back was spoken to the satellite after the questions
    events = SessionStore(settings.data_dir / "rooms" / "居間").finished()[0].transcript()
    assert any(e.get("type") == "say" and "受診の目安" in e.get("text", "") for e in events)
    # nothing was written to the single-user data folder
    assert SessionStore(settings.data_dir).sessions() == []
    print(f"whole session: {elapsed:.0f} s, {len(satellite.log.answers_given)} answers said, "
          f"{len(understood)}/{EXPECTED_QUESTIONS} understood")


def test_two_satellites_at_once_keep_two_residents_apart(engines, settings):
    kumo, alpha = session_answers("jm_kumo"), session_answers("jf_alpha")
    stop = extra("command_stop_jm_kumo")
    kitchen = FakeSatellite("台所", snd_rate=16_000)
    bedroom = FakeSatellite("寝室", wake="run-pipeline", snd_rate=48_000)
    run_rooms(
        engines, settings, [kitchen, bedroom],
        [lambda s: SatelliteConfig(s.name, s.uri, start="now"), lambda s: SatelliteConfig(s.name, s.uri)],
        [lambda room: question_picker(room, kumo, stop_at={"frequency": stop}),
         lambda room: question_picker(room, alpha, stop_at={"situations": stop})],
        timeout_s=240)
    (kitchen_summary,) = room_summaries(settings, "台所")
    (bedroom_summary,) = room_summaries(settings, "寝室")
    assert kitchen_summary["status"] == bedroom_summary["status"] == "stopped"
    assert kitchen_summary["answers"]["safety_now"] == bedroom_summary["answers"]["safety_now"] == "no"
    assert kitchen_summary["answers"]["situations"] == ["stairs_down", "standing_up"]
    assert "situations" not in bedroom_summary["answers"]
    # the two sessions ran at the same time
    k0, k1 = kitchen_summary["started"], kitchen_summary["ended"]
    b0, b1 = bedroom_summary["started"], bedroom_summary["ended"]
    assert max(k0, b0) < min(k1, b1)
    for satellite in (kitchen, bedroom):
        assert_only_speech_on_the_wire(satellite)


def test_a_satellite_that_drops_mid_session_is_reconnected_and_the_session_resumes(engines, settings, caplog):
    kumo = session_answers("jm_kumo")
    stop = extra("command_stop_jm_kumo")
    satellite = FakeSatellite("居間", drop_after_answers=1, away_s=2.5)
    caplog.set_level(logging.INFO, logger="voicecheck.satellites")
    server = run_rooms(
        engines, settings, [satellite], [lambda s: SatelliteConfig(s.name, s.uri, start="now")],
        [lambda room: question_picker(room, kumo, stop_at={"frequency": stop})], timeout_s=240)
    room = server.rooms["居間"]
    records = SessionStore(settings.data_dir / "rooms" / "居間").sessions()
    assert len(records) == 1, "the session resumed in its own record"
    summary = records[0].load_summary()
    assert summary["status"] == "stopped"
    assert summary["answers"]["safety_now"] == "no"
    assert summary["answers"]["situations"] == ["stairs_down", "standing_up"]
    events = records[0].transcript()
    assert [e["type"] for e in events].count("session_start") == 2
    assert any(e.get("type") == "resumed_after_break" for e in events)
    assert satellite.log.connections >= 2 and room.connects >= 2
    messages = [r.getMessage() for r in caplog.records]
    assert any("[居間]" in m and "切れました" in m for m in messages)
    assert any("秒後につなぎ直します" in m for m in messages)


def garbage(handler):
    """Bad satellites, one way per connection: not JSON, a huge payload, an endless header line."""
    attempts = handler.sat.log.connections

    async def misbehave():
        if attempts % 3 == 1:
            handler.writer.write(b"\xff\xfe this is not an event\n")
        elif attempts % 3 == 2:
            handler.writer.write(b'{"type": "audio-chunk", "data": {"rate": 16000, "width": 2, "channels": 1}, '
                                 b'"payload_length": 2000000000}\n')
        else:
            handler.writer.write(b'{"type": "info", "data": {"x": "' + b"a" * 200_000)
        await handler.writer.drain()
        await asyncio.sleep(5)
        return False

    return misbehave()


def test_malformed_and_oversized_events_close_only_that_connection(engines, settings, caplog):
    kumo = session_answers("jm_kumo")
    stop = extra("command_stop_jm_kumo")
    good = FakeSatellite("居間")
    bad = FakeSatellite("物置", misbehave=garbage)
    caplog.set_level(logging.INFO, logger="voicecheck.satellites")

    def rooms_done(server):
        failures = server.rooms["物置"].failures
        return server.rooms["居間"].sessions.done.is_set() and {"malformed", "oversized"} <= set(failures)

    server = run_rooms(
        engines, settings, [good, bad],
        [lambda s: SatelliteConfig(s.name, s.uri, start="now"), lambda s: SatelliteConfig(s.name, s.uri, start="now")],
        [lambda room: question_picker(room, kumo, stop_at={"situations": stop}), None],
        timeout_s=180, first_retry_s=0.2, until=rooms_done)
    (summary,) = room_summaries(settings, "居間")
    assert summary["status"] == "stopped" and summary["answers"]["safety_now"] == "no"
    assert server.rooms["居間"].connects == 1, "the good room was never disturbed"
    assert room_summaries(settings, "物置") == [] and server.rooms["物置"].connects == 0
    messages = [r.getMessage() for r in caplog.records if "[物置]" in r.getMessage()]
    assert any("読めないデータ" in m for m in messages) and any("大きすぎるデータ" in m for m in messages)
    assert_only_speech_on_the_wire(good)


def test_a_daily_check_in_asks_first_and_a_no_leaves_no_session(engines, settings, caplog):
    alpha = session_answers("jf_alpha")  # its yes_no answer is 「いいえ、結構です」
    satellite = FakeSatellite("居間")
    caplog.set_level(logging.INFO, logger="voicecheck.satellites")

    async def check_in(server):
        await wait_until(lambda: server.rooms["居間"].connects == 1, 20, "the connection")
        server.rooms["居間"].sessions.start("daily")

    def offer_over(server):
        sessions = server.rooms["居間"].sessions
        return bool(sessions.ears) and not sessions.busy

    server = run_rooms(engines, settings, [satellite], [lambda s: SatelliteConfig(s.name, s.uri)],
                       [lambda room: question_picker(room, alpha)], timeout_s=90, before=check_in, until=offer_over)
    assert SessionStore(settings.data_dir / "rooms" / "居間").sessions() == []
    turns = [c.question_id for c in server.rooms["居間"].sessions.ears[-1].contexts]
    assert turns and set(turns) == {"yes_no"}  # only the offer was asked, never a question
    assert any("見送り" in r.getMessage() for r in caplog.records)
    assert len(satellite.log.spoken) >= 2  # the offer, then 「また今度うかがいますね」
