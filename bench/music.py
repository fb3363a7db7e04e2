"""TV-like music for the bench and the live tests: synthesised, deterministic, no recording needed.

A pop-style loop as a TV programme plays it under talk: a chord pad, a bass line, a plucked
melody, a kick on beats one and three and a hi-hat on the off-beats, at 112 beats a minute.
Unit power, 16 kHz mono. The same seed gives the same samples on every machine.
"""
from __future__ import annotations

import numpy as np

SAMPLE_RATE = 16_000
BPM = 112.0
# I – V – vi – IV in C major, as MIDI note numbers of the chord tones
CHORDS = ((60, 64, 67), (55, 59, 62), (57, 60, 64), (53, 57, 60))
SCALE = (60, 62, 64, 65, 67, 69, 71, 72, 74, 76)


def _hz(note: float) -> float:
    return 440.0 * 2 ** ((note - 69) / 12)


def _tone(freq: float, seconds: float, harmonics: tuple[float, ...], decay_s: float | None,
          attack_s: float = 0.01) -> np.ndarray:
    t = np.arange(int(seconds * SAMPLE_RATE)) / SAMPLE_RATE
    wave = sum(amp * np.sin(2 * np.pi * freq * (k + 1) * t) for k, amp in enumerate(harmonics))
    envelope = np.minimum(1.0, t / attack_s)
    if decay_s is not None:
        envelope = envelope * np.exp(-t / decay_s)
    else:
        envelope = envelope * np.minimum(1.0, (seconds - t) / 0.05)  # held, short release
    return (wave * envelope).astype(np.float64)


def music(seconds: float, seed: int = 11) -> np.ndarray:
    rng = np.random.default_rng(seed)
    n = int(seconds * SAMPLE_RATE)
    out = np.zeros(n + SAMPLE_RATE, dtype=np.float64)
    beat = 60.0 / BPM
    bar = 4 * beat

    def add(start_s: float, sound: np.ndarray, gain: float) -> None:
        i = int(start_s * SAMPLE_RATE)
        if i >= n:
            return
        end = min(len(out), i + len(sound))
        out[i:end] += gain * sound[: end - i]

    bars = int(np.ceil(seconds / bar))
    for b in range(bars):
        chord = CHORDS[b % len(CHORDS)]
        t0 = b * bar
        for note in chord:  # pad
            add(t0, _tone(_hz(note), bar, (1.0, 0.4, 0.2, 0.1), None, attack_s=0.15), 0.12)
        for k in range(4):  # bass on every beat, kick on 1 and 3, hi-hat off-beats
            add(t0 + k * beat, _tone(_hz(chord[0] - 24), beat * 0.9, (1.0, 0.5, 0.25), 0.25), 0.35)
            if k in (0, 2):
                t = np.arange(int(0.2 * SAMPLE_RATE)) / SAMPLE_RATE
                kick = np.sin(2 * np.pi * (50 + 90 * np.exp(-t / 0.03)) * t) * np.exp(-t / 0.08)
                add(t0 + k * beat, kick, 0.6)
            hat = rng.standard_normal(int(0.05 * SAMPLE_RATE)) * np.exp(-np.arange(int(0.05 * SAMPLE_RATE)) / 160)
            hat = np.diff(hat, prepend=0.0)  # a crude high-pass: a hiss, not a thump
            add(t0 + (k + 0.5) * beat, hat, 0.08)
        for k in range(8):  # melody in eighth notes, some rests
            if rng.random() < 0.25:
                continue
            note = SCALE[int(rng.integers(0, len(SCALE)))] + 12 * (rng.random() < 0.2)
            add(t0 + k * beat / 2, _tone(_hz(note), beat, (1.0, 0.6, 0.3, 0.15, 0.08), 0.22), 0.3)
    track = out[:n]
    track -= track.mean()
    return (track / np.sqrt(np.mean(track ** 2))).astype(np.float32)
