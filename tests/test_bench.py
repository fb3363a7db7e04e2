"""The benchmark's deterministic pieces: noise mixing, the corpus, the naive baseline, the cache.

No timings are asserted here; speed is what bench/run.py measures.
"""
from __future__ import annotations

import numpy as np
import pytest

from bench import corpus as corpus_module
from bench.corpus import VOICES, read_corpus, render_speech
from bench.listen import CLEAN, Condition, HeardCache, Listened, condition_audio
from bench.naive import NaiveMatcher
from bench.noise import (SAMPLE_RATE, active_power, babble, mean_power, mix_at_snr, noise_offset, pink_noise,
                         snr_db)
from bench.startup import read_session
from voicecheck.content import load_content
from voicecheck.evaluate import read_manifest
from voicecheck.matcher import Matcher
from voicecheck.settings import Settings


@pytest.fixture(scope="module")
def content():
    return load_content(Settings().prompts_dir)


def _speech_like(seconds: float = 2.0, seed: int = 1) -> np.ndarray:
    """Bursts of a harmonic tone with silence around them, at a modest level."""
    rng = np.random.default_rng(seed)
    t = np.arange(int(seconds * SAMPLE_RATE)) / SAMPLE_RATE
    tone = 0.2 * np.sin(2 * np.pi * 180 * t) + 0.1 * np.sin(2 * np.pi * 720 * t)
    envelope = (np.sin(2 * np.pi * 3 * t) > 0).astype(float)
    x = tone * envelope * (1 + 0.1 * rng.standard_normal(len(t)))
    silence = np.zeros(int(0.5 * SAMPLE_RATE))
    return np.concatenate([silence, x, silence]).astype(np.float32)


@pytest.mark.parametrize("snr", [20.0, 15.0, 10.0, 5.0, 0.0])
@pytest.mark.parametrize("kind", ["pink", "white"])
def test_mixing_gives_the_asked_snr(snr, kind):
    speech = _speech_like()
    track = pink_noise(len(speech) + 5000, seed=3) if kind == "pink" else \
        np.random.default_rng(3).standard_normal(len(speech) + 5000).astype(np.float32)
    mixed = mix_at_snr(speech, track, snr)
    added = mixed.astype(np.float64) - speech
    assert snr_db(speech, added) == pytest.approx(snr, abs=0.1)


def test_snr_counts_the_voice_not_the_silence_around_it():
    speech = _speech_like()
    padded = np.concatenate([np.zeros(SAMPLE_RATE * 3, np.float32), speech, np.zeros(SAMPLE_RATE * 3, np.float32)])
    assert active_power(padded) == pytest.approx(active_power(speech), rel=1e-6)
    assert mean_power(padded) < active_power(padded) / 2


def test_a_mix_that_would_clip_is_scaled_down_whole_keeping_the_snr():
    speech = _speech_like() * 4.0  # peaks near 1.2 before any noise
    noise = pink_noise(len(speech), seed=5)
    loud = mix_at_snr(speech, noise, 5.0)
    quiet = mix_at_snr(speech * 0.1, noise, 5.0)  # the same mix, far from clipping
    assert np.max(np.abs(loud)) <= 0.99 + 1e-6
    ratio = loud[np.abs(quiet) > 1e-3] / quiet[np.abs(quiet) > 1e-3]
    assert np.allclose(ratio, ratio[0], rtol=1e-3)  # proportional: the SNR is unchanged


def test_clean_condition_leaves_the_answer_untouched_and_adds_the_pad():
    speech = _speech_like()
    out = condition_audio(speech, "clip", CLEAN, {}, pad_s=1.0)
    assert np.array_equal(out[: len(speech)], speech)
    assert len(out) == len(speech) + SAMPLE_RATE and not out[len(speech):].any()


def test_noisy_condition_is_deterministic_and_pad_length_does_not_change_the_answer_part():
    speech = _speech_like()
    tracks = {"pink": pink_noise(45 * SAMPLE_RATE)}
    cond = Condition("pink", 10.0)
    first = condition_audio(speech, "clip-7", cond, tracks)
    again = condition_audio(speech, "clip-7", cond, tracks)
    longer = condition_audio(speech, "clip-7", cond, tracks, pad_s=20.0)
    other_clip = condition_audio(speech, "clip-8", cond, tracks)
    assert np.array_equal(first, again)
    assert np.allclose(longer[: len(speech)], first[: len(speech)], atol=1e-6)
    assert not np.allclose(other_clip, first)  # each clip hears its own stretch of noise
    assert snr_db(speech, (first - np.pad(speech, (0, len(first) - len(speech))))[: len(speech)]) == \
        pytest.approx(10.0, abs=0.1)


def test_same_seed_same_noise():
    assert np.array_equal(pink_noise(16000, seed=11), pink_noise(16000, seed=11))
    assert not np.array_equal(pink_noise(16000, seed=11), pink_noise(16000, seed=12))
    assert noise_offset(100_000, 5_000, "a", "pink") == noise_offset(100_000, 5_000, "a", "pink")


def test_pink_noise_has_equal_power_per_octave():
    x = pink_noise(20 * SAMPLE_RATE, seed=2)
    spectrum = np.abs(np.fft.rfft(x)) ** 2
    freqs = np.fft.rfftfreq(len(x), 1 / SAMPLE_RATE)

    def band(lo, hi):
        return spectrum[(freqs >= lo) & (freqs < hi)].sum()

    low, high = band(250, 500), band(2000, 4000)
    assert abs(10 * np.log10(low / high)) < 1.0
    assert mean_power(x) == pytest.approx(1.0, rel=1e-3)


def test_babble_is_deterministic_and_of_unit_power():
    sentences = ["明日の天気は晴れです。", "駅前で祭りが開かれます。"]
    a = babble(sentences, seconds=3.0, seed=4, talkers=2)
    b = babble(sentences, seconds=3.0, seed=4, talkers=2)
    assert len(a) == 3 * SAMPLE_RATE
    assert np.array_equal(a, b)
    assert mean_power(a) == pytest.approx(1.0, rel=1e-3)


def test_synthesis_is_deterministic_and_voices_differ():
    v1, v2 = VOICES["mei"], VOICES["deep"]
    a = render_speech("はい、腫れています", speed=v1.speed, half_tone=v1.half_tone)
    b = render_speech("はい、腫れています", speed=v1.speed, half_tone=v1.half_tone)
    c = render_speech("はい、腫れています", speed=v2.speed, half_tone=v2.half_tone, formant=v2.formant)
    assert np.array_equal(a, b)
    assert len(a) != len(c) or not np.allclose(a, c)
    assert 10 * np.log10(active_power(a)) == pytest.approx(corpus_module.SPEECH_LEVEL_DBFS, abs=0.5)


def test_corpus_covers_every_question_with_valid_answers(content, tmp_path):
    rows = read_corpus()
    assert len(rows) >= 150
    assert {r.question for r in rows} == {q.id for q in content.questions}
    assert {r.voice for r in rows} == set(VOICES)
    # Every row must be a valid `evaluate` case: known question, allowed expected value.
    manifest = tmp_path / "m.tsv"
    manifest.write_text("text\tquestion\texpected\n" + "".join(f"{r.text}\t{r.question}\t{r.expected}\n" for r in rows),
                        encoding="utf-8")
    cases = read_manifest(manifest, Matcher(content))
    assert len(cases) == len(rows)
    assert len({(r.text, r.question) for r in rows}) == len(rows)  # no duplicates


def test_session_script_follows_the_questionnaire(content):
    turns = read_session()
    questions = [t.question for t in turns if t.question != "yes_no"]
    assert questions == [q.id for q in content.questions]


def test_naive_baseline_is_one_fuzzy_lookup_of_the_labels(content):
    naive = NaiveMatcher(content)
    assert naive.match("swelling", "はい").option_ids == ("yes",)
    assert naive.match("swelling", "いいえ").option_ids == ("no",)
    assert naive.match("frequency", "週に一回以上").option_ids == ("weekly",)
    assert naive.match("situations", "平らな道を歩いているとき").option_ids == ("flat_walking",)
    assert naive.match("swelling", "もう一回").command == "repeat"
    assert naive.match("since_when", "去年の冬から").text == "去年の冬から"
    assert naive.match("swelling", "").decision == "reprompt"
    # One lookup gives one label: two situations at once are beyond it.
    two = naive.match("situations", "階段や段差を下りるときと、椅子などから立ち上がるとき")
    assert len(two.option_ids) == 1


def test_heard_cache_round_trip_survives_a_cut_line(tmp_path):
    path = tmp_path / "heard.jsonl"
    cache = HeardCache(path)
    heard = Listened("はい", False, True, 2.5, 2.0, 0.01, 0.4)
    cache.put("k1", heard)
    with path.open("a", encoding="utf-8") as f:
        f.write('{"key": "k2", "heard": {"text": "途')  # an interrupted run
    again = HeardCache(path)
    assert again.get("k1").text == "はい" and again.get("k1").cached
    assert again.get("k2") is None


# ---------------------------------------------------------------------------------- whole simulated sessions

def _typed(text: str) -> dict:
    return {"text": text, "alternatives": [], "confidence": 0.9, "no_speech": 0.01, "timed_out": False, "timings": {}}


def test_a_simulated_session_ends_each_question_where_the_questionnaire_leaves_it(content):
    """bench/sessions.py plays the real questionnaire against takes; typed takes make it exact."""
    import random

    from bench.sessions import Takes, simulate

    cond = "clean"
    by_key = {}
    for q in content.questions:
        if q.kind == "yes_no":
            by_key[(q.id, "no", cond)] = [_typed("いいえ、違います")]
        elif q.kind == "free_text":
            by_key[(q.id, "text", cond)] = [_typed("三年前からです")]
        else:
            option = q.options[0]
            by_key[(q.id, option.id, cond)] = [_typed(f"{option.label}です")]
    # The person mishears nothing but is unsure about swelling: 「たぶん」 is read back, then confirmed.
    by_key[("swelling", "no", cond)] = [_typed("たぶん腫れてないです")]
    by_key[("yes_no", "yes", cond)] = [_typed("はい")]
    by_key[("yes_no", "no", cond)] = [_typed("いいえ")]
    endings = simulate(content, Matcher(content), Takes(by_key, random.Random(1)), cond, random.Random(2))
    kinds = {e.question: e.kind for e in endings}
    assert set(kinds) == {q.id for q in content.questions}
    assert all(kind == "right" for kind in kinds.values()), kinds
    turns = {e.question: e.turns for e in endings}
    assert turns["swelling"] == 2 and turns["warmth"] == 1  # a read-back costs one turn


def test_the_live_bench_places_a_clip_where_it_really_sounded_in_the_room():
    """bench/live_room.py times the reply from where the person's clip sounded in the room's own
    recording (paplay starts late), found through the TV, on the clock the reply is timed by."""
    import threading

    from bench.live_room import RATE, RoomWatch

    rng = np.random.default_rng(5)
    clip = (0.3 * rng.standard_normal(RATE)).astype(np.float32) * np.hanning(RATE).astype(np.float32)
    tv = (0.1 * rng.standard_normal(4 * RATE)).astype(np.float32)
    room = tv.copy()
    at = int(1.337 * RATE)
    room[at:at + len(clip)] += clip
    watch = object.__new__(RoomWatch)  # no PulseAudio: the frames as if read from the room's monitor
    watch._lock, watch._frames, watch._count, watch._origin = threading.Lock(), [], 0, float("inf")
    for i in range(len(room) // 480):
        # handed over in bursts of ten frames, the first burst only once the tenth frame has sounded
        read_at = 100.0 + (i // 10 + 1) * 10 * 480 / RATE + 0.004 + (0.8 if i < 40 else 0.0)
        watch._frame(room[i * 480:(i + 1) * 480].astype(np.float64), read_at)
    placed = watch.placed(clip, after=100.9)
    assert placed is not None and abs(placed - (100.0 + 1.337)) < 0.01  # within the least lag seen
    assert watch.placed(clip, after=102.5) is None  # not there: the caller falls back to the paplay call


def test_the_endpointing_bench_reports_each_group_of_speakers_apart():
    from bench.endpointing import Case, Outcome, Row, groups_table

    def case(group: str) -> Case:
        return Case("a", np.zeros(10, np.float32), 0.0, 1.0, group=group)

    cases = [case("Kokoro"), case("Kokoro"), case("real people")]
    found, late, cut = (Outcome(1.3, False, False, False, False, False), Outcome(2.1, False, False, False, False, False),
                        Outcome(0.2, False, True, False, False, False))
    table = groups_table([Row("babble 10 dB", [found, late, cut])], cases)
    assert table[0] == "| end found within 1.5 s · cut in a pause · at the cap | Kokoro (2) | real people (1) |"
    assert table[2] == "| babble 10 dB | 50 % · 0 · 0 | 0 % · 1 · 0 |"


def test_the_endpointing_bench_measures_the_longest_pause_inside_an_answer():
    from bench.endpointing import longest_pause

    tone = (0.3 * np.sin(np.arange(int(0.5 * SAMPLE_RATE)) * 0.2)).astype(np.float32)
    gap = np.zeros(int(1.4 * SAMPLE_RATE), np.float32)
    edge = np.zeros(int(2.0 * SAMPLE_RATE), np.float32)  # silence around the answer is no pause in it
    assert longest_pause(np.concatenate([edge, tone, gap, tone, edge])) == pytest.approx(1.4, abs=0.02)
    assert longest_pause(np.concatenate([edge, tone, edge])) == 0.0


def test_the_endpointing_bench_tells_a_cut_in_a_long_pause_from_one_in_a_short_pause():
    from bench.endpointing import Case, Outcome, Row, words_table

    cases = [Case("long", np.zeros(1, np.float32), 0.0, 1.0, longest_pause_s=1.45),
             Case("short", np.zeros(1, np.float32), 0.0, 1.0, longest_pause_s=0.6)]
    cut = Outcome(0.1, False, True, False, False, False)
    row = words_table([Row("quiet", [cut, cut])], 2, cases, end_silence_s=1.3)[2]
    assert "| 0 / 2 (1 in a pause ≥ 1.3 s) |" in row
