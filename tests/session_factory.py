"""Builds real session summaries (through the session's own code) for report and history tests."""
from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Any

from voicecheck.assessment import assess
from voicecheck.content import Content, load_content
from voicecheck.conversation import AnswerRecord, Progress
from voicecheck.session import build_summary
from voicecheck.settings import Settings
from voicecheck.store import SessionRecord, SessionStore

_CONTENT: Content | None = None


def content() -> Content:
    global _CONTENT
    if _CONTENT is None:
        _CONTENT = load_content(Settings().prompts_dir)
    return _CONTENT


def _said(qid: str, value: str) -> str:
    """What a person might have said for an answer: はい / いいえ / the option's label."""
    question = content().question(qid)
    if question.kind == "yes_no":
        return {"yes": "はい", "no": "いいえ"}[value]
    if question.kind == "free_text":
        return value
    return "と".join(question.option(v).label for v in value.split("+"))


def progress_for(answers: dict[str, Any], heard: dict[str, str] | None = None) -> Progress:
    """answers: qid -> option id, "a+b" for several, "unknown", "skipped", or free words."""
    records = {}
    heard = heard or {}
    for qid, value in answers.items():
        kind = content().question(qid).kind
        if value == "skipped":
            records[qid] = AnswerRecord(qid, "skipped", None, heard.get(qid, "飛ばして"), 0.0)
        elif value == "unknown":
            records[qid] = AnswerRecord(qid, "unknown", "unknown", heard.get(qid, "わからない"), 90.0)
        else:
            v: Any = tuple(value.split("+")) if kind == "multi" else value
            records[qid] = AnswerRecord(qid, "answered", v, heard.get(qid, _said(qid, value)), 95.0)
    return Progress(index=len(records), answers=records)


def summary_for(answers: dict[str, Any], *, session_id: str = "20261121-101500", status: str = "complete",
                mode: str = "text", heard: dict[str, str] | None = None,
                exercises_done: tuple[str, ...] = ()) -> dict[str, Any]:
    progress = progress_for(answers, heard)
    result = assess(progress.answer_values(), content())
    started = datetime.strptime(session_id[:15], "%Y%m%d-%H%M%S").astimezone().isoformat(timespec="seconds")
    summary = build_summary(session_id, started, mode, status, progress, result, exercises_done)
    return summary


def saved_session(data_dir: Path, session_id: str, answers: dict[str, Any], **kw: Any) -> SessionRecord:
    store = SessionStore(data_dir, now=lambda: datetime.strptime(session_id[:15], "%Y%m%d-%H%M%S"))
    record = store.start(kw.get("mode", "text"))
    assert record.id == session_id
    record.finish(summary_for(answers, session_id=session_id, **kw))
    return record


TYPICAL = {
    "safety_now": "no", "situations": "stairs_down+standing_up", "frequency": "weekly",
    "getting_worse": "yes", "near_fall": "yes", "going_out_less": "no", "swelling": "unknown",
    "warmth": "no", "pain_grinding": "yes", "morning_stiffness": "yes", "catching": "skipped",
    "past_injury": "no", "age_50_plus": "yes", "bow_legs": "yes", "unsteady_walking": "no",
    "back_nerve": "no", "since_when": "3か月くらい前から",
}


def typed_session() -> list[tuple[str, str, Any]]:
    """(question id, the typed answer, the value the session should save) for a whole text
    session, in question order; the words come from the content, so they always match."""
    c = content()
    yes, no = c.say("yes_label"), c.say("no_label")
    special = {
        "safety_now": (no, "no"),
        "situations": (c.question("situations").option("stairs_down").label, ["stairs_down"]),
        "frequency": (c.question("frequency").option("weekly").label, "weekly"),
        "near_fall": (yes, "yes"),
        "pain_grinding": (yes, "yes"),
        "since_when": ("3か月くらい前から", "3か月くらい前から"),
    }
    return [(q.id, *special.get(q.id, (no, "no"))) for q in c.questions]


def typed_input(rows: list[tuple[str, str, Any]], *, decline_exercises: bool = True) -> str:
    lines = [typed for _, typed, _ in rows]
    if decline_exercises:
        lines.append(content().say("no_label"))
    return "\n".join(lines) + "\n"
