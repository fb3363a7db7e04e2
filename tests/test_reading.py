from __future__ import annotations

import pytest

from voicecheck.reading import analyse, base_reading, fold, normalise, reading, text_for_analysis


def test_normalise_unifies_width_and_whitespace():
    assert normalise("　ｶｸﾝと　なる\t") == "カクンと なる"
    assert normalise("ＡＢＣ１２３") == "ABC123"
    assert normalise("いいえーーー") == "いいえー"


def test_normalise_drops_control_characters():
    assert normalise("は\x00い\u200b") == "はい"


def test_text_for_analysis_removes_spaces_between_japanese_words():
    # Recognisers such as Vosk put a space between every word.
    assert text_for_analysis("階段 を 下りる 時") == "階段を下りる時"
    assert text_for_analysis("週 に 3 回") == "週に3回"


def test_text_for_analysis_drops_an_exclamations_final_small_tsu():
    assert text_for_analysis("はいっ") == "はい"
    assert text_for_analysis("いいえっ！") == "いいえ!"


@pytest.mark.parametrize("raw, folded", [
    ("はい", "ハイ"),
    ("ぁぃぅ", "アイウ"),
    ("ヴァイオリン", "ブアイオリン"),
    ("イイエ", "イーエ"),
    ("イーエ", "イーエ"),
    ("ソウ", "ソー"),
    ("ハレ’テ", "ハレテ"),
    ("ウーーン", "ウーン"),
])
def test_fold(raw, folded):
    assert fold(raw) == folded


@pytest.mark.parametrize("a, b", [
    ("下りる", "おりる"),
    ("降りる", "下りる"),
    ("いいえ", "イイエ"),
    ("はい", "ハイ"),
    ("ｶｲﾀﾞﾝ", "かいだん"),
    ("腫れて", "晴れて"),  # homophones: a recogniser may write either
    ("階段 を 下りる", "階段を下りる"),
])
def test_variants_have_the_same_reading(a, b):
    assert reading(a) == reading(b)
    assert reading(a)


def test_different_words_have_different_readings():
    assert reading("はい") != reading("いいえ")
    assert reading("階段") != reading("海岸")


def test_analyse_gives_dictionary_forms_and_parts_of_speech():
    tokens = analyse("腫れてはいません")
    assert tokens[0].surface == "腫れ"
    assert tokens[0].base == "腫れる"
    assert tokens[0].pos == "動詞"
    assert base_reading(tokens[0].base) == "ハレル"
    assert [t.base for t in tokens if t.pos == "助動詞"][-1] == "ん"


def test_punctuation_is_a_boundary_without_reading():
    tokens = analyse("はい、そうです")
    comma = [t for t in tokens if t.surface == "、"]
    assert comma and comma[0].is_boundary and comma[0].reading == ""


@pytest.mark.parametrize("text", ["", "   ", "\x00", "😀😀", "a" * 5000, "、。！？", "\ud800"])
def test_analyse_never_raises(text):
    tokens = analyse(text)
    assert isinstance(tokens, tuple)
    assert isinstance(reading(text), str)


def test_each_sentence_is_cut_into_words_as_if_said_alone():
    # Read as one sentence, 「たまにです。」 made Open JTalk take 「いやしゅう」 for one word (an old form
    # of いやしい); heard live under the TV, 週に1回 was lost and the answer read back as "sometimes".
    alone = [t.surface for t in analyse("いやしゅうに1回はあります。")]
    after = [t.surface for t in analyse("たまにです。いやしゅうに1回はあります。")]
    assert after[:3] == ["たまに", "です", "。"] and after[3:] == alone
    asked_first = [t.surface for t in analyse("本当ですか？いやしゅうに1.5回！")]
    # A question mark ends a sentence too; a decimal point does not (1.5 stays one number).
    assert asked_first[3:] == ["？", "いや", "しゅう", "に", "一", "．", "五", "回", "！"]


def test_unknown_katakana_joined_by_a_middle_dot_is_a_word_not_a_filler():
    # Open JTalk tags such a run as one filler; Whisper writes them for a voice it cannot make out.
    (guessed,) = analyse("ピンチャンチ・ケン・ヨーミー")
    assert guessed.pos == "名詞" and guessed.reading
    assert [t.pos for t in analyse("えーと")] == ["フィラー"]  # real fillers stay fillers
