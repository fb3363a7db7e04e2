"""Text → normalised words with katakana readings, so answers are compared by sound, not by spelling.

A recogniser may write 「下りる」, 「降りる」 or 「おりる」, full-width or half-width, with or without
spaces between words; an older speaker stretches vowels (「いいえー」) and the recogniser may add
small kana. Comparing folded katakana readings from Open JTalk (`pyopenjtalk`) makes all of those
the same word, and homophones (晴れて / 腫れて) agree too.

Everything here is pure and cached: the matcher calls it for every phrase once at start-up and
for every heard answer once.
"""
from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from functools import lru_cache

import pyopenjtalk

# Longer input than this is cut before analysis: nobody answers a question with a speech, and
# Open JTalk's time grows with length. The cut keeps the matcher fast on any input.
MAX_CHARS = 400

# Parts of speech that never carry an answer's meaning on their own.
FUNCTION_POS = frozenset({"助詞", "助動詞", "記号", "フィラー", "接頭詞", "接続詞"})
# Sub-classes of nouns and verbs that are grammatical glue (こと, とき, いる in 〜ている …).
FUNCTION_POS1 = frozenset({"非自立", "接尾", "代名詞"})
INFLECTING_POS = frozenset({"動詞", "形容詞", "助動詞"})

# Small kana and rare kana folded to the sound a recogniser or a speaker would not distinguish.
_FOLD = str.maketrans({
    "ァ": "ア", "ィ": "イ", "ゥ": "ウ", "ェ": "エ", "ォ": "オ", "ャ": "ヤ", "ュ": "ユ", "ョ": "ヨ",
    "ヮ": "ワ", "ヵ": "カ", "ヶ": "ケ", "ヴ": "ブ", "ヂ": "ジ", "ヅ": "ズ", "ヲ": "オ", "ヱ": "エ", "ヰ": "イ",
    "’": None, "'": None,
})
_VOWEL_OF: dict[str, str] = {}
for _vowel, _row in {
    "ア": "アカガサザタダナハバパマヤラワャァ",
    "イ": "イキギシジチヂニヒビピミリィ",
    "ウ": "ウクグスズツヅヌフブプムユルュゥヴ",
    "エ": "エケゲセゼテデネヘベペメレェ",
    "オ": "オコゴソゾトドノホボポモヨロヲョォ",
}.items():
    for _kana in _row:
        _VOWEL_OF[_kana] = _vowel
# A vowel after a kana of the same vowel, or ウ after an オ-row kana and イ after an エ-row kana,
# is heard as a long vowel: 「いいえ」 and 「イーエ」, 「そう」 and 「ソー」 fold to one reading.
_LENGTHENS = {("ア", "ア"), ("イ", "イ"), ("ウ", "ウ"), ("エ", "エ"), ("オ", "オ"), ("オ", "ウ"), ("エ", "イ")}

_SPACES = re.compile(r"\s+")
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f\u200b-\u200f\u2028-\u202f\u2060-\u206f\ufeff]")
_LONG_RUN = re.compile(r"[ー〜~]{2,}")
_JAPANESE = r"\u3040-\u30ff\u3400-\u9fff\uff66-\uff9f"
# An exclamation's final small tsu (「はいっ」「いいえっ」) is emphasis, not a sound of the word.
_FINAL_SOKUON = re.compile(r"(?<=[\u3041-\u30ff])[っッ]+(?=[\s、。,.!?！？…]|$)")
_SPACE_IN_JAPANESE = re.compile(rf"(?<=[{_JAPANESE}0-9０-９、。？！])\s+|\s+(?=[{_JAPANESE}0-9０-９、。？！])")


@dataclass(frozen=True)
class Token:
    """One word of an analysed text."""

    surface: str  # as written (after Open JTalk's own normalisation, e.g. 78 → 七 十 八)
    reading: str  # folded katakana reading; "" for punctuation and symbols
    base: str  # dictionary form, e.g. 腫れる for 腫れ
    pos: str  # part of speech: 名詞, 動詞, 形容詞, 助詞, 助動詞, 感動詞, フィラー, 記号 …
    pos1: str  # sub-class: 自立, 非自立, 接尾, 数, 読点 …
    morae: int = 0  # spoken length in morae (キャ is one, ッ and ー are one each)

    @property
    def is_boundary(self) -> bool:
        """Punctuation and symbols separate clauses."""
        return self.pos == "記号" and self.pos1 != "アルファベット"

    @property
    def is_function(self) -> bool:
        return self.pos in FUNCTION_POS or self.pos1 in FUNCTION_POS1


def normalise(text: str) -> str:
    """Unify width and compatibility forms, drop control characters, collapse whitespace.

    The result is still the person's words (used verbatim for free-text answers).
    """
    text = unicodedata.normalize("NFKC", str(text))
    text = _CONTROL.sub("", text)
    text = _LONG_RUN.sub("ー", text)
    return _SPACES.sub(" ", text).strip()


# A sentence and the marks that end it (。！？; not a full stop, which may be a decimal point).
_SENTENCES = re.compile(r"[^。！!？?]+[。！!？?]*|[。！!？?]+")


def text_for_analysis(text: str) -> str:
    """`normalise`, then remove the spaces recognisers put between Japanese words."""
    text = normalise(text)[:MAX_CHARS]
    text = _FINAL_SOKUON.sub("", text)
    return _SPACE_IN_JAPANESE.sub("", text)


def fold(kana: str) -> str:
    """Fold a reading: hiragana → katakana, small and rare kana → plain, long vowels → ー."""
    out: list[str] = []
    for ch in kana.translate(_FOLD):
        code = ord(ch)
        if 0x3041 <= code <= 0x3096:  # hiragana → katakana
            ch = chr(code + 0x60).translate(_FOLD)
        if ch in "ー〜~":
            if out and out[-1] != "ー":
                out.append("ー")
            continue
        if out and (_VOWEL_OF.get(out[-1]), ch) in _LENGTHENS and ch in "アイウエオ":
            out.append("ー")
            continue
        if out and out[-1] == "ー" and ch in "アイウエオ" and len(out) >= 2 and _VOWEL_OF.get(out[-2]) == ch:
            continue  # 「いーい」: already long
        out.append(ch)
    return "".join(out)


def vowels(kana: str) -> str:
    """The vowels of a folded reading, each run of one vowel once, ン kept (イーエ → イエ, リエー → イエ,
    ウン → ウン): what is left of a short word when a recogniser garbles its consonants."""
    out: list[str] = []
    for ch in kana:
        v = "ン" if ch == "ン" else _VOWEL_OF.get(ch)
        if v and (not out or out[-1] != v):
            out.append(v)
    return "".join(out)


def _token(feature: dict) -> Token:
    pos = feature.get("pos", "")
    pos1 = feature.get("pos_group1", "")
    surface = feature.get("string", "")
    if pos == "フィラー" and "・" in surface:
        # Open JTalk tags a run of unknown katakana words joined by 「・」 as one filler. Whisper
        # writes such runs for a voice it cannot make out (「ピンチャンチ・ケン・ヨーミー」): words
        # guessed, not a pause for thought — taken for fillers they were dropped, and the turn
        # waited as long as after 「えーと」. Known words with 「・」 are split as nouns anyway.
        pos, pos1 = "名詞", "一般"
    is_symbol = pos == "記号" and pos1 != "アルファベット"
    reading = "" if is_symbol else fold(feature.get("pron", "") or feature.get("read", "") or surface)
    base = feature.get("orig", "") or surface
    if base == "*":
        base = surface
    morae = 0 if is_symbol else int(feature.get("mora_size") or 0)
    return Token(surface=surface, reading=reading, base=base, pos=pos, pos1=pos1, morae=morae)


# Open JTalk's extra kanji reader (SudachiPy) costs about 110 MB of memory and changes the reading
# of none of our content; every call into Open JTalk (matching, grammars, voices) leaves it off.
FRONTEND_OPTIONS: dict[str, bool] = {"use_sudachi_kanji_yomi": False}


@lru_cache(maxsize=8192)
def analyse(text: str) -> tuple[Token, ...]:
    """Split a text into words with readings. Never raises: unreadable input gives no tokens."""
    prepared = text_for_analysis(text)
    if not prepared:
        return ()
    tokens: list[Token] = []
    # Sentence by sentence: Open JTalk reads a text as one sentence, and a word of the one before
    # can change how the next is cut — after 「たまにです。」, 「いやしゅうに1回」 became the one word
    # いやしゅう (an old form of いやしい) and 週に1回 was lost; said alone it is いや|しゅう|に.
    for sentence in _SENTENCES.findall(prepared):
        try:
            features = pyopenjtalk.run_frontend(sentence, **FRONTEND_OPTIONS)
        except Exception:  # Open JTalk rejects some byte sequences; treat them as nothing heard
            continue
        tokens.extend(_token(f) for f in features if f.get("string"))
    return tuple(tokens)


@lru_cache(maxsize=8192)
def base_reading(token_base: str) -> str:
    """The folded reading of a dictionary form (腫れる → ハレル), for comparing inflected words."""
    return "".join(t.reading for t in analyse(token_base))


@lru_cache(maxsize=8192)
def reading(text: str) -> str:
    """The folded katakana reading of a whole text, punctuation removed."""
    return "".join(t.reading for t in analyse(text))
