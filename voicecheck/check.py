"""`python run.py check`: is this machine ready? Written for the caregiver who set it up.

It lists the microphones and speakers, records three seconds and judges the level, speaks a test
sentence, checks every installed speech model file by file, checks the content and the data
folder, shows the settings in force, and ends with one plain line: pass or fail (exit 0 or 1).

Each step runs on its own: a missing sound library or an absent microphone is a failed step with
a sentence saying what to do, and the remaining steps still run. The edges (devices, voice) come
in through `Probe`, so tests can stand in for hardware.
"""
from __future__ import annotations

import argparse
import math
import os
import sys
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TextIO

import numpy as np

from voicecheck.settings import SPECS, Resolved, Settings, describe, resolve_all

RECORD_SECONDS = 3.0
QUIET_PEAK_DBFS = -35.0  # the loudest moment of normal speech near the device is well above this
SILENT_PEAK_DBFS = -60.0  # below this nothing reaches the microphone at all
CLIP_LEVEL = 0.999
CLIP_FRACTION = 0.0005  # more than this share of samples at full scale: the sound is cut off
METER_WIDTH = 30
METER_FLOOR_DBFS = -60.0


# ------------------------------------------------------------------ findings


@dataclass(frozen=True)
class Finding:
    step: str
    ok: bool
    message: str
    required: bool = True  # a failed optional finding is a caution; it does not fail the check


@dataclass(frozen=True)
class Level:
    peak_dbfs: float
    rms_dbfs: float
    clipped_fraction: float
    verdict: str  # silent | quiet | good | clipping


def _dbfs(value: float) -> float:
    return 20.0 * math.log10(value) if value > 0 else -120.0


def measure_level(samples: np.ndarray) -> Level:
    """Judge a recording: silent, too quiet, good, or clipping (pure)."""
    x = np.abs(np.asarray(samples, dtype=np.float32).ravel())
    if x.size == 0:
        return Level(-120.0, -120.0, 0.0, "silent")
    peak = float(x.max())
    rms = float(np.sqrt(np.mean(np.square(x, dtype=np.float64))))
    clipped = float(np.mean(x >= CLIP_LEVEL))
    peak_db, rms_db = _dbfs(peak), _dbfs(rms)
    if clipped > CLIP_FRACTION:
        verdict = "clipping"
    elif peak_db < SILENT_PEAK_DBFS:
        verdict = "silent"
    elif peak_db < QUIET_PEAK_DBFS:
        verdict = "quiet"
    else:
        verdict = "good"
    return Level(round(peak_db, 1), round(rms_db, 1), clipped, verdict)


LEVEL_TEXT = {
    "silent": "音がまったく入っていません。マイクがつながっているか、消音になっていないか確かめてください。",
    "quiet": "声が小さすぎます。マイクを口に近づけるか、マイクの音量を上げてください。",
    "good": "ちょうどよい大きさです。",
    "clipping": "音が大きすぎて割れています。マイクを少し離すか、マイクの音量を下げてください。",
}


def meter(level: Level) -> str:
    """[#######---------] a bar for the loudest moment, from -60 dB to 0 dB."""
    share = (max(METER_FLOOR_DBFS, min(0.0, level.peak_dbfs)) - METER_FLOOR_DBFS) / -METER_FLOOR_DBFS
    filled = round(share * METER_WIDTH)
    return "[" + "#" * filled + "-" * (METER_WIDTH - filled) + "]"


# ------------------------------------------------------------------ the edges


def _record(spec: str | None, seconds: float) -> np.ndarray:
    from voicecheck.audio import SAMPLE_RATE, MicrophoneStream

    wanted = int(seconds * SAMPLE_RATE)
    frames: list[np.ndarray] = []
    got = 0
    with MicrophoneStream(spec) as microphone:
        for frame in microphone:
            frames.append(frame)
            got += len(frame)
            if got >= wanted:
                break
    return np.concatenate(frames)[:wanted] if frames else np.zeros(0, dtype=np.float32)


def _make_voice(settings: Settings) -> Any:
    import voicecheck.voices as voices

    select = getattr(voices, "select_voice", None)
    if callable(select):
        return select(settings)
    if settings.voice != "openjtalk":
        from voicecheck.voices.base import VoiceError

        raise VoiceError(f"The voice '{settings.voice}' is not available in this version.")
    from voicecheck.voices.openjtalk import OpenJTalkVoice

    return OpenJTalkVoice(settings.speaking_rate, settings.volume)


def _ask(question: str) -> bool | None:
    """Ask the person at the keyboard; None when nobody can answer (input is not a terminal)."""
    if not sys.stdin.isatty():
        return None
    try:
        answer = input(f"{question} [はい/いいえ] ").strip().lower()
    except EOFError:
        return None
    if answer in ("はい", "y", "yes", "hai", "1"):
        return True
    if answer in ("いいえ", "n", "no", "iie", "0"):
        return False
    return None


def _wait_for_enter(prompt: str) -> None:
    if sys.stdin.isatty():
        try:
            input(prompt)
        except EOFError:
            pass


def _load_sound() -> object:
    from voicecheck.audio import load_sounddevice

    return load_sounddevice()


def _list_devices() -> list:
    from voicecheck.audio import list_devices

    return list_devices()


def _find_device(spec: str | None, kind: str) -> Any:
    from voicecheck.audio import find_device

    return find_device(spec, kind)


def _play(samples: np.ndarray, rate: int, spec: str | None) -> None:
    from voicecheck.audio import play

    play(samples, rate, spec)


@dataclass
class Probe:
    """The hardware and voice the check talks to; tests replace these."""

    load_sound: Callable[[], object] = _load_sound
    list_devices: Callable[[], list] = _list_devices
    find_device: Callable[[str | None, str], Any] = _find_device
    record: Callable[[str | None, float], np.ndarray] = _record
    play: Callable[[np.ndarray, int, str | None], None] = _play
    make_voice: Callable[[Settings], Any] = _make_voice
    ask: Callable[[str], bool | None] = _ask
    wait: Callable[[str], None] = _wait_for_enter


# ------------------------------------------------------------------ the steps


def _reason(error: BaseException) -> str:
    """A one-line reason from any error, never a traceback."""
    text = str(error).strip() or type(error).__name__
    return text.splitlines()[0]


class Checker:
    def __init__(self, settings: Settings, probe: Probe, out: TextIO, resolved: Resolved | None = None) -> None:
        self.settings, self.probe, self.out = settings, probe, out
        self.resolved = resolved
        self.findings: list[Finding] = []
        self.sound_ok = False
        self.microphone_ok = False
        self.speaker_ok = False

    def say(self, text: str = "") -> None:
        print(text, file=self.out)

    def note(self, step: str, ok: bool, message: str, required: bool = True) -> None:
        self.findings.append(Finding(step, ok, message, required))
        mark = "OK" if ok else ("×" if required else "注意")
        self.say(f"   {mark}  {message}")

    def heading(self, number: int, title: str) -> None:
        self.say()
        self.say(f"{number}. {title}")

    # 1
    def devices(self) -> None:
        self.heading(1, "マイクとスピーカー")
        try:
            self.probe.load_sound()
        except Exception as error:
            self.note("devices", False, "音の機器を使うためのソフト（PortAudio）が使えません。"
                                        "Debian や Ubuntu では sudo apt install libportaudio2 で入れられます。"
                                        f"（くわしく: {_reason(error)}）")
            return
        try:
            devices = self.probe.list_devices()
        except Exception as error:
            self.note("devices", False, f"音の機器の一覧をとれません（{_reason(error)}）。")
            return
        self.sound_ok = True
        inputs = [d for d in devices if d.input_channels > 0]
        outputs = [d for d in devices if d.output_channels > 0]
        for title, group, kind, setting in (("マイク", inputs, "input", self.settings.microphone),
                                            ("スピーカー", outputs, "output", self.settings.speaker)):
            self.say(f"   {title}:")
            if not group:
                self.say("     （見つかりません）")
            chosen = None
            if group:
                try:
                    chosen = self.probe.find_device(setting, kind)
                except Exception as error:
                    self.note(kind, False, f"設定の{title}が使えません: {_reason(error)}")
            for d in group:
                mark = "  ← これを使います" if chosen is not None and d.index == chosen.index else ""
                self.say(f"     {d.index}: {d.name}{mark}")
            if not group:
                self.note(kind, False, f"{title}が見つかりません。つながっているか、電源が入っているか確かめてください。")
            elif chosen is not None:
                if kind == "input":
                    self.microphone_ok = True
                else:
                    self.speaker_ok = True
                self.note(kind, True, f"{title}: {chosen.name}")

    # 2
    def microphone(self) -> None:
        self.heading(2, f"マイクの音量（{RECORD_SECONDS:g}秒間録音します）")
        if not self.microphone_ok:
            self.note("level", False, "マイクが使えないので、録音できません。")
            return
        self.probe.wait("   Enter キーを押したら、ふだんの声で「こんにちは、きょうはいい天気です」と話してください。")
        self.say("   録音しています…")
        try:
            samples = self.probe.record(self.settings.microphone, RECORD_SECONDS)
        except Exception as error:
            self.note("level", False, f"録音できませんでした（{_reason(error)}）。")
            return
        level = measure_level(samples)
        self.say(f"   {meter(level)}  いちばん大きいところ {level.peak_dbfs:.0f} dB")
        self.note("level", level.verdict == "good", LEVEL_TEXT[level.verdict])
        # the recording is checked in memory only and never written anywhere

    # 3
    def content(self) -> str | None:
        self.heading(3, "質問の内容と保存先")
        sentence = None
        try:
            from voicecheck.content import load_content

            content = load_content(self.settings.prompts_dir)
            # a short sentence of the content itself, so the test speaks what a session speaks
            sentence = content.say("check_sentence")
            self.note("content", True, f"質問の内容を読めます（{self.settings.prompts_dir}）。")
        except Exception as error:
            self.note("content", False, f"質問の内容を読めません: {_reason(error)}")
        self._data_dir()
        return sentence

    def _data_dir(self) -> None:
        from voicecheck.store import SessionStore, StoreError, write_text_atomic

        store = SessionStore(self.settings.data_dir)
        probe_file = store.sessions_dir / f".check-{os.getpid()}"
        try:
            store.ensure_dirs()
            write_text_atomic(probe_file, "ok\n")
            probe_file.unlink()
        except (StoreError, OSError) as error:
            self.note("data_dir", False, f"答えを保存するフォルダに書けません: {_reason(error)}")
            return
        private = (store.sessions_dir.stat().st_mode & 0o077) == 0
        self.note("data_dir", private, f"答えの保存先: {store.sessions_dir}"
                  + ("（本人だけが読めます）" if private else "（ほかの人も読める設定になっています）"))
        audio = "録音を残す設定です（keep_audio = true）。" if self.settings.keep_audio else "録音は残しません。"
        self.say(f"        {audio}")

    # 4
    def speaker(self, sentence: str | None) -> None:
        self.heading(4, "スピーカーと声")
        if not sentence:
            self.note("voice", False, "読み上げる文がありません（質問の内容ファイルを読めません）。")
            return
        try:
            voice = self.probe.make_voice(self.settings)
            samples, rate = voice.synthesize(sentence)
        except Exception as error:
            self.note("voice", False, f"声を作れません（{_reason(error)}）。設定 voice を確かめてください。")
            return
        if len(samples) == 0 or float(np.max(np.abs(samples))) < 1e-4:
            self.note("voice", False, "声を作りましたが、音が入っていません。設定 volume が 0 になっていないか確かめてください。")
            return
        self.note("voice", True, f"声を作れます（{getattr(voice, 'name', self.settings.voice)}、"
                                 f"{len(samples) / rate:.1f}秒）。")
        if not self.speaker_ok:
            self.note("playback", False, "スピーカーが使えないので、声を鳴らせません。")
            return
        self.say(f"   読み上げます: 「{sentence}」")
        try:
            self.probe.play(samples, rate, self.settings.speaker)
        except Exception as error:
            self.note("playback", False, f"スピーカーで鳴らせませんでした（{_reason(error)}）。")
            return
        heard = self.probe.ask("   声が聞こえましたか。")
        if heard is False:
            self.note("playback", False, "声が聞こえなかったとのことです。スピーカーの電源と音量、"
                                         "設定 speaker と volume を確かめてください。")
        elif heard is None:
            self.note("playback", True, "スピーカーで鳴らしました（聞こえたかどうかは確かめていません）。")
        else:
            self.note("playback", True, "スピーカーから声が聞こえました。")

    # 5
    def models(self) -> None:
        self.heading(5, "音声認識のモデル（ファイルがそろっているか、壊れていないか）")
        try:
            from voicecheck import models
        except Exception as error:
            self.note("models", False, f"モデルを調べる部分を読み込めません（{_reason(error)}）。")
            return
        engine = self.settings.engine
        statuses = {}
        for name, spec in models.REGISTRY.items():
            try:
                status = models.model_status(name, self.settings.models_dir, full=True)
            except Exception as error:
                self.note("models", False, f"{name}: 調べられません（{_reason(error)}）。")
                continue
            statuses[spec.engine] = status
            where = f"（{status.path}）" if status.path else ""
            if status.ok:
                self.say(f"   {name}: そろっています。壊れていません。{where}")
            elif status.state == "missing":
                self.say(f"   {name}: 入っていません。")
            else:
                what = "一部のファイルが足りません" if status.state == "partial" else "壊れたファイルがあります"
                detail = "、".join(status.problems[:3])
                self.say(f"   {name}: {what}{where}（{detail}）")
        usable = [e for e, s in statuses.items() if s.ok]
        broken = [s for s in statuses.values() if s.state in ("partial", "corrupt")]
        from voicecheck.recognizers import AUTO_ORDER, ENGINE_FACTS

        wanted = [engine] if engine in ("vosk", "whisper") else list(AUTO_ORDER)
        if any(e in usable for e in wanted):
            using = engine if engine != "auto" else next(e for e in AUTO_ORDER if e in usable)
            self.note("models", True, f"音声認識に使うモデル: {models.ENGINE_MODELS[using]}（設定 engine = {engine}）")
            for name in AUTO_ORDER:
                self.say(f"   {name}: {ENGINE_FACTS[name]}")
        else:
            names = "、".join(models.ENGINE_MODELS[e] for e in wanted)
            self.note("models", False, f"設定 engine = {engine} で使えるモデルがありません（{names}）。"
                                       f"python run.py models fetch で入れてください。")
        for status in broken:
            needed = status.name in (models.ENGINE_MODELS[e] for e in wanted) and not usable
            self.note("models", False, f"{status.name} は入れ直してください: "
                                       f"python run.py models fetch {status.name}",
                      required=needed)

    # 6
    def show_settings(self) -> None:
        self.heading(6, "いまの設定")
        resolved = self.resolved
        if resolved is None or resolved.settings != self.settings:
            resolved = Resolved(self.settings, None, {s.name: "default" for s in SPECS})
        if resolved.config_file:
            self.say(f"   設定ファイル: {resolved.config_file}")
        else:
            self.say("   設定ファイルはありません（python run.py config --init で作れます）。")
        rows = describe(resolved)
        width = max(len(name) for name, _, _ in rows)
        for name, value, source in rows:
            self.say(f"   {name:<{width}}  {value}  （{source}）")

    def verdict(self) -> int:
        failed = [f for f in self.findings if f.required and not f.ok]
        cautions = [f for f in self.findings if not f.required and not f.ok]
        self.say()
        if failed:
            self.say(f"結果: 不合格。直すところが {len(failed)} つあります。")
            for f in failed:
                self.say(f"  ・{f.message}")
        else:
            self.say("結果: 合格。マイク、スピーカー、声、音声認識のモデル、保存先はすべて使えます。")
        for f in cautions:
            self.say(f"  注意: {f.message}")
        return 1 if failed else 0


def run_check(settings: Settings, probe: Probe | None = None, out: TextIO | None = None,
              resolved: Resolved | None = None) -> int:
    """Run every step and print the findings; 0 when the machine is ready, else 1."""
    checker = Checker(settings, probe or Probe(), out or sys.stdout, resolved)
    checker.say("voicecheck の点検をします。")
    sentence: list[str | None] = [None]

    def content_step() -> None:
        sentence[0] = checker.content()

    steps: tuple[Callable[[], Any], ...] = (
        checker.devices, checker.microphone, content_step,
        lambda: checker.speaker(sentence[0]), checker.models, checker.show_settings,
    )
    for step in steps:
        try:
            step()
        except Exception as error:  # a bug in one step must not hide the others
            checker.note("check", False, f"点検の途中で問題が起きました（{_reason(error)}）。")
    return checker.verdict()


def command(args: argparse.Namespace, settings: Settings) -> int:
    """`python run.py check`."""
    try:
        resolved: Resolved | None = resolve_all(args)
    except Exception:
        resolved = None  # settings were already resolved by the caller; the sources are a nicety
    return run_check(settings, resolved=resolved)
