"""Several hypotheses of one answer → one decision.

A recogniser that keeps several hypotheses (Whisper's beam) often has the right words in the
second or third when the first is a mishearing (「開」 for 「はい」, 「家」 for 「いえ」). The matcher
takes the first hypothesis it can use. Whether the hypotheses agree says how sure the hearing was:
- the first usable hypothesis is accepted only when no other usable hypothesis among the first
  few gives a different answer; otherwise the answer is read back;
- an answer found only in a lower hypothesis is read back, never accepted, unless another
  hypothesis takes the same answer firmly;
- an answer read back only because its reply word was garbled (「言え違います」, the いいえ told by
  its vowels) is taken when two lower hypotheses heard the same answer as said and take it firmly
  (「いえ違います」「いえちがいます」), and no hypothesis says otherwise;
- on a strict question (the emergency screen) only an answer from the first hypothesis that no
  other hypothesis contradicts is accepted;
- an answer the recogniser heard unsurely (low per-token probability) is read back, and so is
  one whose other hypotheses carry a hedge;
- an answer heard mostly as long runs of the question's own words (once, or looping) may be the
  recogniser writing out its prompt: read back;
- an answer another hypothesis hears as nothing but a filler (「うん」 over 「うーん」) is read back;
- what the recogniser itself believes was not speech (a buzz, a cough) is nothing heard.
"""
from __future__ import annotations

import re
from dataclasses import replace
from difflib import SequenceMatcher
from typing import Protocol

from voicecheck.interfaces import Heard
from voicecheck.understanding.decision import ONLY_FILLERS, Match
from voicecheck.understanding.sound_alikes import REPLY_GUESSED, SOUND_ALIKE_COMMAND
from voicecheck.understanding.voicing import REVOICED

COMPARED = 4  # hypotheses compared for agreement (the rest are too unlikely to count)
NOT_SPEECH = 0.8  # Whisper's no-speech probability above which, with a weak hypothesis, nothing was said
WEAK = 0.35  # … and the best hypothesis' per-token probability below which it is weak
# Calibrated on the bench voices (dev part): below this per-token probability the recogniser is
# guessing, and a third of such answers taken without a read-back were wrong.
UNSURE_HEARING = 0.4
# Whisper, given the question as its previous text, sometimes writes the question's words where
# it could not read the answer (「膝が固まったようです」 for 「いや、全然」). A hypothesis made mostly
# of one long run of the question's words is read back (on the dev voices: 6 of 9 such answers
# taken were wrong).
ECHO_RUN_CHARS = 7
ECHO_MORE_CHARS = 4  # … and, after one such run, shorter runs of the question count too
ECHO_SHARE = 0.7
# Cautions about how a hypothesis was heard (a garbled form of the words), not about what was said:
# another hypothesis that heard the same answer as said is not in doubt because of them
# (「もう終わりにします」 first, 「もう張りにします」 second is a stop, not a question about stopping).
HEARING_CAUTIONS = frozenset({SOUND_ALIKE_COMMAND, REVOICED, REPLY_GUESSED})
# Lower hypotheses that must take an answer firmly to lift the read-back of a garbled reply word:
# two, so that the answer is never taken on one hypothesis below the first (the rule above).
HEARD_AS_SAID = 2
_NOT_WORDS = re.compile(r"[\s、。，．,.!?！？「」『』…〜ー]")


def question_words_heard(text: str, asked: str | None) -> str | None:
    """When what was heard is mostly one long run of the question's words, the rest of it (what
    the person may have added: 「はい」 of 「はい。当てはまります。」); None otherwise."""
    if not asked:
        return None
    heard, question = _NOT_WORDS.sub("", text), _NOT_WORDS.sub("", asked)
    if not heard:
        return None
    # Long runs are taken out one by one: Whisper may write the same run twice (「実際に転んだことや、
    # 実際に転んだことや、」), looping on its prompt.
    rest, taken = heard, 0
    while rest:
        run = SequenceMatcher(None, rest, question, autojunk=False).find_longest_match(0, len(rest), 0, len(question))
        if run.size < (ECHO_RUN_CHARS if not taken else ECHO_MORE_CHARS):
            break
        rest, taken = rest[:run.a] + rest[run.a + run.size:], taken + run.size
    if taken / len(heard) < ECHO_SHARE:
        return None
    return rest


class MatcherLike(Protocol):
    def match(self, question_id: str, heard: str) -> Match: ...


def answer_of(match: Match) -> tuple[str, ...] | str | None:
    """What a match says, for comparing hypotheses: a command, the option ids, the text, or None."""
    if match.decision == "reprompt":
        return None
    if match.command:
        return f"command:{match.command}"
    if match.text is not None:
        return "text"
    return tuple(sorted(match.option_ids))


def texts_of(heard: Heard) -> list[str]:
    texts = [heard.text] + [t for t in heard.alternatives if t != heard.text]
    return [t for t in texts if t and t.strip()]


def understand(matcher: MatcherLike, question_id: str, heard: Heard, asked: str | None = None) -> Match:
    """The decision for a heard answer, using every hypothesis the recogniser kept; `asked`: the
    question as the recogniser was given it."""
    safeguards = getattr(matcher, "safeguards", None)
    strict = safeguards is not None and question_id in safeguards.strict_questions
    if heard.timed_out:
        return Match()
    if (heard.no_speech is not None and heard.no_speech >= NOT_SPEECH
            and heard.confidence is not None and heard.confidence < WEAK):
        return Match(cautions=("not_speech",))
    texts = texts_of(heard)
    if not texts:
        return Match()
    matches = [matcher.match(question_id, t) for t in texts[:COMPARED]]
    usable = [(i, m) for i, m in enumerate(matches) if answer_of(m) is not None]
    # A hypothesis understood only with its voicing marks put back counts only when none was
    # understood as heard.
    usable = [(i, m) for i, m in usable if REVOICED not in m.cautions] or usable
    if not usable:
        return matches[0]
    rank, chosen = usable[0]
    if chosen.text is not None:
        return chosen  # a free-text answer: the most likely words, kept as said
    answer = answer_of(chosen)
    others = {answer_of(m) for _, m in usable[1:]}
    disagree = bool(others - {answer})
    firm = [(i, m) for i, m in usable[1:] if m.decision == "accept" and answer_of(m) == answer]
    if (chosen.decision == "confirm" and set(chosen.cautions) == {REPLY_GUESSED} and not strict
            and not disagree and len(firm) >= HEARD_AS_SAID):
        # Only the reply word was garbled, and the hypotheses below heard it as said: the answer is
        # theirs, checked below like any answer found below the first hypothesis.
        rank, chosen = firm[0]
    if chosen.decision != "accept":
        return chosen
    # An answer found only below the first hypothesis is taken when another hypothesis takes
    # the same answer just as firmly; a known mishearing that agrees is no support.
    support = [m for i, m in usable if i != rank and m.decision == "accept" and answer_of(m) == answer]
    reasons = []
    if disagree:
        reasons.append("hypotheses_disagree")
    elif rank > 0 and (strict or not support):
        reasons.append("lower_hypothesis")
    if heard.confidence is not None and heard.confidence < UNSURE_HEARING:
        reasons.append("unsure_hearing")
    rest = question_words_heard(texts[rank], asked)
    if rest is not None and answer_of(matcher.match(question_id, rest)) != answer:
        # Only the question's words carry the answer: they may be the recogniser's, not the person's.
        reasons.append("echoes_question")
    # 「うん」 first and 「うーん」 below it: a yes or a hesitation, the recogniser could not tell.
    if any(ONLY_FILLERS in m.cautions for m in matches if m is not chosen):
        reasons.append("heard_as_hesitation")
    # The same answer heard with a hedge in another hypothesis (「…ことは、なあ」): the hedge may be real.
    reasons += sorted({c for _, m in usable[1:] if answer_of(m) == answer for c in m.cautions}
                      - HEARING_CAUTIONS - set(reasons))
    if not reasons:
        return chosen
    return replace(chosen, decision="confirm", score=min(chosen.score, 70.0), cautions=chosen.cautions + tuple(reasons))
