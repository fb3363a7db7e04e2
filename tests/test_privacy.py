"""Nothing leaked: a whole session runs with the network blocked and opens no socket at all.

Three layers, each able to fail the test on its own:
1. an audit hook in the session's process records (and refuses) every socket, DNS lookup and
   URL request made through Python;
2. where `strace` exists, every network system call of the process and its children is logged,
   which also catches native libraries (speech engines) that bypass Python;
3. where a network namespace can be made (`unshare -n`), the session runs with no network
   interface at all, so it must also complete without one.
Also checked: with keep-audio off (the default), no sound file is left in the data folder, and
every file the session wrote is readable only by its owner.
"""
from __future__ import annotations

import json
import os
import shutil
import stat
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

import session_factory as F
from voicecheck.settings import Settings

PROJECT = Path(__file__).resolve().parent.parent
AUDIO_SUFFIXES = {".wav", ".flac", ".ogg", ".mp3", ".raw", ".pcm", ".opus", ".webm"}

# Runs run.py in-process after installing the hook, so the hook sees every call.
GUARD = textwrap.dedent(
    """
    import json, os, runpy, sys, traceback
    log_path = sys.argv.pop(1)
    NETWORK_EVENTS = (
        "socket.__new__", "socket.connect", "socket.bind", "socket.sendto", "socket.sendmsg",
        "socket.getaddrinfo", "socket.gethostbyname", "socket.gethostbyaddr", "socket.getnameinfo",
        "urllib.Request", "http.client.connect", "ftplib.connect", "smtplib.connect",
    )

    def origin(frames):
        # urllib3 (imported by the vosk package for its model downloader) asks at import time
        # whether IPv6 exists by creating a socket; it is refused here like any other.
        for frame in frames:
            if frame.filename.replace(os.sep, "/").endswith("urllib3/util/connection.py") and frame.name == "_has_ipv6":
                return "urllib3-ipv6-probe"
        return "other"

    def hook(event, args):
        if event in NETWORK_EVENTS:
            frames = traceback.extract_stack()[:-1]
            record = {"event": event, "args": repr(args)[:200], "origin": origin(frames),
                      "stack": [f"{f.filename}:{f.lineno} {f.name}" for f in frames[-6:]]}
            with open(log_path, "a", encoding="utf-8") as log:
                log.write(json.dumps(record) + "\\n")
            raise PermissionError(f"network blocked by test_privacy: {event}")

    sys.addaudithook(hook)
    sys.argv = [sys.argv[1]] + sys.argv[2:]
    runpy.run_path(sys.argv[0], run_name="__main__")
    """
)
# Refused socket attempts that are not network use (see GUARD.origin).
HARMLESS_ORIGINS = {"urllib3-ipv6-probe"}


def can_unshare_network() -> bool:
    if shutil.which("unshare") is None:
        return False
    try:
        return subprocess.run(["unshare", "-n", "true"], capture_output=True, timeout=20).returncode == 0
    except (OSError, subprocess.SubprocessError):
        return False


def text_answers() -> str:
    return F.typed_input(F.typed_session())


def run_guarded(tmp_path: Path, argv: list[str], stdin: str | None = None) -> tuple[subprocess.CompletedProcess, Path, list[str]]:
    data = tmp_path / "data"
    guard = tmp_path / "guard.py"
    guard.write_text(GUARD, encoding="utf-8")
    python_log = tmp_path / "python-network.jsonl"
    strace_log = tmp_path / "strace.log"
    env = {
        **os.environ,
        "VOICECHECK_DATA_DIR": str(data),
        "XDG_CONFIG_HOME": str(tmp_path / "config"),
        "PYTHONPATH": str(PROJECT),
        "HF_HUB_OFFLINE": "1",  # belt and braces: libraries that could phone home are told not to
    }
    env.pop("VOICECHECK_CONFIG", None)
    command = [sys.executable, str(guard), str(python_log), str(PROJECT / "run.py"), *argv]
    layers = ["audit hook"]
    if shutil.which("strace"):
        command = ["strace", "-f", "-qq", "-e", "trace=%network", "-o", str(strace_log), *command]
        layers.append("strace")
    if can_unshare_network():
        command = ["unshare", "-n", *command]
        layers.append("no network namespace")
    done = subprocess.run(command, input=stdin, capture_output=True, text=True, env=env, cwd=tmp_path,
                          timeout=900, stdin=None if stdin is not None else subprocess.DEVNULL)
    assert "Traceback" not in done.stderr, done.stderr[-3000:]
    attempts = [json.loads(line) for line in python_log.read_text(encoding="utf-8").splitlines()] \
        if python_log.exists() else []
    network = [a for a in attempts if a["origin"] not in HARMLESS_ORIGINS]
    assert network == [], "the session tried to use the network:\n" + json.dumps(network, indent=1)[:3000]
    # Every socket was refused before it existed, so not one network system call may remain.
    if strace_log.exists():
        syscalls = [line for line in strace_log.read_text().splitlines() if line.strip()]
        assert syscalls == [], "network system calls:\n" + "\n".join(syscalls[:20])
    return done, data, layers


def assert_private_and_no_audio(data: Path) -> None:
    files = [p for p in data.rglob("*") if p.is_file()]
    assert files, "the session saved nothing"
    audio = [p for p in files if p.suffix.lower() in AUDIO_SUFFIXES]
    assert audio == [], f"keep-audio is off but sound files were kept: {audio[:5]}"
    for path in files:
        assert stat.S_IMODE(path.stat().st_mode) & 0o077 == 0, f"{path} is readable by others"
    for folder in [p for p in data.rglob("*") if p.is_dir()]:
        assert stat.S_IMODE(folder.stat().st_mode) & 0o077 == 0, f"{folder} is open to others"


def only_summary(data: Path, folder: str = "sessions") -> dict:
    summaries = list((data / folder).glob("*/summary.json"))
    assert len(summaries) == 1, summaries
    return json.loads(summaries[0].read_text(encoding="utf-8"))


def test_text_session_opens_no_socket_and_keeps_no_audio(tmp_path):
    done, data, layers = run_guarded(tmp_path, ["--text", "--no-confirm", "--fresh"], stdin=text_answers())
    assert done.returncode == 0, (done.stdout[-2000:], done.stderr[-2000:])
    summary = only_summary(data)
    assert summary["status"] == "complete" and summary["mode"] == "text"
    assert summary["answers"]["since_when"] == "3か月くらい前から"
    assert_private_and_no_audio(data)
    print("network blocked by:", ", ".join(layers))


def replay_answers_dir(tmp_path: Path) -> Path:
    """The text answers spoken by the project's own voice into numbered WAV files."""
    from voicecheck.audio import SAMPLE_RATE, resample, write_wav
    from voicecheck.voices.openjtalk import OpenJTalkVoice

    voice = OpenJTalkVoice("normal")
    folder = tmp_path / "answers"
    folder.mkdir()
    for number, line in enumerate(text_answers().splitlines(), start=1):
        samples, rate = voice.synthesize(line)
        write_wav(folder / f"{number:02d}.wav", resample(samples, rate, SAMPLE_RATE))
    return folder


def replay_ready() -> str | None:
    """Why a replayed session cannot run here, or None when it can."""
    try:
        import voicecheck.matcher  # noqa: F401
        import voicecheck.speech_io  # noqa: F401
        from voicecheck.recognizers import choose_engine
    except ImportError as error:
        return f"replay is not built yet ({error})"
    try:
        choose_engine(Settings())
    except Exception as error:  # no model installed and no mirror
        return f"no speech model: {str(error)[:120]}"
    return None


@pytest.mark.model
def test_replayed_session_opens_no_socket_and_keeps_no_audio(tmp_path):
    reason = replay_ready()
    if reason:
        pytest.skip(reason)
    answers = replay_answers_dir(tmp_path)
    done, data, layers = run_guarded(tmp_path, ["--replay", str(answers), "--no-confirm"])
    assert done.returncode == 0, (done.stdout[-2000:], done.stderr[-2000:])
    summary = only_summary(data, "replays")  # a test session: kept apart from the user's own
    assert not (data / "sessions").exists() or not list((data / "sessions").iterdir())
    assert summary["mode"] == "replay"
    assert summary["answers"], "the replayed answers were not understood at all"
    assert_private_and_no_audio(data)
    print("network blocked by:", ", ".join(layers))
