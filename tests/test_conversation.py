from __future__ import annotations

from voicecheck.content import QUESTION_ORDER
from voicecheck.conversation import Progress, Questionnaire
from voicecheck.interfaces import Heard, ListenContext, RecordingMouth, ScriptedEars
from voicecheck.talk import Talk
from tests.fakes import FakeMatch, IdMatcher

ALL_NO = ["no", "stairs_down+standing_up", "weekly"] + ["no"] * 13 + ["3か月前から"]


def make(content, answers, *, retries=3, confirm=True):
    ears, mouth, events, saves = ScriptedEars(answers), RecordingMouth(), [], []
    talk = Talk(content, IdMatcher(content), ears, mouth, events.append)
    q = Questionnaire(talk, save=lambda p: saves.append(p.to_json()), retries=retries, confirm=confirm)
    return q, ears, mouth, events, saves


def test_full_questionnaire_records_every_answer_in_contract_order(content):
    q, ears, mouth, events, saves = make(content, ALL_NO)
    progress = Progress()
    assert q.run(progress) == "complete"
    assert list(progress.answers) == list(QUESTION_ORDER)
    values = progress.answer_values()
    assert values["situations"] == ("stairs_down", "standing_up")
    assert values["frequency"] == "weekly"
    assert values["since_when"] == "3か月前から"
    assert values["swelling"] == "no"
    assert [c.question_id for c in ears.contexts] == list(QUESTION_ORDER)
    # saved after every answer, so a crash loses nothing already said
    assert len(saves) == len(QUESTION_ORDER)
    assert saves[1]["answers"]["safety_now"]["value"] == "no"
    # options are read out numbered, in contract order
    assert content.say("option_item", number=1, label=content.question("situations").options[0].label) in mouth.said
    assert content.say("option_item", number=3, label=content.question("frequency").options[2].label) in mouth.said


def test_safety_yes_stops_the_questionnaire(content):
    q, ears, mouth, events, saves = make(content, ["yes", "no", "no"])
    progress = Progress()
    assert q.run(progress) == "emergency"
    assert list(progress.answers) == ["safety_now"]
    assert len(ears.answers) == 2  # nothing more was asked
    assert content.question("situations").text not in mouth.said


def test_three_failed_tries_mark_unknown_and_move_on(content):
    answers = ["no", "blah", "", "nonsense"] + ALL_NO[2:]
    q, ears, mouth, *_ = make(content, answers)
    progress = Progress()
    assert q.run(progress) == "complete"
    rec = progress.answers["situations"]
    assert rec.status == "unknown" and rec.value is None
    assert mouth.said.count(content.say("not_understood")) == 1  # "blah"; "" is no answer; the third gives up
    assert content.say("no_answer") in mouth.said
    assert content.say("moving_on_unknown") in mouth.said
    assert content.question("situations").hint in mouth.said


def test_unknown_yes_no_answer_is_recorded_as_unknown(content):
    answers = ["no", "stairs_down", "daily", "unknown"] + ALL_NO[4:]
    q, *_ = make(content, answers)
    progress = Progress()
    q.run(progress)
    assert progress.answer_values()["getting_worse"] == "unknown"
    assert progress.answers["getting_worse"].status == "unknown"


def test_repeat_help_back_skip(content):
    answers = ["no", "!repeat", "turning", "!help", "daily", "!back", "sometimes", "!skip"] + ALL_NO[4:]
    q, ears, mouth, events, _ = make(content, answers)
    progress = Progress()
    assert q.run(progress) == "complete"
    sit = content.question("situations")
    assert mouth.said.count(sit.text) == 2  # asked, then repeated
    assert content.question("frequency").help in mouth.said
    assert content.say("back_to_previous") in mouth.said
    # back went to frequency again; the new answer replaced the old one, situations kept
    assert progress.answer_values()["frequency"] == "sometimes"
    assert progress.answer_values()["situations"] == ("turning",)
    assert progress.answers["getting_worse"].status == "skipped"
    assert "getting_worse" not in progress.answer_values()
    assert {"type": "command", "question": "situations", "command": "repeat"} in events


def test_back_at_first_question_and_skip_keeps_previous_answer(content):
    answers = ["!back", "no", "stairs_down", "!back", "!skip"] + ALL_NO[2:]
    q, ears, mouth, *_ = make(content, answers)
    progress = Progress()
    assert q.run(progress) == "complete"
    assert content.say("already_first") in mouth.said
    assert content.say("kept_previous") in mouth.said
    assert progress.answer_values()["situations"] == ("stairs_down",)


def test_uncertain_answer_is_confirmed_and_rejection_asks_again_more_narrowly(content):
    answers = ["no", "?flat_walking", "no", "?turning", "yes"] + ALL_NO[2:]
    q, ears, mouth, *_ = make(content, answers)
    progress = Progress()
    q.run(progress)
    labels = content.question("situations")
    read_back = mouth.said.index(content.say("confirm_option", label=labels.option("flat_walking").label))
    # Refused: the options are offered again, by number.
    narrow = mouth.said.index(content.say("narrow_options"), read_back)
    assert mouth.said[narrow + 1] == content.say("option_item", number=1, label=labels.options[0].label)
    assert progress.answer_values()["situations"] == ("turning",)
    assert [c.question_id for c in ears.contexts[:5]] == ["safety_now", "situations", "yes_no", "situations", "yes_no"]


def test_refused_yes_no_read_back_asks_for_hai_or_iie(content):
    answers = ["no", "stairs_down", "weekly", "?yes", "no", "no"] + ALL_NO[4:]
    q, ears, mouth, *_ = make(content, answers)
    progress = Progress()
    q.run(progress)
    question = content.question("getting_worse")
    assert content.say("narrow_yes_no", short=question.short) in mouth.said
    assert progress.answer_values()["getting_worse"] == "no"


def test_a_reply_that_is_neither_yes_nor_no_is_asked_about_once_more(content):
    # 「大丈夫です」 at a read-back could mean "that's right" or "no thanks": ask for はい/いいえ.
    answers = ["no", "?flat_walking", "?yes", "yes"] + ALL_NO[2:]
    q, ears, mouth, *_ = make(content, answers)
    progress = Progress()
    q.run(progress)
    assert content.say("confirm_not_understood") in mouth.said
    assert progress.answer_values()["situations"] == ("flat_walking",)


def test_a_doubtful_reply_to_a_read_back_is_never_taken_as_the_answer(content):
    # 「家違います」 (「いいえ、違います」 misheard) refuses the read-back; at the question itself the
    # same words would answer "no". It is asked about, never recorded as the answer.
    class Replies(IdMatcher):
        def match(self, question_id, heard):
            if heard == "家違います":
                return FakeMatch(option_ids=("no",), score=75 if question_id == "yes_no" else 92,
                                 decision="confirm" if question_id == "yes_no" else "accept")
            return super().match(question_id, heard)

    answers = ["no", "stairs_down", "weekly", "?yes", "家違います", "家違います", "?yes", "yes"] + ALL_NO[4:]
    ears, mouth = ScriptedEars(answers), RecordingMouth()
    talk = Talk(content, Replies(content), ears, mouth, lambda event: None)
    progress = Progress()
    Questionnaire(talk, save=lambda p: None).run(progress)
    assert content.say("confirm_not_understood") in mouth.said
    assert progress.answer_values()["getting_worse"] == "yes"


def test_a_doubtful_stop_is_asked_about_and_refusing_it_continues(content):
    answers = ["no", "?!stop", "no", "stairs_down"] + ALL_NO[2:]
    q, ears, mouth, *_ = make(content, answers)
    progress = Progress()
    assert q.run(progress) == "complete"
    assert content.say("confirm_command_stop") in mouth.said
    assert progress.answer_values()["situations"] == ("stairs_down",)


def test_a_stop_question_answered_unclearly_twice_goes_on_and_says_so(content):
    # Live under the TV a 「はい」 was heard 「開始」 twice; the device went on, but said 「わかりました」
    # as if the person had refused. It goes on (a stop can be said again), saying it did not hear.
    answers = ["no", "?!stop", "blah", "blah", "stairs_down"] + ALL_NO[2:]
    q, ears, mouth, *_ = make(content, answers)
    progress = Progress()
    assert q.run(progress) == "complete"
    assert content.say("command_unclear") in mouth.said and content.say("confirm_rejected") not in mouth.said
    assert progress.answer_values()["situations"] == ("stairs_down",)


def test_a_doubtful_stop_confirmed_stops(content):
    answers = ["no", "?!stop", "yes"]
    q, ears, mouth, *_ = make(content, answers)
    assert q.run(Progress()) == "stopped"


def test_a_doubtful_repeat_is_done_without_asking(content):
    # Only stop, back and skip change the session; repeating the question is harmless.
    answers = ["no", "?!repeat", "stairs_down"] + ALL_NO[2:]
    q, ears, mouth, *_ = make(content, answers)
    progress = Progress()
    assert q.run(progress) == "complete"
    question = content.question("situations")
    assert sum(line == question.text for line in mouth.said) >= 2
    assert progress.answer_values()["situations"] == ("stairs_down",)


def test_no_confirm_accepts_best_match_without_asking(content):
    answers = ["no", "?flat_walking"] + ALL_NO[2:]
    q, ears, mouth, *_ = make(content, answers, confirm=False)
    progress = Progress()
    assert q.run(progress) == "complete"
    assert progress.answer_values()["situations"] == ("flat_walking",)
    assert not any(c.question_id == "yes_no" for c in ears.contexts)


def test_stop_and_end_of_input_keep_answers_given(content):
    q, _, mouth, _, saves = make(content, ["no", "stairs_down", "!stop"])
    progress = Progress()
    assert q.run(progress) == "stopped"
    assert progress.answer_values() == {"safety_now": "no", "situations": ("stairs_down",)}
    assert content.say("stop_confirmed") in mouth.said
    assert saves[-1]["answers"]["situations"]["value"] == ["stairs_down"]

    q, _, _, _, saves = make(content, ["no", "daily+stairs_down", "stairs_down"])
    progress = Progress()
    assert q.run(progress) == "stopped"  # input ran out at frequency
    assert progress.index == 2 and saves[-1]["index"] == 2


def test_resume_continues_where_progress_left_off(content):
    saved = Progress.from_json({"index": 2, "answers": {
        "safety_now": {"value": "no", "status": "answered"},
        "situations": {"value": ["turning"], "status": "answered"}}})
    q, ears, *_ = make(content, ALL_NO[2:])
    assert q.run(saved) == "complete"
    assert ears.contexts[0].question_id == "frequency"
    assert saved.answer_values()["situations"] == ("turning",)
    assert len(saved.answers) == len(QUESTION_ORDER)


class TimeoutEars:
    def __init__(self, then):
        self.then = list(then)
        self.first = True

    def listen(self, context: ListenContext):
        if self.first:
            self.first = False
            return Heard(text="", timed_out=True)
        return Heard(text=self.then.pop(0)) if self.then else None


def test_timeout_reprompts_and_counts_as_a_try(content):
    ears, mouth, events = TimeoutEars(ALL_NO), RecordingMouth(), []
    talk = Talk(content, IdMatcher(content), ears, mouth, events.append)
    progress = Progress()
    assert Questionnaire(talk, save=lambda p: None).run(progress) == "complete"
    assert content.say("no_answer") in mouth.said
    assert content.question("safety_now").hint in mouth.said
    assert progress.answer_values()["safety_now"] == "no"


def test_a_new_answer_given_instead_of_yes_or_no_is_taken_as_the_answer(content):
    answers = ["no", "?flat_walking", "turning"] + ALL_NO[2:]
    q, ears, mouth, *_ = make(content, answers)
    progress = Progress()
    assert q.run(progress) == "complete"
    assert progress.answer_values()["situations"] == ("turning",)
    assert content.say("confirm_rejected") not in mouth.said
    assert content.say("acknowledged_option", label=content.question("situations").option("turning").label) in mouth.said


def test_stop_during_confirmation_stops(content):
    q, ears, mouth, *_ = make(content, ["no", "?flat_walking", "!stop", "no"])
    progress = Progress()
    assert q.run(progress) == "stopped"
    assert "situations" not in progress.answers and len(ears.answers) == 1


class PreparingMouth(RecordingMouth):
    """Also keeps what it was told it will probably say next, and when (after how many phrases)."""

    def __init__(self) -> None:
        super().__init__()
        self.prepared: list[tuple[int, tuple[str, ...]]] = []

    def prepare(self, texts) -> None:
        self.prepared.append((len(self.said), tuple(texts)))


def test_the_reply_to_each_question_is_prepared_while_the_person_answers(content):
    ears, mouth, events = ScriptedEars(["no", "stairs_down", "daily"] + ALL_NO[3:]), PreparingMouth(), []
    q = Questionnaire(Talk(content, IdMatcher(content), ears, mouth, events.append), save=lambda p: None)
    q.run(Progress())
    said_before, first = mouth.prepared[0]
    assert mouth.said[said_before - 1] == content.question("safety_now").text  # right after the question
    assert set(first) == {content.say("acknowledged_option", label=content.say(v)) for v in ("yes_label", "no_label")} | {
        content.say("question_number", number=2, total=len(content.questions))}  # said next after a read-back
    frequency = mouth.prepared[2][1]
    assert content.say("acknowledged_option", label=content.question("frequency").option("daily").label) in frequency
    # the acknowledgement actually said after 「いいえ」 is the one prepared
    assert content.say("acknowledged_option", label=content.say("no_label")) in mouth.said


class ForeseeingEars(ScriptedEars):
    """Hears each answer in its last pause first (tells `context.foresee`), as the microphone does."""

    def listen(self, context: ListenContext) -> Heard | None:
        heard = super().listen(context)
        if heard is not None and context.foresee is not None:
            context.foresee(heard)
        return heard


def test_the_reply_to_an_answer_heard_in_its_pause_is_made_before_the_turn_ends(content):
    # accepted, read back ("?" = a doubtful match), not understood, then understood; a command
    answers = ["no", "?flat_walking", "yes", "blah", "daily", "!repeat", "no", "!stop"]
    ears, mouth, events = ForeseeingEars(answers), PreparingMouth(), []
    q = Questionnaire(Talk(content, IdMatcher(content), ears, mouth, events.append), save=lambda p: None)
    q.run(Progress())
    foreseen = [(at, texts[0]) for at, texts in mouth.prepared if len(texts) == 1]
    flat = content.question("situations").option("flat_walking").label
    assert [text for _, text in foreseen] == [
        content.say("acknowledged_option", label=content.say("no_label")),
        content.say("confirm_option", label=flat),
        content.say("not_understood"),
        content.say("acknowledged_option", label=content.question("frequency").option("daily").label),
        content.say("acknowledged_option", label=content.say("no_label")),  # after the repeated question
        content.say("stop_confirmed"),
    ]  # the 「はい」 to a read-back and 「もう一回」 are not: what follows them depends on more than the answer
    for at, text in foreseen:
        assert mouth.said[at] == text  # each one is exactly what the device said next


def test_the_replies_to_a_read_back_and_to_a_doubtful_command_are_prepared_before_the_reply(content):
    # situations read back; the reply is unclear (「はい」か「いいえ」で…), then no (the narrower
    # reprompt); later a doubtful stop is asked about and refused.
    answers = ["no", "?flat_walking", "blah", "no", "stairs_down", "?!stop", "no", "!stop"]
    ears, mouth, events = ScriptedEars(answers), PreparingMouth(), []
    q = Questionnaire(Talk(content, IdMatcher(content), ears, mouth, events.append), save=lambda p: None)
    q.run(Progress())
    after_read_back = [texts for at, texts in mouth.prepared
                       if mouth.said[at - 1] == content.say("confirm_option",
                                                            label=content.question("situations").option("flat_walking").label)]
    assert after_read_back and content.say("confirm_not_understood") in after_read_back[0]
    assert content.say("narrow_options") in after_read_back[0] and content.say("stop_confirmed") in after_read_back[0]
    # each reply the device actually gave after a confirmation turn had been prepared before it
    for said in (content.say("confirm_not_understood"), content.say("narrow_options"), content.say("confirm_rejected")):
        at = mouth.said.index(said)
        assert any(said in texts and when <= at for when, texts in mouth.prepared), said
    after_command = [texts for at, texts in mouth.prepared if mouth.said[at - 1] == content.say("confirm_command_stop")]
    assert after_command and set(after_command[0]) == {
        content.say("confirm_not_understood"), content.say("stop_confirmed"), content.say("confirm_rejected")}


def test_after_the_last_try_the_reply_foreseen_is_moving_on(content):
    # situations is not understood three times: asked again twice, then the device moves on
    ears, mouth, events = ForeseeingEars(["no", "blah", "blah", "blah", "!stop"]), PreparingMouth(), []
    q = Questionnaire(Talk(content, IdMatcher(content), ears, mouth, events.append), save=lambda p: None, retries=3)
    q.run(Progress())
    foreseen = [(at, texts[0]) for at, texts in mouth.prepared if len(texts) == 1]
    assert [text for _, text in foreseen][1:4] == [content.say("not_understood"), content.say("not_understood"),
                                                   content.say("moving_on_unknown")]
    for at, text in foreseen:
        assert mouth.said[at] == text
