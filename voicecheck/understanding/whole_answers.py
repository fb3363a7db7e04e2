"""Answers that count only as the whole answer: 「次」 is skip, 「次の選挙」 is not; 「そう」 alone is yes.

A table entry is matched exactly by reading; the heard answer may carry endings after it
(「ないですね」 finds 「ない」, 「次かな」 finds 「次」) and politeness before it (「すみません、
もう一回」), always cut at word boundaries, so 「名前」 never becomes 「前」 and 「どう」 never
becomes 「どうかな」.
"""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from voicecheck.reading import Token, analyse, normalise, reading
from voicecheck.understanding.phrases import AnswerPhrases


@dataclass(frozen=True)
class WholeAnswer:
    target: str  # answer id or command id
    kind: str  # "answer" | "command"
    misheard: bool  # a known recogniser confusion: read back, never accepted
    text: str  # the entry as written in answers.toml


def _key_and_cuts(tokens: Sequence[Token]) -> tuple[str, frozenset[int]]:
    """The joined reading and the offsets where words start or end (where it may be cut)."""
    parts, cuts, pos = [], {0}, 0
    for t in tokens:
        if t.is_boundary or not t.reading:
            continue
        parts.append(t.reading)
        pos += len(t.reading)
        cuts.add(pos)
    return "".join(parts), frozenset(cuts)


class WholeAnswers:
    def __init__(self, data: AnswerPhrases) -> None:
        self._endings = tuple(sorted({reading(w) for w in data.endings} - {""}, key=len, reverse=True))
        self._politeness = tuple(sorted({reading(w) for w in data.politeness} - {""}, key=len, reverse=True))
        commands: dict[str, WholeAnswer] = {}
        for cid, texts in data.commands_alone.items():
            for t in texts:
                asked = "?" if normalise(t).endswith("?") else ""
                commands.setdefault(self.exact_key(t) + asked, WholeAnswer(cid, "command", False, t))
        answers: dict[str, WholeAnswer] = {}
        for aid, texts in data.yes_no.alone.items():
            for t in texts:
                answers.setdefault(self.exact_key(t), WholeAnswer(aid, "answer", False, t))
        for aid, texts in data.yes_no.misheard.items():
            for t in texts:
                answers.setdefault(self.exact_key(t), WholeAnswer(aid, "answer", True, t))
        commands.pop("", None)
        answers.pop("", None)
        self.commands = commands
        self.yes_no = answers

    @staticmethod
    def exact_key(text: str) -> str:
        return _key_and_cuts(analyse(text))[0]

    def keys(self, tokens: Sequence[Token], strip_politeness: bool) -> list[str]:
        """The heard answer's key, then the same with endings (and politeness) cut at word boundaries."""
        key, cuts = _key_and_cuts(tokens)
        if strip_politeness:
            for word in self._politeness:
                if key.startswith(word) and len(word) in cuts and len(key) > len(word):
                    key = key[len(word):]
                    cuts = frozenset(c - len(word) for c in cuts if c >= len(word))
                    break
        found = [key]
        changed = True
        while changed and key:
            changed = False
            for ending in self._endings + (self._politeness if strip_politeness else ()):
                if key.endswith(ending) and len(key) - len(ending) in cuts and len(key) - len(ending) >= 2:
                    key, changed = key[: -len(ending)], True
                    found.append(key)
                    break
        return found

    def lookup(self, tokens: Sequence[Token], *, yes_no: bool, asked: bool = False) -> WholeAnswer | None:
        for strip in (False, True):
            for key in self.keys(tokens, strip):
                if asked and key + "?" in self.commands:
                    return self.commands[key + "?"]
                if key in self.commands:
                    return self.commands[key]
                if yes_no and key in self.yes_no:
                    return self.yes_no[key]
        return None
