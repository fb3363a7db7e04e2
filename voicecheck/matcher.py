"""What was heard → the answer it gives: option ids or a command, a score, and a decision.

One answer goes through these steps, each in its own module of `voicecheck.understanding`:
1. `reading`, `utterance`: the text becomes words with katakana readings; fillers go.
2. `whole_answers`: answers that count only alone (「次」, 「そう」) are looked up.
3. `phrase_index`, `evidence`: every phrase of the question (echo answers, options, generic
   yes/no/don't know, commands, corrections) is looked for by reading, aligned to word starts.
4. `numbers`: ages (「もう78です」「昭和18年生まれ」), rates (「2か月に1回」), positions (「2番目」).
5. `negation`: what follows each phrase in its clause may deny it (腫れてはいません → no);
   「AじゃなくてB」 keeps only B.
6. `corrections`: 「AじゃなくてB」 keeps B; `coverage`: words no evidence explains; `decision`:
   the evidence becomes one answer with a score, unrelated words lowering it; `catch_all`: a
   moment no option names is "other".
7. `sound_alikes`: when nothing matched exactly, a phonetically close phrase is offered for a
   read-back, never accepted; a reply word garbled at the start (入れ, 理営 for いいえ) is set aside.
   `voicing`: when nothing was understood, words heard with a voicing mark lost (とれ for どれ)
   are put back and the answer decided again, for a read-back only.
8. `safeguards`: context-dependent words, one-mora results, short session commands and the
   emergency question are read back however well they matched.
`voicecheck.understanding.hypotheses` runs this over a recogniser's several hypotheses.

All phrasings live in `prompts/<lang>/answers.toml`; nothing Japanese is written here.
"""
from __future__ import annotations

from dataclasses import replace
from datetime import date
from pathlib import Path

from voicecheck.content import Content
from voicecheck.interfaces import Heard
from voicecheck.reading import INFLECTING_POS, Token, analyse, base_reading, normalise, reading, vowels
from voicecheck.understanding.catch_all import CatchAll
from voicecheck.understanding.coach_commands import match_table
from voicecheck.understanding.corrections import apply_corrections
from voicecheck.understanding.coverage import clause_clean, set_off_reply, unexplained_share
from voicecheck.understanding.decision import (
    CONFLICT_CAP,
    ONLY_FILLERS,
    SOUND_ALIKE_CAP,
    UNKNOWN,
    Decision,
    Match,
    choose,
    option_answers,
    result,
    yes_no_answers,
)
from voicecheck.understanding.hypotheses import understand
from voicecheck.understanding.doubts import Doubts, read_back_if_doubtful
from voicecheck.understanding.list_items import item_not_understood
from voicecheck.understanding.evidence import ECHO, INTERJECTION, STATEMENT, Evidence, covered_words, find_evidence, resolve
from voicecheck.understanding.negation import NegationRules, read_denials
from voicecheck.understanding.numbers import NumberReader, spoken_number
from voicecheck.understanding.phrase_index import PhraseSet, compile_phrase, find
from voicecheck.understanding.phrases import AnswerPhrases, load_answer_phrases
from voicecheck.understanding.safeguards import Safeguards
from voicecheck.understanding.sound_alikes import (COMMAND_CUTOFF, SOUND_ALIKE_COMMAND, ReplyShapes, SoundAlikes,
                                                  misheard_reply_lead, yes_like_nai_desu)
from voicecheck.understanding.utterance import Fillers, Utterance, content_tokens, is_content
from voicecheck.understanding.turn_end import turn_end
from voicecheck.understanding.voicing import REVOICED, Revoicing
from voicecheck.understanding.whole_answers import WholeAnswers

__all__ = ["YES_NO", "UNKNOWN", "Decision", "Match", "Matcher", "match_table", "spoken_number"]

SET_OFF_REPLY_SCORE = 70.0  # a lone はい/いいえ followed by other words: read back
YES_NO = "yes_no"  # pseudo question id: generic yes/no/unknown (+ commands) for confirmations and offers


class Matcher:
    """Turns a heard text into a `Match` for one question. Built once; `match` is pure and fast.

    `this_year` is the calendar year birth years are counted from (「昭和18年生まれ」); tests fix it.
    """

    def __init__(self, content: Content, phrases_dir: Path | None = None, this_year: int | None = None) -> None:
        self.content = content
        self.data: AnswerPhrases = load_answer_phrases(Path(phrases_dir or content.directory), content)
        d = self.data
        self._kinds = {q.id: q.kind for q in content.questions}
        self._options = {q.id: q.option_ids for q in content.questions}
        self._fillers = Fillers(d.fillers)
        self.continuing_words = frozenset(normalise(w) for w in d.continuing)
        self._adding_words = frozenset(normalise(w) for w in d.multi_adding)
        self.thinking_phrases = frozenset(reading(w).rstrip("ー") for w in d.thinking) - {""}
        self.trailing_reasons = frozenset(normalise(w) for w in d.trailing_reasons)
        self.answer_endings = {q: frozenset(normalise(w) for w in words) for q, words in d.answer_endings.items()}
        self._neutral = frozenset(reading(w) for w in d.neutral + d.politeness) - {""}
        self._polite_words = frozenset(p for p in (reading(w) for w in d.politeness) if len(p) > 2)
        self._negation = NegationRules(d.negation)
        self._numbers = NumberReader(d, this_year or date.today().year)
        self._whole = WholeAnswers(d)
        self.safeguards = Safeguards(d)
        # One-word replies meaning no (いいえ, いえ, いや): said first, they contradict a "yes" after them.
        self._no_readings = frozenset(r for w in d.yes_no.interjections.get("no", ()) if (r := reading(w)))
        replies = {aid: self._reply_words(d.yes_no.interjections.get(aid, ())) for aid in ("yes", "no")}
        self._reply_shapes = ReplyShapes(*(frozenset(s for t in replies[aid] if len(s := vowels(t.reading)) >= 2)
                                           for aid in ("yes", "no")))
        self._catch_all = CatchAll(d.catch_all)

        commands = [p for cid, texts in d.commands.items() for t in texts
                    if (p := compile_phrase(t, cid, "command", ECHO, topic_markers=d.topic_markers))]
        corrections = [p for t in d.corrections if (p := compile_phrase(t, "correction", "correction", 0))]
        yn = d.yes_no
        generic = [p for aid, texts in yn.interjections.items() for t in texts
                   if (p := compile_phrase(t, aid, "interjection", INTERJECTION))]
        generic += [p for aid, texts in yn.statements.items() for t in texts
                    if (p := compile_phrase(t, aid, "echo" if aid == UNKNOWN else "statement",
                                            ECHO if aid == UNKNOWN else STATEMENT))]
        offers = [p for aid, texts in yn.offers.items() for t in texts if (p := compile_phrase(t, aid, "echo", ECHO))]
        multi_all = [p for t in d.multi_all if (p := compile_phrase(t, "*", "echo", ECHO))]
        shared = commands + corrections
        # Whole sentences of the commands that change the session ([commands.whole]), for one misheard
        # as a whole (「もう張りにします」 under a TV): asked about, never done. Only these: the short
        # command phrases sound like answers (「言いたくないです」 like 「痛くないです」).
        whole = [p for cid, texts in d.commands_whole.items() for t in texts
                 if (p := compile_phrase(t, cid, "command", ECHO))]
        self._session_command_alikes = SoundAlikes.of(
            [p for p in whole if p.target in self.safeguards.session_commands], kinds=frozenset({"command"}))
        self._sets: dict[str, PhraseSet] = {}
        self._sound_alikes: dict[str, SoundAlikes] = {}
        self._grammar: dict[str, tuple[str, ...]] = {}
        for q in content.questions:
            own = [p for aid, texts in d.questions.get(q.id, {}).items() for t in texts
                   if (p := compile_phrase(t, aid, "echo", ECHO))]
            own += [p for aid, texts in d.misheard.get(q.id, {}).items() for t in texts
                    if (p := compile_phrase(t, aid, "echo", ECHO, fuzzy=True))]
            if q.kind == "yes_no":
                own += generic
            elif q.kind == "multi":
                own += multi_all
            self._sets[q.id] = PhraseSet.of(shared + own)
            self._sound_alikes[q.id] = SoundAlikes.of(shared + own)
            self._grammar[q.id] = self._grammar_for(q.id, q.kind)
        self._sets[YES_NO] = PhraseSet.of(shared + generic + offers)
        self._sound_alikes[YES_NO] = SoundAlikes.of(shared + generic + offers)
        # People answer in the question's own words (「朝は特に問題ない」): those words are
        # never what makes an answer look unrelated.
        self._neutral_of = {YES_NO: self._neutral}
        for q in content.questions:
            said = [t for text in (q.text, q.hint, q.short) for t in analyse(text)]
            own_words = {t.reading for t in said if not t.is_function and len(t.reading) >= 2}
            own_words |= {base_reading(t.base) for t in said if t.pos in INFLECTING_POS and not t.is_function}
            self._neutral_of[q.id] = self._neutral | frozenset(own_words)
        self._grammar[YES_NO] = self._grammar_for(YES_NO, "yes_no")
        # Words heard with a voicing mark lost or added (とれ for どれ) are put back only to the
        # words people wrap answers in that are one word each (どれ, 全然; not the いえ of 言えば).
        self._revoicing = Revoicing((words[0] for w in d.neutral if len(words := content_tokens(analyse(w))) == 1),
                                    replies=replies["yes"] + replies["no"])

    @staticmethod
    def _reply_words(texts) -> tuple[Token, ...]:
        """The one-word replies (はい, いいえ, うん): interjections of three morae at most. Their
        vowels of two or more (a single vowel, ええ, is too little) tell a garbled reply word."""
        words = [content_tokens(analyse(text)) for text in texts]
        return tuple(w[0] for w in words if len(w) == 1 and w[0].pos == "感動詞" and w[0].morae <= 3)

    def _grammar_for(self, qid: str, kind: str) -> tuple[str, ...]:
        d = self.data
        texts: list[str] = []
        if qid in self._options:
            texts += [o.label for o in self.content.question(qid).options]
        for texts_of in d.questions.get(qid, {}).values():
            texts += texts_of
        if kind == "yes_no":
            yn = d.yes_no
            for group in (yn.interjections, yn.statements, yn.alone):
                for texts_of in group.values():
                    texts += texts_of
            if qid == YES_NO:
                for texts_of in yn.offers.values():
                    texts += texts_of
        if kind in ("single", "multi"):
            texts += d.order.first + d.order.last
            suffix = d.order.suffixes[0]
            texts += [f"{n}{suffix}" for n in range(1, len(self._options.get(qid, ())) + 1)]
        for texts_of in d.commands.values():
            texts += texts_of
        return tuple(dict.fromkeys(t for t in texts if t))

    # -- public API -------------------------------------------------------------------------

    def phrases(self, question_id: str) -> tuple[str, ...]:
        """Phrases expected at this question (for a recogniser's grammar or bias)."""
        if question_id not in self._grammar:
            raise ValueError(f"unknown question id {question_id!r}")
        return self._grammar[question_id]

    def understand(self, question_id: str, heard: Heard) -> Match:
        """What a heard answer says, from every hypothesis the recogniser kept (see `hypotheses`)."""
        asked = self.content.question(question_id).text if question_id != YES_NO else None
        return understand(self, question_id, heard, asked)

    @property
    def fillers(self) -> Fillers:
        return self._fillers

    def turn_end(self, question_id: str, heard: Heard) -> str:
        """Whether the answer heard so far is over: turn_end.COMPLETE, UNSURE, GOING_ON or OPEN."""
        return turn_end(self, question_id, heard, self.kind_of(question_id))

    @property
    def reply_shapes(self) -> ReplyShapes:
        """The vowels of the one-word replies (はい アイ, いいえ イエ …)."""
        return self._reply_shapes

    def kind_of(self, question_id: str) -> str:
        return "yes_no" if question_id == YES_NO else self._kinds[question_id]

    def match(self, question_id: str, heard: str) -> Match:
        """What `heard` answers at `question_id` (a contract id or YES_NO). Never raises on any text."""
        if question_id not in self._sets:
            raise ValueError(f"unknown question id {question_id!r}")
        kind = self.kind_of(question_id)
        text = normalise(heard if isinstance(heard, str) else "")
        if not text:
            return Match()
        all_tokens = analyse(text)
        found = self._match_words(question_id, kind, text, all_tokens)
        if found.decision == "accept" and "yes" in found.option_ids and yes_like_nai_desu(all_tokens):
            # 「はい、ですよ」 for 「ないですよ」: which of the two was said?
            return replace(found, decision="confirm", score=min(found.score, CONFLICT_CAP),
                           cautions=found.cautions + ("like_nai_desu",))
        if found.decision != "reprompt" or found.command or kind == "free_text":
            return found
        repaired = self._revoicing.repaired(all_tokens)
        if repaired is None:
            return found
        again = self._match_words(question_id, kind, text, repaired)
        if again.decision == "reprompt" or again.command:
            return found
        # Found only by putting voicing marks back: a guess at what was said, read back.
        return replace(again, decision="confirm", score=min(again.score, SOUND_ALIKE_CAP),
                       cautions=again.cautions + (REVOICED,))

    def _match_words(self, question_id: str, kind: str, text: str, all_tokens) -> Match:
        tokens = self._fillers.remove(all_tokens)
        asked = text.rstrip().endswith("?")
        morae = sum(t.morae for t in all_tokens)

        command = self._whole_command(question_id, all_tokens, tokens, asked)
        if kind == "free_text":
            return command or self._free_text(question_id, text, Utterance.of(tokens))
        # 「いいえ、でも……」: the rest, unsaid yet, may turn the answer round.
        unfinished = self.safeguards.stops_on_a_turn(all_tokens)
        whole = self._whole_answer(question_id, kind, all_tokens, tokens, morae, unfinished)
        if (whole is not None and whole.decision == "accept" and asked
                and command is not None and command.command == "repeat"):
            # 「はい?」「ええ?」 said as a question ([commands.alone] repeat) is "pardon?" as often as a
            # yes: taken as a yes, a person who did not catch the question would have answered it.
            # Hearing the question again costs a few seconds; a wrong answer changes the advice.
            # (A yes only guessed at, 「ん?」, is read back anyway: that asks too.)
            return command
        if whole is not None:
            return whole
        if not content_tokens(tokens):
            # only fillers (「まあ」「ええと」): nothing answered yet
            return command or Match(cautions=(ONLY_FILLERS,))
        if command and not content_tokens(tokens):
            return command

        u = Utterance.of(tokens)
        found = self._evidence(question_id, u)
        # 「転びそうになったことは、まあ」: an answer trailing off into a filler is said half-heartedly.
        words = [t for t in all_tokens if not t.is_boundary and t.reading]
        trails_off = bool(words) and words[-1] not in tokens
        return self._decide(question_id, kind, u, found, command, morae, trails_off, unfinished)

    def _free_text(self, question_id: str, text: str, u: Utterance) -> Match:
        """Free words (since when): kept as said; read back unless they name a time."""
        if not content_tokens(u.tokens):
            return Match()  # only fillers: nothing said yet
        asks = self.safeguards.asks_back(u)
        if asks:
            commands = [e for e in find_evidence(self._sets[question_id], u)
                        if e.kind == "command" and e.target not in self.safeguards.session_commands]
            if commands:
                best = max(resolve(commands), key=lambda e: (e.size, e.last))
                return self.safeguards.apply(question_id, Match(command=best.target, score=90.0, decision="accept"),
                                             deciding=(best.phrase,))
            return Match(command="help", score=85.0, decision="accept") if asks == "help" else Match()
        if self.safeguards.names_a_time(u):
            return Match(text=text, score=100.0, decision="accept")
        return Match(text=text, score=70.0, decision="confirm", cautions=("no_time",))

    # -- whole answers ----------------------------------------------------------------------

    def _whole_command(self, question_id: str, all_tokens, tokens, asked: bool) -> Match | None:
        for toks in (all_tokens, tokens):
            hit = self._whole.lookup(toks, yes_no=False, asked=asked)
            if hit and hit.kind == "command":
                # A one-word command (「次」「前」「終わり」) is easily misheard or said in passing.
                return self.safeguards.apply(question_id, Match(command=hit.target, score=95.0, decision="accept"),
                                             clear_command=False)
        u = Utterance.of(tokens)
        spans = [Evidence(p.target, "command", ECHO, i, j, phrase=p.text)
                 for p in self._sets[question_id].candidates(u) if p.kind == "command" for i, j in find(p, u)]
        if not spans:
            return None
        neutral = self._neutral_of[question_id]
        kept = [e for e in resolve(spans) if self._command_form(u, e, neutral) != "denied"]
        if not kept:
            return None
        covered = covered_words(u, kept)
        unexplained = sum(len(t.reading) for i, t in enumerate(u.tokens)
                          if not covered[i] and is_content(t, neutral))
        if unexplained == 0:
            best = max(kept, key=lambda e: (e.size, e.last))
            # One word alone (「終わる」「戻る」) may be said about something else: a session command
            # needs more words than that to be clear.
            words = [t for t in u.tokens if t.reading and not t.is_boundary and not t.is_function]
            clear = len(words) > 1 and self._command_form(u, best, neutral) == "said"
            return self.safeguards.apply(question_id, Match(command=best.target, score=95.0, decision="accept"),
                                         deciding=(best.phrase,), clear_command=clear)
        return None

    def _command_form(self, u: Utterance, e: Evidence, neutral: frozenset[str]) -> str:
        """How a command's words are said: "said" (終わりにします), "denied" (終わりません: not a
        command at all) or "past" (終わりました: about something that ended, or a garbled word)."""
        if self._negation.scope(u, e.last, len(u.tokens), neutral).negated:
            return "denied"
        lo, hi = u.clause_of(e.first, e.last)
        if any(t.base == "た" and t.pos == "助動詞" for t in u.tokens[e.last + 1:hi + 1]):
            return "past"
        return "said"

    def _whole_answer(self, question_id: str, kind: str, all_tokens, tokens, morae: int,
                      unfinished: bool = False) -> Match | None:
        if kind != "yes_no":
            return None
        for toks in (all_tokens, tokens):
            hit = self._whole.lookup(toks, yes_no=True)
            if hit and hit.kind == "answer":
                score = 70.0 if hit.misheard else 95.0
                match = result((hit.target,), score)
                return self.safeguards.apply(question_id, match, deciding=(hit.text,), morae=morae,
                                             guess=self.safeguards.is_hedged(Utterance.of(toks)),
                                             unfinished=unfinished)
        return None

    # -- evidence ---------------------------------------------------------------------------

    def _scope(self, question_id: str):
        neutral = self._neutral_of[question_id]

        def scope(u: Utterance, last: int) -> tuple[bool, int]:
            s = self._negation.scope(u, last, len(u.tokens), neutral)
            return s.negated, s.tail_end
        return scope

    def _evidence(self, question_id: str, u: Utterance) -> list[Evidence]:
        found = find_evidence(self._sets[question_id], u)
        if question_id == self.data.age.question:
            found += self._numbers.ages(u, self._scope(question_id))
        if question_id == self.data.frequency.question:
            found += self._numbers.rates(u, self._scope(question_id))
        return found

    # -- deciding -------------------------------------------------------------------------------

    def _decide(self, question_id: str, kind: str, u: Utterance, found: list[Evidence],
                command: Match | None, morae: int, trails_off: bool = False, unfinished: bool = False) -> Match:
        neutral = self._neutral_of[question_id]
        # Correction markers do not compete with answers for words: in 「いや違う」 alone the
        # words are the answer (no); before another answer they only cut what came first.
        markers = [e for e in found if e.kind == "correction"]
        kept = resolve([e for e in found if e.kind != "correction"])
        # A "yes" inside a correction (the そうじゃ of 「そうじゃなくて」) is never agreement.
        kept = [e for e in kept if not (e.target == "yes" and any(m.first <= e.last and e.first <= m.last
                                                                   for m in markers))]
        commands = [e for e in kept if e.kind == "command" and self._command_form(u, e, neutral) != "denied"]
        answers = read_denials(self._negation, u, kept, [e for e in kept if e.kind != "command"], neutral)
        fixed = apply_corrections(kind, u, answers, markers, self._no_readings)
        answers, corrected, withdrawn_at = fixed.answers, fixed.corrected, fixed.withdrawn_at

        covered = covered_words(u, kept)
        if withdrawn_at is not None and any(is_content(u.tokens[k], neutral) and not covered[k]
                                            for k in range(withdrawn_at + 1, len(u.tokens))):
            # 「たまにです。いや週にやっかいはあります」: the first answer was taken back for words not
            # understood. Reading back what was taken back asks the wrong thing: ask again (another
            # hypothesis may hold the words: 「いや週に一回はあります」).
            return Match(cautions=("withdrawn",))
        lead = misheard_reply_lead(u.tokens, covered, self._reply_shapes)
        ratio = unexplained_share(u, covered, neutral, lead.tokens, lead.like_reply)
        # A reply word garbled into the answer's first words (理営 of 「理営どれもありません」) is
        # no other thing said in its clause.
        explained = [c or i < lead.tokens for i, c in enumerate(covered)] if lead.guessed else covered

        # Statements (ある/ない) count only in a clause that says nothing else.
        answers = [e for e in answers if e.kind != "statement" or clause_clean(u, e, explained, neutral)]

        if kind in ("single", "multi"):
            answers = option_answers(self._options[question_id], kind == "multi", answers)
            if not answers:
                order = self._numbers.positions(self._options[question_id], u.tokens, self._polite_words)
                if order:
                    # A bare 「1」 is what the recogniser writes for many a short sound (うーん):
                    # a position said with nothing else is read back.
                    said = [t for t in u.tokens if t.reading and not t.is_boundary]
                    if len(said) == 1:
                        return Match(option_ids=tuple(order), score=SET_OFF_REPLY_SCORE, decision="confirm",
                                     cautions=("bare_number",))
                    return Match(option_ids=tuple(order), score=95.0, decision="accept")
                other = self._catch_all.other(question_id, u, covered, neutral, found, self.safeguards.asks_back)
                if other is not None:
                    return other
        else:
            answers = yes_no_answers(answers)

        substantive = [e for e in answers if e.tier >= STATEMENT and e.target != UNKNOWN]
        if commands and not substantive:
            best = max(commands, key=lambda e: (e.size, e.last))
            if ratio <= 0.5:
                match = Match(command=best.target, score=round(100 - 60 * ratio, 1), decision="accept")
                # 「はい、だいぶ戻っています」: a reply word as well, so 戻って may not mean "back".
                # One word alone (「終わる」) may be said about something else; 「戻ってください」 is asked.
                words = [t for t in u.tokens if t.reading and not t.is_boundary]
                clear = (ratio == 0 and not any(e.kind == "interjection" for e in answers)
                         and self._command_form(u, best, neutral) == "said" and len(words) > 1)
                return self.safeguards.apply(question_id, match, clear_command=clear, deciding=(best.phrase,))
        if command and not substantive:
            return command
        asks = self.safeguards.asks_back(u)
        if asks and answers and all(e.target == UNKNOWN for e in answers):
            asks = None  # 「どうでしょう？」 says "I don't know", whatever its tune
        if asks:  # 「熱いってどのくらい？」「熱はありますか」: a question back, not an answer
            harmless = [e for e in commands if e.target not in self.safeguards.session_commands]
            if harmless:  # 「もう一度言ってもらえますか」; but 「学校はいつ終わりますか」 is not "stop"
                best = max(harmless, key=lambda e: (e.size, e.last))
                return self.safeguards.apply(question_id, Match(command=best.target, score=90.0, decision="accept"),
                                             deciding=(best.phrase,))
            return Match(command="help", score=85.0, decision="accept") if asks == "help" else Match()

        if not answers:
            if found:
                return Match()  # something was said about it, but negated or unclear: ask again
            return self._sound_alike(question_id, kind, u) or Match()

        match = choose(kind, self._options.get(question_id, ()), answers, ratio)
        if match.decision == "reprompt" and set_off_reply(u, answers):
            # 「はい。野球部でですが。」: a clear はい or いいえ, then words of its own: read back.
            match = result(match.option_ids or (answers[0].target,), SET_OFF_REPLY_SCORE)
        match = self._catch_all.with_other(question_id, match)
        opens_with_no = lead.sounds_like_no or (bool(u.tokens) and u.tokens[0].reading in self._no_readings)
        match = read_back_if_doubtful(match, Doubts(
            no_before_yes=opens_with_no and "yes" in match.option_ids,
            reply_guessed=lead.guessed,
            list_item_not_understood=(kind == "multi" and match.decision == "accept"
                                      and item_not_understood(u, answers, covered, neutral, self._adding_words)),
            with_command=bool(commands),
            doubtful_correction=fixed.doubtful,
            corrected_yes_no=corrected and kind == "yes_no" and question_id != YES_NO,
        ))
        deciding = tuple(e.phrase for e in answers if e.phrase and not e.denied_by)
        hedged = corrected or len({e.target for e in answers}) > 1 or any(e.approximate for e in answers)
        # A lone topic word (「腰」「階段」「腫れ」) names the subject, not what is true of it.
        words = [t for t in u.tokens if t.reading and not t.is_boundary and not t.is_function]
        one_word = (question_id != YES_NO and kind in ("yes_no", "multi") and len(words) == 1
                    and words[0].pos == "名詞" and all(e.kind == "echo" for e in answers))
        # 「漏れないです」「歩けます」: a sign of the question denied, and no word that says no to the whole.
        one_sign_denied = match.option_ids == ("no",) and all(e.negated for e in answers if e.target == "no")
        return self.safeguards.apply(question_id, match, deciding=deciding, morae=morae, hedged=hedged,
                                     guess=self.safeguards.is_hedged(u) or trails_off, one_word=one_word,
                                     one_sign_denied=one_sign_denied, unfinished=unfinished)

    def _sounds_like_session_command(self, u: Utterance) -> Match | None:
        """「もう張りにします」 for 「もう終わりにします」: a session command is only asked about
        (「ここで終わりにしますか」), so a person who meant it is not asked the question three times."""
        hit = self._session_command_alikes.whole_like(u.sound, COMMAND_CUTOFF)
        if hit is None:
            return None
        phrase, similarity = hit
        return Match(command=phrase.target, score=min(SOUND_ALIKE_CAP, similarity * 0.8), decision="confirm",
                     cautions=(SOUND_ALIKE_COMMAND,))

    def _sound_alike(self, question_id: str, kind: str, u: Utterance) -> Match | None:
        """Sound-alike readings (a recogniser's mishearing): only ever offered for confirmation."""
        hit = self._sound_alikes[question_id].closest(u.sound)
        if hit is None:
            return self._sounds_like_session_command(u)
        phrase, similarity = hit
        target = phrase.target
        if kind == "multi" and target == "*":
            return None
        if kind in ("single", "multi") and target not in self._options[question_id]:
            return None
        if kind == "yes_no" and target not in ("yes", "no", UNKNOWN):
            return None
        return result((target,), min(SOUND_ALIKE_CAP, similarity * 0.8))

