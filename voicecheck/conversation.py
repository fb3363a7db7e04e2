"""The questionnaire: ask each question, understand the answer, handle commands, never lose an answer.

It talks only to an `Ears`, a `Mouth` and a matcher, so it runs the same in a terminal, on a
speaker, from recorded WAV files, and in tests.
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Literal

from voicecheck.content import UNKNOWN, Question
from voicecheck.interfaces import Heard
from voicecheck.talk import YES_NO, InputEnded, MatchLike, Talk

AnswerStatus = Literal["answered", "unknown", "skipped"]
Outcome = Literal["complete", "stopped", "emergency"]


@dataclass(frozen=True)
class AnswerRecord:
    question_id: str
    status: AnswerStatus
    value: str | tuple[str, ...] | None  # option id, several ids (multi), or the words (free text)
    heard: str = ""
    score: float = 0.0

    def to_json(self) -> dict[str, Any]:
        value = list(self.value) if isinstance(self.value, tuple) else self.value
        return {"value": value, "status": self.status, "heard": self.heard, "score": round(self.score, 1)}

    @staticmethod
    def from_json(question_id: str, data: dict[str, Any]) -> "AnswerRecord":
        value = data.get("value")
        return AnswerRecord(question_id, data.get("status", "answered"),
                            tuple(value) if isinstance(value, list) else value,
                            data.get("heard", ""), float(data.get("score", 0.0)))


@dataclass
class Progress:
    """Where the questionnaire stands; saved after every answer so nothing is ever lost."""

    index: int = 0
    answers: dict[str, AnswerRecord] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return {"index": self.index, "answers": {q: a.to_json() for q, a in self.answers.items()}}

    @staticmethod
    def from_json(data: dict[str, Any]) -> "Progress":
        answers = {q: AnswerRecord.from_json(q, a) for q, a in (data.get("answers") or {}).items()}
        return Progress(int(data.get("index", 0)), answers)

    def answer_values(self) -> dict[str, str | tuple[str, ...]]:
        """question id → value, for the assessment; unknown yes/no answers are "unknown"."""
        values: dict[str, str | tuple[str, ...]] = {}
        for qid, record in self.answers.items():
            if record.status == "answered" and record.value is not None:
                values[qid] = record.value
            elif record.status == "unknown":
                values[qid] = UNKNOWN
        return values


class _Navigate(Exception):
    def __init__(self, where: str) -> None:
        self.where = where


# What the device says once a command is done (also made ahead while the reply is awaited).
COMMAND_DONE_PHRASES = {"stop": "stop_confirmed", "skip": "skipped", "back": "back_to_previous"}


class Questionnaire:
    """Asks the contract's questions in order, from `progress.index` on."""

    def __init__(self, talk: Talk, *, save: Callable[[Progress], None], retries: int = 3, confirm: bool = True) -> None:
        self.talk, self.content, self.save = talk, talk.content, save
        self.retries, self.confirm = max(1, retries), confirm
        self._acknowledgement: tuple[str, dict[str, object]] | None = None
        self._whole_answer: Heard | None = None  # an answer the person went on with (see _acknowledge)

    def run(self, progress: Progress) -> Outcome:
        questions = self.content.questions
        try:
            while progress.index < len(questions):
                question = questions[progress.index]
                try:
                    record = self._ask(question, progress)
                except _Navigate as nav:
                    if nav.where == "back":
                        progress.index = max(0, progress.index - 1)
                        self.save(progress)
                        continue
                    return "stopped"
                if record is not None:
                    progress.answers[question.id] = record
                    self.talk.log({"type": "answer", "question": question.id, **record.to_json()})
                progress.index += 1
                self.save(progress)
                # "「はい」ですね" only once the answer is on disk: an answer the person heard
                # acknowledged is never lost, even if the program is killed right after.
                if self._acknowledge(question, progress):
                    continue  # the person went on: the whole answer is judged again, in place of its first part
                if question.id == "safety_now" and record is not None and record.value == "yes":
                    return "emergency"
        except InputEnded:
            self.save(progress)
            return "stopped"
        return "complete"

    # -- one question ---------------------------------------------------------------------------

    def _label(self, question: Question, value: str | tuple[str, ...]) -> str:
        if question.kind == "free_text":
            return str(value)
        if value == UNKNOWN or value == (UNKNOWN,):
            return self.content.say("unknown_label")
        if question.kind == "yes_no":
            return self.content.say({"yes": "yes_label", "no": "no_label"}.get(str(value), "unknown_label"))
        ids = (value,) if isinstance(value, str) else value
        return self.content.say("label_separator").join(question.option(i).label for i in ids)

    def _read_question(self, question: Question, number: int) -> None:
        t = self.talk
        t.say_phrase("question_number", number=number, total=len(self.content.questions))
        t.say(question.text)
        if question.kind in ("single", "multi"):
            t.say_phrase("options_intro_multi" if question.kind == "multi" else "options_intro_single")
            for n, option in enumerate(question.options, start=1):
                t.say_phrase("option_item", number=n, label=option.label)
        following = ([self.content.say("question_number", number=number + 1, total=len(self.content.questions))]
                     if number < len(self.content.questions) else [])
        t.prepare(self._likely_replies(question) + following)  # after 「はい」 to a read-back: the next question

    def _likely_replies(self, question: Question) -> list[str]:
        """What the device says first after a clear answer to `question` (「『いいえ』ですね。」);
        a read-back starts with the same words."""
        if question.kind == "free_text":
            return [self.content.say("acknowledged")]
        values = ("yes", "no") if question.kind == "yes_no" else question.option_ids
        return [self.content.say("acknowledged_option", label=self._label(question, v)) for v in values]

    def _foresee(self, question: Question, tries: int = 0) -> Callable[[Heard], None]:
        """Makes the reply to an answer heard in a pause ready before the turn ends (runs on the
        listener's worker thread while the main thread waits in `listen`). `tries`: the question's
        failed tries so far (after the last one the device moves on instead of asking again)."""
        def prepare_reply(heard: Heard) -> None:
            reply = self._reply_to(question, self.talk.matcher.understand(question.id, heard), heard.text.strip(),
                                   last_try=tries + 1 >= self.retries)
            if reply is not None:
                self.talk.prepare([reply])
        return prepare_reply

    def _reply_to(self, question: Question, match: MatchLike, text: str, last_try: bool = False) -> str | None:
        """What the device says first after `match` (None where it depends on more than the match).
        `last_try`: a reply not understood now ends the question (moving_on_unknown)."""
        if match.command:
            if match.decision == "confirm" and self.confirm and f"confirm_command_{match.command}" in self.content.system:
                return self.content.say(f"confirm_command_{match.command}")
            phrase = COMMAND_DONE_PHRASES.get(match.command)
            return self.content.say(phrase) if phrase else None
        value = self._value(question, match, text)
        if match.decision == "reprompt" or value is None:
            return self.content.say("moving_on_unknown" if last_try else "not_understood")
        label = self._label(question, value)
        if match.decision == "confirm" and self.confirm:
            return self._read_back(question, label)
        if question.kind == "free_text":
            return self.content.say("acknowledged")
        return self.content.say("acknowledged_option", label=label)

    @staticmethod
    def _value(question: Question, match: MatchLike, text: str) -> str | tuple[str, ...] | None:
        """The answer's value as the record keeps it; None when the match holds none."""
        if question.kind == "free_text":
            return match.text or text
        if question.kind == "multi":
            return tuple(match.option_ids) or None
        return match.option_ids[0] if match.option_ids else None

    def _read_back(self, question: Question, label: str) -> str:
        """「『…』でよろしいですか」: the answer read back for the person to agree to."""
        if question.kind == "free_text":
            return self.content.say("confirm_text", text=label)
        return self.content.say("confirm_option", label=label)

    def _hint(self, question: Question) -> None:
        self.talk.say(question.hint)

    def _give_up(self, question: Question, heard: str) -> AnswerRecord:
        self.talk.say_phrase("moving_on_unknown")
        value = UNKNOWN if question.kind == "yes_no" else None
        return AnswerRecord(question.id, "unknown", value, heard)

    def _acknowledge(self, question: Question, progress: Progress) -> bool:
        """Says 「『いいえ』ですね。」 for an answer taken as heard. The device says it after a clear
        first part and a short pause (「いいえ」); the person may go on (「……でも、階段を下りるときは
        あります」), and judged on its first part alone that answer could be wrong. When the rest
        came, the question is back on (its answer so far stays on disk until the whole one replaces
        it) and `_ask` judges the whole answer without reading the question again: True then."""
        if self._acknowledgement is None:
            return False
        phrase, values = self._acknowledgement
        self._acknowledgement = None
        say = lambda: self.talk.say_phrase(phrase, **values)  # noqa: E731
        whole = self.talk.rest_of_answer(question.id, question.text, say, self._foresee(question))
        if whole is None:
            return False
        progress.index -= 1
        self.save(progress)  # stopped now, the session would resume at this question, not after it
        self._whole_answer = whole
        return True

    def _reply(self, question: Question, say: Callable[[], None], went_on: bool) -> Heard | None:
        """Says `say`, the device's reply to an answer that was not taken (asked again, or read
        back), while listening for the rest of that answer: the whole answer when the person was
        going on with it, else None. An answer ended by a pause measured too long (a quiet voice
        under a TV) was cut, and the person is already saying the rest; judged on its first part
        alone it would be asked again and the rest, said under the reply, lost
        (voicecheck.listening.rest_of_answer). A whole answer is not asked about a rest again."""
        if went_on:
            say()
            return None
        return self.talk.rest_of_answer(question.id, question.text, say, self._foresee(question))

    def _confirmation(self, question: Question | None, command: str | None = None) -> tuple[str | None, Heard | None]:
        """The reply to a read-back: ("yes" | "no" | "stop", None), or (None, reply) when the reply
        is a new answer to `question` instead, or (None, None) when it stays unclear.

        A reply that is neither yes nor no nor an answer (「大丈夫です」 could be either) is asked
        about once more: 「はい」か「いいえ」で.
        """
        t = self.talk
        for attempt in range(2):
            t.prepare(self._replies_to_confirmation(question, first=attempt == 0, command=command))
            reply = t.listen(YES_NO)
            verdict = t.yes_no(reply)
            if verdict is not None:
                return verdict, None
            # A reply that is itself a doubtful yes or no (「家違います」 for 「いいえ、違います」) is a
            # reply, not a new answer: read as one, 「違います」 would answer the question "no".
            as_reply = t.understand(YES_NO, reply) if reply.text.strip() else None
            if (question is not None and as_reply is not None and as_reply.decision == "reprompt"
                    and t.understand(question.id, reply).decision != "reprompt"):
                return None, reply
            if attempt == 0:
                t.say_phrase("confirm_not_understood")
        return None, None

    def _replies_to_confirmation(self, question: Question | None, first: bool, command: str | None = None) -> list[str]:
        """What the device may say first after a reply to a read-back or a command's question, made
        ahead like the replies to an answer (`_foresee`): measured live, 「はい」か「いいえ」で… came
        0.10–0.15 s later than a prepared reply, because it was synthesised only once the turn ended.
        (After 「はい」 to a read-back comes the next question's number, prepared when it was read.)"""
        c = self.content
        replies = [c.say("confirm_not_understood")] if first else []
        if question is None:
            done = COMMAND_DONE_PHRASES.get(command or "")
            replies += [c.say(done)] if done else []
            return replies + [c.say("confirm_rejected")] + ([] if first else [c.say("command_unclear")])
        phrase_id, values = self._narrower_opening(question)
        return replies + [c.say(phrase_id, **values), c.say("stop_confirmed")]

    def _command_confirmed(self, command: str) -> bool | None:
        """A session-changing command that was not said clearly is asked about before it is done:
        True (do it), False (the person said no), None (the reply stayed unclear: not done either —
        going on keeps every answer, and a stop can be said again)."""
        self.talk.say_phrase(f"confirm_command_{command}")
        verdict, _ = self._confirmation(None, command)
        if verdict == "yes" or (verdict == "stop" and command == "stop"):
            return True
        return None if verdict is None else False

    def _narrower_reprompt(self, question: Question) -> None:
        """After a refused read-back, ask in the simplest form the question allows."""
        t = self.talk
        phrase_id, values = self._narrower_opening(question)
        t.say_phrase(phrase_id, **values)
        if question.kind in ("single", "multi"):
            for n, option in enumerate(question.options, start=1):
                t.say_phrase("option_item", number=n, label=option.label)

    @staticmethod
    def _narrower_opening(question: Question) -> tuple[str, dict[str, object]]:
        """The first phrase of the narrower question (also made ahead while the reply is awaited)."""
        if question.kind == "yes_no":
            return "narrow_yes_no", {"short": question.short}
        if question.kind in ("single", "multi"):
            return "narrow_options", {}
        return "confirm_rejected", {}

    def _ask(self, question: Question, progress: Progress) -> AnswerRecord | None:
        t = self.talk
        self._acknowledgement = None
        number = progress.index + 1
        # A reply to a confirmation that was a new answer instead, or the whole of an answer the
        # person went on with after the device had replied (then the question is not read again).
        pending, self._whole_answer = self._whole_answer, None
        whole_answer = pending  # its rest was said over the device's voice: read back below
        if pending is None:
            self._read_question(question, number)
        tries = 0
        rest_after_asking_again = False  # the whole answer came while 「聞き取れませんでした」 was said
        while True:
            heard, pending = pending or t.listen(question.id, question.text, self._foresee(question, tries)), None
            text = heard.text.strip()
            if heard.sound_lost:
                # The device's own sound stopped for a moment: not the person's doing, so no try
                # is counted (a card that keeps stopping is given up on: voicecheck.duplex_stream).
                t.say_phrase("sound_lost")
                continue
            if heard.timed_out or not text:
                tries += 1
                if tries >= self.retries:
                    return self._give_up(question, text)
                t.say_phrase("no_answer")
                self._hint(question)
                continue
            match = t.understand(question.id, heard)
            if match.command:
                # Only a command that changes the session is asked about (it has a confirm_command_*
                # phrase); a doubtful "repeat" or "help" costs nothing when done.
                asks = f"confirm_command_{match.command}" in self.talk.content.system
                doubtful = match.decision == "confirm" and self.confirm and asks
                confirmed = self._command_confirmed(match.command) if doubtful else True
                if not confirmed:
                    tries += 1
                    if tries >= self.retries:
                        return self._give_up(question, text)
                    # Measured live under the TV: a 「はい」 to 「ここで終わりにしますか」 heard twice as
                    # 「開始」 was answered 「わかりました」, as if the person had said no.
                    t.say_phrase("confirm_rejected" if confirmed is False else "command_unclear")
                    continue
                t.log({"type": "command", "question": question.id, "command": match.command})
                if match.command == "repeat":
                    self._read_question(question, number)
                elif match.command == "help":
                    t.say(question.help)
                    t.say_phrase("help_commands")
                    self._hint(question)
                elif match.command == "back":
                    if progress.index == 0:
                        t.say_phrase("already_first")
                        self._read_question(question, number)
                    else:
                        t.say_phrase("back_to_previous")
                        raise _Navigate("back")
                elif match.command == "skip":
                    if question.id in progress.answers:
                        t.say_phrase("kept_previous")
                        return None
                    t.say_phrase("skipped")
                    return AnswerRecord(question.id, "skipped", None, text)
                elif match.command == "stop":
                    t.say_phrase("stop_confirmed")
                    raise _Navigate("stop")
                continue
            value = self._value(question, match, text)
            went_on = heard is whole_answer  # its rest was heard already: no second one
            if match.decision == "reprompt" or value is None:
                if went_on and rest_after_asking_again:
                    # The same answer as the first part just asked about, heard whole: the person
                    # answered once, so it costs no second try, and 「聞き取れませんでした」 is not
                    # said twice in a row (measured live, TV 5 dB: 「えっと……」 cut in its pause, then
                    # the whole, both apologised for within 2 s). The hint follows at once.
                    rest_after_asking_again = False
                    self._hint(question)
                    continue
                tries += 1
                if tries >= self.retries:
                    return self._give_up(question, text)
                whole = self._reply(question, lambda: t.say_phrase("not_understood"), went_on)
                if whole is not None:
                    pending = whole_answer = whole  # judged whole, the question not read again
                    rest_after_asking_again = True
                    continue
                self._hint(question)
                continue
            rest_after_asking_again = False
            label = self._label(question, value)
            # The rest of an answer the person went on with was said over the device's acknowledgement,
            # where the recogniser hears least well (the echo canceller takes out what overlaps the
            # device's voice), and people go on after a reply mostly to correct or add to it. Measured
            # live (2026-11-29 15:46): 「たまにです……いや、週に一回はあります」 was heard 「たまにです。
            # 2週に1回はあります」 and taken as "sometimes". Such a whole answer is read back, never just taken.
            said_over_reply = went_on and match.decision == "accept"
            if (match.decision == "confirm" or said_over_reply) and self.confirm:
                if said_over_reply:
                    t.log({"type": "read_back", "question": question.id, "why": "went_on_over_reply"})
                read_back = self._read_back(question, label)
                whole = self._reply(question, lambda: t.say(read_back), went_on)
                if whole is not None:
                    pending = whole_answer = whole
                    continue
                verdict, reply = self._confirmation(question)
                if verdict != "yes":
                    tries += 1
                    if verdict == "stop":
                        t.say_phrase("stop_confirmed")
                        raise _Navigate("stop")
                    if tries >= self.retries:
                        return self._give_up(question, text)
                    if verdict is None and reply is not None:
                        pending = reply  # neither yes nor no: the answer said again, differently
                    else:
                        self._narrower_reprompt(question)
                    continue
            elif question.kind == "free_text":
                self._acknowledgement = ("acknowledged", {})  # said by run() once saved
            else:
                self._acknowledgement = ("acknowledged_option", {"label": label})
            if value == (UNKNOWN,):
                value = UNKNOWN
            status: AnswerStatus = "unknown" if value == UNKNOWN else "answered"
            return AnswerRecord(question.id, status, value, text, match.score)
