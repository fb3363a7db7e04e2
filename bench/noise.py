"""Household noise for the bench: crowd babble and pink noise, mixed in at a chosen SNR.

Everything here is deterministic: the same seed and the same clip name always give the same
samples, so two runs of the bench hear exactly the same sound.

SNR is measured the way a listener experiences it: the power of the *speech* (only the
frames where the voice is active, so the silence around an answer does not dilute it)
against the mean power of the noise over the whole clip.
"""
from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np

SAMPLE_RATE = 16_000
ACTIVE_FRAME_S = 0.010  # 10 ms frames to find where the voice is active
ACTIVE_RANGE_DB = 40.0  # a frame is active speech when within this of the loudest frame
NOISE_SECONDS = 45.0  # length of each noise track; clips take seeded windows of it
PINK_SEED = 20_260_121
BABBLE_SEED = 7
BABBLE_TALKERS = 6

# Voices of the babble: different pitches and speeds so the crowd does not sound like one person.
# (half_tone, speed, gain_db)
BABBLE_VOICES = ((-5.0, 0.95, 0.0), (-2.0, 1.10, -2.0), (0.0, 1.00, -1.0),
                 (2.0, 0.90, -4.0), (4.0, 1.15, -3.0), (-3.0, 1.05, -5.0))


def frame_powers(samples: np.ndarray, frame_s: float = ACTIVE_FRAME_S) -> np.ndarray:
    """Mean power of each whole frame (the last partial frame is ignored)."""
    size = max(1, int(round(frame_s * SAMPLE_RATE)))
    x = np.asarray(samples, dtype=np.float64)
    n = len(x) // size
    if n == 0:
        return np.array([float(np.mean(x ** 2))]) if len(x) else np.zeros(0)
    return np.mean(x[: n * size].reshape(n, size) ** 2, axis=1)


def active_mask(samples: np.ndarray, range_db: float = ACTIVE_RANGE_DB) -> np.ndarray:
    """Which 10 ms frames hold the voice: those within `range_db` of the loudest frame."""
    powers = frame_powers(samples)
    if powers.size == 0 or powers.max() <= 0:
        return np.zeros(powers.shape, dtype=bool)
    return powers >= powers.max() * 10 ** (-range_db / 10)


def active_power(samples: np.ndarray) -> float:
    """Mean power of the active (voiced) frames; 0.0 for silence."""
    powers = frame_powers(samples)
    mask = active_mask(samples)
    return float(powers[mask].mean()) if mask.any() else 0.0


def mean_power(samples: np.ndarray) -> float:
    x = np.asarray(samples, dtype=np.float64)
    return float(np.mean(x ** 2)) if x.size else 0.0


def snr_db(speech: np.ndarray, noise: np.ndarray) -> float:
    """SNR as defined above, of a clean clip and the noise added to it."""
    return 10.0 * np.log10(active_power(speech) / mean_power(noise))


def mix_at_snr(speech: np.ndarray, noise: np.ndarray, snr: float | None, measured: int | None = None) -> np.ndarray:
    """speech + noise scaled to `snr` dB (None: the clean speech, unchanged).

    The noise power is measured over the first `measured` samples (default: all): the answer
    itself, so silence padded after it (for the endpointer) gets the same noise at the same
    level whatever its length. If the sum would clip, speech and noise are scaled down
    together: the SNR stays exact.
    """
    speech = np.asarray(speech, dtype=np.float32)
    if snr is None:
        return speech.copy()
    if len(noise) < len(speech):
        raise ValueError(f"noise ({len(noise)} samples) is shorter than the speech ({len(speech)})")
    noise = np.asarray(noise[: len(speech)], dtype=np.float64)
    target = active_power(speech) / 10 ** (snr / 10.0)
    scaled = noise * np.sqrt(target / mean_power(noise[: measured or len(noise)]))
    mixed = speech.astype(np.float64) + scaled
    peak = float(np.max(np.abs(mixed))) if mixed.size else 0.0
    if peak > 0.99:
        mixed *= 0.99 / peak
    return mixed.astype(np.float32)


def stable_seed(*parts: object) -> int:
    """A seed from names (Python's hash() changes between runs; this does not)."""
    digest = hashlib.sha256("\x1f".join(str(p) for p in parts).encode("utf-8")).digest()
    return int.from_bytes(digest[:8], "little")


def noise_offset(track_length: int, length: int, *key: object) -> int:
    """Where a window of `length` samples starts in a track, chosen by `key` (clip and noise names)."""
    if length > track_length:
        raise ValueError(f"a window of {length} samples does not fit a track of {track_length}")
    return int(np.random.default_rng(stable_seed(*key)).integers(0, track_length - length + 1))


def pink_noise(samples: int, seed: int = PINK_SEED) -> np.ndarray:
    """Pink (1/f power) noise of unit power: white noise shaped in the frequency domain."""
    rng = np.random.default_rng(seed)
    spectrum = np.fft.rfft(rng.standard_normal(samples))
    freqs = np.fft.rfftfreq(samples, d=1.0 / SAMPLE_RATE)
    shape = np.ones_like(freqs)
    shape[1:] = 1.0 / np.sqrt(freqs[1:] / freqs[1])  # amplitude ~ f^-1/2, power ~ 1/f
    shape[0] = 0.0  # no DC offset
    pink = np.fft.irfft(spectrum * shape, n=samples)
    return (pink / np.sqrt(np.mean(pink ** 2))).astype(np.float32)


def read_babble_sentences(path: Path) -> list[str]:
    lines = [line.strip() for line in Path(path).read_text(encoding="utf-8").splitlines()]
    return [line for line in lines if line and not line.startswith("#")]


def babble(sentences: list[str], seconds: float = NOISE_SECONDS, seed: int = BABBLE_SEED,
           talkers: int = BABBLE_TALKERS) -> np.ndarray:
    """A crowd of `talkers` people talking at once (unit power), from sentences read by Open JTalk.

    Each talker reads all sentences in its own shuffled order with short gaps, in its own
    pitch and speed; the talkers are summed at different levels, like people at different
    distances from the microphone. Synthesis is deterministic, so the track is too.
    """
    from bench.corpus import render_speech  # the same synthesis path as the answers

    rng = np.random.default_rng(seed)
    length = int(seconds * SAMPLE_RATE)
    mix = np.zeros(length, dtype=np.float64)
    cache: dict[tuple[str, float, float], np.ndarray] = {}
    for talker in range(talkers):
        half_tone, speed, gain_db = BABBLE_VOICES[talker % len(BABBLE_VOICES)]
        stream: list[np.ndarray] = [np.zeros(int(rng.uniform(0.0, 2.0) * SAMPLE_RATE))]
        filled = len(stream[0])
        while filled < length:
            for index in rng.permutation(len(sentences)):
                key = (sentences[index], speed, half_tone)
                if key not in cache:
                    cache[key] = render_speech(sentences[index], speed=speed, half_tone=half_tone)
                stream.append(cache[key])
                stream.append(np.zeros(int(rng.uniform(0.15, 0.6) * SAMPLE_RATE)))
                filled += len(stream[-2]) + len(stream[-1])
                if filled >= length:
                    break
        voice = np.concatenate(stream)[:length].astype(np.float64)
        voice /= np.sqrt(mean_power(voice))
        mix += voice * 10 ** (gain_db / 20.0)
    mix /= np.sqrt(mean_power(mix))
    return mix.astype(np.float32)


NOISES = ("babble", "pink")


def load_noise(name: str, out_dir: Path, babble_text: Path) -> np.ndarray:
    """A noise track by name, cached as a WAV in `out_dir` (regenerated when missing)."""
    import soundfile

    if name not in NOISES:
        raise ValueError(f"unknown noise {name!r}; known: {', '.join(NOISES)}")
    path = Path(out_dir) / f"{name}.wav"
    if path.is_file():
        data, rate = soundfile.read(str(path), dtype="float32")
        if rate == SAMPLE_RATE and len(data) == int(NOISE_SECONDS * SAMPLE_RATE):
            return data / np.float32(np.sqrt(mean_power(data)))
    track = pink_noise(int(NOISE_SECONDS * SAMPLE_RATE)) if name == "pink" else babble(read_babble_sentences(babble_text))
    path.parent.mkdir(parents=True, exist_ok=True)
    # Stored at a tenth of full scale so peaks never clip; loading brings it back to unit power.
    partial = path.with_name(path.name + ".part")
    soundfile.write(str(partial), np.clip(track * 0.1, -1.0, 1.0), SAMPLE_RATE, subtype="FLOAT", format="WAV")
    partial.replace(path)
    return track
