"""Safeguards: answers that are never accepted without a read-back, however well they matched.

A wrong answer taken silently changes the advice and nobody notices; asking again costs one
turn. So, whatever the score:
- a word whose meaning flips with context (大丈夫, 結構, いい, まあ …) is read back;
- a result of one mora (a cough, a buzz heard as 「ドゥッ」) is never an answer;
- a command that changes the session (stop, back, skip) said as one short word is read back;
- an answer hedged as a guess (「腫れてるかもしれない」「たぶん」) or trailing off into a filler
  (「…ことは、まあ」) is read back, and so is a lone topic word (「腰」「階段」);
- an answer that stops on a word that turns it round (「いいえ、でも……」) is read back: the rest,
  unsaid yet, may reverse it;
- on a strict question (the emergency screen) only a clear, unhedged answer is accepted;
- an answer that asks something back (「熱いってどのくらい？」) is not an answer;
- a free-text "since when" answer that names no time is read back before it is kept.
The lists live in answers.toml ([caution]).
"""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace

from voicecheck.reading import Token, normalise, reading
from voicecheck.understanding.decision import Match
from voicecheck.understanding.evidence import ECHO
from voicecheck.understanding.phrase_index import PhraseSet, compile_phrase, find
from voicecheck.understanding.phrases import AnswerPhrases
from voicecheck.understanding.utterance import Utterance

STRICT_ACCEPT_AT = 90.0  # on a strict question an answer needs this score to be taken without a read-back
READ_BACK_SCORE = 70.0  # the score a safeguarded answer is lowered to: read back, never dropped
MIN_ANSWER_MORAE = 2  # fewer morae than this is never an answer


class Safeguards:
    def __init__(self, data: AnswerPhrases) -> None:
        caution = data.caution
        self.context_dependent = frozenset(reading(w) for w in caution.context_dependent) - {""}
        self.intensifiers = frozenset(reading(w) for w in caution.intensifiers) - {""}
        self.session_commands = frozenset(caution.session_commands)
        self.strict_questions = frozenset(caution.strict_questions)
        self._hedges = _phrase_set(caution.hedges)
        self._question_words = _phrase_set(caution.question_words)
        self._time_words = _phrase_set(caution.time_words)
        self._topic_markers = _phrase_set(data.topic_markers)
        self._help_words = _phrase_set(caution.help_words)
        self.turning = frozenset(normalise(w) for w in caution.turning)

    def is_hedged(self, u: Utterance) -> bool:
        """「かもしれない」「たぶん」「気がする」: the answer is a guess."""
        return _found(self._hedges, u)

    def stops_on_a_turn(self, all_tokens: Sequence[Token]) -> bool:
        """True when the last word said (a final ね or よ aside) is a conjunction that turns what came
        before round (「いいえ、でも」「はい、ただ」「ないです、けど」): the answer is not over. As a
        particle (「昔ですけど」) the same word only softens a finished sentence."""
        words = [t for t in all_tokens if not t.is_boundary and t.reading]
        while words and words[-1].pos == "助詞" and words[-1].pos1 == "終助詞":
            words.pop()
        return bool(words) and words[-1].pos == "接続詞" and (
            normalise(words[-1].surface) in self.turning or words[-1].base in self.turning)

    def names_a_time(self, u: Utterance) -> bool:
        return _found(self._time_words, u)

    def asks_back(self, u: Utterance) -> str | None:
        """"help" when the answer asks what the question means (「熱いってどのくらい？」),
        "question" when it asks something else back (「熱はありますか」), None for an answer."""
        tokens = [t for t in u.tokens if t.reading or t.surface in ("?", "？")]
        if not tokens:
            return None
        ends_with_mark = tokens[-1].surface in ("?", "？")
        # Only the last sentence asks: 「何もないです。あなたは？」 answers, then asks back.
        last_clause = len(tokens) - 1 if ends_with_mark else len(tokens)
        start = max((i + 1 for i, t in enumerate(tokens[:last_clause]) if t.is_boundary), default=0)
        words = [t for t in tokens[start:] if not t.is_boundary]
        if not words:
            return None
        u = Utterance.of(words)
        last = words[-1]
        # 「ありますか」「ですか」: か after a verb, an adjective or です/ます asks; 「何回か」 does not.
        # 「ありますか」「ですか」: か after a verb, an adjective or です/ます asks; 「何回か」 does not,
        # nor does 「あるかないか」 (one or the other).
        asks = (last.pos == "助詞" and last.base == "か" and len(words) >= 2
                and words[-2].pos in ("動詞", "形容詞", "助動詞")
                and not any(t.surface.endswith("か") for t in words[:-1]))
        if not (asks or (ends_with_mark and _found(self._question_words, u))):
            return None
        # About a word of the question (「熱いって…」「腫れとは…」) or why it is asked: help.
        return "help" if _found(self._topic_markers, u) or _found(self._help_words, u) else "question"

    def is_context_dependent(self, phrase: str) -> bool:
        return reading(phrase) in self.context_dependent

    def rests_on_context(self, deciding: tuple[str, ...]) -> bool:
        """Does the answer rest on context-dependent words alone? An intensifier beside one
        (「全然大丈夫です」) makes it no clearer."""
        if not any(self.is_context_dependent(p) for p in deciding):
            return False
        return all(self.is_context_dependent(p) or reading(p) in self.intensifiers for p in deciding)

    def apply(self, question_id: str, match: Match, *, deciding: tuple[str, ...] = (), morae: int = 99,
              clear_command: bool = True, hedged: bool = False, guess: bool = False,
              one_word: bool = False, one_sign_denied: bool = False, unfinished: bool = False) -> Match:
        """The match, lowered to a read-back where a safeguard says so (reasons in `cautions`).

        `deciding`: the phrases the answer rests on; `morae`: the spoken length of what was
        heard; `clear_command`: the command was said in words that leave no doubt; `hedged`:
        the answer carried a correction or contradiction; `guess`: it was said as a guess;
        `one_sign_denied`: a no that rests only on one thing asked about, denied (「漏れないです」);
        `unfinished`: it stops on a word that turns it round (`stops_on_a_turn`).
        """
        if match.decision != "accept":
            return match
        reasons: list[str] = []
        if match.command:
            if match.command in self.session_commands and (
                    not clear_command or self.rests_on_context(deciding)):
                reasons.append("unclear_command")
        else:
            if morae < MIN_ANSWER_MORAE:
                return Match(score=0.0, cautions=("too_short",))
            # Only when the answer rests on such words alone: 「いいえ、大丈夫です」 is clear.
            if self.rests_on_context(deciding):
                reasons.append("context_dependent")
            if guess:
                reasons.append("guess")
            if one_word:
                reasons.append("one_word")
            if unfinished:
                reasons.append("unfinished")
            if question_id in self.strict_questions and (hedged or match.score < STRICT_ACCEPT_AT):
                reasons.append("strict_question")
            elif question_id in self.strict_questions and one_sign_denied:
                # The emergency screen asks about several signs at once: denying one (「歩けます」,
                # or 「漏れない」 misheard from other words) is no "none of these".
                reasons.append("one_sign_denied")
        if not reasons:
            return match
        return replace(match, score=min(match.score, READ_BACK_SCORE), decision="confirm",
                       cautions=match.cautions + tuple(reasons))


def _phrase_set(texts) -> PhraseSet:
    return PhraseSet.of([p for t in texts if (p := compile_phrase(t, "caution", "caution", ECHO))])


def _found(phrases: PhraseSet, u: Utterance) -> bool:
    return any(find(p, u) for p in phrases.candidates(u))
