"""One whole session: greeting, questionnaire, safety, read-back, exercise offer, summary on disk.

This is where the pure parts (questionnaire, assessment, coach) meet the edges handed in by the
caller (ears, mouth, the session record on disk). It decides nothing about devices or files.
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from voicecheck.assessment import Assessment, assess
from voicecheck.content import Content
from voicecheck.conversation import InputEnded, MatcherLike, Outcome, Progress, Questionnaire, Talk
from voicecheck.interfaces import Ears, Mouth

SUMMARY_VERSION = 1

# Runs the chosen exercises with the same ears and mouth; returns the ids completed.
CoachRunner = Callable[[tuple[str, ...], Ears, Mouth], tuple[str, ...]]


class Recorder:
    """The part of a session record the session needs (see voicecheck.store.SessionRecord)."""

    id: str

    def log(self, event: dict[str, Any]) -> None: ...

    def save_progress(self, progress: dict[str, Any]) -> None: ...


@dataclass(frozen=True)
class SessionResult:
    status: Outcome
    progress: Progress
    assessment: Assessment
    exercises_done: tuple[str, ...]
    summary: dict[str, Any]


def _now() -> str:
    return datetime.now().astimezone().isoformat(timespec="seconds")


def say_emergency(talk: Talk) -> None:
    """The emergency instruction, slowly and twice; then what #7119 is for."""
    advice = talk.content.advice
    talk.say_phrase("emergency_intro")
    for repeat in range(2):
        if repeat:
            talk.say_phrase("emergency_repeat")
        for line in advice.emergency_lines:
            talk.say(line, slow=True)
        talk.say(advice.device_cannot_call, slow=True)
    for line in advice.about_7119:
        talk.say(line)


def read_back(talk: Talk, result: Assessment) -> None:
    content, say = talk.content, talk.say
    talk.say_phrase("results_intro")
    if not result.causes:
        talk.say_phrase("no_cause_found")
    for rank, cause in enumerate(result.causes, start=1):
        talk.say_phrase("cause_item", rank=rank, name=cause.name)
        for line in content.cause(cause.id).explanation:
            say(line)
        talk.say_phrase("because_you_said", reasons=content.say("reason_separator").join(cause.reasons))
    for line in content.advice.risks:
        say(line)
    level = content.advice.triage[result.triage]
    talk.say_phrase("triage_intro", name=level.name)
    for line in level.lines:
        say(line)
    if result.triage == "see_doctor_soon":
        for line in content.advice.clinic_visit:
            say(line)
        talk.say_phrase("note_down_intro")
        for line in content.advice.note_down:
            say(line)
    for line in level.come_back_when:
        say(line)
    if result.advice:
        talk.say_phrase("advice_intro")
        measures = {m.id: m for m in content.advice.home_measures}
        for measure_id in result.advice:
            for line in measures[measure_id].lines:
                say(line)
    talk.say_phrase("not_a_diagnosis")


def build_summary(record_id: str, started: str, mode: str, status: Outcome, progress: Progress,
                  result: Assessment, exercises_done: tuple[str, ...]) -> dict[str, Any]:
    answers: dict[str, Any] = {}
    for qid, value in progress.answer_values().items():
        answers[qid] = list(value) if isinstance(value, tuple) else value
    return {
        "version": SUMMARY_VERSION,
        "session_id": record_id,
        "started": started,
        "ended": _now(),
        "mode": mode,
        "status": status,
        "answers": answers,
        "answer_details": {q: a.to_json() for q, a in progress.answers.items()},
        "skipped": [q for q, a in progress.answers.items() if a.status == "skipped"],
        "causes": [c.id for c in result.causes],
        "cause_details": [{"id": c.id, "name": c.name, "score": c.score, "reasons": list(c.reasons)} for c in result.causes],
        "triage": result.triage,
        "triage_reasons": list(result.triage_reasons),
        "advice": list(result.advice),
        "exercises_recommended": list(result.exercises),
        "exercises_done": list(exercises_done),
    }


def run_session(content: Content, matcher: MatcherLike, ears: Ears, mouth: Mouth, record: Recorder, *,
                mode: str, retries: int = 3, confirm: bool = True, timeout_s: float | None = None,
                progress: Progress | None = None, coach: CoachRunner | None = None) -> SessionResult:
    """Run one session to its end and return what it found; the caller writes the summary."""
    started = _now()
    talk = Talk(content, matcher, ears, mouth, record.log, timeout_s)
    resumed = progress is not None
    progress = progress or Progress()
    record.log({"type": "session_start", "mode": mode, "resumed": resumed, "index": progress.index})
    if not resumed:
        talk.say_phrase("greeting")
        talk.say_phrase("disclaimer")
        talk.say_phrase("how_to_answer")
    questionnaire = Questionnaire(talk, save=lambda p: record.save_progress(p.to_json()),
                                  retries=retries, confirm=confirm)
    status = questionnaire.run(progress)
    result = assess(progress.answer_values(), content)
    done: tuple[str, ...] = ()
    if status == "emergency":
        say_emergency(talk)
        talk.say_phrase("not_a_diagnosis")
    elif status == "complete":
        read_back(talk, result)
        done = _offer_exercises(talk, result, coach)
        talk.say_phrase("goodbye")
    else:
        talk.say_phrase("goodbye_stopped")
    summary = build_summary(record.id, started, mode, status, progress, result, done)
    record.log({"type": "session_end", "status": status, "triage": result.triage, "causes": summary["causes"]})
    return SessionResult(status, progress, result, done, summary)


def _offer_exercises(talk: Talk, result: Assessment, coach: CoachRunner | None) -> tuple[str, ...]:
    if coach is None or not result.exercises:
        return ()
    talk.say_phrase("exercise_offer", names=talk.content.exercises.names(result.exercises))
    try:
        agreed = talk.ask_yes_no()
    except Exception as err:  # input ended at the offer: the session still ends normally
        if type(err).__name__ != "_InputEnded":
            raise
        return ()
    talk.log({"type": "exercise_offer", "accepted": bool(agreed), "exercises": list(result.exercises)})
    if not agreed:
        talk.say_phrase("exercise_offer_declined")
        return ()
    return coach(result.exercises, talk.ears, talk.mouth)
