"""One whole session: greeting, questionnaire, safety, read-back, exercise offer, summary on disk.

This is where the pure parts (questionnaire, assessment, coach) meet the edges handed in by the
caller (ears, mouth, the session record on disk). It decides nothing about devices or files.

When saving fails (a full disk), the session says so plainly and ends: every answer saved before
stays, and no answer is acknowledged aloud before it is saved (see Questionnaire.run). The
transcript is only the story of the talk: a line that cannot be written is left out, and the
conversation goes on as long as the answers themselves can still be saved.
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from voicecheck.assessment import SAFETY_SIGN, Assessment, assess, safety_screen
from voicecheck.content import UNKNOWN, Content
from voicecheck.conversation import AnswerRecord, Outcome, Progress, Questionnaire
from voicecheck.interfaces import Ears, Mouth
from voicecheck.store import StoreError, StoreWriteError
from voicecheck.talk import InputEnded, MatcherLike, Talk

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
    save_failed: StoreWriteError | None = None  # answers could no longer be saved (the session ended)
    transcript_problem: StoreError | None = None  # some lines of the transcript could not be written


class TranscriptLog:
    """record.log that never stops the conversation: a line that cannot be written is left out
    (the store writes whole lines or nothing). `problem` keeps the first failure for the caregiver."""

    def __init__(self, log: Callable[[dict[str, Any]], None]) -> None:
        self._log = log
        self.problem: StoreError | None = None

    def __call__(self, event: dict[str, Any]) -> None:
        if self.problem is not None:
            return  # the disk is full: do not try (and fail) on every phrase
        try:
            self._log(event)
        except StoreError as err:
            self.problem = err


def progress_from_saved(data: Any, content: Content) -> Progress:
    """The progress saved on disk, checked against the content; ValueError (saying what is wrong)
    for a file of the wrong shape, so it is set aside instead of crashing a start."""
    if not isinstance(data, dict):
        raise ValueError("not a JSON object")
    index = data.get("index", 0)
    if isinstance(index, bool) or not isinstance(index, int) or not 0 <= index <= len(content.questions):
        raise ValueError(f"index {index!r}")
    answers = data.get("answers") or {}
    if not isinstance(answers, dict):
        raise ValueError("answers is not an object")
    known = {q.id: q for q in content.questions}
    records: dict[str, AnswerRecord] = {}
    for qid, saved in answers.items():
        question = known.get(qid)
        if question is None or not isinstance(saved, dict):
            raise ValueError(f"answer {qid!r}")
        status, value = saved.get("status", "answered"), saved.get("value")
        heard, score = saved.get("heard", ""), saved.get("score", 0.0)
        if status not in ("answered", "unknown", "skipped") or not isinstance(heard, str) \
                or isinstance(score, bool) or not isinstance(score, (int, float)):
            raise ValueError(f"answer {qid!r}")
        if status == "answered" and not _valid_value(question, value):
            raise ValueError(f"answer {qid!r}: value {value!r}")
        if status != "answered" and value not in (None, UNKNOWN):
            raise ValueError(f"answer {qid!r}: value {value!r}")
        records[qid] = AnswerRecord.from_json(qid, saved)
    return Progress(index, records)


def _valid_value(question, value: Any) -> bool:
    if question.kind == "free_text":
        return isinstance(value, str) and bool(value)
    if question.kind == "yes_no":
        return value in ("yes", "no", UNKNOWN)
    ids = value if isinstance(value, list) else [value]
    if question.kind != "multi" and len(ids) != 1:
        return False
    return bool(ids) and all(isinstance(i, str) and i in question.option_ids for i in ids)


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


def say_safety_not_answered(talk: Talk) -> None:
    """The emergency screen got no clear "no": the signs again, then what to do now (slowly) and
    where to ask when unsure. Said before anything else, and said even when the session stops."""
    text = talk.content.advice.safety_not_answered
    talk.say(text.intro)
    talk.say(text.signs_intro)
    for line in text.signs:
        talk.say(line, slow=True)
    for line in text.what_to_do:
        talk.say(line, slow=True)
    talk.say(talk.content.advice.device_cannot_call, slow=True)
    for line in talk.content.advice.about_7119:
        talk.say(line)


def read_back(talk: Talk, result: Assessment) -> None:
    content, say = talk.content, talk.say
    talk.say_phrase("results_intro")
    if result.safety_not_answered:
        say_safety_not_answered(talk)
    if not result.causes:
        talk.say_phrase("no_cause_found")
    for rank, cause in enumerate(result.causes, start=1):
        talk.say_phrase("cause_item", rank=rank, name=cause.name)
        for line in content.cause(cause.id).explanation:
            say(line)
        talk.say_phrase("because_you_said", reasons=content.say("reason_separator").join(cause.reasons))
    for line in content.advice.risks:
        say(line)
    if result.triage is not None:  # None: not a single answer, so no level to give
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
        "triage": result.triage,  # None when there was no answer at all
        "triage_reasons": list(result.triage_reasons),
        "safety_screen": result.safety_screen,  # sign_present | clear | not_answered
        "advice": list(result.advice),
        "exercises_recommended": list(result.exercises),
        "exercises_done": list(exercises_done),
    }


def run_session(content: Content, matcher: MatcherLike, ears: Ears, mouth: Mouth, record: Recorder, *,
                mode: str, retries: int = 3, confirm: bool = True, timeout_s: float | None = None,
                progress: Progress | None = None, coach: CoachRunner | None = None) -> SessionResult:
    """Run one session to its end and return what it found; the caller writes the summary."""
    started = _now()
    log = TranscriptLog(record.log)
    talk = Talk(content, matcher, ears, mouth, log, timeout_s)
    resumed = progress is not None
    progress = progress or Progress()
    log({"type": "session_start", "mode": mode, "resumed": resumed, "index": progress.index})
    if not resumed:
        talk.say_phrase("greeting")
        talk.say_phrase("disclaimer")
        talk.say_phrase("how_to_answer")
    questionnaire = Questionnaire(talk, save=lambda p: record.save_progress(p.to_json()),
                                  retries=retries, confirm=confirm)
    save_failed: StoreWriteError | None = None
    status: Outcome
    if safety_screen(progress.answer_values()) == SAFETY_SIGN:
        status = "emergency"  # resumed after a kill right after "yes": the instruction comes first
    else:
        try:
            status = questionnaire.run(progress)
        except StoreWriteError as err:
            # On disk is the last progress saved; the answer that failed was never acknowledged.
            save_failed, status = err, "stopped"
    result = assess(progress.answer_values(), content)
    if result.safety_screen == SAFETY_SIGN:
        status = "emergency"  # even when saving that very "yes" failed
    done: tuple[str, ...] = ()
    if status == "emergency":
        say_emergency(talk)
        talk.say_phrase("not_a_diagnosis")
    elif status == "complete":
        read_back(talk, result)
        done = _offer_exercises(talk, result, coach)
        talk.say_phrase("goodbye")
    else:
        if save_failed is not None:
            talk.say_phrase("save_failed")
        if result.safety_not_answered:
            say_safety_not_answered(talk)
        talk.say_phrase("goodbye_stopped")
    summary = build_summary(record.id, started, mode, status, progress, result, done)
    log({"type": "session_end", "status": status, "triage": result.triage, "causes": summary["causes"]})
    return SessionResult(status, progress, result, done, summary, save_failed, log.problem)


def _offer_exercises(talk: Talk, result: Assessment, coach: CoachRunner | None) -> tuple[str, ...]:
    # Exercises only once the urgent signs are ruled out: with an unanswered screen the knee
    # may need a doctor today, not a work-out.
    if coach is None or not result.exercises or result.safety_not_answered:
        return ()
    talk.say_phrase("exercise_offer", names=talk.content.exercises.names(result.exercises))
    try:
        agreed = talk.ask_yes_no()
    except InputEnded:  # input ended at the offer: the session still ends normally
        return ()
    talk.log({"type": "exercise_offer", "accepted": bool(agreed), "exercises": list(result.exercises)})
    if not agreed:
        talk.say_phrase("exercise_offer_declined")
        return ()
    return coach(result.exercises, talk.ears, talk.mouth)
