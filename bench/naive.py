"""The naive baseline the matcher is compared with: one rapidfuzz call, no normalisation.

The raw transcript is compared with the question's option labels (for yes/no questions the
labels はい / いいえ / わからない the program itself uses) with a single
`rapidfuzz.process.extractOne` call, default scorer (WRatio). Nothing is normalised: no
filler removal, no readings, no negation, no numbers. The best label wins when it scores at
least CUTOFF; otherwise the answer counts as not understood.

To keep the comparison fair the baseline also knows one word for each global command (the
first phrase the matcher lists for it), so it can answer "repeat" or "stop" at all. Free-text
answers are kept as they were heard, as the matcher does.
"""
from __future__ import annotations

from pathlib import Path

from rapidfuzz import fuzz, process

from voicecheck.content import COMMAND_IDS, Content
from voicecheck.matcher import Match
from voicecheck.understanding.phrases import load_answer_phrases

CUTOFF = 0.0  # see above: any threshold made the baseline worse


class NaiveMatcher:
    def __init__(self, content: Content, cutoff: float = CUTOFF) -> None:
        self.content = content
        self.cutoff = cutoff
        phrases = load_answer_phrases(Path(content.directory), content)
        commands = {cid: phrases.commands[cid][0] for cid in COMMAND_IDS if phrases.commands.get(cid)}
        yes_no = {"yes": content.say("yes_label"), "no": content.say("no_label"),
                  "unknown": content.say("unknown_label")}
        self.kinds = {q.id: q.kind for q in content.questions}
        self.choices: dict[str, dict[str, str]] = {}
        for q in content.questions:
            labels = yes_no if q.kind == "yes_no" else {o.id: o.label for o in q.options}
            self.choices[q.id] = {**labels, **commands}

    def match(self, question_id: str, heard: str) -> Match:
        heard = heard or ""
        if self.kinds[question_id] == "free_text":
            return Match(text=heard, score=100.0, decision="accept") if heard.strip() else Match()
        best = process.extractOne(heard, self.choices[question_id], scorer=fuzz.WRatio, score_cutoff=self.cutoff)
        if best is None or best[1] <= 0:
            return Match()
        _label, score, key = best
        if key in COMMAND_IDS:
            return Match(command=key, score=score, decision="accept")
        return Match(option_ids=(key,), score=score, decision="accept")
