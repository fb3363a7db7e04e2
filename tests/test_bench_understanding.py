"""The multi-voice understanding bench: its deterministic pieces, without speech models.

What voices say and how Whisper hears them is measured by bench/understanding.py; here: the
selection of the spoken corpus, the older-speaker effects, the TV noise, the real-recording
manifest, the scoring rules and the transcript cache.
"""
from __future__ import annotations

import csv
import re
from pathlib import Path

import numpy as np
import pytest

from bench import spoken
from bench.noise import SAMPLE_RATE, mean_power
from bench.real_clips import MANIFEST, read_manifest
from bench.understanding import BenchClip, HeardCache, cache_key, decide_all, summarise
from bench.voices import older, roster
from voicecheck.content import COMMAND_IDS, load_content
from voicecheck.interfaces import Heard, ListenContext
from voicecheck.matcher import YES_NO, Match
from voicecheck.settings import Settings

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def content():
    return load_content(Settings().prompts_dir)


def _f0(x: np.ndarray) -> float:
    """Fundamental frequency of a steady voiced sound, by autocorrelation (70–400 Hz)."""
    x = x - x.mean()
    c = np.correlate(x[:4000], x[:4000], "full")[3999:]
    lo, hi = SAMPLE_RATE // 400, SAMPLE_RATE // 70
    return SAMPLE_RATE / (lo + int(np.argmax(c[lo:hi])))


def _voiced(seconds: float = 1.0, f0: float = 150.0) -> np.ndarray:
    t = np.arange(int(seconds * SAMPLE_RATE)) / SAMPLE_RATE
    return (0.2 * sum(np.sin(2 * np.pi * f0 * k * t) / k for k in range(1, 6))).astype(np.float32)


# ------------------------------------------------------------------------------------------
# Selection of the spoken corpus


def _typed(n_per_label: int = 6) -> list[dict[str, str]]:
    rows = []
    for question, labels in {"swelling": ("yes", "no", "unknown", "no?", "none", "repeat", "stop"),
                             "frequency": ("daily", "weekly", "sometimes", "none", "skip", "daily?")}.items():
        for label in labels:
            for i in range(n_per_label):
                rows.append({"text": f"{question}-{label}-{i}", "question": question, "expected": label,
                             "source": "test", "split": "heldout" if i % 3 == 0 else "dev"})
    return rows


def test_selection_is_deterministic_and_covers_every_kind_of_answer():
    voices = [f"v{i}" for i in range(11)]
    first = spoken.select(_typed(), voices, texts=20)
    assert first == spoken.select(list(reversed(_typed())), voices, texts=20)  # input order does not matter
    assert len(first) == 20
    for question in ("swelling", "frequency"):
        kinds = {spoken.kind_of_expected(r.expected) for r in first if r.question == question}
        assert kinds == {"answer", "ambiguous", "none", "command"}
    typed_split = {r["text"]: r["split"] for r in _typed()}
    assert all(r.split == typed_split[r.text] for r in first)  # each row keeps its split
    assert {r.split for r in first} == {"dev", "heldout"}


def test_every_text_gets_three_different_voices_and_voices_share_the_work():
    voices = [f"v{i}" for i in range(11)]
    rows = spoken.select(_typed(12), voices, texts=44)
    assert all(len(set(r.voices)) == spoken.VOICES_PER_TEXT for r in rows)
    counts = {v: sum(v in r.voices for r in rows) for v in voices}
    assert max(counts.values()) - min(counts.values()) <= 1


def test_real_answers_follow_how_common_each_label_is():
    queues = {"no": [{"text": str(i)} for i in range(30)], "yes": [{"text": str(i)} for i in range(20)],
              "unknown": [{"text": str(i)} for i in range(3)]}
    taken = spoken._take_proportional(queues, 6)
    labels = [len(queues[k]) for k in ("no", "yes", "unknown")]
    assert labels == [27, 18, 2]  # 3 no, 2 yes, 1 unknown


def test_spoken_corpus_rows_are_valid(content):
    rows = spoken.read_spoken()
    names = {v.name for v in roster()}
    questions = {q.id for q in content.questions} | {YES_NO}
    assert len(rows) >= 150
    for r in rows:
        assert r.question in questions, r
        assert r.split in ("dev", "heldout"), r
        assert set(r.voices) <= names, r
        assert spoken.OWN_VOICE not in r.voices  # the product's voice is never a bench voice
    assert {r.question for r in rows} == questions


def test_roster_has_eight_voices_from_several_engines_and_not_the_product_voice():
    voices = roster()
    assert len(voices) >= 8
    assert len({v.engine for v in voices}) >= 2
    assert not any("mei" in v.name for v in voices)


# ------------------------------------------------------------------------------------------
# Older speaker


def test_time_stretch_keeps_the_pitch_and_scales_the_length():
    x = _voiced(1.0, 150.0)
    y = older.time_stretch(x, 1.3)
    assert abs(len(y) / len(x) - 1.3) < 0.01
    assert abs(_f0(y[2000:]) - 150.0) < 8.0


def test_lower_pitch_lowers_it_by_the_semitones_asked():
    y = older.lower_pitch(_voiced(1.0, 200.0), 3.0)
    assert abs(_f0(y[1000:]) - 200.0 * 2 ** (-3 / 12)) < 8.0


def test_older_speaker_is_deterministic_slower_and_levelled():
    x = np.concatenate([np.zeros(1600, np.float32), _voiced(1.2, 180.0), np.zeros(1600, np.float32)])
    a, params = older.older_speaker(x, "kokoro/jf_alpha", "はい")
    b, _ = older.older_speaker(x, "kokoro/jf_alpha", "はい")
    c, other = older.older_speaker(x, "kokoro/jm_kumo", "はい")
    assert np.array_equal(a, b)
    assert params != other and not np.array_equal(a[: len(c)], c[: len(a)])
    assert len(a) > 1.15 * len(x)
    assert 1.5 <= params.semitones_down <= 3.5 and 4.0 <= params.tremor_hz <= 7.0
    assert np.max(np.abs(a)) <= 0.99


def test_room_impulse_response_decays_by_its_rt60():
    rng = np.random.default_rng(3)
    rir = older.room_impulse_response(0.5, 4.0, rng)
    energy = np.cumsum(rir[::-1] ** 2)[::-1]  # Schroeder backward integration
    db = 10 * np.log10(energy / energy[0])
    t20 = np.argmax(db < -25) - np.argmax(db < -5)  # 20 dB of decay …
    assert 0.35 < 3 * t20 / SAMPLE_RATE < 0.7  # … extrapolated to 60 dB


def test_tremor_wobbles_the_loudness_at_its_rate():
    x = _voiced(2.0, 150.0)
    y = older.tremor(x, 5.0, 0.2, 0.0, phase=0.0)
    frame = SAMPLE_RATE // 100
    env = np.sqrt(np.mean(y[: len(y) // frame * frame].reshape(-1, frame) ** 2, axis=1))
    spectrum = np.abs(np.fft.rfft(env - env.mean()))
    freqs = np.fft.rfftfreq(len(env), 1 / 100)
    assert abs(freqs[np.argmax(spectrum)] - 5.0) < 0.6


# ------------------------------------------------------------------------------------------
# TV noise


def test_tv_noise_is_deterministic_unit_power_and_mostly_talk():
    pytest.importorskip("bench.music")
    from bench.voices.tv import tv_noise

    rng = np.random.default_rng(0)
    babble = rng.standard_normal(10 * SAMPLE_RATE).astype(np.float32)
    a, b = tv_noise(babble, seconds=10.0), tv_noise(babble, seconds=10.0)
    assert np.array_equal(a, b)
    assert abs(mean_power(a) - 1.0) < 1e-3
    assert np.corrcoef(a, babble)[0, 1] > 0.6


# ------------------------------------------------------------------------------------------
# Real recordings


def test_real_clip_manifest_is_complete_and_labelled_against_our_questions(content):
    clips = read_manifest()
    assert len(clips) >= 60
    options = {q.id: set(q.option_ids) | {"unknown"} | ({"yes", "no"} if q.kind == "yes_no" else set())
               for q in content.questions}
    options[YES_NO] = {"yes", "no", "unknown"}
    for c in clips:
        assert re.fullmatch(r"[0-9a-f]{64}", c.sha256), c
        assert re.fullmatch(r"[0-9a-f]{40}", c.commit), c
        assert c.licence and c.speaker and c.said and "/" in c.repo, c
        label = c.expected.rstrip("?")
        allowed = options[c.question] | set(COMMAND_IDS) | {"none", "text"}
        assert all(part in allowed for part in label.split("+")), c
    assert len({(c.id, c.question) for c in clips}) == len(clips)
    with MANIFEST.open(encoding="utf-8") as f:
        assert all(len(row) == 10 for row in csv.reader(f, delimiter="\t", quoting=csv.QUOTE_NONE))


def test_no_fetched_recording_is_committed():
    committed = {p.name for p in (ROOT / "bench").rglob("*") if p.suffix.lower() in (".wav", ".ogg", ".mp3")
                 and "out" not in p.parts}
    assert not committed


# ------------------------------------------------------------------------------------------
# Scoring


class _Matcher:
    """Answers from a table: heard text → Match."""

    def __init__(self, table: dict[str, Match]) -> None:
        self.table = table

    def understand(self, question_id: str, heard: Heard) -> Match:
        return self.table.get(heard.text, Match())


def _clip(text: str, expected: str, question: str = "swelling", group: str = "voices") -> BenchClip:
    return BenchClip(f"{group}|{text}|{expected}", group, "kokoro/jf_alpha", "clean", question, expected, "dev",
                     text, Path("x.wav"))


def test_outcomes_count_wrong_accepts_and_ambiguous_answers_as_the_evaluate_command_does():
    matcher = _Matcher({
        "はい": Match(option_ids=("yes",), score=95, decision="accept"),
        "大丈夫": Match(option_ids=("no",), score=95, decision="accept"),
        "大丈夫です": Match(option_ids=("no",), score=70, decision="confirm"),
        "ええと": Match(option_ids=("yes",), score=70, decision="confirm"),
        "灰色": Match(option_ids=("yes",), score=95, decision="accept"),
    })
    clips = [_clip("はい", "yes"), _clip("大丈夫", "no?"), _clip("大丈夫です", "no?"), _clip("ええと", "none"),
             _clip("灰色", "none", question="safety_now"), _clip("……", "yes"), _clip("……", "no?")]
    heard = {c.id: Heard(text=c.text) for c in clips}
    by_text = {(d.clip.text, d.clip.expected): d for d in decide_all(clips, heard, matcher)}
    assert by_text[("はい", "yes")].outcome == "accepted"
    assert by_text[("大丈夫", "no?")].wrong_accept  # ambiguous taken without a read-back
    assert by_text[("大丈夫です", "no?")].correct and by_text[("大丈夫です", "no?")].outcome == "read back"
    assert by_text[("ええと", "none")].wrong_read_back
    assert by_text[("灰色", "none")].wrong_accept
    assert by_text[("……", "yes")].outcome == "missed (asked again)"
    assert by_text[("……", "no?")].correct  # asked again is right for an ambiguous answer
    tally = summarise(list(by_text.values()))["condition"][("clean", "all")]
    assert (tally.n, tally.understood, tally.wrong_accepts, tally.wrong_read_backs, tally.missed) == (7, 3, 2, 1, 1)
    assert tally.safety_wrong_accepts == 1


def test_own_voice_and_real_recordings_are_never_pooled_with_the_bench_voices():
    matcher = _Matcher({"はい": Match(option_ids=("yes",), score=95, decision="accept")})
    clips = [_clip("はい", "yes"), _clip("はい", "yes", group="own"), _clip("はい", "no", group="real")]
    decided = decide_all(clips, {c.id: Heard(text="はい") for c in clips}, matcher)
    tables = summarise(decided)
    assert tables["condition"][("clean", "all")].n == 1
    assert tables["own"][("clean", "all")].n == 1
    assert tables["real"][("all",)].wrong_accepts == 1


# ------------------------------------------------------------------------------------------
# Transcript cache


def test_heard_cache_keeps_every_hypothesis_and_survives_a_cut_line(tmp_path):
    path = tmp_path / "heard.jsonl"
    cache = HeardCache(path)
    cache.put("k1", Heard(text="はい", alternatives=("開", "肺"), confidence=0.8, timings={"recognition": 0.5}))
    with path.open("a", encoding="utf-8") as f:
        f.write('{"key": "k2", "heard": {"te')
    again = HeardCache(path).get("k1")
    assert again.text == "はい" and again.alternatives == ("開", "肺") and again.confidence == 0.8
    assert HeardCache(path).get("k2") is None


def test_cache_key_changes_with_the_audio_and_the_context():
    x = np.zeros(1600, np.float32)
    ctx = ListenContext("swelling", ("はい",), 10.0, "腫れていますか。")
    base = cache_key(x, "whisper", ctx, "cfg")
    assert base == cache_key(x.copy(), "whisper", ctx, "cfg")
    assert base != cache_key(x + 1e-3, "whisper", ctx, "cfg")
    assert base != cache_key(x, "whisper", ListenContext("swelling", ("はい",), 10.0, ""), "cfg")
    assert base != cache_key(x, "vosk", ctx, "cfg")


def test_rescore_decides_again_on_saved_hearings_with_todays_labels(tmp_path):
    from bench.real_clips import read_manifest
    from bench.understanding import load_results, rescore

    real = next(c for c in read_manifest() if c.expected == "none")
    row = spoken.read_spoken()[0]
    saved = {"meta": {"command": "x", "when": "x", "engine": "whisper", "decision": "x", "clips": 2, "fresh": 2,
                      "minutes": 1.0},
             "notes": {},
             "clips": [
                 {"id": f"real|{real.id}|{real.question}", "group": "real", "voice": real.repo, "condition": "clean",
                  "question": real.question, "expected": "yes", "split": "real", "text": real.said, "audio": "a.wav",
                  "heard": {"text": "", "alternatives": [], "timed_out": True}},
                 {"id": f"kokoro/jf_alpha|clean|{row.question}|{row.text}", "group": "voices",
                  "voice": "kokoro/jf_alpha", "condition": "clean", "question": row.question, "expected": "stale",
                  "split": row.split, "text": row.text, "audio": "b.wav",
                  "heard": {"text": row.text, "alternatives": [row.text]}},
             ]}
    path = tmp_path / "understanding.json"
    path.write_text(__import__("json").dumps(saved, ensure_ascii=False), encoding="utf-8")
    text = rescore(path, output=None, log=lambda _m: None)
    again = load_results(path)["clips"]
    assert [c["expected"] for c in again] == [real.expected, row.expected]  # labels from today's manifests
    assert again[0]["outcome"] == "asked again (right)"  # nothing heard on a clip to reject
    assert "decided again" in text
