"""exercises.toml: the content the coach speaks, and the loader that refuses broken content."""
from __future__ import annotations

import copy
import re
import tomllib
from pathlib import Path

import pytest
import tomli_w

from voicecheck.content import EXERCISE_IDS, ContentError
from voicecheck.exercises import COACH_PHRASES, COMMAND_IDS, ExerciseBook, load_exercises

PROMPTS = Path(__file__).resolve().parent.parent / "prompts" / "ja"


@pytest.fixture(scope="module")
def book() -> ExerciseBook:
    return load_exercises(PROMPTS)


@pytest.fixture(scope="module")
def raw() -> dict:
    with (PROMPTS / "exercises.toml").open("rb") as f:
        return tomllib.load(f)


def _all_texts(value) -> list[str]:
    if isinstance(value, str):
        return [value]
    if isinstance(value, dict):
        return [t for v in value.values() for t in _all_texts(v)]
    if isinstance(value, list):
        return [t for v in value for t in _all_texts(v)]
    return []


# --- the real content ----------------------------------------------------------------------------

def test_book_has_the_six_contract_exercises(book):
    assert sorted(book.ids) == sorted(EXERCISE_IDS)
    for exercise in book.exercises:
        assert exercise.name and exercise.purpose.endswith("。")
        assert exercise.setup and exercise.rep
        assert 1 <= exercise.start_reps < exercise.reps, exercise.id  # start with fewer
        assert str(exercise.reps) in exercise.build_up, exercise.id  # says what to build up to
        assert "{" not in exercise.build_up
        if exercise.sets > 1:
            assert exercise.rest_s >= 10


def test_seed_facts_are_kept(book):
    calf = book.exercise("calf_stretch")
    assert 20 <= calf.hold_s <= 30
    assert "30秒" in calf.build_up
    assert any("タオル" in s.say for s in calf.setup + calf.side_setup)
    patella = book.exercise("patella_setting")
    assert patella.hold_s == 5 and patella.reps == 10
    assert any("タオル" in s.say and "丸め" in s.say for s in patella.setup + patella.side_setup)
    assert book.exercise("hamstring_stretch").hold_s >= 20
    assert book.exercise("knee_extension").hold_s > 0


def test_every_text_avoids_telling_to_hold_the_breath(raw):
    for text in _all_texts(raw):
        for m in re.finditer("息を(止め|こら)", text):
            assert text[m.end():m.end() + 1] in ("ず", "な"), text


def test_holds_remind_to_keep_breathing(book):
    assert "息" in book.phrases["hold_count_first"] and "止めず" in book.phrases["hold_count_first"]
    assert "息" in book.phrases["hold_long_start"] and "止めず" in book.phrases["hold_long_start"]


def test_safety_preamble_covers_the_checklist(book):
    safety = "".join(book.safety)
    for must in ("車輪", "椅子", "靴", "滑り", "床", "つまず", "そば", "体調", "腫れ", "熱", "痛む"):
        assert must in safety, must


@pytest.mark.parametrize("command, phrases", [
    ("next", ["次", "次へ", "次に進んで"]),
    ("repeat", ["もう一度", "もう一回"]),
    ("slower", ["ゆっくり", "もっとゆっくり"]),
    ("pause", ["ちょっと待って", "待って", "一時停止"]),
    ("stop", ["やめる", "終わり", "もういい"]),
    ("pain", ["痛い", "痛む", "痛くなった", "ズキッとした"]),
    ("resume", ["続けて"]),
])
def test_commands_include_the_required_phrases(book, command, phrases):
    for phrase in phrases:
        assert phrase in book.commands[command]


def test_command_phrases_are_all_listed_once(book):
    flat = book.command_phrases()
    assert len(flat) == len(set(flat)) == sum(len(v) for v in book.commands.values())
    assert set(book.commands) == set(COMMAND_IDS)


def test_phrases_render_with_their_placeholders(book):
    for phrase_id, placeholders in COACH_PHRASES.items():
        text = book.say(phrase_id, **{p: "X" for p in placeholders})
        assert "{" not in text and text.strip()
    assert book.say("rep_number", number=3) == "3回目"
    assert book.say("hold_cue", seconds=10) == "あと10秒です。"
    assert book.say("count", number=4) == "4"


def test_names_and_unknown_message(book):
    assert book.names(["patella_setting", "chair_squat"]) == "タオルつぶし、椅子からの立ち座り"
    assert book.unknown_ids(["patella_setting", "jumping"]) == ("jumping",)
    message = book.unknown_message(["jumping"])
    assert "jumping" in message and all(i in message for i in EXERCISE_IDS)


def test_default_exercises(book):
    assert book.default_exercises == ("patella_setting", "chair_squat", "calf_stretch")


def test_short_cues_only_differ_after_the_first_repetition(book):
    step = book.exercise("patella_setting").rep[0]
    assert step.short and step.text(full=True) == step.say and step.text(full=False) == step.short


# --- broken content is refused with file, key and what was expected ----------------------------

def _write(tmp_path: Path, data: dict) -> Path:
    folder = tmp_path / "ja"
    folder.mkdir(exist_ok=True)
    (folder / "exercises.toml").write_text(tomli_w.dumps(data), encoding="utf-8")
    return folder


def _exercise(data: dict, exercise_id: str) -> dict:
    return next(e for e in data["exercises"] if e["id"] == exercise_id)


def _broken(raw, change):
    data = copy.deepcopy(raw)
    change(data)
    return data


BROKEN = {
    "missing phrase": (lambda d: d["phrases"].pop("pain_advice"), "phrases.pain_advice", "missing"),
    "lost placeholder": (lambda d: d["phrases"].update(rep_number="回目"), "phrases.rep_number", "{number}"),
    "stray placeholder": (lambda d: d["phrases"].update(pain_stop="{name}止めます"), "phrases.pain_stop", "no placeholders"),
    "unknown phrase": (lambda d: d["phrases"].update(hello="こんにちは"), "phrases.hello", "unknown key"),
    "missing command": (lambda d: d["commands"].pop("pain"), "commands.pain", "list of texts"),
    "shared phrase": (lambda d: d["commands"]["stop"].append("待って"), "commands.", "one command only"),
    "start not fewer": (lambda d: _exercise(d, "chair_squat").update(start_reps=10), "start_reps", "fewer than reps"),
    "hold as text": (lambda d: _exercise(d, "patella_setting")["rep"][0].update(hold_s="5s"), "rep[0].hold_s", "whole number"),
    "hold in setup": (lambda d: _exercise(d, "chair_squat")["setup"].__setitem__(0, {"say": "座ります", "hold_s": 5}),
                      ".setup", "no hold_s"),
    "short in setup": (lambda d: _exercise(d, "chair_squat")["setup"][0].update(short="x"), "setup[0].short", "no short"),
    "side setup without sides": (lambda d: _exercise(d, "chair_squat").update(side_setup=[{"say": "{side}", "wait_s": 1}]),
                                 "side_setup", "each_side"),
    "side in rep": (lambda d: _exercise(d, "chair_squat")["rep"][0].update(say="{side}の脚"), "rep[0].say", "no placeholders"),
    "no rest between sets": (lambda d: _exercise(d, "heel_raise").update(rest_s=0), "rest_s", "rest"),
    "unknown exercise": (lambda d: _exercise(d, "heel_raise").update(id="jumping"), ".id", "expected one of"),
    "missing exercise": (lambda d: d["exercises"].pop(), "exercises", "once"),
    "no time to move": (lambda d: _exercise(d, "heel_raise").update(rep=[{"say": "上げます"}]), ".rep", "wait_s or hold_s"),
    "unknown step key": (lambda d: _exercise(d, "heel_raise")["rep"][0].update(seconds=3), "rep[0].seconds", "unknown key"),
    "paces not rising": (lambda d: d["timing"].update(paces=[1.5, 1.0]), "timing.paces", "rising"),
    "three sides": (lambda d: d.update(sides=["右", "左", "中"]), "sides", "two side names"),
    "unknown top key": (lambda d: d.update(extra=1), "extra", "unknown key"),
    "bad build-up placeholder": (lambda d: _exercise(d, "heel_raise").update(build_up="{weeks}週"), "build_up", "{reps}"),
}


@pytest.mark.parametrize("case", sorted(BROKEN))
def test_broken_content_names_file_key_and_expectation(tmp_path, raw, case):
    change, key_part, expected_part = BROKEN[case]
    folder = _write(tmp_path, _broken(raw, change))
    with pytest.raises(ContentError) as err:
        load_exercises(folder)
    assert err.value.file == "ja/exercises.toml"
    assert key_part in err.value.key, (err.value.key, str(err.value))
    assert expected_part in err.value.expected, str(err.value)


def test_the_unchanged_copy_loads(tmp_path, raw):
    # The round trip through tomli_w is sound, so the failures above are the changes' doing.
    assert load_exercises(_write(tmp_path, raw)).ids == load_exercises(PROMPTS).ids


def test_missing_and_malformed_files(tmp_path):
    with pytest.raises(ContentError) as err:
        load_exercises(tmp_path)
    assert err.value.key == "(file)"
    (tmp_path / "exercises.toml").write_text("[phrases\n", encoding="utf-8")
    with pytest.raises(ContentError) as err:
        load_exercises(tmp_path)
    assert err.value.key == "(syntax)"
