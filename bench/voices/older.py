"""Any voice as an older speaker: slower, lower, a trembling voice, breathy, in a living room.

Applied to finished 16 kHz speech (numpy only), in this order:
1. lower pitch: read the samples as if recorded at a lower rate (pitch and formants down by
   1.5–3.5 semitones, like a longer, laxer vocal tract; this also slows the speech down);
2. slower: time-stretch without changing pitch (WSOLA: overlap-add of 32 ms windows, each
   placed where it best continues the previous one) to 1.20–1.40 × the original duration in all;
3. tremor: the 4–7 Hz wobble of an ageing voice, in loudness (±8–16 %) and in pitch
   (±0.15–0.35 semitone, by a modulated delay);
4. breathiness: air noise (1.2–6 kHz) that follows the loudness of the voice, 16–22 dB below it;
5. room: a synthetic room impulse response (direct sound, a few early reflections off walls
   and furniture, a diffuse tail with RT60 0.30–0.55 s, as in a furnished living room;
   direct-to-reverberant ratio 3–8 dB, a speaker device about a metre away);
6. the result levelled 3 dB below the other clips: older speakers are often quieter.

Every parameter is drawn from a generator seeded by the voice and the text (`bench.noise.stable_seed`),
so the same clip always sounds the same; the parameters are returned for the report.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np

from bench.noise import SAMPLE_RATE, stable_seed
from bench.voices.base import SPEECH_LEVEL_DBFS, level

WSOLA_FRAME = 512  # 32 ms
WSOLA_HOP = WSOLA_FRAME // 2
WSOLA_TOLERANCE = 160  # ±10 ms search for the best-fitting next window
QUIETER_DB = 3.0


@dataclass(frozen=True)
class OlderParams:
    semitones_down: float
    duration_factor: float
    tremor_hz: float
    tremor_loudness: float  # relative amplitude swing
    tremor_semitones: float
    breath_db: float  # breath noise level relative to the speech
    rt60_s: float
    drr_db: float

    def to_json(self) -> dict:
        return {k: round(v, 3) for k, v in asdict(self).items()}


def draw_params(*key: object) -> OlderParams:
    rng = np.random.default_rng(stable_seed("older", *key))
    return OlderParams(
        semitones_down=float(rng.uniform(1.5, 3.5)),
        duration_factor=float(rng.uniform(1.20, 1.40)),
        tremor_hz=float(rng.uniform(4.0, 7.0)),
        tremor_loudness=float(rng.uniform(0.08, 0.16)),
        tremor_semitones=float(rng.uniform(0.15, 0.35)),
        breath_db=float(rng.uniform(-22.0, -16.0)),
        rt60_s=float(rng.uniform(0.30, 0.55)),
        drr_db=float(rng.uniform(3.0, 8.0)),
    )


def lower_pitch(samples: np.ndarray, semitones: float) -> np.ndarray:
    """Pitch and formants down by `semitones`; the speech gets longer by the same factor."""
    from voicecheck.audio import resample

    factor = 2 ** (-semitones / 12)
    return resample(samples, int(round(SAMPLE_RATE * factor)), SAMPLE_RATE)


def time_stretch(samples: np.ndarray, factor: float) -> np.ndarray:
    """`factor` × longer (or shorter below 1) at the same pitch, by WSOLA."""
    x = np.asarray(samples, dtype=np.float64)
    if abs(factor - 1.0) < 1e-3 or len(x) < 2 * WSOLA_FRAME:
        return x.astype(np.float32)
    n, hop, tol = WSOLA_FRAME, WSOLA_HOP, WSOLA_TOLERANCE
    window = np.hanning(n + 1)[:-1]  # periodic Hann: windows at half overlap add up to one
    padded = np.concatenate([np.zeros(n + tol), x, np.zeros(2 * n + tol)])
    out_len = int(len(x) * factor)
    frames = out_len // hop + 1
    out = np.zeros(frames * hop + n)
    norm = np.zeros_like(out)
    analysis_hop = hop / factor
    previous = None  # where the last window was taken from
    for k in range(frames):
        nominal = int(round(k * analysis_hop)) + n + tol
        if previous is None:
            start = nominal
        else:
            natural = padded[previous + hop: previous + hop + n]  # what would continue the last window
            region = padded[nominal - tol: nominal + tol + n]
            corr = np.correlate(region, natural, mode="valid")
            start = nominal - tol + int(np.argmax(corr))
        out[k * hop: k * hop + n] += padded[start: start + n] * window
        norm[k * hop: k * hop + n] += window
        previous = start
    out = out / np.maximum(norm, 1e-3)
    return out[:out_len].astype(np.float32)


def tremor(samples: np.ndarray, hz: float, loudness: float, semitones: float, phase: float) -> np.ndarray:
    x = np.asarray(samples, dtype=np.float64)
    t = np.arange(len(x)) / SAMPLE_RATE
    # A delay swinging by ±d samples changes the pitch by up to 2π·hz·d/rate (relative).
    deviation = 2 ** (semitones / 12) - 1
    d = deviation * SAMPLE_RATE / (2 * np.pi * hz)
    read_at = np.arange(len(x)) - d - d * np.sin(2 * np.pi * hz * t + phase)
    wobbled = np.interp(read_at, np.arange(len(x)), x, left=0.0, right=0.0)
    gain = 1.0 + loudness * np.sin(2 * np.pi * hz * t + phase + 0.7)
    return (wobbled * gain).astype(np.float32)


def _band_noise(length: int, low_hz: float, high_hz: float, rng: np.random.Generator) -> np.ndarray:
    spectrum = np.fft.rfft(rng.standard_normal(length))
    freqs = np.fft.rfftfreq(length, 1.0 / SAMPLE_RATE)
    spectrum[(freqs < low_hz) | (freqs > high_hz)] = 0.0
    noise = np.fft.irfft(spectrum, n=length)
    return noise / max(1e-12, float(np.sqrt(np.mean(noise ** 2))))


def breathiness(samples: np.ndarray, level_db: float, rng: np.random.Generator) -> np.ndarray:
    x = np.asarray(samples, dtype=np.float64)
    if not x.size:
        return samples
    win = int(0.02 * SAMPLE_RATE)
    envelope = np.sqrt(np.convolve(x ** 2, np.ones(win) / win, mode="same"))  # loudness, 20 ms
    breath = _band_noise(len(x), 1200.0, 6000.0, rng) * envelope
    rms_x, rms_b = np.sqrt(np.mean(x ** 2)), np.sqrt(np.mean(breath ** 2))
    if rms_b > 0:
        breath *= rms_x / rms_b * 10 ** (level_db / 20)
    return (x + breath).astype(np.float32)


def room_impulse_response(rt60_s: float, drr_db: float, rng: np.random.Generator) -> np.ndarray:
    length = int(1.2 * rt60_s * SAMPLE_RATE)
    t = np.arange(length) / SAMPLE_RATE
    tail = rng.standard_normal(length) * np.exp(-6.9078 * t / rt60_s)  # -60 dB at rt60
    tail[: int(0.005 * SAMPLE_RATE)] = 0.0  # the diffuse tail builds up after the first reflections
    # Walls absorb the highs first: a gentle one-pole low-pass on the tail.
    smoothed = np.empty_like(tail)
    acc = 0.0
    for i, v in enumerate(tail):
        acc = 0.6 * acc + 0.4 * v
        smoothed[i] = acc
    rir = np.zeros(length)
    for _ in range(5):  # early reflections, 3–25 ms after the direct sound
        rir[int(rng.uniform(0.003, 0.025) * SAMPLE_RATE)] += rng.uniform(0.2, 0.5) * rng.choice((-1.0, 1.0))
    reverberant = rir + smoothed
    energy = float(np.sum(reverberant ** 2))
    reverberant *= np.sqrt(10 ** (-drr_db / 10) / energy)  # direct sound has energy 1
    reverberant[0] += 1.0
    return reverberant


def convolve(samples: np.ndarray, rir: np.ndarray) -> np.ndarray:
    n = len(samples) + len(rir) - 1
    size = 1 << (n - 1).bit_length()
    out = np.fft.irfft(np.fft.rfft(samples, size) * np.fft.rfft(rir, size), size)[:n]
    return out.astype(np.float32)


def older_speaker(samples: np.ndarray, *key: object) -> tuple[np.ndarray, OlderParams]:
    """The clip as an older speaker (see the module docstring); `key` seeds every random choice."""
    p = draw_params(*key)
    rng = np.random.default_rng(stable_seed("older-noise", *key))
    x = lower_pitch(samples, p.semitones_down)
    x = time_stretch(x, p.duration_factor * len(samples) / max(1, len(x)))
    x = tremor(x, p.tremor_hz, p.tremor_loudness, p.tremor_semitones, phase=float(rng.uniform(0, 2 * np.pi)))
    x = breathiness(x, p.breath_db, rng)
    x = convolve(x, room_impulse_response(p.rt60_s, p.drr_db, rng))
    return level(x, SPEECH_LEVEL_DBFS - QUIETER_DB), p
