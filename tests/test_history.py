"""History: the list of past sessions and the changes between them, in plain words."""
from __future__ import annotations

import argparse
from datetime import datetime

import pytest

import session_factory as F
from voicecheck import history as H
from voicecheck.settings import Settings
from voicecheck.store import SessionStore


def changes(before: dict, after: dict) -> list[H.Change]:
    content = F.content()
    return H.compare(F.summary_for(before), F.summary_for(after), content)


def texts(found: list[H.Change]) -> str:
    return "\n".join(c.text for c in found)


def test_no_difference_means_no_change():
    assert changes(F.TYPICAL, F.TYPICAL) == []


def test_more_often_is_a_worrying_change_in_plain_words():
    found = changes({**F.TYPICAL, "frequency": "weekly"}, {**F.TYPICAL, "frequency": "daily"})
    assert [(c.question_id, c.direction) for c in found] == [("frequency", "worse")]
    frequency = F.content().question("frequency")
    assert found[0].text == (
        f"{frequency.short}が、前回より増えています"
        f"（「{frequency.option('weekly').label}」→「{frequency.option('daily').label}」）。"
    )


def test_less_often_is_better():
    found = changes({**F.TYPICAL, "frequency": "daily"}, {**F.TYPICAL, "frequency": "sometimes"})
    assert [(c.question_id, c.direction) for c in found] == [("frequency", "better")]
    assert "減っています" in found[0].text


def test_new_and_gone_situations_are_named():
    situations = F.content().question("situations")
    found = changes({**F.TYPICAL, "situations": "stairs_down+standing_up"},
                    {**F.TYPICAL, "situations": "standing_up+turning"})
    assert [(c.direction, c.question_id) for c in found] == [("better", "situations"), ("worse", "situations")]
    assert situations.option("stairs_down").label in found[0].text and "なくなりました" in found[0].text
    assert situations.option("turning").label in found[1].text and "加わりました" in found[1].text


def test_yes_no_changes_use_the_statements():
    swelling = F.content().question("swelling")
    found = changes({**F.TYPICAL, "swelling": "no", "near_fall": "yes"},
                    {**F.TYPICAL, "swelling": "yes", "near_fall": "no"})
    by_id = {c.question_id: c for c in found}
    assert by_id["swelling"].direction == "worse"
    assert swelling.yes_statement in by_id["swelling"].text and "新しく" in by_id["swelling"].text
    assert by_id["near_fall"].direction == "better"


def test_age_is_a_fact_not_a_worsening_and_unknown_is_neutral():
    found = changes({**F.TYPICAL, "age_50_plus": "no", "warmth": "no"},
                    {**F.TYPICAL, "age_50_plus": "yes", "warmth": "unknown"})
    assert {c.question_id: c.direction for c in found} == {"age_50_plus": "other", "warmth": "other"}
    assert "わからない" in texts(found)


def test_questions_not_answered_in_both_sessions_are_not_compared():
    partial = {"safety_now": "no", "situations": "stairs_down+standing_up", "frequency": "weekly"}
    assert changes(partial, F.TYPICAL) == []  # TYPICAL has the same first three answers
    assert changes({**F.TYPICAL, "swelling": "skipped"}, {**F.TYPICAL, "swelling": "yes"}) == []
    # the words for "since when" change with every telling and are not compared
    assert changes(F.TYPICAL, {**F.TYPICAL, "since_when": "半年くらい前"}) == []


def test_triage_and_top_cause_changes():
    content = F.content()
    calm = {**F.TYPICAL, "frequency": "sometimes", "getting_worse": "no", "near_fall": "no",
            "pain_grinding": "no", "morning_stiffness": "no"}
    before, after = F.summary_for(calm), F.summary_for(F.TYPICAL)
    assert before["triage"] == "self_care" and after["triage"] == "see_doctor_soon"
    found = H.compare_outcome(before, after, content)
    assert found[0].direction == "worse"
    assert content.advice.triage["see_doctor_soon"].name in found[0].text
    assert H.compare_outcome(after, before, content)[0].direction == "better"


@pytest.fixture
def store_dir(tmp_path):
    F.saved_session(tmp_path, "20261101-090000", {**F.TYPICAL, "frequency": "weekly"})
    F.saved_session(tmp_path, "20261121-101500", {**F.TYPICAL, "frequency": "daily"})
    return tmp_path


def test_command_lists_sessions_and_changes(store_dir, capsys):
    assert H.command(argparse.Namespace(), Settings(data_dir=store_dir)) == 0
    out = capsys.readouterr().out
    assert "これまでの記録（2件" in out
    lines = out.splitlines()
    first = next(i for i, l in enumerate(lines) if "20261101-090000" in l)
    second = next(i for i, l in enumerate(lines) if "20261121-101500" in l)
    assert first < second  # oldest first
    assert "2026年11月1日 09:00" in lines[first] and "完了" in lines[first]
    assert F.content().advice.triage["see_doctor_soon"].name in lines[first]
    assert F.content().cause(F.summary_for(F.TYPICAL)["causes"][0]).name in lines[first]
    assert "前回より増えています" in out and H.WORSE_TITLE in out


def test_table_columns_line_up_with_japanese_text(store_dir):
    content = F.content()
    rows, _ = H.session_rows(SessionStore(store_dir), content)
    table = H.render_table(rows)
    starts = {H._width(line[: line.index("2026110" if "2026110" in line else "20261121-")])
              for line in table[1:]}
    assert len(starts) == 1  # the session column starts at the same screen column on every row


def test_unfinished_and_empty_sessions(store_dir, capsys):
    later = iter([datetime(2026, 12, 1, 9), datetime(2026, 12, 2, 9)])
    store = SessionStore(store_dir, now=lambda: next(later))
    store.start("text")  # started, nothing answered: not listed
    waiting = store.start("text")
    waiting.save_progress(F.progress_for({"safety_now": "no", "frequency": "sometimes"}).to_json())
    rows, problems = H.session_rows(store, F.content())
    assert problems == []
    assert [r.status for r in rows] == ["complete", "complete", "unfinished"]
    H.command(argparse.Namespace(), Settings(data_dir=store_dir))
    out = capsys.readouterr().out
    assert H.STATUS_LABEL["unfinished"] in out
    assert "減っています" not in out  # the waiting session is not compared yet
    waiting.abandon()
    rows, _ = H.session_rows(store, F.content())
    assert rows[-1].status == "abandoned"


def test_a_damaged_session_is_reported_and_the_rest_still_listed(store_dir, capsys):
    broken = SessionStore(store_dir).get("20261101-090000")
    broken.summary_path.write_text("{oops")
    assert H.command(argparse.Namespace(), Settings(data_dir=store_dir)) == 0
    out = capsys.readouterr().out
    assert "注意:" in out and "壊れています" in out
    assert "20261121-101500" in out


def test_no_sessions_yet(tmp_path, capsys):
    assert H.command(argparse.Namespace(), Settings(data_dir=tmp_path)) == 0
    assert capsys.readouterr().out.strip() == H.NO_SESSIONS
