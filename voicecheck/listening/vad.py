"""Is there a voice in this frame? Two detectors behind one small interface.

- `WebrtcVoiceActivity`: webrtcvad behind a loudness floor. Cheap, but it fires on any
  speech-like sound, the TV's voices included.
- `SileroVoiceActivity`: the Silero VAD network (its ONNX file ships inside the faster-whisper
  wheel; onnxruntime comes with it), run frame by frame with its state carried over. It gives a
  probability, and it is far less impressed by music and steady noise than webrtcvad.

Neither can tell the person from a voice on the TV: that is the job of the background level
(voicecheck.listening.background), which knows the person is louder at the device.
"""
from __future__ import annotations

from pathlib import Path
from typing import Protocol

import numpy as np

from voicecheck.listening.frames import FRAME_SAMPLES, SAMPLE_RATE, pcm16_bytes


class VoiceActivityDetector(Protocol):
    def is_speech(self, frame: np.ndarray) -> bool: ...


def _check(frame: np.ndarray) -> None:
    if len(frame) != FRAME_SAMPLES:
        raise ValueError(f"expected frames of {FRAME_SAMPLES} samples, got {len(frame)}")


class WebrtcVoiceActivity:
    """Is this 30 ms frame speech? webrtcvad, behind a loudness floor.

    The floor keeps very quiet hiss (a fridge, a distant TV at low level) from counting as
    speech; webrtcvad alone happily fires on it.
    """

    def __init__(self, aggressiveness: int = 2, floor_dbfs: float = -50.0) -> None:
        import webrtcvad

        self._vad = webrtcvad.Vad(aggressiveness)
        self._floor = 10 ** (floor_dbfs / 20.0)

    def is_speech(self, frame: np.ndarray) -> bool:
        _check(frame)
        rms = float(np.sqrt(np.mean(np.square(frame, dtype=np.float64))))
        if rms < self._floor:
            return False
        return self._vad.is_speech(pcm16_bytes(frame), SAMPLE_RATE)


def silero_model_path() -> Path | None:
    """The Silero VAD ONNX file inside the installed faster-whisper package, or None."""
    try:
        import faster_whisper
    except ImportError:
        return None
    assets = Path(faster_whisper.__file__).parent / "assets"
    found = sorted(assets.glob("silero_vad*.onnx"))
    return found[-1] if found else None


class SileroVoiceActivity:
    """Speech probability per 30 ms frame from Silero VAD, streamed.

    The network reads 512-sample windows (32 ms) with 64 samples of the previous window
    before them and keeps a recurrent state; frames of 480 samples are buffered into such
    windows, and each frame gets the probability of the newest window (at most 32 ms late).
    """

    WINDOW = 512
    CONTEXT = 64

    def __init__(self, threshold: float = 0.5, model_path: Path | str | None = None) -> None:
        import onnxruntime

        path = Path(model_path) if model_path else silero_model_path()
        if path is None or not path.is_file():
            raise FileNotFoundError("Silero VAD model not found (it ships with the faster-whisper package)")
        options = onnxruntime.SessionOptions()
        options.inter_op_num_threads = 1
        options.intra_op_num_threads = 1
        options.log_severity_level = 4
        self._session = onnxruntime.InferenceSession(str(path), providers=["CPUExecutionProvider"],
                                                     sess_options=options)
        self.threshold = threshold
        self.reset()

    def reset(self) -> None:
        self._h = np.zeros((1, 1, 128), dtype=np.float32)
        self._c = np.zeros((1, 1, 128), dtype=np.float32)
        self._context = np.zeros(self.CONTEXT, dtype=np.float32)
        self._pending = np.zeros(0, dtype=np.float32)
        self.last_probability = 0.0

    def probability(self, frame: np.ndarray) -> float:
        _check(frame)
        self._pending = np.concatenate([self._pending, np.asarray(frame, dtype=np.float32)])
        while len(self._pending) >= self.WINDOW:
            window, self._pending = self._pending[:self.WINDOW], self._pending[self.WINDOW:]
            batch = np.concatenate([self._context, window])[None, :]
            out, self._h, self._c = self._session.run(None, {"input": batch, "h": self._h, "c": self._c})
            self._context = window[-self.CONTEXT:]
            self.last_probability = float(np.asarray(out).reshape(-1)[0])
        return self.last_probability

    def is_speech(self, frame: np.ndarray) -> bool:
        return self.probability(frame) >= self.threshold
