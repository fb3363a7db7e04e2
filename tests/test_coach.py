"""The exercise coach, run on typed answers, a recording mouth and a fake clock."""
from __future__ import annotations

import time
from pathlib import Path

import pytest

from voicecheck.coach import CoachResult, command_matcher, resolve_exercises, run_coach
from voicecheck.content import EXERCISE_IDS
from voicecheck.exercises import ExerciseBook, UnknownExerciseError, load_exercises
from voicecheck.interfaces import FakeClock, Heard, ListenContext, RecordingMouth, ScriptedEars

PROMPTS = Path(__file__).resolve().parent.parent / "prompts" / "ja"


@pytest.fixture(scope="module")
def book() -> ExerciseBook:
    return load_exercises(PROMPTS)


# --- test doubles ----------------------------------------------------------------------------------

class TimedMouth(RecordingMouth):
    """Records what was said and when, on the fake clock."""

    def __init__(self, clock: FakeClock) -> None:
        super().__init__()
        self.clock = clock
        self.times: list[float] = []

    def say(self, text: str) -> None:
        super().say(text)
        self.times.append(self.clock.now())

    def time_of(self, text: str, occurrence: int = 0) -> float:
        return [t for t, s in zip(self.times, self.said) if s == text][occurrence]


class CueEars:
    """Silence, except right after given lines: each cue (line, answer) answers once, in order.

    A cue fires at the first listening turn after `line` was said. With `real_time`, a silent turn
    uses up its timeout on the clock, as a microphone would.
    """

    def __init__(self, mouth: RecordingMouth, cues: list[tuple[str, str | None]], clock: FakeClock,
                 real_time: bool = False, limit: int = 3000) -> None:
        self.mouth, self.cues, self.clock = mouth, list(cues), clock
        self.real_time, self.limit = real_time, limit
        self.contexts: list[ListenContext] = []
        self.heard_at: int = 0  # index into mouth.said at the previous turn

    def listen(self, context: ListenContext) -> Heard | None:
        self.contexts.append(context)
        assert len(self.contexts) < self.limit, "the coach kept listening forever"
        since, self.heard_at = self.mouth.said[self.heard_at:], len(self.mouth.said)
        if self.cues and self.cues[0][0] in since:
            answer = self.cues.pop(0)[1]
            return None if answer is None else Heard(text=answer)
        if self.real_time and context.timeout_s:
            self.clock.sleep(context.timeout_s)
        return Heard(text="", timed_out=True)


def exact_matcher(book: ExerciseBook):
    """Test matcher: a command phrase exactly as written in exercises.toml, nothing else."""
    table = {p: cid for cid, phrases in book.commands.items() for p in phrases}
    return table.get


def run(book, ids, cues=(), *, slow=False, real_time=False, ears=None, log=None):
    clock = FakeClock()
    mouth = TimedMouth(clock)
    ears = ears or CueEars(mouth, list(cues), clock, real_time=real_time)
    result = run_coach(ids, book=book, ears=ears, mouth=mouth, clock=clock,
                       match_command=exact_matcher(book), slow=slow, log=log)
    return result, mouth, clock, ears


def count_runs(said: list[str], n: int) -> int:
    """How many times the numbers 1..n were said one after another."""
    wanted = [str(i) for i in range(1, n + 1)]
    return sum(said[i:i + n] == wanted for i in range(len(said)))


def after(said: list[str], line: str, occurrence: int = 0) -> list[str]:
    indexes = [i for i, s in enumerate(said) if s == line]
    return said[indexes[occurrence] + 1:]


def first_hold_line(book, exercise_id) -> str:
    return next(s.say for s in book.exercise(exercise_id).rep if s.hold_s)


# --- every exercise, led to the end ----------------------------------------------------------------

@pytest.mark.parametrize("exercise_id", EXERCISE_IDS)
def test_each_exercise_is_led_to_the_end_with_counting(book, exercise_id):
    ex = book.exercise(exercise_id)
    result, mouth, clock, _ = run(book, [exercise_id])
    said = mouth.said

    assert result == CoachResult(completed=(exercise_id,))
    blocks = ex.sets * (2 if ex.each_side else 1)
    reps_done = blocks * ex.start_reps
    for number in range(1, ex.start_reps + 1):
        assert said.count(f"{number}回目") == blocks
    assert f"{ex.start_reps + 1}回目" not in said  # starts below the full amount
    if 0 < ex.hold_s <= book.timing.long_hold_over_s:
        assert count_runs(said, ex.hold_s) == reps_done
        assert said.count(book.say("hold_count_first", seconds=ex.hold_s)) == 1
    elif ex.hold_s:
        assert said.count(book.say("hold_long_start", seconds=ex.hold_s)) == reps_done
        assert said.count(book.say("hold_cue", seconds=10)) == reps_done
        assert "1" not in said  # long holds are cued, not counted number by number
    else:
        assert "1" not in said
    assert said.count(book.say("rest", seconds=ex.rest_s)) == ex.sets - 1
    plan = "plan_sets" if ex.sets > 1 else "plan_one_set"
    plan += "_each_side" if ex.each_side else ""
    assert book.say(plan, reps=ex.start_reps, sets=ex.sets, rest_s=ex.rest_s) in said
    assert book.say("start_small") in said and ex.build_up in said
    assert ex.purpose in said and all(s.say in said for s in ex.setup)
    assert said[-2:] == [book.say("exercise_done", name=ex.name), book.say("goodbye_finished")]
    # Every hold and rest passed on the fake clock.
    assert clock.t >= reps_done * ex.hold_s + (ex.sets - 1) * ex.rest_s


def test_safety_check_comes_before_any_exercise(book):
    _, mouth, _, _ = run(book, ["chair_squat"])
    first_exercise_line = mouth.said.index(book.say("exercise_only", name="椅子からの立ち座り"))
    before = mouth.said[:first_exercise_line]
    assert list(book.safety) == before[:len(book.safety)]
    assert book.say("commands_help") in before and book.say("pain_help") in before


def test_sides_are_announced_and_set_up(book):
    _, mouth, _, _ = run(book, ["patella_setting"])
    right, left = book.sides
    assert mouth.said.count(book.say("side_start", side=right)) == 2  # once per set
    assert mouth.said.count(book.say("side_switch", side=left)) == 2
    assert "丸めたタオルを、左の膝の裏に置きます。" in mouth.said


def test_first_repetition_in_full_then_short_cues(book):
    ex = book.exercise("patella_setting")
    _, mouth, _, _ = run(book, ["patella_setting"])
    assert mouth.said.count(ex.rep[0].say) == 1
    assert mouth.said.count(ex.rep[0].short) == ex.sets * 2 * ex.start_reps - 1


def test_counting_is_one_number_per_second(book):
    _, mouth, _, _ = run(book, ["patella_setting"])
    i = mouth.said.index("1")
    assert mouth.said[i:i + 5] == ["1", "2", "3", "4", "5"]
    beats = mouth.times[i:i + 5]
    assert [round(b - a, 6) for a, b in zip(beats, beats[1:])] == [1.0] * 4
    release = mouth.said[i + 5]
    assert release == book.exercise("patella_setting").rep[1].say
    assert mouth.times[i + 5] - beats[0] == pytest.approx(5.0)  # a 5 second hold


def test_long_hold_is_cued_and_lasts_its_time(book):
    hold_start = book.say("hold_long_start", seconds=20)
    for real_time in (False, True):
        _, mouth, _, _ = run(book, ["calf_stretch"], real_time=real_time)
        start = mouth.time_of(hold_start)
        assert mouth.time_of(book.say("hold_cue", seconds=10)) - start == pytest.approx(10.0)
        assert mouth.time_of(book.say("hold_end")) - start == pytest.approx(20.0)


def test_rest_between_sets_is_timed_and_cued(book):
    ex = book.exercise("chair_squat")
    _, mouth, _, _ = run(book, ["chair_squat"])
    rest = mouth.time_of(book.say("rest", seconds=ex.rest_s))
    cue = mouth.time_of(book.say("rest_cue", seconds=10))
    second_set = mouth.time_of(book.say("set_start", number=2))
    assert cue - rest == pytest.approx(ex.rest_s - 10)
    assert second_set - rest == pytest.approx(ex.rest_s)


def test_fake_clock_means_no_real_waiting(book, monkeypatch):
    def no_sleep(seconds):
        raise AssertionError("the coach slept for real")

    monkeypatch.setattr(time, "sleep", no_sleep)
    started = time.perf_counter()
    result, _, clock, _ = run(book, list(EXERCISE_IDS))
    assert result.completed == EXERCISE_IDS
    assert clock.t > 15 * 60  # a quarter of an hour of exercise on the fake clock …
    assert time.perf_counter() - started < 2.0  # … in well under two seconds
    assert all(s >= 0 for s in clock.sleeps)


def test_typed_run_is_deterministic(book):
    cues = [("2回目", "ゆっくり"), ("3回目", "もう一度")]
    first = run(book, ["knee_extension"], cues)
    second = run(book, ["knee_extension"], cues)
    assert first[1].said == second[1].said and first[2].sleeps == second[2].sleeps


def test_listens_for_every_command_phrase_with_a_short_timeout(book):
    _, _, _, ears = run(book, ["heel_raise"])
    assert ears.contexts
    for context in ears.contexts:
        assert context.question_id == "coach"
        assert set(context.phrases) == set(book.command_phrases())
        assert 0 < context.timeout_s <= book.timing.listen_s


# --- pain --------------------------------------------------------------------------------------------

def test_pain_stops_the_exercise_at_once_with_advice(book):
    ex = book.exercise("patella_setting")
    result, mouth, _, _ = run(book, ["patella_setting"], [("2回目", "痛い")])
    assert result.stopped_by_pain == "patella_setting" and result.pain_reported == ("patella_setting",)
    assert result.completed == () and result.stopped and result.ended_by == "pain"
    rest = after(mouth.said, "2回目")
    stop_at = rest.index(book.say("pain_stop"))
    assert "3回目" not in rest
    assert rest[stop_at:] == [book.say("pain_stop"), book.say("pain_advice"), book.say("pain_see_doctor"),
                              book.say("goodbye_pain")]
    assert "がまんして続けないで" in book.say("pain_advice")  # not to push through pain
    assert ex.rep[0].short not in rest[stop_at:]


def test_pain_then_next_goes_on_to_the_next_exercise(book):
    result, mouth, _, _ = run(book, ["knee_extension", "heel_raise"],
                              [("1回目", "痛い"), (book.say("pain_choice"), "次")])
    assert result.stopped_by_pain == "knee_extension"
    assert result.completed == ("heel_raise",) and not result.stopped and result.ended_by == "finished"
    rest = after(mouth.said, book.say("pain_see_doctor"))
    assert rest[:3] == [book.say("pain_choice"), book.say("pain_next"), book.say("exercise_next", name="かかと上げ")]
    assert mouth.said[-1] == book.say("goodbye_finished")


@pytest.mark.parametrize("answer", ["終わり", "やめる", "そうですね", "痛い"])
def test_pain_then_anything_but_next_ends(book, answer):
    result, mouth, _, _ = run(book, ["knee_extension", "heel_raise"],
                              [("1回目", "痛い"), (book.say("pain_choice"), answer)])
    assert result.ended_by == "pain" and result.completed == ()
    assert mouth.said[-2:] == [book.say("pain_choice"), book.say("goodbye_pain")]
    assert book.say("exercise_next", name="かかと上げ") not in mouth.said


def test_pain_choice_is_asked_again_after_silence_then_ends(book):
    result, mouth, _, _ = run(book, ["knee_extension", "heel_raise"], [("1回目", "痛い")])
    assert mouth.said.count(book.say("pain_choice")) == 2
    assert result.ended_by == "pain" and mouth.said[-1] == book.say("goodbye_pain")


def test_pain_choice_when_input_ends(book):
    result, mouth, _, _ = run(book, ["knee_extension", "heel_raise"],
                              [("1回目", "痛い"), (book.say("pain_choice"), None)])
    assert result.ended_by == "pain" and mouth.said[-1] == book.say("goodbye_pain")


def test_last_exercise_pain_does_not_offer_a_next_one(book):
    _, mouth, _, _ = run(book, ["heel_raise"], [("1回目", "ズキッとした")])
    assert book.say("pain_choice") not in mouth.said


@pytest.mark.parametrize("words", ["痛いからやめる", "ちょっと待って、痛い", "膝が 痛くなった", "あ、ズキッとしました", "ピリッときた",
                                   "膝が　痛いです", "ふくらはぎがズキズキします"])
def test_any_pain_report_wins_over_other_words(book, words):
    # The exact test matcher knows none of these sentences; the pain phrases inside them decide.
    result, _, _, _ = run(book, ["chair_squat"], [("1回目", words)])
    assert result.ended_by == "pain" and result.stopped_by_pain == "chair_squat"


def test_saying_it_does_not_hurt_is_no_pain_report(book):
    result, _, _, _ = run(book, ["chair_squat"], [("1回目", "痛くないです")])
    assert result == CoachResult(completed=("chair_squat",))


def test_pain_during_a_long_hold_stops_before_the_hold_ends(book):
    hold_start = book.say("hold_long_start", seconds=20)
    result, mouth, _, _ = run(book, ["hamstring_stretch"], [(hold_start, "痛い")])
    assert result.ended_by == "pain"
    rest = after(mouth.said, hold_start)
    assert rest[0] == book.say("pain_stop")
    assert book.say("hold_cue", seconds=10) not in rest and book.say("hold_end") not in rest


def test_pain_before_starting_gives_advice_and_starts_nothing(book):
    result, mouth, _, _ = run(book, ["chair_squat"], [(book.say("ready"), "痛い")])
    assert result.ended_by == "pain" and result.completed == () and result.stopped_by_pain is None
    assert mouth.said[-3:] == [book.say("pain_advice"), book.say("pain_see_doctor"), book.say("goodbye_pain")]
    assert "1回目" not in mouth.said


def test_pain_while_paused(book):
    result, _, _, _ = run(book, ["chair_squat"], [("1回目", "待って"), (book.say("paused"), "痛む")])
    assert result.ended_by == "pain"


# --- the other voice commands ---------------------------------------------------------------------

def test_next_after_a_repetition_skips_to_the_next_exercise(book):
    result, mouth, _, _ = run(book, ["chair_squat", "heel_raise"], [("2回目", "次")])
    assert result.skipped == ("chair_squat",) and result.completed == ("heel_raise",)
    rest = after(mouth.said, "2回目")
    assert "3回目" not in rest[:rest.index(book.say("exercise_next", name="かかと上げ"))]
    assert book.say("skip_exercise", name="椅子からの立ち座り") in rest
    assert not result.stopped


def test_next_during_setup_moves_on_without_waiting(book):
    ex = book.exercise("chair_squat")
    first, second = ex.setup[0].say, ex.setup[1].say
    _, mouth, _, _ = run(book, ["chair_squat"], [(first, "次へ")])
    assert mouth.time_of(second) == mouth.time_of(first)  # no waiting left after "next"
    _, mouth, _, _ = run(book, ["chair_squat"])
    assert mouth.time_of(second) - mouth.time_of(first) == pytest.approx(ex.setup[0].wait_s)


def test_next_during_a_long_hold_ends_the_hold(book):
    hold_start = book.say("hold_long_start", seconds=20)
    result, mouth, _, _ = run(book, ["calf_stretch"], [(hold_start, "次")])
    assert result.completed == ("calf_stretch",)
    rest = after(mouth.said, hold_start)
    assert rest[0] == book.say("next_ack")
    assert rest[1] == book.exercise("calf_stretch").rep[1].say  # straight on to the release
    assert mouth.said.count(book.say("hold_cue", seconds=10)) == 3  # the other three holds ran in full


def test_next_during_rest_ends_the_rest(book):
    rest_line = book.say("rest", seconds=60)
    result, mouth, _, _ = run(book, ["chair_squat"], [(rest_line, "次")])
    assert result.completed == ("chair_squat",)
    assert after(mouth.said, rest_line)[:2] == [book.say("next_ack"), book.say("set_start", number=2)]
    assert book.say("rest_cue", seconds=10) not in mouth.said


def test_repeat_after_a_repetition_does_it_again_in_full(book):
    ex = book.exercise("heel_raise")
    result, mouth, _, _ = run(book, ["heel_raise"], [("3回目", "もう一度")])
    assert result.completed == ("heel_raise",)
    rest = after(mouth.said, "3回目")
    assert rest[rest.index(book.say("repeat_ack")) + 1:][:3] == ["3回目", ex.rep[0].say, ex.rep[1].say]
    assert mouth.said.count("3回目") == ex.sets + 1 and mouth.said.count("4回目") == ex.sets


def test_repeat_during_setup_says_the_step_again(book):
    step = book.exercise("knee_extension").setup[0].say
    _, mouth, _, _ = run(book, ["knee_extension"], [(step, "もう一回")])
    assert mouth.said.count(step) == 2
    assert after(mouth.said, step)[0] == book.say("repeat_ack")


def test_repeat_during_a_long_hold_starts_the_hold_again(book):
    hold_start = book.say("hold_long_start", seconds=20)
    result, mouth, _, _ = run(book, ["calf_stretch"], [(hold_start, "もう一度")])
    assert result.completed == ("calf_stretch",)
    assert mouth.said.count(hold_start) == 5  # four holds, the first one twice
    assert after(mouth.said, hold_start)[:2] == [book.say("repeat_ack"), hold_start]


def test_repeat_at_the_start_repeats_the_safety_check(book):
    _, mouth, _, _ = run(book, ["heel_raise"], [(book.say("ready"), "もう一度")])
    assert mouth.said.count(book.safety[0]) == 2


def test_slower_stretches_counting_from_then_on(book):
    result, mouth, clock, _ = run(book, ["patella_setting"], [("2回目", "ゆっくり")])
    assert result.completed == ("patella_setting",)
    assert book.say("slower_ack") in mouth.said
    runs = [i for i in range(len(mouth.said)) if mouth.said[i:i + 5] == ["1", "2", "3", "4", "5"]]
    gaps = [round(mouth.times[i + 1] - mouth.times[i], 6) for i in runs]
    assert gaps[:2] == [1.0, 1.0]  # before "slower"
    assert set(gaps[2:]) == {1.5}  # every count after it


def test_slower_also_slows_movements_and_has_a_limit(book):
    ex = book.exercise("heel_raise")
    cues = [("1回目", "ゆっくり"), ("2回目", "もっとゆっくり"), ("3回目", "ゆっくりして")]
    _, mouth, _, _ = run(book, ["heel_raise"], cues)
    assert mouth.said.count(book.say("slower_ack")) == 2 and book.say("slowest") in mouth.said
    up, down = ex.rep[0].short, ex.rep[1].short
    last_up = max(i for i, s in enumerate(mouth.said) if s == up)
    assert mouth.times[last_up + 1] - mouth.times[last_up] == pytest.approx(ex.rep[0].wait_s * 2.0)
    assert mouth.said[last_up + 1] == down


def test_slow_start(book):
    _, mouth, _, _ = run(book, ["patella_setting"], slow=True)
    i = mouth.said.index("1")
    assert mouth.times[i + 1] - mouth.times[i] == pytest.approx(1.5)


def test_pause_waits_until_told_to_go_on(book):
    cues = [("2回目", "ちょっと待って"), (book.say("still_paused"), "続けて")]
    result, mouth, _, _ = run(book, ["chair_squat"], cues)
    assert result.completed == ("chair_squat",)
    rest = after(mouth.said, "2回目")
    paused_at = rest.index(book.say("paused"))
    assert rest[paused_at + 1:paused_at + 4] == [book.say("still_paused"), book.say("resumed"), "3回目"]


@pytest.mark.parametrize("go_on, then", [("次", "skip"), ("もう一度", "repeat")])
def test_pause_ended_by_next_or_repeat(book, go_on, then):
    result, mouth, _, _ = run(book, ["chair_squat", "heel_raise"], [("2回目", "待って"), (book.say("paused"), go_on)])
    if then == "skip":
        assert result.skipped == ("chair_squat",)
    else:
        assert result.completed == ("chair_squat", "heel_raise")
        assert after(mouth.said, book.say("paused"))[:2] == [book.say("repeat_ack"), "2回目"]


def test_pause_stops_the_clock_of_a_hold(book):
    hold_start = book.say("hold_long_start", seconds=20)
    cues = [(hold_start, "一時停止"), (book.say("still_paused"), "続けて")]
    _, mouth, _, _ = run(book, ["calf_stretch"], cues, real_time=True)
    paused = mouth.time_of(book.say("resumed")) - mouth.time_of(book.say("paused"))
    assert paused == pytest.approx(book.timing.pause_listen_s)  # one silent turn, then "続けて"
    held = mouth.time_of(book.say("hold_end")) - mouth.time_of(hold_start)
    assert held == pytest.approx(20 + paused, abs=book.timing.listen_s)


def test_a_long_pause_ends_politely(book):
    result, mouth, _, ears = run(book, ["chair_squat"], [("1回目", "待って")])
    assert result.ended_by == "pause_timeout" and result.stopped
    assert mouth.said.count(book.say("still_paused")) == book.timing.pause_reminders - 1
    assert mouth.said[-1] == book.say("goodbye_pause_timeout")
    assert ears.contexts[-1].timeout_s == book.timing.pause_listen_s


@pytest.mark.parametrize("words", ["やめる", "終わり", "もういい"])
def test_stop_ends_with_a_kind_goodbye(book, words):
    result, mouth, _, _ = run(book, ["chair_squat", "heel_raise"], [("2回目", words)])
    assert result.stopped and result.ended_by == "stop" and result.completed == ()
    assert after(mouth.said, "2回目")[-1] == book.say("goodbye_stopped")
    assert "3回目" not in after(mouth.said, "2回目")


def test_stop_before_starting_and_while_paused(book):
    result, mouth, _, _ = run(book, ["chair_squat"], [(book.safety[-1], "やめる")])
    assert result.ended_by == "stop" and "1回目" not in mouth.said
    result, _, _, _ = run(book, ["chair_squat"], [("1回目", "待って"), (book.say("paused"), "やめます")])
    assert result.ended_by == "stop"


def test_input_ended_stops_politely(book):
    clock = FakeClock()
    mouth = TimedMouth(clock)
    result = run_coach(["chair_squat"], book=book, ears=ScriptedEars([""] * 3), mouth=mouth, clock=clock,
                       match_command=exact_matcher(book))
    assert result.ended_by == "no_input" and result.stopped
    assert mouth.said[-1] == book.say("goodbye_no_input")


def test_silence_and_other_words_carry_on(book):
    cues = [("1回目", "えーと"), ("2回目", ""), ("3回目", "いち、に、さん")]
    result, _, _, _ = run(book, ["chair_squat"], cues)
    assert result == CoachResult(completed=("chair_squat",))


def test_timed_out_turns_are_silence_whatever_the_text(book):
    class TimedOutPain:
        def listen(self, context):
            return Heard(text="痛い", timed_out=True)

    result, _, _, _ = run(book, ["heel_raise"], ears=TimedOutPain())
    assert result.completed == ("heel_raise",)


def test_log_records_commands_and_the_end(book):
    events = []
    run(book, ["chair_squat"], [("2回目", "痛い")], log=events.append)
    assert {"type": "coach_heard", "exercise": "chair_squat", "text": "痛い", "command": "pain"} in events
    assert events[-1]["type"] == "coach_end" and events[-1]["ended_by"] == "pain"


# --- choosing exercises ----------------------------------------------------------------------------

def test_unknown_ids_are_refused_before_anything_is_said(book):
    mouth = RecordingMouth()
    with pytest.raises(UnknownExerciseError) as err:
        run_coach(["patella_setting", "jumping"], book=book, ears=ScriptedEars([]), mouth=mouth,
                  clock=FakeClock(), match_command=exact_matcher(book))
    assert err.value.unknown == ("jumping",) and "jumping" in err.value.message
    assert mouth.said == []


def test_no_ids_means_the_defaults_and_repeats_are_dropped(book):
    assert tuple(e.id for e in resolve_exercises([], book)) == book.default_exercises
    assert tuple(e.id for e in resolve_exercises(["heel_raise", "heel_raise", "calf_stretch"], book)) == (
        "heel_raise", "calf_stretch")


# --- with the real matcher -------------------------------------------------------------------------

def test_real_matcher_understands_the_commands(book):
    pytest.importorskip("voicecheck.matcher")
    match = command_matcher(book)
    for words, command in [("次", "next"), ("もう一回", "repeat"), ("もっとゆっくり", "slower"),
                           ("ちょっと待って", "pause"), ("やめる", "stop"), ("痛い", "pain"), ("続けて", "resume")]:
        assert match(words) == command, words


def test_real_matcher_pain_stop(book):
    pytest.importorskip("voicecheck.matcher")
    clock = FakeClock()
    mouth = TimedMouth(clock)
    ears = CueEars(mouth, [("2回目", "いたい")], clock)
    result = run_coach(["patella_setting"], book=book, ears=ears, mouth=mouth, clock=clock,
                       match_command=command_matcher(book))
    assert result.ended_by == "pain" and book.say("pain_advice") in mouth.said


def test_no_spoken_line_tells_to_hold_the_breath(book):
    _, mouth, _, _ = run(book, list(EXERCISE_IDS))
    for line in mouth.said:
        assert "息を止めて" not in line and "息を止めます" not in line
