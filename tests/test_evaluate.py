from __future__ import annotations

import io
import json
import re
from pathlib import Path

import pytest

from voicecheck.content import load_content
from voicecheck.evaluate import run_evaluate
from voicecheck.interfaces import Heard
from voicecheck.matcher import Matcher

ROOT = Path(__file__).resolve().parent.parent
CORPUS = ROOT / "tests" / "data" / "answers_corpus.tsv"


@pytest.fixture(scope="module")
def matcher() -> Matcher:
    return Matcher(load_content(ROOT / "prompts" / "ja"))


def evaluate(manifest: Path, matcher: Matcher, **kwargs) -> tuple[int, str]:
    out = io.StringIO()
    status = run_evaluate(manifest, matcher=matcher, out=out, **kwargs)
    return status, out.getvalue()


def write(tmp_path: Path, text: str, name: str = "m.tsv") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def test_corpus_is_large_varied_and_covers_every_question(matcher):
    rows = [line.split("\t") for line in CORPUS.read_text(encoding="utf-8").splitlines()[1:]]
    assert len(rows) >= 320
    questions = {r[1] for r in rows}
    assert {q.id for q in matcher.content.questions} <= questions
    assert sum(1 for r in rows if r[2] == "none") >= 30
    assert {"repeat", "back", "skip", "help", "stop"} <= {r[2] for r in rows}
    assert any("+" in r[2] for r in rows)
    assert len({r[0] for r in rows}) >= 0.9 * len(rows)  # varied, not the same answer over and over


def test_corpus_passes_at_98_percent_and_lists_every_miss(matcher):
    status, text = evaluate(CORPUS, matcher, as_json=False)
    last = text.rstrip().splitlines()[-1]
    found = re.fullmatch(r"accuracy: (\d\.\d{3}) \((\d+)/(\d+)\)", last)
    assert found, last
    accuracy, correct, total = float(found[1]), int(found[2]), int(found[3])
    assert accuracy >= 0.98
    misses = re.findall(r"^  line \d+: ", text, flags=re.M)
    assert len(misses) == total - correct
    assert status == (0 if correct == total else 1)


def test_json_report_has_the_same_numbers(matcher):
    status, text = evaluate(CORPUS, matcher, as_json=True)
    data = json.loads(text)
    assert data["total"] == sum(q["total"] for q in data["per_question"].values())
    assert data["correct"] == data["total"] - len(data["misses"])
    assert data["accuracy"] == round(data["correct"] / data["total"], 3)
    assert set(data["per_question"]) >= {"swelling", "situations", "since_when"}
    for miss in data["misses"]:
        assert {"line", "question", "heard", "expected", "chosen", "decision", "score"} <= set(miss)


def test_miss_shows_heard_and_chosen(tmp_path, matcher):
    manifest = write(tmp_path, "text\tquestion\texpected\n"
                               "腫れています\tswelling\tyes\n"
                               "腫れています\tswelling\tno\n"
                               "立つ時と階段を下りる時\tsituations\tstairs_down+standing_up\n"
                               "今日はいい天気ですね\twarmth\tnone\n")
    status, text = evaluate(manifest, matcher, as_json=False)
    assert status == 1
    assert "line 3: swelling heard 「腫れています」 expected no, chose yes" in text
    assert "swelling" in text and "0.500" in text  # per-question accuracy
    assert text.rstrip().endswith("accuracy: 0.750 (3/4)")


def test_all_correct_exits_zero(tmp_path, matcher):
    manifest = write(tmp_path, "question\texpected\ttext\nswelling\tyes\tはい\nsince_when\ttext\t去年から\n")
    status, text = evaluate(manifest, matcher, as_json=False)
    assert status == 0
    assert text.rstrip().endswith("accuracy: 1.000 (2/2)")


def test_missing_manifest_is_a_friendly_message(tmp_path, matcher):
    status, text = evaluate(tmp_path / "nothing.tsv", matcher, as_json=False)
    assert status == 2
    assert "does not exist" in text and "Traceback" not in text


@pytest.mark.parametrize("content, message", [
    ("", "empty"),
    ("words\tquestion\texpected\nはい\tswelling\tyes\n", "text (or audio)"),
    ("text\tquestion\texpected\nはい\tknee\tyes\n", "line 2: unknown question 'knee'"),
    ("text\tquestion\texpected\nはい\tswelling\tmaybe\n", "line 2: 'maybe' is not an answer of swelling"),
    ("text\tquestion\texpected\nはい\tfrequency\tdaily+weekly\n", "frequency takes one answer"),
    ("text\tquestion\texpected\n", "no answers"),
])
def test_bad_manifests_are_reported(tmp_path, matcher, content, message):
    status, text = evaluate(write(tmp_path, content), matcher, as_json=False)
    assert status == 2
    assert message in text


def test_bad_manifest_as_json(tmp_path, matcher):
    status, text = evaluate(write(tmp_path, "text\tquestion\texpected\nはい\tknee\tyes\n"), matcher, as_json=True)
    assert status == 2
    assert "unknown question" in json.loads(text)["error"]


def test_audio_manifest_without_recogniser(tmp_path, matcher):
    (tmp_path / "a.wav").write_bytes(b"RIFF")
    manifest = write(tmp_path, "audio\tquestion\texpected\na.wav\tswelling\tyes\n")
    status, text = evaluate(manifest, matcher, as_json=False)
    assert status == 2
    assert "audio" in text and "Traceback" not in text


def test_audio_manifest_is_transcribed_first(tmp_path, matcher):
    (tmp_path / "a.wav").write_bytes(b"RIFF")
    (tmp_path / "b.wav").write_bytes(b"RIFF")
    manifest = write(tmp_path, "audio\tquestion\texpected\na.wav\tswelling\tyes\nb.wav\tsituations\tturning\n")
    calls = []

    def transcribe(path: Path, question: str) -> Heard:
        calls.append((path.name, question))
        if path.name == "b.wav":
            raise RuntimeError("broken file")
        return Heard("腫れてます")

    status, text = evaluate(manifest, matcher, as_json=False, transcribe=transcribe)
    assert calls == [("a.wav", "swelling"), ("b.wav", "situations")]
    assert status == 1
    assert "could not transcribe: broken file" in text
    assert text.rstrip().endswith("accuracy: 0.500 (1/2)")


def test_audio_file_missing_is_reported(tmp_path, matcher):
    manifest = write(tmp_path, "audio\tquestion\texpected\nnope.wav\tswelling\tyes\n")
    status, text = evaluate(manifest, matcher, as_json=False, transcribe=lambda p, q: "はい")
    assert status == 2
    assert "line 2: audio file 'nope.wav' not found" in text


def test_context_dependent_answers_count_as_right_only_when_not_accepted(tmp_path, matcher):
    manifest = write(tmp_path, "text\tquestion\texpected\n大丈夫です\tswelling\tno?\nいいえ\tswelling\tno?\n")
    status, text = evaluate(manifest, matcher, as_json=False)
    # 「大丈夫です」 is read back (right); a clear 「いいえ」 accepted where a read-back was required is
    # counted as a wrong accept.
    assert status == 1
    assert "wrong accepts: 1" in text
    assert "line 3: swelling heard 「いいえ」 expected no?, chose no (accept, 95) — wrong accept" in text


def test_wrong_accepts_are_counted_apart_from_misses(tmp_path, matcher):
    manifest = write(tmp_path, "text\tquestion\texpected\n腫れています\tswelling\tno\n今日はいい天気\tswelling\tyes\n")
    status, text = evaluate(manifest, matcher, as_json=True)
    summary = json.loads(text)
    assert summary["wrong_accepts"] == 1
    assert [m["outcome"] for m in summary["misses"]] == ["wrong accept", "missed"]
