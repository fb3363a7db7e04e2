"""Audio edges: WAV files, resampling, voice activity, the microphone and the speaker.

Everything that leaves this module towards a recogniser is 16 kHz mono float32 in -1..1,
because that is what Vosk and Whisper both want. Devices come from `sounddevice`
(PortAudio), imported lazily: a machine without PortAudio can still replay WAV files.
"""
from __future__ import annotations

import queue
import threading
from collections import deque
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterable, Iterator

import numpy as np

SAMPLE_RATE = 16_000
FRAME_MS = 30  # webrtcvad accepts 10, 20 or 30 ms frames; 30 ms is the steadiest
FRAME_SAMPLES = SAMPLE_RATE * FRAME_MS // 1000
MAX_NO_ANSWER_TIMEOUT_S = 600.0  # "up to minutes": ten minutes is the ceiling


class SpeechError(Exception):
    """A problem at the speech edges (file, device, model, voice) with a message meant for people.

    The command line prints `str(error)` and exits; it never shows a traceback for these.
    """


class AudioFileError(SpeechError):
    """A sound file that cannot be used; the message names the file."""

    def __init__(self, path: Path | str, reason: str) -> None:
        self.path = Path(path)
        self.reason = reason
        super().__init__(f"Cannot use the sound file {self.path}: {reason}")


class AudioDeviceError(SpeechError):
    """No usable microphone or speaker (PortAudio missing, no device, device busy …)."""


# ---------------------------------------------------------------------------------------------
# Samples and files


def to_mono(samples: np.ndarray) -> np.ndarray:
    """Average the channels of a (frames, channels) array; 1-D input is returned as it is."""
    if samples.ndim == 1:
        return samples
    return samples.mean(axis=1)


def resample(samples: np.ndarray, from_rate: int, to_rate: int = SAMPLE_RATE) -> np.ndarray:
    """Resample mono float samples with soxr (high quality, no phase smearing to speak of)."""
    samples = np.asarray(samples, dtype=np.float32)
    if from_rate == to_rate or samples.size == 0:
        return samples
    import soxr

    return np.asarray(soxr.resample(samples, from_rate, to_rate, quality="HQ"), dtype=np.float32)


def pcm16_bytes(samples: np.ndarray) -> bytes:
    """Float samples (-1..1) as little-endian signed 16-bit PCM, the format Vosk and webrtcvad read."""
    clipped = np.clip(np.asarray(samples, dtype=np.float32), -1.0, 1.0)
    return (clipped * 32767.0).astype("<i2").tobytes()


def read_wav(path: Path | str) -> np.ndarray:
    """Read a sound file of any sample rate, channel count or bit depth as 16 kHz mono float32.

    Raises AudioFileError naming the file when it is missing, unreadable or holds no sound.
    """
    import soundfile

    path = Path(path)
    if not path.exists():
        raise AudioFileError(path, "the file does not exist.")
    if not path.is_file():
        raise AudioFileError(path, "this is not a file.")
    try:
        data, rate = soundfile.read(str(path), dtype="float32", always_2d=True)
    except (soundfile.LibsndfileError, RuntimeError, ValueError, TypeError, OSError) as error:
        raise AudioFileError(path, f"it is not a readable WAV file ({error}).") from None
    if data.shape[0] == 0 or data.shape[1] == 0:
        raise AudioFileError(path, "the file holds no sound (zero samples).")
    mono = to_mono(data).astype(np.float32)
    return resample(mono, int(rate), SAMPLE_RATE)


def write_wav(path: Path | str, samples: np.ndarray, rate: int = SAMPLE_RATE) -> Path:
    """Write mono float samples as a 16-bit PCM WAV file (atomically: a partial file never shows)."""
    import soundfile

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(path.name + ".part")
    soundfile.write(str(partial), np.clip(np.asarray(samples, dtype=np.float32), -1.0, 1.0), rate,
                    subtype="PCM_16", format="WAV")
    partial.replace(path)
    return path


def frames_of(samples: np.ndarray, frame_samples: int = FRAME_SAMPLES) -> Iterator[np.ndarray]:
    """Cut samples into whole frames; the last partial frame is padded with silence."""
    samples = np.asarray(samples, dtype=np.float32)
    for start in range(0, len(samples), frame_samples):
        frame = samples[start:start + frame_samples]
        if len(frame) < frame_samples:
            frame = np.pad(frame, (0, frame_samples - len(frame)))
        yield frame


# ---------------------------------------------------------------------------------------------
# Voice activity and endpointing


class VoiceActivity:
    """Is this 30 ms frame speech? webrtcvad, behind a loudness floor.

    The floor keeps very quiet hiss (a fridge, a distant TV at low level) from counting as
    speech; webrtcvad alone happily fires on it.
    """

    def __init__(self, aggressiveness: int = 2, floor_dbfs: float = -50.0) -> None:
        import webrtcvad

        self._vad = webrtcvad.Vad(aggressiveness)
        self._floor = 10 ** (floor_dbfs / 20.0)

    def is_speech(self, frame: np.ndarray) -> bool:
        if len(frame) != FRAME_SAMPLES:
            raise ValueError(f"expected frames of {FRAME_SAMPLES} samples, got {len(frame)}")
        rms = float(np.sqrt(np.mean(np.square(frame, dtype=np.float64))))
        if rms < self._floor:
            return False
        return self._vad.is_speech(pcm16_bytes(frame), SAMPLE_RATE)


@dataclass(frozen=True)
class EndpointConfig:
    """When an answer starts and ends. Tuned for slow speakers who pause inside an answer.

    An answer ends after `end_silence_s` without speech. Older speakers often stop for a
    second in the middle ("えっと……階段のときです"), so this is longer than the half second
    dictation systems use; a short first sound (a filler, a cough) waits longer still.
    """

    no_answer_timeout_s: float = 20.0  # nobody started speaking within this time
    start_speech_s: float = 0.12  # this much speech within `start_window_s` starts an answer
    start_window_s: float = 0.3
    end_silence_s: float = 1.3  # silence that ends an answer
    end_silence_after_short_s: float = 2.0  # … when less than `short_speech_s` has been said
    short_speech_s: float = 0.35
    pre_roll_s: float = 0.5  # audio kept from before the detected start (soft first consonants)
    max_answer_s: float = 30.0  # stop listening to a monologue here

    def __post_init__(self) -> None:
        if not 0 < self.no_answer_timeout_s <= MAX_NO_ANSWER_TIMEOUT_S:
            raise ValueError(
                f"the no-answer timeout must be between 0 and {MAX_NO_ANSWER_TIMEOUT_S:.0f} seconds"
            )
        if self.end_silence_s <= 0 or self.max_answer_s <= 0:
            raise ValueError("end silence and maximum answer length must be positive")


@dataclass(frozen=True)
class Utterance:
    """One answer cut out of a stream of frames."""

    samples: np.ndarray  # 16 kHz mono float32, pre-roll and trailing silence included
    timed_out: bool = False  # no speech started before the no-answer timeout
    speech_s: float = 0.0  # seconds of frames judged as speech
    waited_s: float = 0.0  # stream time until the answer started
    trailing_silence_s: float = 0.0  # silence between the last speech and the cut
    truncated: bool = False  # cut at `max_answer_s` or because the stream ended mid-answer


class Endpointer:
    """A frame-by-frame state machine: waiting → speaking → ended (or timed out).

    Pure apart from the VAD, so it runs identically on microphone frames and on WAV files.
    """

    WAITING, SPEAKING, ENDED, TIMED_OUT = "waiting", "speaking", "ended", "timed_out"

    def __init__(self, config: EndpointConfig, vad: VoiceActivity | None = None) -> None:
        self.config = config
        self.vad = vad or VoiceActivity()
        self.state = self.WAITING
        self.frame_s = FRAME_MS / 1000.0
        self._recent: deque[bool] = deque(maxlen=max(1, round(config.start_window_s / self.frame_s)))
        self._pre_roll: deque[np.ndarray] = deque(maxlen=max(1, round(config.pre_roll_s / self.frame_s)))
        self.kept: list[np.ndarray] = []
        self.elapsed_s = 0.0
        self.started_at_s = 0.0
        self.speech_s = 0.0
        self.silence_s = 0.0
        self.truncated = False

    @property
    def done(self) -> bool:
        return self.state in (self.ENDED, self.TIMED_OUT)

    def feed(self, frame: np.ndarray) -> list[np.ndarray]:
        """Take one frame; return the frames that now belong to the answer (for streaming)."""
        if self.done:
            return []
        self.elapsed_s += self.frame_s
        voiced = self.vad.is_speech(frame)
        if self.state == self.WAITING:
            self._recent.append(voiced)
            self._pre_roll.append(frame)
            if sum(self._recent) * self.frame_s >= self.config.start_speech_s:
                self.state = self.SPEAKING
                self.started_at_s = self.elapsed_s - len(self._pre_roll) * self.frame_s
                self.speech_s = sum(self._recent) * self.frame_s
                started = list(self._pre_roll)
                self.kept.extend(started)
                return started
            if self.elapsed_s >= self.config.no_answer_timeout_s:
                self.state = self.TIMED_OUT
            return []
        # speaking
        self.kept.append(frame)
        if voiced:
            self.speech_s += self.frame_s
            self.silence_s = 0.0
        else:
            self.silence_s += self.frame_s
        needed = (
            self.config.end_silence_after_short_s
            if self.speech_s < self.config.short_speech_s
            else self.config.end_silence_s
        )
        if self.silence_s >= needed:
            self.state = self.ENDED
        elif self.elapsed_s - self.started_at_s >= self.config.max_answer_s:
            self.state = self.ENDED
            self.truncated = True
        return [frame]

    def finish(self) -> Utterance:
        """The answer so far (call when `done`, or when the input ended)."""
        if self.state == self.SPEAKING:  # the stream stopped while someone was speaking
            self.truncated = True
            self.state = self.ENDED
        samples = np.concatenate(self.kept) if self.kept else np.zeros(0, dtype=np.float32)
        return Utterance(
            samples=samples.astype(np.float32, copy=False),
            timed_out=self.state != self.ENDED,
            speech_s=round(self.speech_s, 3),
            waited_s=round(self.started_at_s if self.state == self.ENDED else self.elapsed_s, 3),
            trailing_silence_s=round(self.silence_s, 3),
            truncated=self.truncated,
        )


def capture_utterance(
    frames: Iterable[np.ndarray],
    config: EndpointConfig,
    on_answer_frame: Callable[[np.ndarray], None] | None = None,
    vad: VoiceActivity | None = None,
) -> Utterance:
    """Run frames through an Endpointer until the answer ends, the timeout passes or frames run out.

    `on_answer_frame` receives every frame that belongs to the answer as soon as it is known,
    so a streaming recogniser decodes while the person is still speaking.
    """
    endpointer = Endpointer(config, vad)
    for frame in frames:
        for kept in endpointer.feed(frame):
            if on_answer_frame is not None:
                on_answer_frame(kept)
        if endpointer.done:
            break
    return endpointer.finish()


def speech_bounds(samples: np.ndarray, vad: VoiceActivity | None = None,
                  pad_s: float = 0.25) -> tuple[int, int] | None:
    """Sample range from the first to the last speech frame (padded), or None when all is silence.

    Isolated single voiced frames (clicks) are ignored: speech needs two voiced frames in a row.
    """
    vad = vad or VoiceActivity()
    voiced = [vad.is_speech(frame) for frame in frames_of(samples)]
    runs = [i for i in range(len(voiced) - 1) if voiced[i] and voiced[i + 1]]
    if not runs:
        return None
    first, last = runs[0], runs[-1] + 1
    pad = int(pad_s * SAMPLE_RATE)
    start = max(0, first * FRAME_SAMPLES - pad)
    end = min(len(samples), (last + 1) * FRAME_SAMPLES + pad)
    return start, end


def trim_silence(samples: np.ndarray, vad: VoiceActivity | None = None, pad_s: float = 0.25) -> np.ndarray:
    """Cut leading and trailing silence; an all-silent input gives an empty array."""
    bounds = speech_bounds(samples, vad, pad_s)
    if bounds is None:
        return np.zeros(0, dtype=np.float32)
    return np.asarray(samples[bounds[0]:bounds[1]], dtype=np.float32)


def add_noise(samples: np.ndarray, snr_db: float, seed: int) -> np.ndarray:
    """The samples plus white noise at a signal-to-noise ratio (deterministic for a seed)."""
    samples = np.asarray(samples, dtype=np.float32)
    power = float(np.mean(np.square(samples, dtype=np.float64))) if samples.size else 0.0
    noise = np.random.default_rng(seed).standard_normal(len(samples))
    noise *= np.sqrt(power / (10 ** (snr_db / 10.0)))
    return np.clip(samples + noise.astype(np.float32), -1.0, 1.0)


# ---------------------------------------------------------------------------------------------
# Devices (PortAudio through sounddevice)

_playback_lock = threading.Lock()  # sounddevice's play() drives one global stream: one phrase at a time
_sounddevice_module = None
_sounddevice_problem: str | None = None


def load_sounddevice():
    """The sounddevice module, or AudioDeviceError with a plain reason when PortAudio is missing."""
    global _sounddevice_module, _sounddevice_problem
    if _sounddevice_module is not None:
        return _sounddevice_module
    if _sounddevice_problem is None:
        try:
            import sounddevice

            _sounddevice_module = sounddevice
            return sounddevice
        except OSError as error:  # raised at import when libportaudio cannot be loaded
            _sounddevice_problem = (
                f"音の部品 PortAudio が入っていません（{error}）。Debian や Ubuntu では "
                "sudo apt install libportaudio2 で入れられます"
            )
        except ImportError as error:
            _sounddevice_problem = f"Python の部品 sounddevice がありません（{error}）"
    raise AudioDeviceError(f"マイクとスピーカーが使えません。{_sounddevice_problem}。")


@dataclass(frozen=True)
class Device:
    index: int
    name: str
    input_channels: int
    output_channels: int
    default_rate: float


def list_devices() -> list[Device]:
    sd = load_sounddevice()
    try:
        infos = sd.query_devices()
    except sd.PortAudioError as error:
        raise AudioDeviceError(f"音の機器の一覧が取れません（{error}）。") from None
    return [
        Device(int(info["index"]), str(info["name"]), int(info["max_input_channels"]),
               int(info["max_output_channels"]), float(info["default_samplerate"]))
        for info in infos
    ]


def find_device(spec: str | int | None, kind: str) -> Device:
    """The device named by `spec` (an index, or part of a name, any case), or the system default.

    kind is "input" or "output". Raises AudioDeviceError listing the usable devices.
    """
    if kind not in ("input", "output"):
        raise ValueError("kind must be 'input' or 'output'")
    sd = load_sounddevice()
    devices = list_devices()
    usable = [d for d in devices if (d.input_channels if kind == "input" else d.output_channels) > 0]
    what = "マイク" if kind == "input" else "スピーカー"
    if not usable:
        raise AudioDeviceError(f"この機械には{what}が見つかりません。")
    names = ", ".join(f"{d.index}: {d.name}" for d in usable)
    if spec is None or (isinstance(spec, str) and not spec.strip()):
        try:
            default = sd.query_devices(kind=kind)
        except (sd.PortAudioError, ValueError):
            return usable[0]
        return next((d for d in usable if d.index == int(default["index"])), usable[0])
    text = str(spec).strip()
    if text.lstrip("-").isdigit():
        index = int(text)
        for device in usable:
            if device.index == index:
                return device
        raise AudioDeviceError(f"{index}番の{what}はありません。次から選んでください: {names}。")
    matches = [d for d in usable if text.casefold() in d.name.casefold()]
    if not matches:
        raise AudioDeviceError(f"名前に「{text}」を含む{what}はありません。次から選んでください: {names}。")
    return matches[0]


def microphone_problem(spec: str | int | None) -> str | None:
    """None when a microphone is usable, else one plain sentence saying why not."""
    try:
        find_device(spec, "input")
    except AudioDeviceError as error:
        return str(error)
    return None


class MicrophoneStream:
    """16 kHz mono frames from a microphone, as an iterator; open with `with`.

    Opens the device at 16 kHz when it allows that, else at its own rate and resamples.
    Stops with AudioDeviceError when the device stops delivering sound.
    """

    def __init__(self, spec: str | int | None = None, stall_s: float = 5.0) -> None:
        self.device = find_device(spec, "input")
        self.stall_s = stall_s
        self._queue: queue.Queue[bytes] = queue.Queue()
        self._stream = None
        self._resampler = None
        self._pending = np.zeros(0, dtype=np.float32)
        self.overflows = 0

    def _callback(self, data, frames, time_info, status) -> None:  # PortAudio's thread
        if status and status.input_overflow:
            self.overflows += 1
        self._queue.put(bytes(data))

    def __enter__(self) -> "MicrophoneStream":
        sd = load_sounddevice()
        rates = [SAMPLE_RATE] + ([int(self.device.default_rate)] if int(self.device.default_rate) != SAMPLE_RATE else [])
        last_error: Exception | None = None
        for rate in rates:
            try:
                stream = sd.RawInputStream(samplerate=rate, channels=1, dtype="float32", device=self.device.index,
                                           blocksize=int(rate * FRAME_MS / 1000), callback=self._callback)
                stream.start()
            except sd.PortAudioError as error:
                last_error = error
                continue
            self._stream = stream
            if rate != SAMPLE_RATE:
                import soxr

                self._resampler = soxr.ResampleStream(rate, SAMPLE_RATE, 1, dtype="float32")
            return self
        raise AudioDeviceError(f"The microphone '{self.device.name}' could not be opened: {last_error}.")

    def __exit__(self, *exc) -> None:
        if self._stream is not None:
            self._stream.stop()
            self._stream.close()
            self._stream = None

    def __iter__(self) -> Iterator[np.ndarray]:
        while True:
            try:
                block = self._queue.get(timeout=self.stall_s)
            except queue.Empty:
                raise AudioDeviceError(
                    f"The microphone '{self.device.name}' stopped sending sound for {self.stall_s:.0f} seconds."
                ) from None
            samples = np.frombuffer(block, dtype=np.float32)
            if self._resampler is not None:
                samples = self._resampler.resample_chunk(samples)
            self._pending = np.concatenate([self._pending, samples])
            while len(self._pending) >= FRAME_SAMPLES:
                frame, self._pending = self._pending[:FRAME_SAMPLES], self._pending[FRAME_SAMPLES:]
                yield frame


def play(samples: np.ndarray, rate: int, spec: str | int | None = None) -> None:
    """Play mono float samples on a speaker and return when they have been heard.

    Resamples to the device's own rate when it refuses the voice's rate.
    """
    sd = load_sounddevice()
    device = find_device(spec, "output")
    samples = np.clip(np.asarray(samples, dtype=np.float32), -1.0, 1.0)
    if samples.size == 0:
        return
    last_error: Exception | None = None
    with _playback_lock:
        for play_rate in dict.fromkeys((rate, int(device.default_rate))):
            data = samples if play_rate == rate else resample(samples, rate, play_rate)
            try:
                sd.play(data, play_rate, device=device.index, blocking=True)
                return
            except sd.PortAudioError as error:
                last_error = error
    raise AudioDeviceError(f"The speaker '{device.name}' could not play sound: {last_error}.")
