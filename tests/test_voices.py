"""The Open JTalk voice (rate, volume, slow delivery), the cache, and the pyttsx3 voice with a fake engine."""
from __future__ import annotations

import re
import sys
import types

import numpy as np
import pytest
import soundfile

from voicecheck.audio import resample, speech_bounds
from voicecheck.settings import Settings
from voicecheck.voices import CachedVoice, VoiceError, select_voice
from voicecheck.voices.openjtalk import OpenJTalkVoice
from voicecheck.voices.pyttsx3_voice import Pyttsx3Voice, is_japanese_voice, to_kana


def morae(text: str) -> int:
    import pyopenjtalk

    kana = pyopenjtalk.g2p(text, kana=True)
    return len(re.sub(r"[^ァ-ヴー]|[ャュョァィゥェォ]", "", kana))  # small kana share a mora


def speaking_rate(voice, texts, slow=False) -> float:
    """Morae a second, from the first to the last sound of each text (pauses included)."""
    total_morae, total_s = 0, 0.0
    for text in texts:
        samples, rate = voice.synthesize(text, slow=slow)
        start, end = speech_bounds(resample(samples, rate), pad_s=0.0)
        total_s += (end - start) / 16_000
        total_morae += morae(text)
    return total_morae / total_s


@pytest.fixture(scope="module")
def prompts(content):
    """A spread of what the program says: every other question, every third hint, all option labels."""
    questions = [q.text for q in content.questions][1::2]
    hints = [q.hint for q in content.questions][::3]
    return questions + hints + [o.label for q in content.questions for o in q.options]


def test_openjtalk_speaks_float_samples():
    samples, rate = OpenJTalkVoice().synthesize("膝がカクンとなることはありますか。")
    assert rate == 48_000 and samples.dtype == np.float32 and samples.ndim == 1
    assert 1.5 < len(samples) / rate < 6.0
    assert 0.3 < np.abs(samples).max() <= 1.0
    empty, _ = OpenJTalkVoice().synthesize("   ")
    assert empty.size == 0


def test_normal_rate_is_about_five_morae_a_second(prompts):
    assert 4.6 <= speaking_rate(OpenJTalkVoice("normal"), prompts) <= 5.4


def test_slow_rate_is_about_four_morae_a_second(prompts):
    assert 3.6 <= speaking_rate(OpenJTalkVoice("slow"), prompts) <= 4.4


def test_slow_delivery_overrides_the_setting():
    voice = OpenJTalkVoice("normal")
    text = "今すぐ救急車を呼んでください。"
    normal, _ = voice.synthesize(text)
    slow, _ = voice.synthesize(text, slow=True)
    reference, _ = OpenJTalkVoice("slow").synthesize(text)
    assert len(slow) > len(normal) * 1.15
    np.testing.assert_array_equal(slow, reference)


def test_volume_scales_the_samples():
    loud, _ = OpenJTalkVoice(volume=1.0).synthesize("はい")
    soft, _ = OpenJTalkVoice(volume=0.5).synthesize("はい")
    np.testing.assert_allclose(soft, loud * 0.5, atol=1e-6)
    assert np.abs(loud).max() <= 0.9  # loud syllables are scaled down, never clipped


@pytest.mark.parametrize(("rate", "volume"), [("fast", 1.0), ("normal", 1.5), ("normal", -0.1)])
def test_bad_settings_are_refused(rate, volume):
    with pytest.raises(VoiceError):
        OpenJTalkVoice(rate, volume)


class CountingVoice:
    name = "counting"

    def __init__(self):
        self.calls = []

    def synthesize(self, text, *, slow=False):
        self.calls.append((text, slow))
        return np.full(10, len(self.calls), np.float32), 16_000


def test_cache_synthesises_each_text_once():
    inner = CountingVoice()
    voice = CachedVoice(inner, max_items=2)
    first, _ = voice.synthesize("次の質問です。")
    again, _ = voice.synthesize(" 次の質問です。 ")
    assert inner.calls == [("次の質問です。", False)] and again is first
    voice.synthesize("次の質問です。", slow=True)  # a different delivery is a different sound
    assert len(inner.calls) == 2 and voice.hits == 1 and voice.misses == 2
    with pytest.raises(ValueError):
        first[0] = 0.0  # shared samples are read-only
    voice.synthesize("三つ目")  # evicts the oldest
    voice.synthesize("次の質問です。")
    assert len(inner.calls) == 4


def test_cache_is_bounded_in_bytes():
    inner = CountingVoice()  # 10 float32 samples = 40 bytes a phrase
    voice = CachedVoice(inner, max_bytes=100)
    for text in ("一", "二", "三"):
        voice.synthesize(text)
    assert voice._bytes <= 100 and len(voice._cache) == 2
    voice.synthesize("一")  # the oldest was dropped, so it is synthesised again
    assert [t for t, _ in inner.calls] == ["一", "二", "三", "一"]


def test_select_voice(monkeypatch):
    voice = select_voice(Settings(voice="openjtalk", speaking_rate="slow", volume=0.8))
    assert isinstance(voice, CachedVoice) and voice.name == "openjtalk"
    assert voice.voice.volume == 0.8
    with pytest.raises(VoiceError, match="Unknown voice 'robot'"):
        select_voice(Settings(voice="robot"))


# ---------------------------------------------------------------------------------- pyttsx3


def fake_voice(id, name, languages=()):
    return types.SimpleNamespace(id=id, name=name, languages=list(languages))


JAPANESE_VOICES = [
    fake_voice(r"HKEY_LOCAL_MACHINE\SOFTWARE\Microsoft\Speech\Voices\Tokens\TTS_MS_JA-JP_HARUKA_11.0",
               "Microsoft Haruka Desktop - Japanese"),
    fake_voice("com.apple.voice.compact.ja-JP.Kyoko", "Kyoko", ["ja_JP"]),
    fake_voice("jpx/ja", "Japanese", [b"\x05ja"]),
]
OTHER_VOICES = [fake_voice("gmw/en", "English (Great Britain)", [b"\x05en-gb"]),
                fake_voice("com.apple.voice.compact.en-US.Samantha", "Samantha", ["en_US"])]


@pytest.mark.parametrize("voice", JAPANESE_VOICES)
def test_japanese_system_voices_are_recognised(voice):
    assert is_japanese_voice(voice)


@pytest.mark.parametrize("voice", OTHER_VOICES)
def test_other_system_voices_are_not_japanese(voice):
    assert not is_japanese_voice(voice)


def test_kanji_become_kana_for_espeak():
    assert to_kana("膝が痛いです。") == "ひざがいたいです。"
    assert to_kana("はい、階段です") == "はい、かいだんです"


class FakeEngine:
    def __init__(self, voices):
        self.voices = voices
        self.properties = {"rate": 200, "volume": 1.0}
        self.spoken = []
        self._pending = None

    def getProperty(self, name):  # noqa: N802
        return self.voices if name == "voices" else self.properties[name]

    def setProperty(self, name, value):  # noqa: N802
        self.properties[name] = value

    def save_to_file(self, text, filename):
        self._pending = (text, filename)

    def runAndWait(self):  # noqa: N802
        text, filename = self._pending
        self.spoken.append((text, self.properties["rate"], self.properties["voice"]))
        print("Audio saved to", filename)  # like the espeak driver; must not reach the user
        soundfile.write(filename, np.full(2205, 0.5, np.float32), 22_050, subtype="PCM_16")


def test_pyttsx3_voice_reads_kana_on_espeak(capsys):
    engine = FakeEngine(OTHER_VOICES + JAPANESE_VOICES[2:])
    voice = Pyttsx3Voice("normal", volume=0.5, engine=engine, reads_kanji=False)
    samples, rate = voice.synthesize("膝が痛い")
    assert rate == 22_050 and abs(np.abs(samples).max() - 0.25) < 0.01
    assert engine.spoken == [("ひざがいたい", 160, "jpx/ja")]
    voice.synthesize("膝が痛い", slow=True)
    assert engine.spoken[-1][1] == 130
    assert capsys.readouterr().out == ""


def test_pyttsx3_voice_keeps_kanji_where_the_voice_reads_them():
    engine = FakeEngine(JAPANESE_VOICES[:1])
    Pyttsx3Voice("slow", engine=engine, reads_kanji=True).synthesize("膝が痛い")
    assert engine.spoken == [("膝が痛い", 130, JAPANESE_VOICES[0].id)]


def test_pyttsx3_without_japanese_voice_says_what_to_install():
    with pytest.raises(VoiceError, match="no Japanese voice"):
        Pyttsx3Voice(engine=FakeEngine(OTHER_VOICES))


def test_pyttsx3_without_espeak_says_what_to_install(monkeypatch):
    def broken_init(*args, **kwargs):
        raise OSError("libespeak-ng.so.1: cannot open shared object file")

    monkeypatch.setitem(sys.modules, "pyttsx3", types.SimpleNamespace(init=broken_init))
    monkeypatch.setattr(sys, "platform", "linux")
    with pytest.raises(VoiceError) as error:
        Pyttsx3Voice()
    assert "espeak-ng" in str(error.value) and "libespeak-ng" in str(error.value)


def test_speech_uses_the_pronunciation_readings_while_text_stays_written():
    from voicecheck.settings import Settings
    from voicecheck.voices import load_readings
    from voicecheck.voices.base import CachedVoice

    class Spy:
        name = "spy"
        heard: list[str] = []

        def synthesize(self, text, *, slow=False):
            self.heard.append(text)
            return np.zeros(10, dtype=np.float32), 16000

    readings = load_readings(Settings().prompts_dir)
    assert readings["119番"] == "いちいちきゅう番"
    spy = Spy()
    CachedVoice(spy, readings=readings).synthesize("今すぐ119番に電話してください。")
    assert spy.heard == ["今すぐいちいちきゅう番に電話してください。"]


def test_phrase_pieces_split_sentences_and_long_clauses_without_losing_text():
    from voicecheck.voices.base import MAX_PIECE_CHARS, phrase_pieces

    text = ("はじめに、急ぎの確認です。転んだあとで膝がひどく痛む、脚に体重をかけられない、"
            "膝の形がいつもと違って見える。今、どれか一つでも当てはまりますか。")
    pieces = phrase_pieces(text)
    assert "".join(pieces) == text
    assert pieces[0] == "はじめに、急ぎの確認です。"
    assert all(len(p) <= MAX_PIECE_CHARS or "、" not in p.rstrip("、。") for p in pieces)
    assert phrase_pieces("はい") == ["はい"] and phrase_pieces("  ") == []


def test_speaker_mouth_plays_every_piece_in_order():
    from voicecheck.interfaces import FakeClock
    from voicecheck.settings import Settings
    from voicecheck.speech_io import SpeakerMouth
    from voicecheck.voices.base import phrase_pieces

    class TextVoice:
        name = "text"

        def synthesize(self, text, *, slow=False):
            return np.array([ord(c) for c in text], dtype=np.float32), 16000

    played: list[str] = []
    mouth = SpeakerMouth(TextVoice(), Settings(pause_s=0.2), clock=FakeClock(),
                         player=lambda samples, rate: played.append("".join(chr(int(x)) for x in samples)))
    text = "膝の力が抜けるのは、どんなときですか。階段を下りるとき、立ち上がるとき、向きを変えるときなどです。"
    mouth.say(text)
    assert played == phrase_pieces(text) and len(played) > 2
    assert mouth.clock.sleeps == [0.2]


def test_a_read_back_of_several_answers_breaks_between_them():
    from voicecheck.voices.base import phrase_pieces

    text = "「階段や段差を下りるとき」と「椅子などから立ち上がるとき」ですね。よろしいですか。"
    assert phrase_pieces(text) == ["「階段や段差を下りるとき」と", "「椅子などから立ち上がるとき」ですね。", "よろしいですか。"]
    assert phrase_pieces("「はい」と言いました。") == ["「はい」と言いました。"]  # short: one piece


def test_a_reply_starts_with_its_first_sound_not_with_the_voices_silence():
    from voicecheck.voices.base import without_leading_silence

    samples, rate = OpenJTalkVoice().synthesize("「いいえ」ですね。")
    trimmed = without_leading_silence(samples, rate)
    peak = float(np.max(np.abs(trimmed)))
    first = int(np.argmax(np.abs(trimmed) > peak * 0.01))
    assert first <= 0.012 * rate  # at most ~10 ms before the first audible sample (Open JTalk leads with 0.3 s)
    assert len(trimmed) > 0.3 * rate  # the words themselves are all there
