from __future__ import annotations

import pytest

from voicecheck.assessment import assess, triage

BASE = {"safety_now": "no", "situations": ("other",), "frequency": "sometimes", **{
    q: "no" for q in ("getting_worse", "near_fall", "going_out_less", "swelling", "warmth", "pain_grinding",
                      "morning_stiffness", "catching", "past_injury", "age_50_plus", "bow_legs",
                      "unsteady_walking", "back_nerve")}}


def answers(**changes):
    return {**BASE, **changes}


@pytest.mark.parametrize("changes, first", [
    ({"situations": ("stairs_down", "standing_up"), "age_50_plus": "no"}, "muscle_weakness"),
    ({"age_50_plus": "yes", "bow_legs": "yes", "pain_grinding": "yes", "morning_stiffness": "yes"}, "knee_osteoarthritis"),
    ({"past_injury": "yes", "catching": "yes", "situations": ("turning",)}, "ligament_meniscus"),
    ({"back_nerve": "yes", "unsteady_walking": "yes", "situations": ("flat_walking",)}, "hip_trunk_nerve"),
])
def test_typical_patterns_rank_the_expected_cause_first(content, changes, first):
    result = assess(answers(**changes), content)
    assert result.causes[0].id == first
    assert all(c.reasons for c in result.causes)
    scores = [c.score for c in result.causes]
    assert scores == sorted(scores, reverse=True)


def test_reasons_quote_the_answers_in_plain_words(content):
    result = assess(answers(swelling="yes", situations=("stairs_down",)), content)
    reasons = [r for c in result.causes for r in c.reasons]
    assert content.question("swelling").yes_statement in reasons
    label = content.question("situations").option("stairs_down").label
    assert any(label in r for r in reasons)


def test_triage_levels_are_all_reachable(content):
    assert triage(answers(safety_now="yes"), content)[0] == "emergency"
    level, reasons = triage(answers(near_fall="yes"), content)
    assert level == "see_doctor_soon" and reasons == (content.question("near_fall").yes_statement,)
    assert triage(answers(frequency="daily"), content)[0] == "see_doctor_soon"
    assert triage(answers(), content) == ("self_care", ())
    for sign in ("getting_worse", "going_out_less", "swelling", "warmth", "pain_grinding", "morning_stiffness", "catching"):
        assert triage(answers(**{sign: "yes"}), content)[0] == "see_doctor_soon", sign
    # "don't know" is not a reason to alarm, nor a reason to reassure
    assert triage(answers(swelling="unknown"), content)[0] == "self_care"


@pytest.mark.parametrize("safety", ["unknown", None])
def test_an_unanswered_emergency_screen_is_never_self_care(content, safety):
    given = answers(safety_now=safety) if safety else {k: v for k, v in answers().items() if k != "safety_now"}
    result = assess(given, content)
    assert result.safety_screen == "not_answered" and result.safety_not_answered
    assert result.triage == "see_doctor_soon"
    assert result.triage_reasons[0] == content.advice.safety_not_answered.reason
    assert assess(answers(), content).safety_screen == "clear"
    assert assess(answers(safety_now="yes"), content).safety_screen == "sign_present"


def test_no_answers_and_partial_answers_do_not_fail(content):
    empty = assess({}, content)
    assert empty.causes == () and empty.triage is None  # nothing said: no level at all
    assert empty.exercises  # a safe default set is still offered
    partial = assess({"safety_now": "no", "situations": ("stairs_down",)}, content)
    assert partial.causes


def test_advice_and_exercises_follow_the_causes(content):
    result = assess(answers(age_50_plus="yes", bow_legs="yes", pain_grinding="yes"), content)
    everyone = {m.id for m in content.advice.home_measures if not m.causes}
    assert everyone <= set(result.advice)
    assert result.exercises[0] == content.cause(result.causes[0].id).exercises[0]
    assert len(result.exercises) == len(set(result.exercises)) <= 3


def test_each_cause_gets_its_best_exercise_before_any_gets_a_second(content):
    from voicecheck.assessment import RankedCause, recommend_exercises
    found = recommend_exercises((RankedCause("hip_trunk_nerve", "", 3, ()), RankedCause("knee_osteoarthritis", "", 2, ())), content)
    hip, oa = content.cause("hip_trunk_nerve").exercises, content.cause("knee_osteoarthritis").exercises
    assert found[:2] == (hip[0], oa[0])
    assert len(found) == 3 and len(set(found)) == 3
    assert recommend_exercises((), content) == content.exercises.default_exercises[:3]


def test_several_situations_make_one_reason(content):
    result = assess(answers(situations=("stairs_down", "standing_up")), content)
    top = result.causes[0]
    sit = content.question("situations")
    grouped = [r for r in top.reasons if sit.short in r]
    assert len(grouped) == 1
    assert sit.option("stairs_down").label in grouped[0] and sit.option("standing_up").label in grouped[0]
