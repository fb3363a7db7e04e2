"""Speaking and listening for a conversation: every turn written to the transcript.

`Talk` is what a session (the questionnaire, its offers and read-backs, a room's session on a
satellite) says and hears through: it speaks with a `Mouth`, listens with `Ears`, judges with a
matcher, and logs each turn.
"""
from __future__ import annotations

from collections.abc import Callable
from typing import Any, Protocol

from voicecheck.content import Content
from voicecheck.interfaces import Ears, Heard, ListenContext, Mouth

YES_NO = "yes_no"  # pseudo question id for confirmations and offers (see voicecheck.matcher)


class MatchLike(Protocol):
    option_ids: tuple[str, ...]
    command: str | None
    text: str | None
    score: float
    decision: str
    cautions: tuple[str, ...]


class MatcherLike(Protocol):
    def match(self, question_id: str, heard: str) -> MatchLike: ...

    def understand(self, question_id: str, heard: Heard) -> MatchLike: ...

    def phrases(self, question_id: str) -> tuple[str, ...]: ...


class InputEnded(Exception):
    """The ears have no more input (end of typed input, replay files used up)."""


class Talk:
    """Speaking and listening with every turn written to the transcript."""

    def __init__(self, content: Content, matcher: MatcherLike, ears: Ears, mouth: Mouth,
                 log: Callable[[dict[str, Any]], None], timeout_s: float | None = None) -> None:
        self.content, self.matcher, self.ears, self.mouth = content, matcher, ears, mouth
        self.log, self.timeout_s = log, timeout_s
        self.last_said = ""

    def say(self, text: str, *, slow: bool = False) -> None:
        self.log({"type": "say", "text": text, **({"slow": True} if slow else {})})
        self.last_said = text
        self.mouth.say(text, slow=slow)

    def say_phrase(self, phrase_id: str, **values: object) -> None:
        self.say(self.content.say(phrase_id, **values))

    def prepare(self, texts: list[str]) -> None:
        """Tell the mouth what it will probably say next (a speaker synthesises it ahead)."""
        prepare = getattr(self.mouth, "prepare", None)
        if prepare is not None:
            prepare(texts)

    def listen(self, question_id: str, asked: str | None = None,
               foresee: Callable[[Heard], None] | None = None) -> Heard:
        """The next answer. `asked` is what it answers (default: the last thing said); the
        recogniser reads it as the text before the answer. `foresee` is told what was heard in a
        pause that may end the answer (ListenContext.foresee)."""
        heard = self.ears.listen(self._context(question_id, asked, foresee))
        if heard is None:
            self.log({"type": "input_ended", "question": question_id})
            raise InputEnded
        self._log_heard(question_id, heard)
        return heard

    def rest_of_answer(self, question_id: str, asked: str, meanwhile: Callable[[], None],
                       foresee: Callable[[Heard], None] | None = None) -> Heard | None:
        """Says `meanwhile` (the device's reply to an answer: its acknowledgement, a read-back, or
        asking again); when the person went on with that answer, returns the whole answer
        (voicecheck.listening.rest_of_answer), else None. Ears that cannot hear while the device
        talks have no `rest_of_answer`: then only `meanwhile` is said."""
        rest_of_answer = getattr(self.ears, "rest_of_answer", None)
        if rest_of_answer is None:
            meanwhile()
            return None
        heard = rest_of_answer(self._context(question_id, asked, foresee), meanwhile)
        if heard is not None:
            self._log_heard(question_id, heard, whole_after_reply=True)
        return heard

    def _context(self, question_id: str, asked: str | None, foresee: Callable[[Heard], None] | None) -> ListenContext:
        turn_end = getattr(self.matcher, "turn_end", None)
        return ListenContext(question_id, self.matcher.phrases(question_id), self.timeout_s,
                             self.last_said if asked is None else asked,
                             judge=(lambda heard: turn_end(question_id, heard)) if turn_end else None,
                             foresee=foresee)

    def _log_heard(self, question_id: str, heard: Heard, **extra: object) -> None:
        self.log({"type": "heard", "question": question_id, "text": heard.text, "confidence": heard.confidence,
                  "timed_out": heard.timed_out, "source": heard.source, **extra,
                  **({"sound_lost": True} if heard.sound_lost else {}),
                  **({"alternatives": list(heard.alternatives)} if heard.alternatives else {}),
                  # how the turn went (seconds: waited, speech, endpoint, recognition, early_end …),
                  # so a slow or cut turn can be looked into afterwards
                  **({"timings": {k: round(float(v), 3) for k, v in heard.timings.items()}} if heard.timings else {})})

    def understand(self, question_id: str, heard: Heard) -> MatchLike:
        """What the answer says, from every hypothesis the recogniser kept; logged."""
        match = self.matcher.understand(question_id, heard)
        self.log({"type": "match", "question": question_id, "options": list(match.option_ids),
                  "command": match.command, "score": round(match.score, 1), "decision": match.decision,
                  **({"cautions": list(match.cautions)} if match.cautions else {})})
        return match

    def yes_no(self, heard: Heard) -> str | None:
        """What a reply to a yes/no turn says: "yes", "no", "stop", or None when it is unclear.

        Only a clear reply counts: a word that could mean either (「大丈夫です」「結構です」) or a
        doubtful hearing is unclear, and the caller asks for 「はい」 or 「いいえ」.
        """
        if not heard.text.strip():
            return None
        match = self.understand(YES_NO, heard)
        if match.command == "stop" and match.decision == "accept":
            return "stop"
        if match.decision == "accept" and match.option_ids[:1] in (("yes",), ("no",)):
            return match.option_ids[0]
        return None

    def ask_yes_no(self, retries: int = 2) -> bool | None:
        """A yes/no turn (offers): True, False, or None when it stays unclear."""
        for _ in range(retries):
            verdict = self.yes_no(self.listen(YES_NO))
            if verdict is not None:
                return verdict == "yes"
            self.say_phrase("confirm_not_understood")
        return None
