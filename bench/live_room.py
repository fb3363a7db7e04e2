"""A living room on a virtual sound card: the whole live path through a real PulseAudio server.

    room     a null sink: everything the microphone hears is played into it — the person's
             recorded answers, the TV, and the device's own voice (the echo path below)
    speaker  a null sink: the device plays here (its "loudspeaker")
    mic      a virtual microphone: the room sink's monitor
    echo     a loopback from the speaker's monitor into the room, `ECHO_DB` below the file level

The device runs as it does at home (`python run.py`, PortAudio → ALSA's pulse plugin →
PulseAudio). A scripted person reads the device's words as they are printed, waits until the
device has finished asking (the speaker has been quiet for a moment), then plays the recorded
answer (another voice than the device's) into the room. Optionally the person answers a long
question early, while the device is still reading it, and a TV loops in the room.

Used by tests/test_live_room.py (the session must end with the right answers) and by
`bench/endpointing.py --live` (end of speech → the device's reply, measured at the speaker).
"""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
OTHER_VOICES = ROOT / "tests" / "data" / "other_voices"
RATE = 16_000
ECHO_DB = -6.0  # the device's voice at the microphone, relative to its level in the file
SOUND_DB = -45.0  # the speaker counts as sounding above this (dBFS, 30 ms frames)
TONE_HZ = 660.0  # voicecheck.duplex.TONE_HZ
# The person answers after the loudspeaker has been quiet this long: longer than the gaps between
# the device's phrases (the pause setting plus the sound card's start-up, about 1 s here).
QUIET_BEFORE_ANSWER_S = 1.6


def pulseaudio_available() -> str | None:
    """None when a PulseAudio server and its tools are installed, else what is missing."""
    missing = [tool for tool in ("pulseaudio", "pactl", "paplay", "parec") if shutil.which(tool) is None]
    return f"not installed: {', '.join(missing)}" if missing else None


class VirtualRoom:
    """A private PulseAudio server (its own runtime folder) with the room, speaker, mic and echo."""

    def __init__(self, workdir: Path, echo_db: float = ECHO_DB) -> None:
        self.dir = Path(workdir)
        self.echo_db = echo_db
        self.socket = self.dir / "pulse" / "native"
        self._server: subprocess.Popen | None = None
        self._players: list[subprocess.Popen] = []

    def env(self, **extra: str) -> dict[str, str]:
        env = dict(os.environ)
        env.update({"PULSE_SERVER": f"unix:{self.socket}", "XDG_RUNTIME_DIR": str(self.dir / "run"),
                    "HOME": str(self.dir / "home")})
        env.update(extra)
        return env

    def __enter__(self) -> "VirtualRoom":
        (self.dir / "pulse").mkdir(parents=True, exist_ok=True)
        (self.dir / "run").mkdir(parents=True, exist_ok=True, mode=0o700)
        (self.dir / "home").mkdir(parents=True, exist_ok=True)
        script = self.dir / "room.pa"
        script.write_text("\n".join([
            f"load-module module-native-protocol-unix auth-anonymous=1 socket={self.socket}",
            "load-module module-null-sink sink_name=room rate=16000 channels=1",
            "load-module module-null-sink sink_name=speaker rate=16000 channels=1",
            "load-module module-remap-source master=room.monitor source_name=mic channels=1",
            "load-module module-loopback source=speaker.monitor sink=room latency_msec=40",
            "set-default-sink speaker",
            "set-default-source mic",
        ]) + "\n", encoding="utf-8")
        log = open(self.dir / "pulseaudio.log", "w")
        self._server = subprocess.Popen(
            ["pulseaudio", "-n", "-F", str(script), "--exit-idle-time=-1", "--disallow-exit",
             "--daemonize=no", "--log-target=stderr", "--use-pid-file=no", "--system=no"],
            env=self.env(PULSE_RUNTIME_PATH=str(self.dir / "pulse")), stdout=log, stderr=log)
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline:
            if self._server.poll() is not None:
                raise RuntimeError(f"PulseAudio did not start: {(self.dir / 'pulseaudio.log').read_text()[-800:]}")
            if self.socket.exists() and self.pactl("info", check=False).returncode == 0:
                break
            time.sleep(0.2)
        else:
            raise RuntimeError("PulseAudio did not answer within 15 s")
        self._set_echo_level()
        return self

    def pactl(self, *args: str, check: bool = True) -> subprocess.CompletedProcess:
        return subprocess.run(["pactl", *args], env=self.env(), capture_output=True, text=True, check=check)

    def _set_echo_level(self) -> None:
        inputs = self.pactl("list", "short", "sink-inputs").stdout.split("\n")
        for line in inputs:
            if line.strip():
                self.pactl("set-sink-input-volume", line.split()[0], f"{self.echo_db:g}dB")

    def __exit__(self, *exc) -> None:
        for player in self._players:
            if player.poll() is None:
                player.terminate()
        for player in self._players:
            try:
                player.wait(timeout=5)
            except subprocess.TimeoutExpired:
                player.kill()
        if self._server is not None and self._server.poll() is None:
            self._server.terminate()
            try:
                self._server.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self._server.kill()

    # ------------------------------------------------------------------ sound into the room

    def play(self, path: Path) -> None:
        """Play a WAV file into the room and return when it has been played."""
        subprocess.run(["paplay", "-d", "room", "--latency-msec=30", str(path)], env=self.env(), check=True)

    def loop(self, path: Path) -> subprocess.Popen:
        """Play a WAV file into the room over and over (the TV) until the room is closed."""
        player = subprocess.Popen(["bash", "-c", f'while true; do paplay -d room "{path}" || exit 1; done'],
                                  env=self.env(), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        self._players.append(player)
        return player

    def listen_to_speaker(self) -> "SpeakerWatch":
        watch = SpeakerWatch(self)
        self._players.append(watch.process)
        return watch


class SpeakerWatch:
    """Follows the device's loudspeaker (the speaker sink's monitor): when it sounds, when it is quiet."""

    def __init__(self, room: VirtualRoom) -> None:
        self.process = subprocess.Popen(
            ["parec", "-d", "speaker.monitor", "--raw", "--format=float32le", f"--rate={RATE}", "--channels=1",
             "--latency-msec=20"], env=room.env(), stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
        self.last_sound = time.monotonic()
        self.sound_times: list[float] = []
        self.tone_times: list[float] = []
        self._lock = threading.Lock()
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        size = 480 * 4
        assert self.process.stdout is not None
        while True:
            block = self.process.stdout.read(size)
            if not block or len(block) < size:
                return
            frame = np.frombuffer(block, dtype="<f4").astype(np.float64)
            level = 10 * np.log10(max(float(np.mean(frame ** 2)), 1e-12))
            if level > SOUND_DB:
                now = time.monotonic()
                spectrum = np.abs(np.fft.rfft(frame * np.hanning(len(frame)))) ** 2
                freqs = np.fft.rfftfreq(len(frame), 1 / RATE)
                band = spectrum[(freqs > TONE_HZ - 70) & (freqs < TONE_HZ + 70)].sum()
                with self._lock:
                    self.last_sound = now
                    self.sound_times.append(now)
                    if band > 0.9 * spectrum.sum():  # the device's turn tone: "your turn"
                        self.tone_times.append(now)

    def quiet_for(self) -> float:
        with self._lock:
            return time.monotonic() - self.last_sound

    def wait_quiet(self, seconds: float, timeout: float = 120.0) -> None:
        deadline = time.monotonic() + timeout
        while self.quiet_for() < seconds and time.monotonic() < deadline:
            time.sleep(0.05)

    def wait_tone(self, after: float, timeout: float = 90.0) -> bool:
        """Wait for the device's turn tone (played when it starts listening); False if none came."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self._lock:
                if any(t > after for t in self.tone_times):
                    return True
            time.sleep(0.02)
        return False

    def first_sound_after(self, t: float) -> float | None:
        with self._lock:
            return next((s for s in self.sound_times if s > t), None)


# ---------------------------------------------------------------------- the scripted person


@dataclass(frozen=True)
class Answer:
    question: str  # the question id this clip answers
    clip: Path
    early_after_s: float | None = None  # answer this long after the question starts, while the device reads it


@dataclass
class LiveRun:
    summary: dict | None
    returncode: int | None
    seconds: float
    reply_s: list[float] = field(default_factory=list)  # end of the person's speech → the device's reply
    said: list[str] = field(default_factory=list)
    errors: str = ""


def speech_end_s(path: Path) -> float:
    """Where the speech in a clip ends (its last 10 ms within 40 dB of the loudest)."""
    from bench.noise import active_mask
    from voicecheck.audio import read_wav

    mask = active_mask(read_wav(path))
    return (len(mask) - int(np.argmax(mask[::-1]))) * 0.010 if mask.any() else 0.0


def session_answers(voice: str = "jf_alpha") -> tuple[list[Answer], Answer, Path]:
    """The first four questions by a Kokoro voice, then 'stop' (the only recorded stop is by
    jm_kumo); and the clip used to say yes to a read-back."""
    folder = OTHER_VOICES / f"session_{voice}"
    answers = [Answer(q, folder / f"{i:02d}_{q}.wav")
               for i, q in enumerate(("safety_now", "situations", "frequency", "getting_worse"), start=1)]
    stop = Answer("near_fall", OTHER_VOICES / "extra" / "command_stop_jm_kumo.wav")
    yes = folder / "05_near_fall.wav"  # 「はい、転びそうになりました」: a yes for a read-back
    return answers + [stop], stop, yes


def run_live_session(room: VirtualRoom, workdir: Path, answers: list[Answer], yes_clip: Path,
                     tv: Path | None = None, settings: dict | None = None, timeout_s: float = 480.0,
                     log=None) -> LiveRun:
    """Start the device, answer its questions as a person would, return its summary."""
    from voicecheck.content import load_content
    from voicecheck.settings import Settings

    content = load_content(Settings().prompts_dir)
    questions = {q.id: q for q in content.questions}
    confirm_tail = content.say("confirm_option", label="").split("」", 1)[-1]  # 「…」ですね。よろしいですか。
    workdir = Path(workdir)
    workdir.mkdir(parents=True, exist_ok=True)
    values = {"engine": "whisper", "microphone": "pulse", "speaker": "pulse", "no_answer_timeout_s": 20.0,
              "data_dir": str(workdir / "data"), **(settings or {})}
    config = workdir / "settings.toml"
    config.write_text("".join(f"{k} = {json.dumps(v)}\n" for k, v in values.items()), encoding="utf-8")
    summary_path = workdir / "summary.json"
    watch = room.listen_to_speaker()
    if tv is not None:
        room.loop(tv)
    started = time.monotonic()
    device = subprocess.Popen(
        [sys.executable, str(ROOT / "run.py"), "--config", str(config), "--fresh", "--summary", str(summary_path)],
        env=room.env(PULSE_SINK="speaker", PULSE_SOURCE="mic", PYTHONUNBUFFERED="1"),
        stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=open(workdir / "device.log", "w"), text=True)
    run = LiveRun(None, None, 0.0)
    pending = list(answers)
    answered_current = False
    try:
        assert device.stdout is not None
        for line in device.stdout:
            line = line.strip()
            run.said.append(line)
            if log:
                log(f"    device: {line}")
            if not pending:
                continue
            if len(pending) > 1 and line == questions[pending[1].question].text and answered_current:
                pending.pop(0)  # the device moved on: the next question is being asked
                answered_current = False
            nxt = pending[0]
            question = questions[nxt.question]
            # the last line of the prompt: the last option read out, else the question (or its hint)
            last_option = (content.say("option_item", number=len(question.options), label=question.options[-1].label)
                           if question.kind in ("single", "multi") else None)
            opened = line == question.text
            if opened and nxt.early_after_s is not None:
                asked = True
            else:
                asked = line == question.hint or (line == last_option if last_option else opened)
            confirming = line.endswith(confirm_tail) and line.startswith("「")
            if not asked and not confirming:
                continue
            clip = nxt.clip if asked else yes_clip
            shown = time.monotonic()  # the words are printed as they start to be spoken
            deadline = shown + 10
            while watch.first_sound_after(shown) is None and time.monotonic() < deadline:
                time.sleep(0.02)
            if asked and nxt.early_after_s is not None:
                time.sleep(nxt.early_after_s)  # the device is still reading the question
            elif watch.wait_tone(shown):  # the device says "your turn" with its tone (turn_tone, on by default)
                time.sleep(0.5)
            else:
                watch.wait_quiet(QUIET_BEFORE_ANSWER_S)  # no tone: the device has been quiet a while
            if asked:
                answered_current = True  # asked again after 「聞き取れませんでした」: the person says it again
                if len(pending) == 1:
                    pending.pop(0)
            t0 = time.monotonic()
            room.play(clip)
            end = t0 + speech_end_s(clip)
            reply = None
            if not (asked and nxt.early_after_s is not None):
                deadline = time.monotonic() + 15
                while reply is None and time.monotonic() < deadline:
                    reply = watch.first_sound_after(end)
                    time.sleep(0.02)
            if reply is not None:
                run.reply_s.append(round(reply - end, 3))
        run.returncode = device.wait(timeout=max(10.0, timeout_s - (time.monotonic() - started)))
    except subprocess.TimeoutExpired:
        device.kill()
        run.errors = "the device did not finish in time"
    finally:
        if device.poll() is None:
            device.kill()
        run.seconds = time.monotonic() - started
        run.errors += (workdir / "device.log").read_text(encoding="utf-8", errors="replace")[-2000:]
    if summary_path.is_file():
        run.summary = json.loads(summary_path.read_text(encoding="utf-8"))
    return run


def tv_track(path: Path, level_db: float, seconds: float = 45.0) -> Path:
    """TV-like sound (crowd babble with music under it) at a mean level in dBFS, as a WAV file."""
    import soundfile

    from bench.corpus import BENCH, OUT_DIR
    from bench.music import music
    from bench.noise import load_noise

    babble = load_noise("babble", OUT_DIR / "noise", BENCH / "babble.txt")[: int(seconds * RATE)]
    mix = babble.astype(np.float64) + 0.5 * music(seconds)[: len(babble)]
    mix *= 10 ** (level_db / 20) / np.sqrt(np.mean(mix ** 2))
    soundfile.write(str(path), np.clip(mix, -1, 1).astype(np.float32), RATE, subtype="PCM_16")
    return path


def answer_level_db(answers: list[Answer]) -> float:
    """The active speech level of the answers (dBFS), for setting the TV 10 dB below it."""
    from bench.noise import active_power
    from voicecheck.audio import read_wav

    powers = [active_power(read_wav(a.clip)) for a in answers]
    return 10 * np.log10(float(np.mean(powers)))


def live_report(log) -> list[str]:
    """The bench's live table: one session in quiet, one with the TV 10 dB below the answers."""
    import tempfile

    problem = pulseaudio_available()
    if problem:
        return ["## Live, through a virtual sound card", "", f"Not measured: PulseAudio {problem}.", ""]
    lines = ["## Live, through a virtual sound card (PulseAudio)", "",
             "The device (`run.py`, Whisper) plays into a null sink; its voice comes back into the room "
             f"{-ECHO_DB:g} dB down; the microphone is the room's monitor. A scripted person (Kokoro jf_alpha) "
             "answers four questions after the device has finished asking, then says 「もう終わりにします」. "
             "Reply time = end of the person's speech → first sound of the device's reply at its speaker.", "",
             "| condition | answers right | reply p50 / max | session |", "|---|---|---|---|"]
    answers, _, yes = session_answers()
    expected = {"safety_now": "no", "situations": ["stairs_down", "standing_up"], "frequency": "weekly",
                "getting_worse": "yes"}
    with tempfile.TemporaryDirectory(prefix="voicecheck-live-") as tmp:
        tmp = Path(tmp)
        for name, tv_db in (("quiet", None), ("TV 10 dB below the answers", -10.0)):
            log(f"live: {name} …")
            with VirtualRoom(tmp / f"pa-{len(lines)}") as room:
                tv = tv_track(tmp / "tv.wav", answer_level_db(answers) + tv_db) if tv_db is not None else None
                run = run_live_session(room, tmp / f"run-{len(lines)}", answers, yes, tv=tv)
            got = (run.summary or {}).get("answers", {})
            right = sum(1 for q, v in expected.items() if got.get(q) == v)
            reply = (f"{np.percentile(run.reply_s, 50):.2f} s / {max(run.reply_s):.2f} s" if run.reply_s else "–")
            lines.append(f"| {name} | {right}/{len(expected)} | {reply} | {run.seconds:.0f} s, "
                         f"{(run.summary or {}).get('status', 'no summary')} |")
    return lines + [""]
