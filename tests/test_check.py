"""`check`: each step judged on its own, a plain verdict, and never a traceback."""
from __future__ import annotations

import hashlib
import io
import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest

from voicecheck import check as C
from voicecheck import models
from voicecheck.audio import AudioDeviceError
from voicecheck.settings import Settings

PROJECT = Path(__file__).resolve().parent.parent
RATE = 16_000


def tone(amplitude: float, seconds: float = 3.0) -> np.ndarray:
    t = np.arange(int(seconds * RATE)) / RATE
    return (amplitude * np.sin(2 * np.pi * 220 * t)).astype(np.float32)


# ------------------------------------------------------------------ the level


def test_level_verdicts():
    assert C.measure_level(np.zeros(RATE, dtype=np.float32)).verdict == "silent"
    assert C.measure_level(np.zeros(0, dtype=np.float32)).verdict == "silent"
    assert C.measure_level(tone(0.005)).verdict == "quiet"  # about -46 dB at the loudest
    good = C.measure_level(tone(0.3))
    assert good.verdict == "good" and -11 < good.peak_dbfs < -10 and good.rms_dbfs < good.peak_dbfs
    assert C.measure_level(np.clip(tone(3.0), -1, 1)).verdict == "clipping"
    # a single full-scale click in normal speech is not "clipping"
    speech = tone(0.3)
    speech[100] = 1.0
    assert C.measure_level(speech).verdict == "good"


def test_meter_grows_with_the_level():
    bars = [C.meter(C.measure_level(tone(a))) for a in (0.001, 0.03, 0.3, 1.0)]
    counts = [b.count("#") for b in bars]
    assert counts == sorted(counts) and counts[0] < counts[-1] == C.METER_WIDTH
    assert all(len(b) == C.METER_WIDTH + 2 for b in bars)


# ------------------------------------------------------------------ fakes


@dataclass(frozen=True)
class FakeDevice:
    index: int
    name: str
    input_channels: int
    output_channels: int
    default_rate: float = 48_000.0


class FakeVoice:
    name = "fake"

    def __init__(self, volume: float = 1.0) -> None:
        self.volume = volume
        self.texts: list[str] = []

    def synthesize(self, text: str):
        self.texts.append(text)
        return tone(0.5 * self.volume, 0.5), RATE


DEVICES = [FakeDevice(0, "USB マイク", 1, 0), FakeDevice(1, "内蔵スピーカー", 0, 2), FakeDevice(2, "HDMI", 0, 2)]


def find(spec, kind):
    usable = [d for d in DEVICES if (d.input_channels if kind == "input" else d.output_channels)]
    if spec is None:
        return usable[0]
    for d in usable:
        if str(spec) == str(d.index) or str(spec).lower() in d.name.lower():
            return d
    raise AudioDeviceError(f"No device has '{spec}' in its name.")


def probe(**overrides) -> tuple[C.Probe, dict]:
    calls: dict = {"played": [], "recorded": [], "voice": FakeVoice()}

    def record(spec, seconds):
        calls["recorded"].append((spec, seconds))
        return tone(0.3, seconds)

    def play(samples, rate, spec):
        calls["played"].append((len(samples), rate, spec))

    base = dict(
        load_sound=lambda: object(), list_devices=lambda: list(DEVICES), find_device=find,
        record=record, play=play, make_voice=lambda s: calls["voice"], ask=lambda q: True, wait=lambda p: None,
    )
    base.update(overrides)
    return C.Probe(**base), calls


@pytest.fixture
def fake_models(tmp_path, monkeypatch):
    """A tiny model registry with real checksums, so the real verification code runs."""
    files = {"am/final.mdl": b"acoustic model", "conf/model.conf": b"--beam=10\n"}
    spec = models.ModelSpec(
        name="tiny-vosk", engine="vosk", source="a test", download_mb=1,
        files={rel: hashlib.sha256(data).hexdigest() for rel, data in files.items()},
    )
    other = models.ModelSpec(name="tiny-whisper", engine="whisper", source="a test", download_mb=1,
                             files={"model.bin": hashlib.sha256(b"w").hexdigest()})
    monkeypatch.setattr(models, "REGISTRY", {spec.name: spec, other.name: other})
    monkeypatch.setattr(models, "ENGINE_MODELS", {"vosk": spec.name, "whisper": other.name})
    monkeypatch.delenv(models.MIRROR_ENV, raising=False)
    models_dir = tmp_path / "models"
    for rel, data in files.items():
        (models_dir / spec.name / rel).parent.mkdir(parents=True, exist_ok=True)
        (models_dir / spec.name / rel).write_bytes(data)
    return models_dir


def run(settings: Settings, p: C.Probe) -> tuple[int, str]:
    out = io.StringIO()
    code = C.run_check(settings, p, out)
    return code, out.getvalue()


def settings_for(tmp_path: Path, models_dir: Path, **kw) -> Settings:
    return Settings(data_dir=tmp_path / "data", models_dir=models_dir, **kw)


# ------------------------------------------------------------------ whole runs


def test_everything_works_passes(tmp_path, fake_models):
    p, calls = probe()
    code, out = run(settings_for(tmp_path, fake_models, speaker="HDMI"), p)
    assert code == 0, out
    assert out.rstrip().splitlines()[-1].startswith("結果: 合格")
    assert "0: USB マイク  ← これを使います" in out
    assert "2: HDMI  ← これを使います" in out
    assert C.LEVEL_TEXT["good"] in out
    assert calls["recorded"] == [(None, C.RECORD_SECONDS)]
    assert calls["played"] and calls["played"][0][2] == "HDMI"
    assert calls["voice"].texts and calls["voice"].texts[0].endswith("。")
    assert "tiny-vosk: そろっています" in out and "tiny-whisper: 入っていません" in out
    for setting in ("engine", "speaking_rate", "keep_audio", "data_dir"):
        assert setting in out
    # the three seconds of recording were judged in memory, nothing was kept
    kept = [p for p in (tmp_path / "data").rglob("*") if p.is_file()]
    assert kept == []


def test_portaudio_missing_fails_clearly_and_still_checks_the_rest(tmp_path, fake_models):
    def missing():
        raise AudioDeviceError("Sound devices cannot be used: the PortAudio sound library is not installed.")

    p, calls = probe(load_sound=missing)
    code, out = run(settings_for(tmp_path, fake_models), p)
    assert code == 1
    assert "libportaudio2" in out
    assert "声を作れます" in out  # the voice still checked
    assert "tiny-vosk: そろっています" in out  # the models still checked
    assert calls["recorded"] == [] and calls["played"] == []
    assert out.rstrip().splitlines()[-1] != "" and "結果: 不合格" in out


def test_no_devices_fails(tmp_path, fake_models):
    p, _ = probe(list_devices=lambda: [])
    code, out = run(settings_for(tmp_path, fake_models), p)
    assert code == 1
    assert "マイクが見つかりません" in out and "スピーカーが見つかりません" in out


def test_a_microphone_setting_that_matches_nothing_names_the_problem(tmp_path, fake_models):
    p, calls = probe()
    code, out = run(settings_for(tmp_path, fake_models, microphone="Blue Yeti"), p)
    assert code == 1
    assert "設定のマイクが使えません" in out and "Blue Yeti" in out
    assert calls["recorded"] == []


@pytest.mark.parametrize("amplitude, verdict", [(0.0, "silent"), (0.004, "quiet"), (5.0, "clipping")])
def test_bad_levels_fail_with_advice(tmp_path, fake_models, amplitude, verdict):
    p, _ = probe(record=lambda spec, s: np.clip(tone(amplitude, s), -1, 1))
    code, out = run(settings_for(tmp_path, fake_models), p)
    assert code == 1
    assert C.LEVEL_TEXT[verdict] in out


def test_recording_error_is_a_finding(tmp_path, fake_models):
    def broken(spec, seconds):
        raise AudioDeviceError("The microphone 'USB マイク' stopped sending sound for 5 seconds.")

    code, out = run(settings_for(tmp_path, fake_models), probe(record=broken)[0])
    assert code == 1 and "録音できませんでした" in out and "stopped sending sound" in out


def test_speaker_not_heard_fails_and_unanswered_is_not_a_failure(tmp_path, fake_models):
    code, out = run(settings_for(tmp_path, fake_models), probe(ask=lambda q: False)[0])
    assert code == 1 and "聞こえなかった" in out
    code, out = run(settings_for(tmp_path, fake_models), probe(ask=lambda q: None)[0])
    assert code == 0 and "確かめていません" in out


def test_silent_voice_at_volume_zero_fails(tmp_path, fake_models):
    p, calls = probe(make_voice=lambda s: FakeVoice(volume=0.0))
    code, out = run(settings_for(tmp_path, fake_models, volume=0.0), p)
    assert code == 1 and "volume" in out


def test_corrupt_model_is_found_by_checksum(tmp_path, fake_models):
    (fake_models / "tiny-vosk" / "am" / "final.mdl").write_bytes(b"acoustic modeL")  # same size, one byte off
    code, out = run(settings_for(tmp_path, fake_models, engine="vosk"), probe()[0])
    assert code == 1
    assert "tiny-vosk: 壊れたファイルがあります" in out and "am/final.mdl" in out
    assert "python run.py models fetch tiny-vosk" in out


def test_missing_model_file_is_partial(tmp_path, fake_models):
    (fake_models / "tiny-vosk" / "conf" / "model.conf").unlink()
    code, out = run(settings_for(tmp_path, fake_models), probe()[0])
    assert code == 1 and "一部のファイルが足りません" in out


def test_engine_without_its_model_fails(tmp_path, fake_models):
    code, out = run(settings_for(tmp_path, fake_models, engine="whisper"), probe()[0])
    assert code == 1 and "engine = whisper" in out and "tiny-whisper" in out


def test_unwritable_data_folder_fails(tmp_path, fake_models):
    blocker = tmp_path / "file"
    blocker.write_text("x")
    settings = Settings(data_dir=blocker / "data", models_dir=fake_models)
    code, out = run(settings, probe()[0])
    assert code == 1 and "保存するフォルダに書けません" in out


def test_a_bug_in_one_step_does_not_hide_the_others(tmp_path, fake_models):
    def buggy(settings):
        raise ZeroDivisionError("division by zero")

    code, out = run(settings_for(tmp_path, fake_models), probe(make_voice=buggy)[0])
    assert code == 1
    assert "division by zero" in out and "Traceback" not in out
    assert "tiny-vosk: そろっています" in out


# ------------------------------------------------------------------ this machine, for real


def test_real_check_command_never_shows_a_traceback(tmp_path):
    env = {
        **os.environ,
        "VOICECHECK_DATA_DIR": str(tmp_path / "data"),
        "XDG_CONFIG_HOME": str(tmp_path / "config"),
        "PYTHONPATH": str(PROJECT),
    }
    env.pop("VOICECHECK_CONFIG", None)
    done = subprocess.run(
        [sys.executable, str(PROJECT / "run.py"), "check", "--models-dir", str(tmp_path / "no-models")],
        capture_output=True, text=True, env=env, stdin=subprocess.DEVNULL, timeout=300, cwd=tmp_path,
    )
    assert "Traceback" not in done.stdout + done.stderr
    verdicts = [line for line in done.stdout.splitlines() if line.startswith("結果:")]
    assert len(verdicts) == 1
    assert verdicts[0].startswith("結果: 合格" if done.returncode == 0 else "結果: 不合格")
    # no model in an empty models folder (mirror aside): this machine can never pass
    if not os.environ.get(models.MIRROR_ENV):
        assert done.returncode == 1
    assert done.returncode in (0, 1)
    try:
        devices = C._list_devices()
        has_mic = any(d.input_channels > 0 for d in devices)
    except AudioDeviceError:
        has_mic = False
    if not has_mic:
        assert done.returncode == 1
        assert "マイク" in done.stdout
