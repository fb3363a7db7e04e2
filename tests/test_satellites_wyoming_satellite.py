"""End to end with the real `wyoming-satellite` from PyPI as the room's satellite.

wyoming-satellite 1.0.0 (the release on PyPI) pins wyoming 1.4.1, which cannot share a venv with
our wyoming 1.10, so it is installed once into its own venv under .venv/ (a test tool, like the
models; skipped when PyPI cannot be reached). Its `--mic-command` and `--snd-command` are two
tiny scripts working on files: the speaker script "plays" what it is sent at real-time pace into
spoken.raw, and the microphone script streams silence, and a recorded answer (another voice
than the product's) each time the speaker has been quiet for a moment after speaking. This
release streams without a wake word and never sends `played`, so the room starts at once
(start = "now") and waits out the length of its own speech.
"""
from __future__ import annotations

import asyncio
import os
import shutil
import socket
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from satellite_peers import build_engines, extra, pcm16, serve_config, session_answers
from speech_support import whisper_model_dir
from voicecheck.satellites.config import SatelliteConfig
from voicecheck.satellites.phrases import load_room_phrases
from voicecheck.satellites.server import VoicecheckServer
from voicecheck.settings import PROJECT_DIR, Settings
from voicecheck.store import SessionStore

pytestmark = pytest.mark.model

SATELLITE_RELEASE = "wyoming-satellite==1.0.0"
SIDE_VENV = PROJECT_DIR / ".venv" / "wyoming-satellite-1.0.0"
SND_RATE = 22_050

MIC_SCRIPT = textwrap.dedent("""
    # Microphone of the test satellite: 16 kHz mono 16-bit on stdout at real-time pace.
    import os, sys, time
    control, answers = sys.argv[1], [open(a, "rb").read() for a in sys.argv[2:]]
    spoken, log = os.path.join(control, "spoken.raw"), os.path.join(control, "answers.log")
    chunk_bytes, chunk_s = 2048, 1024 / 16000
    last_size, last_change, answered_at, current = 0, time.monotonic(), 0, b""
    next_at = time.monotonic()
    while True:
        size = os.path.getsize(spoken) if os.path.exists(spoken) else 0
        now = time.monotonic()
        if size != last_size:
            last_size, last_change = size, now
        # answer once the device has spoken since the last answer and then been quiet for 1.5 s
        if not current and answers and size > answered_at and now - last_change >= 1.5:
            current, answered_at = answers.pop(0), size
            with open(log, "a") as f:
                f.write(f"{now:.3f}\\n")
        piece, current = current[:chunk_bytes], current[chunk_bytes:]
        try:
            sys.stdout.buffer.write(piece.ljust(chunk_bytes, b"\\0"))
            sys.stdout.buffer.flush()
        except BrokenPipeError:  # the satellite has stopped
            os._exit(0)
        next_at += chunk_s
        time.sleep(max(0.0, next_at - time.monotonic()))
""")

SND_SCRIPT = textwrap.dedent("""
    # Speaker of the test satellite: "plays" raw PCM from stdin at real-time pace into spoken.raw.
    import os, sys, time
    control, bytes_per_s = sys.argv[1], int(sys.argv[2]) * 2
    start, played = None, 0
    with open(os.path.join(control, "spoken.raw"), "ab") as out:
        while True:
            data = os.read(0, 4096)
            if not data:
                break
            now = time.monotonic()
            if start is None or now > start + played / bytes_per_s:
                start, played = now, 0
            out.write(data)
            out.flush()
            played += len(data)
            time.sleep(max(0.0, start + played / bytes_per_s - time.monotonic()))
""")


def satellite_venv() -> Path:
    """The side venv with wyoming-satellite, made once; pytest.skip when it cannot be installed."""
    python = SIDE_VENV / "bin" / "python"
    if python.exists():
        return python
    try:
        subprocess.run([sys.executable, "-m", "venv", str(SIDE_VENV)], check=True, capture_output=True, timeout=120)
        subprocess.run([str(python), "-m", "pip", "install", "--quiet", SATELLITE_RELEASE], check=True,
                       capture_output=True, timeout=600)
    except (subprocess.SubprocessError, OSError) as error:
        shutil.rmtree(SIDE_VENV, ignore_errors=True)
        output = getattr(error, "stderr", b"") or b""
        pytest.skip(f"{SATELLITE_RELEASE} cannot be installed here: {output.decode(errors='replace')[-300:]}")
    return python


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_a_session_through_wyoming_satellite_from_pypi(tmp_path):
    model = whisper_model_dir()
    if model is None:
        pytest.skip("faster-whisper-base is not installed (models/ or VOICECHECK_MODEL_MIRROR)")
    python = satellite_venv()
    control = tmp_path / "satellite"
    control.mkdir()
    (control / "mic.py").write_text(MIC_SCRIPT, encoding="utf-8")
    (control / "snd.py").write_text(SND_SCRIPT, encoding="utf-8")
    answers = []
    for n, recording in enumerate([session_answers("jm_kumo")["safety_now"], extra("command_stop_jm_kumo")]):
        path = control / f"answer{n}.raw"
        path.write_bytes(pcm16(recording.samples()))
        answers.append(str(path))
    port = free_port()
    command = [str(python), "-m", "wyoming_satellite", "--uri", f"tcp://127.0.0.1:{port}", "--name", "居間",
               "--no-zeroconf",
               "--mic-command", f"{sys.executable} {control / 'mic.py'} {control} {' '.join(answers)}",
               "--snd-command", f"{sys.executable} {control / 'snd.py'} {control} {SND_RATE}",
               "--snd-command-rate", str(SND_RATE)]
    log_file = open(tmp_path / "satellite.log", "wb")
    satellite = subprocess.Popen(command, stdout=log_file, stderr=subprocess.STDOUT, cwd=control)
    settings = Settings(data_dir=tmp_path / "data", pause_s=0.1)
    engines = build_engines(model)

    async def scenario():
        deadline = time.monotonic() + 30
        while True:  # wait until the satellite listens on its port
            try:
                _, writer = await asyncio.open_connection("127.0.0.1", port)
                writer.close()
                break
            except OSError:
                if time.monotonic() > deadline or satellite.poll() is not None:
                    raise AssertionError("wyoming-satellite did not start: " + (tmp_path / "satellite.log").read_text())
                await asyncio.sleep(0.2)
        server = VoicecheckServer(serve_config(SatelliteConfig("居間", f"tcp://127.0.0.1:{port}", start="now")),
                                  engines, settings, load_room_phrases(settings.prompts_dir), max_sessions=1)
        await server.start()
        try:
            await asyncio.wait_for(server.wait_rooms_done(), 300)
        finally:
            await server.stop()

    try:
        asyncio.run(scenario())
    finally:
        satellite.terminate()
        try:
            satellite.wait(10)
        except subprocess.TimeoutExpired:
            satellite.kill()
        log_file.close()
        engines.close()
    (record,) = SessionStore(settings.data_dir / "rooms" / "居間").finished()
    summary = record.load_summary()
    assert summary["status"] == "stopped", summary
    assert summary["answers"]["safety_now"] == "no"
    spoken_s = (control / "spoken.raw").stat().st_size / (2 * SND_RATE)
    said = [e for e in record.transcript() if e.get("type") == "say"]
    assert len(said) >= 10 and spoken_s > 20, (len(said), spoken_s)
    assert len((control / "answers.log").read_text().split()) == 2
    log = (tmp_path / "satellite.log").read_text(errors="replace")
    assert "Traceback" not in log, log[-2000:]
    assert os.path.getsize(control / "spoken.raw") % 2 == 0
