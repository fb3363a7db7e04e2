"""Test doubles for the conversation engine: a matcher that understands ids, not Japanese.

They let the engine's logic (commands, retries, confirmation, saving) be tested on its own;
the real matcher has its own tests and corpus.
"""
from __future__ import annotations

from dataclasses import dataclass

COMMANDS = ("repeat", "back", "skip", "help", "stop")


@dataclass(frozen=True)
class FakeMatch:
    option_ids: tuple[str, ...] = ()
    command: str | None = None
    text: str | None = None
    score: float = 0.0
    decision: str = "reprompt"
    cautions: tuple[str, ...] = ()


class IdMatcher:
    """'yes' → option yes; 'a+b' → several; '?yes' → the same but uncertain; '!stop' → command stop; '?!stop' → the same, doubtful."""

    def __init__(self, content) -> None:
        self.content = content
        self.calls: list[tuple[str, str]] = []

    def phrases(self, question_id: str) -> tuple[str, ...]:
        return (question_id,)

    def understand(self, question_id: str, heard) -> FakeMatch:
        return self.match(question_id, heard.text)

    def match(self, question_id: str, heard: str) -> FakeMatch:
        self.calls.append((question_id, heard))
        heard = heard.strip()
        if heard.startswith("!") and heard[1:] in COMMANDS:
            return FakeMatch(command=heard[1:], score=100, decision="accept")
        if heard.startswith("?!") and heard[2:] in COMMANDS:
            return FakeMatch(command=heard[2:], score=70, decision="confirm")
        decision = "accept"
        if heard.startswith("?"):
            decision, heard = "confirm", heard[1:]
        if question_id == "yes_no":
            allowed = ("yes", "no", "unknown")
            kind = "yes_no"
        else:
            question = self.content.question(question_id)
            kind = question.kind
            allowed = question.option_ids + (("yes", "no", "unknown") if kind == "yes_no" else ())
        if kind == "free_text":
            return FakeMatch(text=heard, score=100, decision=decision) if heard else FakeMatch()
        ids = tuple(heard.split("+"))
        if all(i in allowed for i in ids) and (kind == "multi" or len(ids) == 1):
            return FakeMatch(option_ids=ids, score=90 if decision == "accept" else 70, decision=decision)
        return FakeMatch(score=10)
