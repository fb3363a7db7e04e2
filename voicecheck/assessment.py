"""From answers to likely causes, a triage level and advice: pure functions, no I/O.

The result never claims to be a diagnosis; it ranks the causes the answers point to and keeps the
answers that point to each one, so the read-back can say why ("because you said …").

Safety comes first: only a clear "no" to the emergency screen (`safety_now`) rules the urgent
signs out. Unknown, skipped, never reached: the screen counts as not answered, and then the
triage is never "self_care" (see `triage`). With no answer at all there is no triage (None).
"""
from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from voicecheck.content import Content, Question

AnswerValue = str | tuple[str, ...]  # an option id, several ids (multi), or the words (free text)

# Answers that mean "see an orthopaedic doctor soon" rather than "care for it at home".
SEE_DOCTOR_SIGNS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("getting_worse", ("yes",)),
    ("frequency", ("weekly", "daily")),
    ("near_fall", ("yes",)),
    ("going_out_less", ("yes",)),
    ("swelling", ("yes",)),
    ("warmth", ("yes",)),
    ("pain_grinding", ("yes",)),
    ("morning_stiffness", ("yes",)),
    ("catching", ("yes",)),
    ("back_nerve", ("yes",)),
)
MAX_EXERCISES = 3
SAFETY_QUESTION = "safety_now"

# What the emergency screen found (the summary's "safety_screen").
SAFETY_SIGN = "sign_present"  # "yes": an urgent sign now
SAFETY_CLEAR = "clear"  # a clear "no"
SAFETY_NOT_ANSWERED = "not_answered"  # unknown, skipped, or never reached


@dataclass(frozen=True)
class RankedCause:
    id: str
    name: str
    score: int
    reasons: tuple[str, ...]  # the answers that point to this cause, in plain words


@dataclass(frozen=True)
class Assessment:
    causes: tuple[RankedCause, ...]  # only causes some answer points to, most likely first
    triage: str | None  # a TRIAGE_LEVELS id; None when there is no answer at all
    triage_reasons: tuple[str, ...]
    advice: tuple[str, ...]  # home measure ids, in the order of the advice file
    exercises: tuple[str, ...]  # recommended exercise ids
    safety_screen: str = SAFETY_NOT_ANSWERED  # SAFETY_SIGN | SAFETY_CLEAR | SAFETY_NOT_ANSWERED

    @property
    def safety_not_answered(self) -> bool:
        return self.safety_screen == SAFETY_NOT_ANSWERED


def _given(answers: Mapping[str, AnswerValue], question_id: str) -> tuple[str, ...]:
    value = answers.get(question_id)
    if value is None:
        return ()
    return (value,) if isinstance(value, str) else tuple(value)


def describe_answer(question: Question, option_ids: str | tuple[str, ...], content: Content) -> str:
    """One answer in plain words, e.g. 「膝が腫れている」 or 「膝の力が抜ける場面は「階段…」と「立ち…」」."""
    ids = (option_ids,) if isinstance(option_ids, str) else option_ids
    if question.kind == "yes_no":
        if ids == ("yes",):
            return question.yes_statement
        if ids == ("no",):
            return question.no_statement
        return content.say("reason_option", short=question.short, label=content.say("unknown_label"))
    labels = content.say("label_separator").join(question.option(i).label for i in ids)
    return content.say("reason_option", short=question.short, label=labels)


def rank_causes(answers: Mapping[str, AnswerValue], content: Content) -> tuple[RankedCause, ...]:
    ranked = []
    for order, cause in enumerate(content.causes):
        score, matched = 0, {}  # question id -> the options given that point here, in evidence order
        for evidence in cause.evidence:
            if evidence.answer in _given(answers, evidence.question):
                score += evidence.weight
                matched.setdefault(evidence.question, []).append(evidence.answer)
        reasons = [describe_answer(content.question(q), tuple(ids), content) for q, ids in matched.items()]
        if score > 0:
            ranked.append((-score, order, RankedCause(cause.id, cause.name, score, tuple(reasons))))
    return tuple(r for _, _, r in sorted(ranked, key=lambda x: (x[0], x[1])))


def safety_screen(answers: Mapping[str, AnswerValue]) -> str:
    """SAFETY_SIGN for "yes", SAFETY_CLEAR for a clear "no", else SAFETY_NOT_ANSWERED."""
    given = _given(answers, SAFETY_QUESTION)
    if "yes" in given:
        return SAFETY_SIGN
    if given == ("no",):
        return SAFETY_CLEAR
    return SAFETY_NOT_ANSWERED


def triage(answers: Mapping[str, AnswerValue], content: Content) -> tuple[str | None, tuple[str, ...]]:
    screen = safety_screen(answers)
    if screen == SAFETY_SIGN:
        return "emergency", (content.question(SAFETY_QUESTION).yes_statement,)
    if not answers:
        return None, ()  # nothing was said: no level, reassuring or not
    reasons = tuple(
        describe_answer(content.question(qid), given, content)
        for qid, signs in SEE_DOCTOR_SIGNS
        for given in _given(answers, qid)
        if given in signs
    )
    if screen == SAFETY_NOT_ANSWERED:
        # The urgent signs were not ruled out: never reassure ("self_care"); the read-back
        # repeats the signs and what to do (voicecheck.session.say_safety_not_answered).
        return "see_doctor_soon", (content.advice.safety_not_answered.reason,) + reasons
    return ("see_doctor_soon", reasons) if reasons else ("self_care", ())


def choose_advice(causes: tuple[RankedCause, ...], content: Content) -> tuple[str, ...]:
    found = {c.id for c in causes}
    return tuple(m.id for m in content.advice.home_measures if not m.causes or found & set(m.causes))


def recommend_exercises(causes: tuple[RankedCause, ...], content: Content) -> tuple[str, ...]:
    """Up to three exercises: each cause's best one in turn, so every cause found is served before
    any gets a second; the book's default exercises only fill the places left free."""
    lists = [content.cause(c.id).exercises for c in causes]
    in_turn = [lst[depth] for depth in range(max(map(len, lists), default=0)) for lst in lists if depth < len(lst)]
    return tuple(dict.fromkeys(in_turn + list(content.exercises.default_exercises)))[:MAX_EXERCISES]


def assess(answers: Mapping[str, AnswerValue], content: Content) -> Assessment:
    causes = rank_causes(answers, content)
    level, reasons = triage(answers, content)
    return Assessment(causes, level, reasons, choose_advice(causes, content), recommend_exercises(causes, content),
                      safety_screen(answers))
