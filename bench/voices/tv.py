"""A television in the room: people talking, music under them, a little hiss. Deterministic.

The track is the sum, each part first brought to unit power, of
  - crowd babble: six talkers reading everyday sentences (bench/noise.py `babble`, voices made
    from Open JTalk, none of them a bench speaker, so the babble is always *other* voices);
  - music: a synthesised pop loop (bench/music.py), 3 dB under the talk;
  - pink noise, 12 dB under the talk (the set's own hiss and the room).
It is cached as bench/out/noise/tv.wav and mixed under answers at a fixed SNR with
`bench.noise.mix_at_snr` (speech level over the voiced frames against the noise's mean power).
"""
from __future__ import annotations

from pathlib import Path

import numpy as np

from bench.noise import NOISE_SECONDS, SAMPLE_RATE, load_noise, mean_power, pink_noise

NAME = "tv"
MUSIC_DB = -3.0
PINK_DB = -12.0
MUSIC_SEED = 23
RECIPE = "crowd babble + synthesised music (-3 dB) + pink noise (-12 dB)"


def _unit(x: np.ndarray) -> np.ndarray:
    x = np.asarray(x, dtype=np.float64)
    return x / np.sqrt(mean_power(x))


def tv_noise(babble_track: np.ndarray, seconds: float = NOISE_SECONDS) -> np.ndarray:
    from bench.music import music

    n = int(seconds * SAMPLE_RATE)
    mix = (_unit(babble_track[:n]) + _unit(music(seconds, seed=MUSIC_SEED)[:n]) * 10 ** (MUSIC_DB / 20)
           + _unit(pink_noise(n, seed=MUSIC_SEED)) * 10 ** (PINK_DB / 20))
    return (mix / np.sqrt(mean_power(mix))).astype(np.float32)


def load_tv(out_dir: Path, babble_text: Path) -> np.ndarray:
    """The TV track (unit power), made once and cached next to the other noise tracks."""
    import soundfile

    path = Path(out_dir) / f"{NAME}.wav"
    if path.is_file():
        data, rate = soundfile.read(str(path), dtype="float32")
        if rate == SAMPLE_RATE and len(data) == int(NOISE_SECONDS * SAMPLE_RATE):
            return (data / np.sqrt(mean_power(data))).astype(np.float32)
    track = tv_noise(load_noise("babble", out_dir, babble_text))
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(path.name + ".part")
    soundfile.write(str(partial), np.clip(track * 0.1, -1.0, 1.0), SAMPLE_RATE, subtype="FLOAT", format="WAV")
    partial.replace(path)
    return track
