"""Whether what has been heard so far ends the answer: the words' side of finding the end of a turn.

The microphone side (voicecheck.listening.early_end) hears the answer in its first pause and asks
here what the words say:

- COMPLETE: a finished sentence that already answers the question clearly (the matcher accepts
  it) — the device may reply after a short pause instead of the full `end_silence_s`;
- GOING_ON: only fillers so far (「えっと……」), or the words stop on a particle or a linking word
  (「階段を下りるときと……」「はい、あと……」) and the recogniser is fairly sure of them (and did not
  write the same words twice in a row, a loop of its own), or, at a
  question that does not ask for a yes or a no, only words that buy time (「そうですね……」) — the
  person is still answering: wait longer. Where one answer is the whole answer, a clause of reason
  or circumstance left hanging (「もともと出かけないので」「ろれつが回らなくて」) is how many people
  stop: the usual wait, and never an early end (what follows could still change it);
  and a particle the question itself asks with (「いつごろからですか」 → 「三か月前から」,
  [turn_end.answer_endings]) ends a whole answer there: the usual wait;
- UNSURE: words that answer the question, but not clearly enough to take as heard (the matcher
  would read them back or ask about them: 「対象です」 for 「はいそうです」), or, where a yes or a no
  is asked for, a word the matcher cannot place with the vowels of a reply word (「ぱい」「開始」
  for 「はい」: a reply garbled, not a cough), or, at a question of several answers, words that name
  a choice (「4」「いちとさん」: more may follow), or a short interjection said as a question
  (「え?」「はい?」: the person asks back and waits for the device) — no early end, but
  the usual `end_silence_s` even after a sound as short as 「はい」, not the longer wait for a
  filler or a cough: they are words, and measured live under the TV, an unsure 「はい」 was
  replied to 2.2 s after it ended;
- OPEN: anything else — wait the usual `end_silence_s` (longer after a very short sound).

Only questions where one answer is the whole answer end early: a multiple-choice question
(「階段を下りるとき……立ち上がるとき」) and a free-text one always get the full wait.
"""
from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

from voicecheck.reading import Token, analyse, normalise, reading, vowels

COMPLETE, UNSURE, GOING_ON, OPEN = "complete", "unsure", "going_on", "open"

# Words that stop on a particle or a comma make the turn wait longer only when the recogniser is
# at least this sure of them (its mean per-token probability). Below it the words are most often
# misheard, and a misheard sentence stops on a particle by chance: under the noise of a TV Whisper
# wrote 「マンチで」 for 「毎日です」 (0.44), 「入った間に」 for 「はい、たまに」 (0.42), 「相当ゆっくり離して
# くだったり」 (0.41). With the matcher's own line for a guess (UNSURE_HEARING, 0.4) those still
# waited 1.2 s more; with 0.5, on the bench voices' dev sample with the words (369 answers), quiet
# 356 → 359, babble 10 dB 342 → 347, music 349 → 353, pink 350 → 353 were found within 1.5 s.
# Correctly heard particle endings were far surer (「左に曲がって」 0.84, 「転びそうになったことは、
# まあ」 0.82–0.90). Fillers alone still wait longer whatever the certainty.
SURE_OF_A_PARTICLE = 0.5

# Particles after which a Japanese sentence cannot stop (と, で, を, は, けど, て …). Sentence-final
# particles (か, な, ね, よ) and the adverbial ones of an amount (くらい, だけ) can.
_LINKING_PARTICLES = frozenset({"格助詞", "並立助詞", "接続助詞", "係助詞", "連体化"})
_FINAL_KINDS = ("終助詞", "副助詞")
# Kinds of question whose answer is one thing, so that a clear, finished answer is all of it.
QUICK_KINDS = frozenset({"yes_no", "single"})
_TE_FORMS = frozenset({"て", "で"})
_QUESTION_MARKS = frozenset({"?", "？"})
_ASKING_BACK_MAX_KANA = 2  # 「え」「ん」「えー」「はあ」; 「うーん」「えっと」 are thinking
_INTERJECTIONS = frozenset({"フィラー", "感動詞"})


class HeardLike(Protocol):
    text: str  # (and, when the recogniser gives one, `confidence`: its per-token probability)


def words_continue(tokens: Sequence[Token], continuing: frozenset[str]) -> bool:
    """True when the words so far stop where a sentence cannot end: on a comma, on a linking
    particle (「ときと」「下りて」「ありますが」) or on a linking word (あと, それから, でも).
    `tokens`: the words with commas, without full stops."""
    if not tokens:
        return True
    last = tokens[-1]
    if last.is_boundary:
        return True  # a comma (full stops are left out by the caller)
    if last.pos == "接続詞" or normalise(last.surface) in continuing or last.base in continuing:
        return True
    if last.pos == "助詞":
        return last.pos1 in _LINKING_PARTICLES and not any(kind in last.pos1 for kind in _FINAL_KINDS)
    return False


def said_with_commas(all_tokens: Sequence[Token]) -> list[Token]:
    """The words as said, with their commas (a final comma says more is coming) but without full
    stops (the recogniser ends every hearing with one, over or not)."""
    return [t for t in all_tokens if not t.is_boundary or t.surface in ("、", ",", "，")]


def how_it_ends(all_tokens: Sequence[Token], words: Sequence[Token], continuing: frozenset[str]) -> str:
    """GOING_ON when the words so far cannot be a whole answer, else OPEN (the words' part alone).
    `all_tokens`: what was heard; `words`: the same without fillers."""
    if not any(not t.is_boundary and t.reading for t in words):
        # Nothing but 「えっと」「うーん」: the answer has not begun. Nothing at all (「、、」「…」, a
        # character the recogniser could not write) is no sign of more to come: under the TV Whisper
        # writes such things for a voice it cannot make out.
        return GOING_ON if any(not t.is_boundary and t.reading for t in all_tokens) else OPEN
    # The recogniser ends every hearing with 「。」 whether or not the sentence is over
    # (「階段を下りるときと。」), so a final full stop says nothing; a final comma does.
    last_said = said_with_commas(all_tokens)
    # A filler at the very end (「階段のとき、えーと」) means more is coming.
    if last_said and not last_said[-1].is_boundary and not any(t is last_said[-1] for t in words):
        return GOING_ON
    return GOING_ON if words_continue(last_said, continuing) else OPEN


def asks_back(all_tokens: Sequence[Token]) -> bool:
    """True when the words are nothing but a short interjection said as a question (「え?」「ん?」
    「はあ?」「はい?」): the person did not catch the question and asks back. They wait for the
    device; they are not thinking aloud as after 「えっと……」「うーん」 (longer sounds, still waited
    for). The recogniser writes the question mark for a rising voice."""
    spoken = [t for t in all_tokens if not t.is_boundary and t.reading]
    return (len(spoken) == 1 and spoken[0].pos in _INTERJECTIONS
            and len(spoken[0].reading) <= _ASKING_BACK_MAX_KANA
            and all_tokens[-1].is_boundary and all_tokens[-1].surface in _QUESTION_MARKS)


def stops_on_a_reason(all_tokens: Sequence[Token], reasons: frozenset[str]) -> bool:
    """True when the words stop on a clause left hanging (言いさし): a particle in `reasons` after a
    finished predicate (「出かけないので」「痛むから」「回らなくて」「変わらないで」), with no comma after
    it. After a noun the same particles link on (「階段で……」「朝から……」), and a verb's own て-form
    may still take its negation (「腫れて……いません」), so neither counts."""
    last_said = said_with_commas(all_tokens)
    if len(last_said) < 2 or last_said[-1].is_boundary or last_said[-2].is_boundary:
        return False
    particle, before = last_said[-1], last_said[-2]
    if particle.pos != "助詞" or normalise(particle.surface) not in reasons:
        return False
    if normalise(particle.surface) in _TE_FORMS:
        return before.pos in ("助動詞", "形容詞")  # 「回らなくて」「変わらないで」「痛くて」, not 「腫れて」
    return before.pos in ("動詞", "助動詞", "形容詞")


def particle_of_the_answer(matcher, question_id: str, heard: HeardLike, all_tokens: Sequence[Token]) -> bool:
    """True when the final particle is part of the answer's own words, not a link to more: the
    words are understood as an answer, and without the particle they are not (「たまに」 written
    「入たまに」 splits into たま + に; without 「に」 no frequency is said). Such words get the usual
    wait, never the short one: they ended on a particle after all. A particle that links clauses
    (「腫れて……いません」) is never the answer's own: what follows it may still turn it round."""
    last_said = said_with_commas(all_tokens)
    if (not last_said or last_said[-1].is_boundary or last_said[-1].pos != "助詞"
            or last_said[-1].pos1 == "接続助詞"):
        return False
    match = matcher.understand(question_id, heard)
    if match.decision != "accept":
        return False
    end = next(i for i, t in enumerate(all_tokens) if t is last_said[-1])
    without = matcher.match(question_id, "".join(t.surface for t in all_tokens[:end]))
    return without.decision != "accept" or without.option_ids != match.option_ids


def ends_as_asked(all_tokens: Sequence[Token], words: Sequence[Token], endings: frozenset[str]) -> bool:
    """True when the words stop on a particle the question's whole answer ends on (`endings`, from
    [turn_end.answer_endings]: 「三か月前から」「退院してから」 for 「いつごろからですか」), with at most a
    comma after it — Whisper writes one after a voice that falls silent as readily as after one
    that goes on. A filler after the particle (「三か月前から、えーと」) is still more to come."""
    last_said = said_with_commas(all_tokens)
    while last_said and last_said[-1].is_boundary:
        last_said = last_said[:-1]
    if len(last_said) < 2 or not endings:
        return False
    last = last_said[-1]
    return (last.pos == "助詞" and normalise(last.surface) in endings
            and any(t is last for t in words) and not last_said[-2].is_boundary)


# Shorter repeats are how people talk (「はいはい」「痛い痛い」「そうそう」).
_LOOP_MIN_CHARS = 4
_NOT_WORDS = frozenset("、。，,．.！!？?・… 　")


def said_twice(text: str) -> bool:
    """True when the hearing ends on the same words twice in a row (「…どのくらい大丈夫で動かしづらいって
    どのくらい大丈夫で」): Whisper going round under noise, as it writes whole loops (which the
    recogniser cuts back) — a second time a person seldom says. Its last words are then no sign of
    more to come, however sure the recogniser is of them (0.68–0.78 on the bench voices' dev part,
    babble and pink noise at 10 dB, where they kept the turn open 1.2 s longer)."""
    bare = "".join(ch for ch in normalise(text) if ch not in _NOT_WORDS)
    return any(bare[-n:] == bare[-2 * n:-n] for n in range(_LOOP_MIN_CHARS, len(bare) // 2 + 1))


def just_thinking(said: Sequence[Token], thinking: frozenset[str]) -> bool:
    """True when the words said (fillers and punctuation left out) are only a phrase that buys
    time (「うーん、そうですね」); `thinking`: those phrases' readings."""
    return bool(said) and reading("".join(t.surface for t in said)).rstrip("ー") in thinking


def turn_end(matcher, question_id: str, heard: HeardLike, kind: str,
             sure_of_a_particle: float = SURE_OF_A_PARTICLE) -> str:
    """COMPLETE, UNSURE, GOING_ON or OPEN for the answer heard so far at `question_id` (see the module
    doc). `sure_of_a_particle`: another line than the shipped one, for bench/going_on.py."""
    text = (heard.text or "").strip()
    if not text:
        return OPEN  # nothing recognised (a cough, the TV): the endpointer decides alone
    all_tokens = analyse(normalise(text))
    words = matcher.fillers.remove(all_tokens)
    said = [t for t in words if not t.is_boundary]
    if asks_back(all_tokens):
        # 「え?」 — pardon? As a filler it waited going_on_extra_s (1.2 s) more than the usual
        # pause, after a 2 s one when shorter than short_speech_s, while the person waited to hear
        # the question again. Words, not a cough: the usual pause, and never an early end (「え?
        # 何ですか」 may follow; at a yes or no question 「はい?」 is as likely to ask back as to answer).
        return UNSURE
    shape = how_it_ends(all_tokens, words, matcher.continuing_words)
    confidence = getattr(heard, "confidence", None)
    guessed = confidence is not None and confidence < sure_of_a_particle
    if shape == GOING_ON and said and (guessed or said_twice(text)):
        # Words the recogniser only guessed (the voice under the TV, an older voice) stop on a
        # particle by chance: 「私たちの」 for 「膝のけがはないです」. That is no sign of more to come,
        # and waiting longer for it made the reply come 2.4 s after the person stopped (bench voices,
        # dev part). Only fillers (「うーん」) still wait longer, whatever the recogniser's certainty.
        shape = OPEN
    if shape == GOING_ON and ends_as_asked(all_tokens, words, matcher.answer_endings.get(question_id, frozenset())):
        shape = OPEN  # the answer its question asked for (「三か月前から」), not a sentence left hanging
    if kind != "yes_no" and just_thinking(said, matcher.thinking_phrases):
        return GOING_ON  # 「そうですね」 agrees only when a yes or a no was asked for
    if kind not in QUICK_KINDS:
        if (kind == "multi" and shape == OPEN and said
                and matcher.understand(question_id, heard).decision in ("accept", "confirm")):
            # Words that name one of the choices (「4」「いちとさん」「2番」, the form the question's
            # hint asks for) are words, not a cough: the usual pause even when they were said in
            # under short_speech_s, not the 2 s a filler waits; never an early end, more may follow.
            return UNSURE
        return shape
    hanging = shape == GOING_ON and stops_on_a_reason(all_tokens, matcher.trailing_reasons)
    if hanging:
        shape = OPEN
    if shape == GOING_ON:
        # 「いや」 is a linking word (「いや、週に一回です」) but also a whole no: said alone and
        # understood as an answer, it gets the usual wait, not the longer one (measured live: a
        # reply 2.7 s after 「いや」), and never the short one.
        if len(said) == 1 and said[0].pos == "接続詞" and matcher.understand(question_id, heard).decision == "accept":
            return OPEN
        if particle_of_the_answer(matcher, question_id, heard, all_tokens):
            return UNSURE
        return shape
    match = matcher.understand(question_id, heard)
    if match.decision == "accept":
        return UNSURE if hanging else COMPLETE
    if match.decision == "confirm":
        return UNSURE
    # Live under the TV, 「はい」 heard 「ぱい」 was replied to 2.15 s after it ended: the wait for a
    # cough. It is asked again either way; it need not wait longer for that.
    if kind == "yes_no" and said and matcher.reply_shapes.has(vowels("".join(t.reading for t in said))):
        return UNSURE
    return OPEN
