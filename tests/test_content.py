from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from tests.conftest import PROMPTS
from voicecheck.content import (
    CAUSE_IDS, EXERCISE_IDS, OPTION_IDS, QUESTION_ORDER, SYSTEM_PHRASES, TRIAGE_LEVELS, ContentError, load_content,
)


def test_contract_ids_and_order(content):
    assert tuple(q.id for q in content.questions) == QUESTION_ORDER
    for qid, ids in OPTION_IDS.items():
        assert content.question(qid).option_ids == ids
    assert content.question("situations").kind == "multi"
    assert content.question("frequency").kind == "single"
    assert content.question("since_when").kind == "free_text"
    yes_no = [q.id for q in content.questions if q.kind == "yes_no"]
    assert yes_no[0] == "safety_now" and len(yes_no) == 14
    assert sorted(c.id for c in content.causes) == sorted(CAUSE_IDS)
    assert set(content.advice.triage) == set(TRIAGE_LEVELS)
    for cause in content.causes:
        assert cause.exercises and set(cause.exercises) <= set(EXERCISE_IDS)


def test_every_spoken_text_is_filled_and_placeholders_work(content):
    for phrase_id, placeholders in SYSTEM_PHRASES.items():
        text = content.say(phrase_id, **{p: "X" for p in placeholders})
        assert text and "{" not in text
    for q in content.questions:
        assert q.text and q.hint and q.help and q.short


def test_required_home_measures_present(content):
    ids = {m.id for m in content.advice.home_measures}
    assert {"stairs_handrail", "turn_small_steps", "chair_living", "heel_first_walking", "insoles",
            "knee_supporter", "weight_management", "daily_activity"} <= ids


@pytest.fixture
def prompts_copy(tmp_path) -> Path:
    target = tmp_path / "ja"
    shutil.copytree(PROMPTS, target)
    return target


def _edit(path: Path, old: str, new: str) -> None:
    text = path.read_text(encoding="utf-8")
    assert old in text, f"{old!r} not in {path.name}"
    path.write_text(text.replace(old, new, 1), encoding="utf-8")


def test_typo_in_option_id_names_file_key_and_expectation(prompts_copy):
    _edit(prompts_copy / "questions.toml", 'id = "stairs_down"', 'id = "stairs_dwn"')
    with pytest.raises(ContentError) as err:
        load_content(prompts_copy)
    assert err.value.file == "ja/questions.toml"
    assert err.value.key.endswith(".options")
    assert "stairs_down" in err.value.expected and "stairs_dwn" in err.value.expected


def test_unknown_option_in_evidence_is_reported(prompts_copy):
    text = (prompts_copy / "causes.toml").read_text(encoding="utf-8")
    first_answer = text.index('answer = "')
    end = text.index('"', first_answer + len('answer = "'))
    (prompts_copy / "causes.toml").write_text(text[:first_answer] + 'answer = "maybe' + text[end:], encoding="utf-8")
    with pytest.raises(ContentError) as err:
        load_content(prompts_copy)
    assert err.value.file == "ja/causes.toml"
    assert err.value.key.startswith("causes[0].evidence[") and err.value.key.endswith(".answer")
    assert "maybe" in err.value.expected


def test_missing_key_and_bad_placeholder_and_syntax(prompts_copy):
    _edit(prompts_copy / "system.toml", 'option_item = "{number}番、{label}。"', 'option_item = "{numbr}番、{label}。"')
    with pytest.raises(ContentError) as err:
        load_content(prompts_copy)
    assert (err.value.file, err.value.key) == ("ja/system.toml", "option_item")
    assert "{number}" in err.value.expected

    shutil.copy(PROMPTS / "system.toml", prompts_copy / "system.toml")
    _edit(prompts_copy / "advice.toml", "[emergency]", "[emergencyy]")
    with pytest.raises(ContentError) as err:
        load_content(prompts_copy)
    assert (err.value.file, err.value.key) == ("ja/advice.toml", "emergency")

    (prompts_copy / "advice.toml").write_text("[emergency\nlines = 1", encoding="utf-8")
    with pytest.raises(ContentError) as err:
        load_content(prompts_copy)
    assert err.value.key == "(syntax)" and "line" in str(err.value)


def test_questions_out_of_order_and_missing_folder(prompts_copy, tmp_path):
    _edit(prompts_copy / "questions.toml", 'id = "warmth"', 'id = "swelling2"')
    with pytest.raises(ContentError) as err:
        load_content(prompts_copy)
    assert "'warmth'" in err.value.expected
    with pytest.raises(ContentError):
        load_content(tmp_path / "nowhere")
