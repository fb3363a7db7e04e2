"""Audio edges: WAV files, resampling, voice activity, the microphone and the speaker.

Everything that leaves this module towards a recogniser is 16 kHz mono float32 in -1..1,
because that is what Vosk and Whisper both want. Devices come from `sounddevice`
(PortAudio), imported lazily: a machine without PortAudio can still replay WAV files.
"""
from __future__ import annotations

import os
import queue
import threading
from collections import deque
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterable, Iterator

import numpy as np

from voicecheck.listening.endpointer import (  # noqa: F401  (the listening layer, re-exported)
    MAX_NO_ANSWER_TIMEOUT_S,
    EndpointConfig,
    Endpointer,
    Utterance,
    capture_utterance,
)
from voicecheck.listening.frames import FRAME_MS, FRAME_SAMPLES, SAMPLE_RATE, frames_of, pcm16_bytes  # noqa: F401
from voicecheck.listening.vad import WebrtcVoiceActivity as VoiceActivity  # noqa: F401


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
    if not os.access(path, os.R_OK):
        raise AudioFileError(path, "permission denied: this user may not read it.")
    try:
        data, rate = soundfile.read(str(path), dtype="float32", always_2d=True)
    except (soundfile.LibsndfileError, RuntimeError, ValueError, TypeError, OSError) as error:
        raise AudioFileError(path, f"it is not a readable WAV file ({error}).") from None
    if data.shape[0] == 0 or data.shape[1] == 0:
        raise AudioFileError(path, "the file holds no sound (zero samples).")
    # A float file may hold NaN or infinite samples: they are no sound, and would poison every sum.
    mono = np.nan_to_num(to_mono(data), nan=0.0, posinf=1.0, neginf=-1.0).astype(np.float32)
    return resample(mono, int(rate), SAMPLE_RATE)


def write_wav(path: Path | str, samples: np.ndarray, rate: int = SAMPLE_RATE) -> Path:
    """Write mono float samples as a 16-bit PCM WAV file (atomically: a partial file never shows)."""
    import soundfile

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(path.name + ".part")
    clean = np.nan_to_num(np.asarray(samples, dtype=np.float32), nan=0.0, posinf=1.0, neginf=-1.0)
    soundfile.write(str(partial), np.clip(clean, -1.0, 1.0), rate,
                    subtype="PCM_16", format="WAV")
    partial.replace(path)
    return path


# ---------------------------------------------------------------------------------------------
# Voice activity over whole clips (endpointing itself lives in voicecheck.listening)


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
        self.captured_samples = 0
        self._rate = 0

    def _callback(self, data, frames, time_info, status) -> None:  # PortAudio's thread
        if status and status.input_overflow:
            self.overflows += 1
        self.captured_samples += frames
        self._queue.put(bytes(data))

    @property
    def captured_s(self) -> float:
        """Seconds of sound the device has delivered so far, read or not (the capture clock)."""
        return self.captured_samples / self._rate if self._rate else 0.0

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
            self._rate = rate
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
                sd.play(data, play_rate, device=device.index, blocking=True, latency="low")
                return
            except sd.PortAudioError as error:
                last_error = error
    raise AudioDeviceError(f"The speaker '{device.name}' could not play sound: {last_error}.")
