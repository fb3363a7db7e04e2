"""Speak → listen: answers spoken by the project's own voice, heard by the real Whisper model and
understood by the real matcher; replayed sessions; the Ears and Mouths around them."""
from __future__ import annotations

import contextlib
import csv
import hashlib
import importlib.util
import sys
from pathlib import Path

import numpy as np
import pytest
import soundfile

from voicecheck import audio
from voicecheck.audio import FRAME_SAMPLES, SAMPLE_RATE, add_noise, frames_of, read_wav, write_wav
from voicecheck.interfaces import FakeClock, Heard, ListenContext, RecordingMouth
from voicecheck.settings import Settings
from voicecheck.speech_io import (
    MicrophoneEars,
    ReplayEars,
    SpeakerMouth,
    WavMouth,
    microphone_available,
    transcribe_file,
)

from speech_support import DATA, silence, spoken, whisper_model_dir

COMMANDS = {"repeat", "back", "skip", "help", "stop"}


def read_tsv(path: Path) -> list[dict[str, str]]:
    with open(path, encoding="utf-8", newline="") as handle:
        return list(csv.DictReader(handle, delimiter="\t"))


def understood(expected: str, match) -> bool:
    """Did the matcher take what was heard as the expected answer, without asking again?"""
    if match.decision == "reprompt":
        return False
    if expected in COMMANDS:
        return match.command == expected
    if expected == "text":
        return match.command is None and bool(match.text)
    return match.command is None and "+".join(match.option_ids) == expected


class MemoRecognizer:
    """The real recogniser, each distinct clip decoded once (several tests replay the same files)."""

    def __init__(self, recognizer) -> None:
        self.recognizer, self.name = recognizer, recognizer.name
        self._memo: dict[tuple[str, str | None], Heard] = {}

    def start(self, context):
        return self.recognizer.start(context)

    def transcribe(self, samples, context):
        key = (hashlib.sha1(np.ascontiguousarray(samples).tobytes()).hexdigest(), context.question_id)
        if key not in self._memo:
            self._memo[key] = self.recognizer.transcribe(samples, context)
        return self._memo[key]


@pytest.fixture(scope="module")
def whisper():
    path = whisper_model_dir()
    if path is None:
        pytest.skip("faster-whisper-base is not installed or mirrored")
    from voicecheck.recognizers.whisper import WhisperRecognizer

    return MemoRecognizer(WhisperRecognizer(path, open_questions={"since_when"}))


@pytest.fixture(scope="module")
def matcher(content):
    from voicecheck.matcher import Matcher

    return Matcher(content)


# ---------------------------------------------------------------------------------- speak → listen


@pytest.fixture(scope="module")
def loop_results(whisper, matcher):
    """Every answer of spoken_answers.tsv, clean and with noise at 20 dB SNR, through Whisper and the matcher."""
    results = []
    for index, row in enumerate(read_tsv(DATA / "spoken_answers.tsv")):
        clean = spoken(row["text"], lead_s=0.4, tail_s=0.6)
        context = ListenContext(row["question"], matcher.phrases(row["question"]), asked=asked(matcher, row["question"]))
        for condition, samples in (("clean", clean), ("noisy", add_noise(clean, 20.0, seed=index))):
            heard = whisper.transcribe(samples, context)
            match = matcher.understand(row["question"], heard)
            results.append({**row, "condition": condition, "heard": heard.text, "match": match,
                            "ok": understood(row["expected"], match)})
    return results


def asked(matcher, question_id: str) -> str:
    """What the device asks before this answer, as the conversation hands it to the recogniser."""
    return matcher.content.question(question_id).text if question_id != "yes_no" else ""


def misses(results, condition):
    return [(r["question"], r["text"], r["heard"], r["match"].option_ids, r["match"].command, r["match"].decision)
            for r in results if r["condition"] == condition and not r["ok"]]


def wrong_accepts(results, condition):
    """Answers taken without asking back, but not the answer given: the costly kind of mistake."""
    return [(r["text"], r["heard"], r["match"].option_ids, r["match"].command) for r in results
            if r["condition"] == condition and not r["ok"] and r["match"].decision == "accept"]


@pytest.mark.model
def test_the_loop_covers_every_question(loop_results, content):
    clean = [r for r in loop_results if r["condition"] == "clean"]
    assert len(clean) >= 40
    assert {q.id for q in content.questions} <= {r["question"] for r in clean}
    assert COMMANDS - {"help"} <= {r["expected"] for r in clean}


@pytest.mark.model
def test_clean_answers_are_understood(loop_results):
    clean = [r for r in loop_results if r["condition"] == "clean"]
    assert sum(r["ok"] for r in clean) >= 0.9 * len(clean), misses(loop_results, "clean")
    assert wrong_accepts(loop_results, "clean") == []


@pytest.mark.model
def test_noisy_answers_are_mostly_understood(loop_results):
    noisy = [r for r in loop_results if r["condition"] == "noisy"]
    assert sum(r["ok"] for r in noisy) >= 0.8 * len(noisy), misses(loop_results, "noisy")
    assert len(wrong_accepts(loop_results, "noisy")) <= 1, wrong_accepts(loop_results, "noisy")


# ---------------------------------------------------------------------------------- replay


SESSIONS = sorted(p.name for p in DATA.glob("replay_session_*") if p.is_dir())


@pytest.mark.model
@pytest.mark.parametrize("session", SESSIONS)
def test_each_recording_is_heard_as_its_answer(session, whisper, matcher):
    folder = DATA / session
    key = read_tsv(folder / "answers.tsv")
    ears = ReplayEars(folder, whisper)
    assert [p.name for p in ears.files] == [row["file"] for row in key]
    for row in key:
        heard = ears.listen(ListenContext(row["question"], matcher.phrases(row["question"]),
                                          asked=asked(matcher, row["question"])))
        assert heard.source == str(folder / row["file"])
        if row["expected"] == "none":
            assert heard.timed_out and heard.text == ""
            continue
        match = matcher.understand(row["question"], heard)
        assert understood(row["expected"], match) and match.decision == "accept", (row, heard.text, match)
    assert ears.listen(ListenContext("safety_now")) is None  # the recordings ran out
    assert ears.remaining == 0


def replay_session(session: str, whisper, matcher, content, tmp_path):
    from voicecheck.session import run_session
    from voicecheck.store import SessionStore

    record = SessionStore(tmp_path / "data").start("replay")
    mouth = RecordingMouth()
    coached = []
    result = run_session(content, matcher, ReplayEars(DATA / session, whisper), mouth, record, mode="replay",
                         coach=lambda ids, ears, m: coached.append(ids) or (), timeout_s=20.0)
    return result, mouth, coached


@pytest.mark.model
def test_a_whole_session_from_recordings(whisper, matcher, content, tmp_path):
    result, mouth, coached = replay_session("replay_session_1", whisper, matcher, content, tmp_path)
    key = {row["question"]: row["expected"] for row in read_tsv(DATA / "replay_session_1" / "answers.tsv")}
    assert result.status == "complete"
    answers = result.summary["answers"]
    for question in content.questions:
        expected = key[question.id]
        got = answers[question.id]
        if expected == "text":
            assert "半年" in got
        else:
            assert "+".join(got) if isinstance(got, list) else got == expected
            assert ("+".join(got) if isinstance(got, list) else got) == expected, question.id
    assert coached == []  # the exercise offer was declined by the last recording
    assert len(mouth.said) > 50


@pytest.mark.model
def test_recordings_running_out_end_the_session_as_stopped(whisper, matcher, content, tmp_path):
    result, _, _ = replay_session("replay_session_3", whisper, matcher, content, tmp_path)
    assert result.status == "stopped"
    assert result.summary["answers"] == {"safety_now": "no", "situations": ["flat_walking"], "frequency": "weekly",
                                         "getting_worse": "no"}


@pytest.mark.model
def test_silence_then_yes_is_the_emergency_path(whisper, matcher, content, tmp_path):
    result, _, _ = replay_session("replay_session_2", whisper, matcher, content, tmp_path)
    assert result.status == "emergency" and result.summary["triage"] == "emergency"


def test_replay_folder_problems_are_clear(tmp_path):
    with pytest.raises(audio.SpeechError, match="does not exist"):
        ReplayEars(tmp_path / "missing", recognizer=None)
    (tmp_path / "notes.txt").write_text("no sound here", encoding="utf-8")
    with pytest.raises(audio.SpeechError, match="holds no .wav files"):
        ReplayEars(tmp_path, recognizer=None)


def test_replay_takes_files_in_name_order(tmp_path):
    class Echo:
        name = "echo"

        def transcribe(self, samples, context):
            return Heard(text=f"{len(samples)}")

    for name, seconds in (("10_b.wav", 1.0), ("02_a.WAV", 2.0), ("notes.txt", 0)):
        if seconds:
            write_wav(tmp_path / name, spoken("はい", lead_s=0.2, tail_s=seconds))
        else:
            (tmp_path / name).write_text("x", encoding="utf-8")
    ears = ReplayEars(tmp_path, Echo())
    assert [p.name for p in ears.files] == ["02_a.WAV", "10_b.wav"]
    first = ears.listen(ListenContext("q"))
    assert first.source.endswith("02_a.WAV") and int(first.text) > int(ears.listen(ListenContext("q")).text)
    assert ears.listen(ListenContext("q")) is None


def test_the_recordings_are_regenerated_identically(tmp_path, monkeypatch):
    spec = importlib.util.spec_from_file_location("make_recordings", DATA / "make_recordings.py")
    module = importlib.util.module_from_spec(spec)
    monkeypatch.setitem(sys.modules, "make_recordings", module)  # dataclasses look their module up
    spec.loader.exec_module(module)
    first_turn = {"replay_session_1": module.SESSIONS["replay_session_1"][:2]}
    written = module.build(tmp_path, first_turn)
    for path in written:
        committed = DATA / "replay_session_1" / path.name
        assert path.read_bytes() == committed.read_bytes(), path.name
        info = soundfile.info(committed)
        assert (info.samplerate, info.channels, info.subtype) == (16_000, 1, "PCM_16")


def test_audio_manifest_points_at_the_recordings():
    rows = read_tsv(DATA / "audio_manifest.tsv")
    assert len(rows) >= 20 and set(rows[0]) == {"audio", "question", "expected"}
    for row in rows:
        assert (DATA / row["audio"]).is_file()


@pytest.mark.model
def test_transcribe_file_for_evaluate(whisper, matcher, tmp_path):
    path = DATA / "replay_session_1" / "03_frequency.wav"
    heard = transcribe_file(path, "frequency", whisper, matcher.phrases("frequency"), asked(matcher, "frequency"))
    assert heard.source == str(path)
    assert matcher.understand("frequency", heard).option_ids == ("weekly",)
    write_wav(tmp_path / "quiet.wav", silence(1.0))
    quiet = transcribe_file(tmp_path / "quiet.wav", "frequency", whisper, ())
    assert quiet.text == "" and quiet.timed_out


# ---------------------------------------------------------------------------------- live ears, with a fake microphone


def fake_microphone(samples: np.ndarray):
    @contextlib.contextmanager
    def open_frames():
        yield frames_of(samples)

    return open_frames


@pytest.mark.model
def test_microphone_ears_hear_a_slow_speaker_with_a_pause(whisper, matcher, tmp_path):
    said = np.concatenate([silence(2.0), spoken("えっと", lead_s=0, tail_s=0), silence(1.0),
                           spoken("ほぼ毎日です", "slow", lead_s=0, tail_s=0), silence(4.0), spoken("はい")])
    settings = Settings(no_answer_timeout_s=10.0, keep_audio=True)
    ears = MicrophoneEars(settings, whisper.recognizer, audio_dir=tmp_path / "audio", open_frames=fake_microphone(said))
    heard = ears.listen(ListenContext("frequency", matcher.phrases("frequency")))
    assert matcher.match("frequency", heard.text).option_ids == ("daily",)
    assert "はい" not in heard.text  # the answer ended in the long silence before it
    assert 1.5 < heard.timings["waited"] < 2.1 and heard.timings["speech"] > 1.0
    assert 1.2 < heard.timings["endpoint"] < 1.5 and heard.timings["recognition"] > 0
    kept = read_wav(heard.source)
    assert Path(heard.source).parent == tmp_path / "audio" and len(kept) > 3 * SAMPLE_RATE


class SilenceOnly:
    """A recogniser that must never be given sound: the tests feed it only silence."""

    name = "unused"

    def start(self, context):
        class Stream:
            def accept(self, samples):
                raise AssertionError("silence must not be decoded")

        return Stream()


def test_microphone_ears_time_out_without_speech():
    ears = MicrophoneEars(Settings(no_answer_timeout_s=20.0), SilenceOnly(), open_frames=fake_microphone(silence(30.0)))
    heard = ears.listen(ListenContext("swelling", timeout_s=1.5))
    assert heard.timed_out and heard.text == "" and abs(heard.timings["waited"] - 1.5) < 0.05


def test_the_turn_tone_sounds_once_the_microphone_delivers_sound():
    # A sound card can be open and deliver nothing for a second (ALSA → PulseAudio at the first
    # turn): a tone played on opening would make a quick answer lose its start.
    events = []

    @contextlib.contextmanager
    def slow_microphone():
        events.append("opened")

        def frames():
            events.append("delivering")
            yield from frames_of(silence(2.0))

        yield frames()

    ears = MicrophoneEars(Settings(turn_tone=True), SilenceOnly(), open_frames=slow_microphone,
                          tone=lambda: events.append("tone"))
    assert ears.listen(ListenContext("swelling", timeout_s=1.0)).timed_out
    assert events == ["opened", "delivering", "tone"]


def test_microphone_is_unavailable_with_a_reason(monkeypatch):
    class NoInput:
        PortAudioError = RuntimeError

        def query_devices(self, device=None, kind=None):
            return [{"index": 0, "name": "HDMI", "max_input_channels": 0, "max_output_channels": 2,
                     "default_samplerate": 48000.0}]

    monkeypatch.setattr(audio, "_sounddevice_module", NoInput())
    assert microphone_available(Settings()) == (False, "この機械にはマイクが見つかりません。")


def test_microphone_check_on_this_machine_never_raises():
    available, reason = microphone_available(Settings())
    assert available or (reason.endswith("。") and "\n" not in reason)


# ---------------------------------------------------------------------------------- mouths


class TinyVoice:
    name = "tiny"

    def synthesize(self, text, *, slow=False):
        seconds = 0.5 if slow else 0.25
        return np.full(int(48_000 * seconds), 0.25, np.float32), 48_000


def test_wav_mouth_writes_numbered_files_and_a_log(tmp_path):
    mouth = WavMouth(tmp_path / "spoken", TinyVoice())
    mouth.say("こんにちは。")
    mouth.say("今すぐ救急車を\n呼んでください。", slow=True)
    files = sorted((tmp_path / "spoken").glob("*.wav"))
    assert [f.name for f in files] == ["001.wav", "002.wav"]
    durations = [soundfile.info(f).duration for f in files]
    assert durations == pytest.approx([0.25, 0.5], abs=0.01)
    assert soundfile.info(files[0]).subtype == "PCM_16"
    log = (tmp_path / "spoken" / "said.txt").read_text(encoding="utf-8")
    assert log == "001.wav\tこんにちは。\n002.wav\t今すぐ救急車を 呼んでください。\n"
    assert mouth.said == ["こんにちは。", "今すぐ救急車を\n呼んでください。"]


def test_speaker_mouth_plays_then_pauses():
    played = []
    clock = FakeClock()
    mouth = SpeakerMouth(TinyVoice(), Settings(pause_s=0.6), clock=clock,
                         player=lambda samples, rate: played.append((len(samples), rate)))
    mouth.say("はい")
    mouth.say("はい", slow=True)
    assert played == [(12_000, 48_000), (24_000, 48_000)]
    assert clock.sleeps == [0.6, 0.6]


def test_endpoint_config_follows_the_settings():
    from voicecheck.speech_io import endpoint_config

    assert endpoint_config(Settings(no_answer_timeout_s=45.0)).no_answer_timeout_s == 45.0
    assert endpoint_config(Settings(no_answer_timeout_s=45.0), timeout_s=5.0).no_answer_timeout_s == 5.0
    assert endpoint_config(Settings(no_answer_timeout_s=3600.0)).no_answer_timeout_s == 600.0
    assert FRAME_SAMPLES == 480


class CountingVoice:
    """0.3 s of silence, then 0.2 s of sound (as Open JTalk starts a phrase); counts syntheses."""

    name = "counting"

    def __init__(self) -> None:
        self.made: list[str] = []

    def synthesize(self, text: str, *, slow: bool = False):
        self.made.append(text)
        rate = 16_000
        return np.concatenate([np.zeros(int(0.3 * rate), np.float32), np.full(int(0.2 * rate), 0.5, np.float32)]), rate


def test_speaker_mouth_starts_each_phrase_with_its_first_sound():
    played = []
    mouth = SpeakerMouth(CountingVoice(), Settings(pause_s=0.0), clock=FakeClock(),
                         player=lambda samples, rate: played.append(samples))
    mouth.say("はい。次です。")
    first, second = played
    assert len(first) == int(0.01 * 16_000) + int(0.2 * 16_000)  # 10 ms kept before the sound
    assert len(second) == int(0.5 * 16_000)  # the pause between sentences stays


def test_speaker_mouth_prepares_likely_replies_ahead():
    from voicecheck.voices.base import CachedVoice

    inner = CountingVoice()
    voice = CachedVoice(inner)
    mouth = SpeakerMouth(voice, Settings(pause_s=0.0), clock=FakeClock(), player=lambda samples, rate: None)
    mouth.prepare(["「いいえ」ですね。", "「はい」ですね。よろしいですか。"])
    mouth.say("「はい」ですね。よろしいですか。")
    assert inner.made.count("「はい」ですね。") == 1  # made ahead, taken from the cache when said
    assert inner.made[:2] == ["「いいえ」ですね。", "「はい」ですね。"]
