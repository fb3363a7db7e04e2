"""Understanding answers: from what was heard to an answer id, a score and a decision.

The pipeline is readable from the module names, in order: `utterance` (words and readings),
`whole_answers`, `phrase_index` and `evidence` (finding the question's phrases), `numbers`
(ages, rates, positions), `negation`, `decision`, `sound_alikes`, `voicing` (voicing marks the
recogniser lost), `safeguards`, and `hypotheses` (several recogniser hypotheses → one
decision). `voicecheck.matcher.Matcher` puts them together; `phrases` loads their data from
prompts/<lang>/answers.toml.
"""
