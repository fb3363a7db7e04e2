from __future__ import annotations

from voicecheck.content import QUESTION_ORDER
from voicecheck.interfaces import RecordingMouth, ScriptedEars
from voicecheck.session import run_session
from voicecheck.store import SessionStore
from tests.fakes import IdMatcher

ALL_NO = ["no", "stairs_down+standing_up", "weekly"] + ["no"] * 13 + ["半年くらい前から"]


def run(content, answers, tmp_path, coach=None, **kw):
    record = SessionStore(tmp_path).start("text")
    ears, mouth = ScriptedEars(answers), RecordingMouth()
    result = run_session(content, IdMatcher(content), ears, mouth, record, mode="text", coach=coach, **kw)
    return result, mouth, record


def test_complete_session_reads_back_causes_triage_advice_and_disclaimer(content, tmp_path):
    result, mouth, record = run(content, ALL_NO + ["no"], tmp_path, coach=lambda ids, e, m: ids)
    s = result.summary
    assert s["status"] == "complete"
    assert set(s["answers"]) == set(QUESTION_ORDER)
    assert s["answers"]["situations"] == ["stairs_down", "standing_up"]
    assert s["answers"]["since_when"] == "半年くらい前から"
    assert s["triage"] == "see_doctor_soon"  # weekly
    assert s["causes"] and s["causes"][0] == result.assessment.causes[0].id
    said = mouth.said
    assert content.say("disclaimer") in said and content.say("not_a_diagnosis") in said
    first = content.cause(s["causes"][0])
    assert content.say("cause_item", rank=1, name=first.name) in said
    assert any(line.startswith(content.say("because_you_said", reasons="")[:4]) for line in said)
    assert content.say("triage_intro", name=content.advice.triage["see_doctor_soon"].name) in said
    assert said.index(content.say("note_down_intro")) + 1 == said.index(content.advice.note_down[0])
    assert content.advice.clinic_visit[0] in said and content.advice.note_down[0] in said
    assert content.advice.risks[0] in said
    # the offer was declined ("no"), so no exercise was done
    assert s["exercises_done"] == [] and s["exercises_recommended"]
    assert said[-1] == content.say("goodbye")
    events = [e["type"] for e in record.transcript()]
    assert events[0] == "session_start" and events[-1] == "session_end"


def test_exercise_offer_accepted_runs_the_coach(content, tmp_path):
    ran = []
    result, mouth, _ = run(content, ALL_NO + ["yes"], tmp_path,
                           coach=lambda ids, ears, m: ran.append(ids) or ids[:1])
    assert ran == [result.assessment.exercises]
    assert result.summary["exercises_done"] == [result.assessment.exercises[0]]


def test_emergency_is_said_slowly_twice_and_nothing_else_is_asked(content, tmp_path):
    result, mouth, record = run(content, ["yes", "no"], tmp_path)
    assert result.summary["status"] == "emergency" and result.summary["triage"] == "emergency"
    for line in content.advice.emergency_lines:
        assert mouth.said.count(line) == 2
    assert mouth.said.count(content.advice.device_cannot_call) == 2
    assert content.advice.about_7119[0] in mouth.said
    assert content.question("situations").text not in mouth.said
    slow = [e["text"] for e in record.transcript() if e.get("slow")]
    assert set(content.advice.emergency_lines) <= set(slow)


def test_self_care_says_when_to_come_back(content, tmp_path):
    answers = ["no", "other", "sometimes"] + ["no"] * 13 + ["先週"]
    result, mouth, _ = run(content, answers, tmp_path)
    assert result.summary["triage"] == "self_care"
    assert content.advice.triage["self_care"].come_back_when[0] in mouth.said
    assert content.advice.clinic_visit[0] not in mouth.said


def test_stopped_session_keeps_answers_and_skips_read_back(content, tmp_path):
    result, mouth, record = run(content, ["no", "turning"], tmp_path)
    assert result.summary["status"] == "stopped"
    assert result.summary["answers"] == {"safety_now": "no", "situations": ["turning"]}
    assert content.say("results_intro") not in mouth.said
    assert record.load_progress()["answers"]["situations"]["value"] == ["turning"]
