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
FRAME_SAMPLES = 480  # 30 ms, the frames both watches read
ECHO_DB = -6.0  # the device's voice at the microphone, relative to its level in the file
SOUND_DB = -45.0  # the speaker counts as sounding above this (dBFS, 30 ms frames)
TONE_HZ = 660.0  # voicecheck.duplex.TONE_HZ
TONE_FRAMES = 3  # 30 ms frames in a row that make the turn tone
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

    def stall(self, seconds: float) -> None:
        """The sound server stops for `seconds`, as a busy machine can stall it (SIGSTOP, SIGCONT):
        the device's stream stops, and its echo comes back later than before."""
        import signal

        os.kill(self._server.pid, signal.SIGSTOP)
        try:
            time.sleep(seconds)
        finally:
            os.kill(self._server.pid, signal.SIGCONT)

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

    def listen_to_room(self) -> "RoomWatch":
        watch = RoomWatch(self)
        self._players.append(watch.process)
        return watch


class SpeakerWatch:
    """Follows the device's loudspeaker (the speaker sink's monitor): when it sounds, when it is quiet.
    A frame's time is when it was read, so it lags the sound by the recording's latency — the same
    lag as `RoomWatch`'s, which is what the person's speech is placed by."""

    SOURCE = "speaker.monitor"

    def __init__(self, room: VirtualRoom) -> None:
        self.process = subprocess.Popen(
            ["parec", "-d", self.SOURCE, "--raw", "--format=float32le", f"--rate={RATE}", "--channels=1",
             "--latency-msec=20"], env=room.env(), stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
        self.last_sound = time.monotonic()
        self.sound_times: list[float] = []
        self.tone_times: list[float] = []
        self._lock = threading.Lock()
        # The recording's own clock: parec hands its frames over in bursts, so the time a frame is read
        # can lag its sound by a second or more. Frame k starts at origin + k × 30 ms, the origin being
        # the least-lagged reading seen (null sinks run on the system clock, so there is no drift).
        self._count = 0
        self._origin = float("inf")
        self.sound_frames: list[int] = []
        threading.Thread(target=self._read, daemon=True).start()

    def _frame(self, frame: np.ndarray, now: float) -> None:
        """Every frame read, with when it was read: keeps the recording's clock (and, in the room, the audio)."""
        self._origin = min(self._origin, now - (self._count + 1) * FRAME_SAMPLES / RATE)
        self._count += 1

    def frame_time(self, index: int) -> float:
        """When frame `index` began to sound, on the monotonic clock."""
        return self._origin + index * FRAME_SAMPLES / RATE

    def first_sound_from(self, t: float) -> float | None:
        """When the first sounding frame that begins at or after `t` ends (on the recording's clock:
        its end, so a reply is never timed earlier than it began), or None."""
        with self._lock:
            start = next((start for start in map(self.frame_time, self.sound_frames) if start >= t), None)
        return None if start is None else start + FRAME_SAMPLES / RATE

    def _read(self) -> None:
        size = 480 * 4
        tonal = 0  # tonal frames in a row
        assert self.process.stdout is not None
        while True:
            block = self.process.stdout.read(size)
            if not block or len(block) < size:
                return
            frame = np.frombuffer(block, dtype="<f4").astype(np.float64)
            with self._lock:
                index = self._count
                self._frame(frame, time.monotonic())
            level = 10 * np.log10(max(float(np.mean(frame ** 2)), 1e-12))
            if level > SOUND_DB:
                now = time.monotonic()
                spectrum = np.abs(np.fft.rfft(frame * np.hanning(len(frame)))) ** 2
                freqs = np.fft.rfftfreq(len(frame), 1 / RATE)
                band = spectrum[(freqs > TONE_HZ - 70) & (freqs < TONE_HZ + 70)].sum()
                with self._lock:
                    self.last_sound = now
                    self.sound_times.append(now)
                    self.sound_frames.append(index)
                    # the device's turn tone ("your turn"): 0.18 s of 660 Hz, so several frames in a
                    # row; a single tonal frame can be a vowel of the device's voice, mid-sentence
                    if band > 0.9 * spectrum.sum():
                        tonal += 1
                        if tonal == TONE_FRAMES:
                            self.tone_times.append(now)
                    else:
                        tonal = 0
            else:
                tonal = 0

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

    def tone_after(self, t: float) -> float | None:
        """When the first turn tone after `t` was heard, or None."""
        with self._lock:
            return next((s for s in self.tone_times if s > t), None)

    def first_sound_after(self, t: float) -> float | None:
        with self._lock:
            return next((s for s in self.sound_times if s > t), None)


class RoomWatch(SpeakerWatch):
    """Records the room (its sink's monitor: the person, the TV, the device's echo) on the same kind
    of recording clock as `SpeakerWatch` times the device's reply. `placed` finds where a clip the
    person played actually sounded: timing the reply from the `paplay` call counted its start-up as
    the device's delay."""

    SOURCE = "room.monitor"

    def __init__(self, room: VirtualRoom) -> None:
        self._frames: list[np.ndarray] = []
        super().__init__(room)

    def _frame(self, frame: np.ndarray, now: float) -> None:
        super()._frame(frame, now)
        self._frames.append(frame.astype(np.float32))

    def placed(self, clip: np.ndarray, after: float, within_s: float = 1.5) -> float | None:
        """When the first sample of `clip` sounded in the room, searching from `after` (the time it
        was started) for `within_s`; None if it cannot be found there."""
        with self._lock:
            first = max(0, int(np.floor((after - self._origin) * RATE / FRAME_SAMPLES)))
            last = min(len(self._frames), first + int(np.ceil((within_s + len(clip) / RATE) * RATE / FRAME_SAMPLES)))
            if last - first < 2:
                return None
            audio = np.concatenate(self._frames[first:last]).astype(np.float64)
            begins = self.frame_time(first)
        head = clip[: min(len(clip), RATE)].astype(np.float64)  # its first second is enough to place it
        if len(audio) < len(head) or not np.any(head):
            return None
        n = 1 << int(np.ceil(np.log2(len(audio) + len(head))))
        score = np.fft.irfft(np.fft.rfft(audio, n) * np.conj(np.fft.rfft(head, n)), n)[: len(audio) - len(head) + 1]
        energy = np.sqrt(np.convolve(audio ** 2, np.ones(len(head)), "valid")) * np.sqrt(np.sum(head ** 2))
        fit = score / np.maximum(energy, 1e-9)
        offset = int(np.argmax(fit))
        if fit[offset] < 0.5:  # not recognisably the clip (drowned, or not played)
            return None
        return float(begins + offset / RATE)


# ---------------------------------------------------------------------- the scripted person

REPLIES = ROOT / "tests" / "data" / "live_room"  # plain yes/no by the same voices (make_live_room_clips.py)
REACTION_S = 0.5  # a person starts answering about half a second after "your turn"
# Without a turn tone heard (turn_tone off, or the tone missed): the person answers once the device
# has printed a prompt and then been quiet this long — longer than any pause inside its prompts.
NO_TONE_QUIET_S = 4.0
FREE_TEXT_WORDS = {"since_when": "半年"}  # what the record of a free-text answer must hold


@dataclass(frozen=True)
class Intent:
    """What the person means to answer to one question, and the recordings they say it with."""

    question: str
    value: str | tuple[str, ...]  # an option id, option ids (multi), yes/no, or a word the free text holds
    takes: tuple[Path, ...]  # said in turn, each time the device asks again
    early_after_s: float | None = None  # answer this long after the question starts, while it is read


@dataclass(frozen=True)
class Person:
    """A scripted person: their answers in the questionnaire's order, and their plain replies."""

    intents: tuple[Intent, ...]
    replies: dict[str, Path]  # yes, no, yes_short, no_short
    decline_offer: Path  # what they say to the offer of exercises
    stop: Path | None = None  # said at the first question past `intents` (a short session)

    def expected(self) -> dict[str, object]:
        return {i.question: (list(i.value) if isinstance(i.value, tuple) else i.value) for i in self.intents}

    def check(self, summary: dict | None) -> list[str]:
        """What is wrong with a session summary (empty: every answer as meant)."""
        if summary is None:
            return ["no summary was written"]
        got = summary.get("answers", {})
        wrong = []
        for intent in self.intents:
            value = got.get(intent.question)
            if intent.question in FREE_TEXT_WORDS:
                ok = isinstance(value, str) and FREE_TEXT_WORDS[intent.question] in value
            else:
                ok = value == (list(intent.value) if isinstance(intent.value, tuple) else intent.value)
            if not ok:
                wrong.append(f"{intent.question}: {value!r}, meant {intent.value!r}")
        want = "stopped" if self.stop is not None else "complete"
        if summary.get("status") != want:
            wrong.append(f"status {summary.get('status')!r}, meant {want!r}")
        return wrong


def _value(question, expected: str) -> str | tuple[str, ...]:
    if question.kind == "multi":
        return tuple(expected.split("+"))
    if question.kind == "free_text":
        return FREE_TEXT_WORDS[question.id]
    return expected


def session_person(voice: str = "jf_alpha", other: str = "jm_kumo", questions: int | None = None,
                   early: dict[str, float] | None = None, takes: dict[str, tuple[str, ...]] | None = None) -> Person:
    """A person answering with the recordings of tests/data/other_voices: first `voice`'s take; asked
    again, the same words said again more slowly without the filler (tests/data/live_room/again_<voice>),
    then `other`'s take. `questions`: answer only the first n, then say 「もう終わりにします」.
    `early`: question id → seconds after the question starts when the answer is given.
    `takes`: question id → its takes in order, each a voice ("jm_kumo"), a said-again take
    ("again_jf_alpha") or a two-part take ("went_on_jf_alpha": a complete first part, a 1 s pause,
    then the rest that changes it), instead of the default."""
    import csv

    from voicecheck.content import load_content
    from voicecheck.settings import Settings

    content = load_content(Settings().prompts_dir)
    rows: dict[tuple[str, str], dict] = {}
    with (OTHER_VOICES / "manifest.tsv").open(encoding="utf-8", newline="") as f:
        for row in csv.DictReader(f, delimiter="\t"):
            if row["audio"].startswith("session_"):
                rows[(row["voice"], row["question"])] = row

    def speaker(take: str) -> str:
        return take.removeprefix("again_").removeprefix("went_on_")

    def clip(take: str, question: str) -> Path:
        if take != speaker(take):  # said again, or in two parts (tests/data/live_room)
            return REPLIES / take / Path(rows[(speaker(take), question)]["audio"]).name
        return OTHER_VOICES / rows[(take, question)]["audio"]

    intents = []
    for question in content.questions[:questions]:
        order = (takes or {}).get(question.id, (voice, f"again_{voice}", other))
        first = speaker(order[0])
        intents.append(Intent(question.id, _value(question, rows[(first, question.id)]["expected"]),
                              tuple(clip(t, question.id) for t in order), (early or {}).get(question.id)))
    replies = {kind: REPLIES / f"{kind}_{voice}.wav" for kind in ("yes", "no", "yes_short", "no_short")}
    return Person(tuple(intents), replies, OTHER_VOICES / rows[(voice, "yes_no")]["audio"],
                  stop=OTHER_VOICES / "extra" / "command_stop_jm_kumo.wav" if questions is not None else None)


class Dialogue:
    """The person's understanding of the conversation: which question is being asked, and what
    to say when the device gives the turn, from the device's words as they are shown."""

    def __init__(self, person: Person) -> None:
        import re

        from voicecheck.content import load_content
        from voicecheck.settings import Settings

        self.person = person
        self.content = load_content(Settings().prompts_dir)
        self.questions = {q.id: q for q in self.content.questions}
        system = self.content.system

        def pattern(key: str):
            template = re.escape(system[key])
            return re.compile("^" + re.sub(r"\\\{(\w+)\\\}", r"(?P<\1>.+?)", template) + "$")

        self.patterns = {key: pattern(key) for key in (
            "question_number", "confirm_option", "confirm_text", "confirm_command_stop", "confirm_command_back",
            "confirm_command_skip", "confirm_not_understood", "narrow_yes_no", "exercise_offer", "resume_offer",
            "resume_offer_again")}
        self.separator = system["label_separator"]
        self.current: int | None = None  # index of the question being asked
        self.said: dict[str, int] = {}  # question id → takes said so far
        self.last_verdict = "no"
        self.said_stop = False

    def hear(self, line: str) -> None:
        found = self.patterns["question_number"].match(line)
        if found:
            self.current = int(found["number"]) - 1

    @property
    def intent(self) -> Intent | None:
        if self.current is None or self.current >= len(self.person.intents):
            return None
        return self.person.intents[self.current]

    def _labels(self, intent: Intent) -> set[str]:
        question = self.questions[intent.question]
        if question.kind == "yes_no":
            return {self.content.say(f"{intent.value}_label")}
        ids = intent.value if isinstance(intent.value, tuple) else (intent.value,)
        return {question.option(i).label for i in ids}

    def _verdict(self, yes: bool, short: bool = False) -> tuple[Path, str]:
        self.last_verdict = "yes" if yes else "no"
        return self.person.replies[f"{self.last_verdict}{'_short' if short else ''}"], self.last_verdict

    def next_take(self, intent: Intent) -> tuple[Path, str]:
        n = self.said.get(intent.question, 0)
        self.said[intent.question] = n + 1
        return intent.takes[n % len(intent.takes)], f"answer {intent.question} (take {n + 1})"

    def reply(self, last_line: str) -> tuple[Path, str] | None:
        """What to say when the device gives the turn after `last_line` (None: nothing fits)."""
        match = {key: p.match(last_line) for key, p in self.patterns.items()}
        intent = self.intent
        if match["confirm_option"]:
            said = set(match["confirm_option"]["label"].split(self.separator))
            return self._verdict(intent is not None and said == self._labels(intent))
        if match["confirm_text"]:
            word = FREE_TEXT_WORDS.get(intent.question, "") if intent is not None else ""
            return self._verdict(bool(word) and word in match["confirm_text"]["text"])
        if match["confirm_command_stop"]:
            return self._verdict(self.said_stop)
        if match["confirm_command_back"] or match["confirm_command_skip"]:
            return self._verdict(False)
        if match["confirm_not_understood"]:
            return self._verdict(self.last_verdict == "yes", short=True)
        if match["narrow_yes_no"] and intent is not None:
            return self._verdict(intent.value == "yes", short=True)
        if match["exercise_offer"]:
            self.last_verdict = "no"
            return self.person.decline_offer, "decline the exercises"
        if match["resume_offer"] or match["resume_offer_again"]:
            return self._verdict(False)
        if intent is not None:
            return self.next_take(intent)
        if self.current is not None and self.person.stop is not None:
            self.said_stop = True
            return self.person.stop, "stop"
        return None


@dataclass
class LiveRun:
    summary: dict | None
    returncode: int | None
    seconds: float
    reply_s: list[float] = field(default_factory=list)  # end of the person's speech → the device's reply
    start_up_s: list[float] = field(default_factory=list)  # paplay called → the clip sounding in the room
    unplaced: int = 0  # answers not found in the room's recording (their reply timed from the paplay call)
    said: list[str] = field(default_factory=list)
    errors: str = ""
    early: int = 0  # answers the person gave while the device was still asking
    transcript: list[str] = field(default_factory=list)  # both sides, with times


def speech_end_s(path: Path) -> float:
    """Where the speech in a clip ends (its last 10 ms within 40 dB of the loudest)."""
    from bench.noise import active_mask
    from voicecheck.audio import read_wav

    mask = active_mask(read_wav(path))
    return (len(mask) - int(np.argmax(mask[::-1]))) * 0.010 if mask.any() else 0.0


def run_live_session(room: VirtualRoom, workdir: Path, person: Person, tv: Path | None = None,
                     settings: dict | None = None, timeout_s: float = 1500.0, log=None) -> LiveRun:
    """Start the device (`run.py`, unchanged) in the room; the person answers whenever the device
    gives the turn (its tone, else a quiet speaker after a prompt), as the dialogue calls for."""
    workdir = Path(workdir)
    workdir.mkdir(parents=True, exist_ok=True)
    values = {"engine": "whisper", "microphone": "pulse", "speaker": "pulse", "no_answer_timeout_s": 20.0,
              "data_dir": str(workdir / "data"), **(settings or {})}
    config = workdir / "settings.toml"
    config.write_text("".join(f"{k} = {json.dumps(v)}\n" for k, v in values.items()), encoding="utf-8")
    summary_path = workdir / "summary.json"
    dialogue = Dialogue(person)
    early_at = {dialogue.questions[i.question].text: i for i in person.intents if i.early_after_s is not None}
    watch = room.listen_to_speaker()
    room_watch = room.listen_to_room()  # where the person's clips really sounded, on the same clock
    if tv is not None:
        room.loop(tv)
    started = time.monotonic()
    run = LiveRun(None, None, 0.0)

    def note(text: str) -> None:
        entry = f"{time.monotonic() - started:7.2f}  {text}"
        run.transcript.append(entry)
        if log:
            log("    " + entry)

    device = subprocess.Popen(
        [sys.executable, str(ROOT / "run.py"), "--config", str(config), "--fresh", "--summary", str(summary_path)],
        env=room.env(PULSE_SINK="speaker", PULSE_SOURCE="mic", PYTHONUNBUFFERED="1"),
        stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=open(workdir / "device.log", "w"), text=True)
    lines: list[tuple[float, str]] = []
    lock = threading.Lock()

    def read_lines() -> None:
        assert device.stdout is not None
        for raw in device.stdout:
            with lock:
                lines.append((time.monotonic(), raw.strip()))

    reader = threading.Thread(target=read_lines, daemon=True)
    reader.start()
    consumed = 0
    pending: list[tuple[float, str]] = []  # the device's words since the person last spoke
    last_spoke = started
    speech_ends: list[float] = []
    spoken: list[Path] = []  # the clip of each answer, for the per-turn reply times
    early_done: set[str] = set()
    try:
        while True:
            if time.monotonic() - started > timeout_s:
                raise subprocess.TimeoutExpired(device.args, timeout_s)
            with lock:
                new = lines[consumed:]
            consumed += len(new)
            for at, line in new:
                note(f"device: {line}")
                run.said.append(line)
                dialogue.hear(line)
                pending.append((at, line))
            finished = device.poll() is not None and not reader.is_alive()
            if finished and consumed == len(lines):
                break
            clip = why = None
            answer_at = None
            early_line = next(((at, line) for at, line in pending if line in early_at and line not in early_done), None)
            if early_line is not None:
                at, line = early_line
                early_done.add(line)
                first = watch.first_sound_after(at)
                deadline = at + 10
                while first is None and time.monotonic() < deadline:
                    time.sleep(0.02)
                    first = watch.first_sound_after(at)
                answer_at = (first or at) + early_at[line].early_after_s
                clip, why = dialogue.next_take(early_at[line])
                why += ", while the device is still asking"
                run.early += 1
            else:
                tone = watch.tone_after(last_spoke)
                quiet = (pending and watch.quiet_for() >= NO_TONE_QUIET_S
                         and time.monotonic() - pending[-1][0] >= NO_TONE_QUIET_S)
                if tone is None and not quiet:
                    time.sleep(0.02)
                    continue
                if not pending:  # a turn without new words (nothing to react to): keep listening
                    last_spoke = time.monotonic()
                    continue
                reply = dialogue.reply(pending[-1][1])
                if reply is None:
                    last_spoke = time.monotonic()
                    continue
                clip, why = reply
                answer_at = (tone if tone is not None else time.monotonic()) + REACTION_S
                why += "" if tone is not None else " (no tone heard)"
            pending = []
            time.sleep(max(0.0, answer_at - time.monotonic()))
            note(f"person: {clip.name} — {why}")
            t0 = time.monotonic()
            room.play(clip)
            speech_ends.append(t0)
            spoken.append(clip)
            last_spoke = time.monotonic()
        run.returncode = device.wait(timeout=30)
    except subprocess.TimeoutExpired:
        run.errors = "the device did not finish in time\n"
    finally:
        if device.poll() is None:
            device.kill()
            device.wait(timeout=10)
        run.seconds = time.monotonic() - started
        run.errors += (workdir / "device.log").read_text(encoding="utf-8", errors="replace")[-3000:]
        (workdir / "transcript.txt").write_text("\n".join(run.transcript) + "\n", encoding="utf-8")
    from voicecheck.audio import read_wav

    for started_at, clip in zip(speech_ends, spoken):
        name = clip.name
        placed = room_watch.placed(read_wav(clip), started_at - 0.05)
        if placed is None:
            run.unplaced += 1  # timed from the paplay call instead (counts its start-up as the device's delay)
        else:
            run.start_up_s.append(round(placed - started_at, 3))
        end = (started_at if placed is None else placed) + speech_end_s(clip)
        reply_at = watch.first_sound_from(end)
        if reply_at is not None and reply_at - end < 30:
            run.reply_s.append(round(reply_at - end, 3))
            if log:
                where = ("placed in the room's recording" if placed is not None
                         else "not found in the room's recording: timed from the paplay call")
                log(f"    reply to {name}: {reply_at - end:.2f} s ({where})")
    if log and run.start_up_s:
        log(f"    paplay start-up (call → sound in the room): p50 {np.median(run.start_up_s):.3f} s, "
            f"max {max(run.start_up_s):.3f} s")
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


def answer_level_db(person: Person) -> float:
    """The active speech level of the person's first takes (dBFS), for setting the TV 10 dB below it."""
    from bench.noise import active_power
    from voicecheck.audio import read_wav

    powers = [active_power(read_wav(i.takes[0])) for i in person.intents]
    return 10 * np.log10(float(np.mean(powers)))


CONDITIONS = {"quiet": None, "tv10": -10.0, "tv5": -5.0}  # the TV's level relative to the answers (dB)
CONDITION_NAMES = {"quiet": "quiet", "tv10": "TV 10 dB below the answers", "tv5": "TV 5 dB below the answers"}


EARLY_ANSWER_AFTER_S = 12.0  # --answer-early: the situations question is answered this long after it starts
# --went-on: the frequency question is first answered 「たまにです……いや、週に一回はあります」 (the
# device replies to 「たまにです」 after 0.8 s; the whole answer means weekly).
WENT_ON_TAKES = {"frequency": ("went_on_jf_alpha", "again_jf_alpha", "jm_kumo")}


def _keep_device_records(workdir: Path, name: str, log) -> None:
    """Keep the device's own session records (what it heard, how it matched, the transcript) in
    bench/out/live/<name>/: a surprising turn can then be looked at after the room is gone."""
    kept = ROOT / "bench" / "out" / "live" / name
    shutil.rmtree(kept, ignore_errors=True)
    for source in [workdir / "transcript.txt", workdir / "device.log", *sorted((workdir / "data").rglob("*.jsonl"))]:
        if source.is_file():
            target = kept / source.relative_to(workdir)
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, target)
    log(f"    records: {kept.relative_to(ROOT)}")


def live_report(log, questions: int | None = None, conditions: tuple[str, ...] = ("quiet", "tv10"),
                repeat: int = 1, answer_early: bool = False, early_answers: bool = True,
                went_on: bool = False) -> list[str]:
    """The bench's live table: whole spoken sessions through the virtual room, one row per run.
    `answer_early`: the person answers the situations question while its options are still being
    read. `early_answers`: the setting (on by default: the device listens while it talks); off, the
    microphone opens once the device has asked. `went_on`: the person's first answer to the frequency
    question comes in two parts (WENT_ON_TAKES)."""
    import tempfile

    problem = pulseaudio_available()
    if problem:
        return ["## Live, through a virtual sound card", "", f"Not measured: PulseAudio {problem}.", ""]
    person = session_person(questions=questions,
                            early={"situations": EARLY_ANSWER_AFTER_S} if answer_early else None,
                            takes=WENT_ON_TAKES if went_on else None)
    settings = None if early_answers else {"early_answers": False}
    scope = (f"answers the first {questions} questions, then says 「もう終わりにします」" if questions is not None
             else "answers the whole questionnaire and declines the exercises")
    if answer_early:
        scope += (f"; it answers the situations question {EARLY_ANSWER_AFTER_S:g} s after the question starts, "
                  "while the options are still being read")
    if went_on:
        scope += ("; its first answer to the frequency question comes in two parts, 「たまにです」, a 1 s pause, "
                  "then 「いや、週に一回はあります」 (weekly)")
    lines = ["## Live, through a virtual sound card (PulseAudio)", "",
             f"Command: `.venv/bin/python bench/live_room.py{f' --questions {questions}' if questions else ''} "
             f"--conditions {' '.join(conditions)}{f' --repeat {repeat}' if repeat > 1 else ''}"
             f"{' --answer-early' if answer_early else ''}{' --went-on' if went_on else ''}"
             f"{'' if early_answers else ' --after-asking'}` · "
             f"{time.strftime('%Y-%m-%d %H:%M')}.", "",
             f"The device (`run.py`, Whisper base, {'default settings' if early_answers else 'early_answers off'}) "
             "plays into a null sink; its voice comes back "
             f"into the room {-ECHO_DB:g} dB down; the microphone is the room's monitor. A scripted person "
             f"(Kokoro jf_alpha; asked again, the same words again more slowly, then jm_kumo's take) {scope}, "
             f"{REACTION_S:g} s after the device's turn tone; it agrees to read-backs of what it meant and refuses "
             "others. Reply = end of the person's speech → first sound of the device's reply at its speaker.", "",
             "| condition | answers right | turns | reply p50 / p95 / max | session |", "|---|---|---|---|---|"]
    with tempfile.TemporaryDirectory(prefix="voicecheck-live-") as tmp:
        tmp = Path(tmp)
        for n, key in enumerate(k for k in conditions for _ in range(repeat)):
            tv_db = CONDITIONS[key]
            log(f"live: {CONDITION_NAMES[key]} …")
            with VirtualRoom(tmp / f"pa-{n}") as room:
                tv = tv_track(tmp / "tv.wav", answer_level_db(person) + tv_db) if tv_db is not None else None
                run = run_live_session(room, tmp / f"run-{n}", person, tv=tv, settings=settings, log=log)
            wrong = person.check(run.summary)
            for problem in wrong:
                log(f"    wrong: {problem}")
            _keep_device_records(tmp / f"run-{n}", f"{key}-{n + 1}", log)
            right = len(person.intents) - sum(1 for w in wrong if not w.startswith("status"))
            reply = (f"{np.percentile(run.reply_s, 50):.2f} / {np.percentile(run.reply_s, 95):.2f} / "
                     f"{max(run.reply_s):.2f} s" if run.reply_s else "–")
            kept = f", {run.early} answer(s) given early" if answer_early else ""
            lines.append(f"| {CONDITION_NAMES[key]} | {right}/{len(person.intents)} | {len(run.reply_s)} | {reply} | "
                         f"{run.seconds:.0f} s, {(run.summary or {}).get('status', 'no summary')}{kept} |")
    return lines + [""]


def main(argv: list[str] | None = None) -> int:
    import argparse

    parser = argparse.ArgumentParser(description="Whole spoken sessions through a virtual sound card (PulseAudio).")
    parser.add_argument("--questions", type=int, default=None,
                        help="answer only the first N questions, then stop (default: the whole questionnaire)")
    parser.add_argument("--conditions", nargs="+", choices=tuple(CONDITIONS), default=["quiet", "tv10"])
    parser.add_argument("--repeat", type=int, default=1, help="runs per condition")
    parser.add_argument("--answer-early", "--early-answers", action="store_true", dest="answer_early",
                        help="the person answers the situations question while its options are read")
    parser.add_argument("--went-on", action="store_true", dest="went_on",
                        help="the person's first answer to the frequency question comes in two parts")
    parser.add_argument("--after-asking", action="store_true",
                        help="early_answers off: the microphone opens once the device has asked")
    args = parser.parse_args(argv)

    def log(message: str) -> None:
        print(message, file=sys.stderr, flush=True)

    if args.answer_early and args.after_asking:
        parser.error("--answer-early needs the device to listen while it talks (without --after-asking)")
    print("\n".join(live_report(log, args.questions, tuple(args.conditions), args.repeat, args.answer_early,
                                 early_answers=not args.after_asking, went_on=args.went_on)))
    return 0


if __name__ == "__main__":
    sys.path.insert(0, str(ROOT))
    sys.exit(main())
