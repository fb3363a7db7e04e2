"""The typed evaluation corpora in bench/corpora are well formed (cheap: no recogniser, no matching).

They are the measuring stick for answer understanding, so a wrong or unattributed row is a defect:
every label must be one the question can take, every text must appear once per question, the
dev / held-out split must follow the hash rule in bench/corpora/split.py (so nobody can pick the
held-out answers by hand), and every source must be named in the README with its licence.
"""
from __future__ import annotations

import importlib.util
import re
from collections import Counter
from pathlib import Path
from types import SimpleNamespace

import pytest

from voicecheck.evaluate import read_manifest

ROOT = Path(__file__).resolve().parent.parent
CORPORA = ROOT / "bench" / "corpora"
README = ROOT / "README.md"
# Dataset prefixes a `source` may name; each must be described in the README's corpus section.
SOURCE = re.compile(r"^(team|(?P<prefix>[a-z]+):(?P<item>[^\s~]+)(?P<adapted>~?))$")
MIN_ANSWERS = 1500
MIN_PER_QUESTION = 40


def _load_split():
    spec = importlib.util.spec_from_file_location("corpora_split", CORPORA / "split.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


split = _load_split()


@pytest.fixture(scope="module")
def rows() -> list[dict[str, str]]:
    return [dict(zip(split.HEADER, r)) for r in split.read_rows(split.ALL)]


def _corpus_section() -> str:
    text = README.read_text(encoding="utf-8")
    start = text.index("### Evaluation corpora")
    end = text.find("\n#", start + 1)
    return text[start:end if end != -1 else None]


def test_every_row_is_valid_for_the_products_manifest_reader(rows, content, tmp_path):
    # `X?` (ambiguous: may only be read back as X or asked again) is checked on its base id, so
    # this holds whether or not the reader itself knows the suffix.
    bases = []
    for r in rows:
        expected = r["expected"]
        if expected.endswith("?"):
            base = expected[:-1]
            assert base not in ("none", "text", ""), f"{r['text']!r}: {expected!r} cannot be ambiguous"
            assert "+" not in base, f"{r['text']!r}: mark only a single id as ambiguous"
            expected = base
        bases.append(f"{r['text']}\t{r['question']}\t{expected}")
    manifest = tmp_path / "typed_all_base.tsv"
    manifest.write_text("text\tquestion\texpected\n" + "\n".join(bases) + "\n", encoding="utf-8")
    cases = read_manifest(manifest, SimpleNamespace(content=content))
    assert len(cases) == len(rows)


def test_texts_are_clean_and_unique_per_question(rows):
    for r in rows:
        assert r["text"] == r["text"].strip() and r["text"], r
        assert not any(ch in r["text"] for ch in "\t\r\n"), r
    seen = Counter((split.split_key(r["text"]), r["question"]) for r in rows)
    doubles = [key for key, n in seen.items() if n > 1]
    assert not doubles, f"the same answer twice for one question: {doubles[:5]}"


def test_split_follows_the_hash_rule_and_files_are_up_to_date(rows):
    for r in rows:
        assert r["split"] == split.split_of(r["text"]), f"{r['text']!r} is in the wrong part"
    for path, wanted in split.build().items():
        assert path.read_text(encoding="utf-8") == wanted, f"{path.name}: run python bench/corpora/split.py"
    share = sum(r["split"] == "dev" for r in rows) / len(rows)
    assert 0.62 <= share <= 0.78


def test_split_key_ignores_punctuation_and_width():
    assert split.split_key("はい、そうです！") == split.split_key("はい そうです")
    assert split.split_of("ＯＫです。") == split.split_of("OKです")


def test_size_and_coverage(rows, content):
    assert len(rows) >= MIN_ANSWERS
    per_question = Counter(r["question"] for r in rows)
    for qid in [q.id for q in content.questions] + ["yes_no"]:
        assert per_question[qid] >= MIN_PER_QUESTION, f"{qid}: only {per_question[qid]} answers"
    kinds = Counter(r["expected"].rstrip("?") for r in rows)
    for needed in ("yes", "no", "unknown", "none", "text", "repeat", "back", "skip", "help", "stop", "other"):
        assert kinds[needed] >= 5, needed
    assert sum(r["expected"].endswith("?") for r in rows) >= 50


def test_sources_are_named_and_most_rows_are_not_ours(rows):
    prefixes = set()
    for r in rows:
        m = SOURCE.match(r["source"])
        assert m, f"{r['text']!r}: source {r['source']!r} is not team or prefix:item"
        if m["prefix"]:
            prefixes.add(m["prefix"])
    section = _corpus_section()
    for prefix in prefixes:
        assert f"`{prefix}:" in section, f"the README's corpus section does not name the source {prefix}:"
    outside = sum(r["source"] != "team" for r in rows) / len(rows)
    assert outside >= 0.55, f"only {outside:.0%} of the answers come from outside sources"


def test_dev_and_heldout_are_valid_manifests(content):
    for name in ("typed_dev.tsv", "typed_heldout.tsv"):
        path = CORPORA / name
        lines = path.read_text(encoding="utf-8").splitlines()
        assert lines[0].split("\t") == split.HEADER
        assert len(lines) > 100
