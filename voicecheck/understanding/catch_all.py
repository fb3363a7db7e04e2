"""The "other" option of the situations question: a moment none of the options names.

「お風呂をまたぐとき」 names a moment ([catch_all] markers in answers.toml) that is none of the
options: it is "other", read back. "Other" beside a named moment (「正座していて、立ち上がろうと
したとき」) may be where the named moment happened or a moment of its own: read back too.
"""
from __future__ import annotations

from voicecheck.understanding.decision import CONFLICT_CAP, Match, result
from voicecheck.understanding.evidence import ECHO, Evidence
from voicecheck.understanding.phrase_index import PhraseSet, compile_phrase, find
from voicecheck.understanding.utterance import Utterance, is_content

CATCH_ALL_SCORE = 70.0  # read back


class CatchAll:
    def __init__(self, rule) -> None:
        self.question, self.option = rule.question, rule.option
        self._markers = PhraseSet.of([p for t in rule.markers if (p := compile_phrase(t, rule.option, "caution", ECHO))])

    def other(self, question_id: str, u: Utterance, covered: list[bool], neutral: frozenset[str],
              found: list[Evidence], asks_back) -> Match | None:
        """"other", read back, when no option was found but a moment was named (see the module doc).
        `asks_back(u)`: whether the words ask a question back (then they are no answer)."""
        if question_id != self.question or any(e.kind != "correction" for e in found):
            return None
        if not any(find(p, u) for p in self._markers.candidates(u)):
            return None
        said = [t for i, t in enumerate(u.tokens) if not covered[i] and is_content(t, neutral)]
        if not said or asks_back(u):
            return None
        return Match(option_ids=(self.option,), score=CATCH_ALL_SCORE, decision="confirm", cautions=("catch_all",))

    def with_other(self, question_id: str, match: Match) -> Match:
        """An accepted answer holding "other" beside a named moment: read back."""
        if (question_id == self.question and match.decision == "accept"
                and self.option in match.option_ids and len(match.option_ids) > 1):
            return result(match.option_ids, min(match.score, CONFLICT_CAP))
        return match
