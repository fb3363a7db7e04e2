"""The report for the doctor: content, the three formats, the command, and a real browser render."""
from __future__ import annotations

import argparse
import json
import os
import shutil
import stat
import subprocess
from pathlib import Path

import numpy as np
import pytest

import session_factory as F
from voicecheck import report as R
from voicecheck.content import QUESTION_ORDER
from voicecheck.settings import Settings
from voicecheck.store import SessionStore, StoreError


def typical_report(**kw) -> tuple[dict, R.Report]:
    summary = F.summary_for(F.TYPICAL, **kw)
    return summary, R.build_report(summary, F.content())


def line(report: R.Report, qid: str) -> R.AnswerLine:
    for group in report.answers:
        for answer in group.lines:
            if answer.question_id == qid:
                return answer
    raise AssertionError(qid)


# ------------------------------------------------------------------ the report model


def test_answers_come_in_the_doctors_order_each_question_once():
    _, report = typical_report()
    ids = [a.question_id for g in report.answers for a in g.lines]
    assert sorted(ids) == sorted(QUESTION_ORDER)
    # since when, in which movements, how often come first; the safety screen last
    assert ids[:4] == ["since_when", "situations", "frequency", "getting_worse"]
    assert ids[-1] == "safety_now"
    titles = [g.title for g in report.answers]
    assert titles[0] == "いつから" and "腫れ" in titles[3] and "転倒" in titles[4]


def test_answers_are_written_in_the_words_of_the_content():
    content = F.content()
    _, report = typical_report()
    assert line(report, "since_when").answer == "「3か月くらい前から」"
    situations = content.question("situations")
    assert line(report, "situations").answer == (
        situations.option("stairs_down").label + "、" + situations.option("standing_up").label
    )
    assert line(report, "frequency").answer == content.question("frequency").option("weekly").label
    assert line(report, "near_fall").answer == content.question("near_fall").yes_statement
    assert line(report, "warmth").answer == content.question("warmth").no_statement
    assert line(report, "swelling").answer == content.say("unknown_label")
    assert line(report, "catching").answer == R.SKIPPED
    assert line(report, "near_fall").heard == "はい"


def test_notable_marks_findings_not_reassurances():
    _, report = typical_report()
    assert line(report, "near_fall").notable and line(report, "pain_grinding").notable
    assert line(report, "frequency").notable  # weekly
    assert not line(report, "warmth").notable  # a "no"
    assert not line(report, "swelling").notable  # unknown
    assert not line(report, "age_50_plus").notable  # a fact about the person, not a finding
    calm = R.build_report(F.summary_for({**F.TYPICAL, "frequency": "sometimes"}), F.content())
    assert not line(calm, "frequency").notable


def test_causes_triage_and_questions_for_the_visit():
    content = F.content()
    summary, report = typical_report()
    assert [c.id for c in report.causes] == summary["causes"]
    assert report.causes, "the typical answers point to at least one cause"
    for cause, detail in zip(report.causes, summary["cause_details"]):
        assert cause.name == content.cause(cause.id).name
        assert list(cause.reasons) == detail["reasons"] and cause.reasons
    assert report.triage == "see_doctor_soon"
    assert report.triage_name == content.advice.triage["see_doctor_soon"].name
    assert list(report.triage_reasons) == summary["triage_reasons"]
    assert report.doctor_questions == content.advice.doctor_questions
    assert "診断ではありません" in report.disclaimer
    assert report.emergency_lines == ()


def test_stopped_session_shows_unasked_questions():
    answers = {"safety_now": "no", "situations": "turning", "frequency": "daily"}
    report = R.build_report(F.summary_for(answers, status="stopped"), F.content())
    assert report.status_text == R.STATUS_TEXT["stopped"]
    assert line(report, "swelling").answer == R.NOT_ASKED
    assert line(report, "since_when").answer == R.NOT_ASKED
    assert line(report, "frequency").notable


def test_emergency_report_says_call_119_first():
    content = F.content()
    report = R.build_report(F.summary_for({"safety_now": "yes"}, status="emergency"), F.content())
    assert report.triage == "emergency"
    assert report.emergency_lines[: len(content.advice.emergency_lines)] == content.advice.emergency_lines
    assert content.advice.device_cannot_call in report.emergency_lines
    md = R.render_markdown(report)
    assert md.index(content.advice.emergency_lines[0]) < md.index("## お答えのまとめ")


def test_a_summary_from_a_newer_version_is_refused_clearly():
    summary = {**F.summary_for(F.TYPICAL), "version": 2}
    with pytest.raises(StoreError, match="新しい版"):
        R.build_report(summary, F.content())


def test_exercise_ids_become_names():
    summary = F.summary_for(F.TYPICAL, exercises_done=("patella_setting",))
    report = R.build_report(summary, F.content(), exercises={"patella_setting": "タオルつぶし"})
    assert report.exercises_done == ("タオルつぶし",)
    real = R.build_report(summary, F.content())
    names = R.exercise_names(F.content())
    assert real.exercises_recommended == tuple(names[e] for e in summary["exercises_recommended"])


# ------------------------------------------------------------------ formats

NASTY = '<script>alert("x")</script> | **太字** & 膝'


def nasty_report() -> tuple[dict, R.Report]:
    summary = F.summary_for({**F.TYPICAL, "since_when": NASTY}, heard={"near_fall": NASTY})
    return summary, R.build_report(summary, F.content())


def test_markdown_has_every_section_and_escapes_table_text():
    _, report = nasty_report()
    md = R.render_markdown(report)
    for heading in ("# 膝折れ", "## 受診の目安", "## お答えのまとめ", "## 考えられる原因", "## 受診のときに聞いてみること"):
        assert heading in md
    for question in report.doctor_questions:
        assert question in md
    for cause in report.causes:
        assert cause.name in md
        for reason in cause.reasons:
            assert reason in md
    assert md.count(report.disclaimer) == 2  # top and bottom
    # a "|" in an answer must not split the table row
    row = next(r for r in md.splitlines() if r.startswith("| " + F.content().question("near_fall").short))
    assert row.count(" | ") == 2 and "\\|" in row


def test_html_is_self_contained_escaped_and_large():
    _, report = nasty_report()
    page = R.render_html(report)
    assert page.startswith("<!DOCTYPE html>") and '<html lang="ja">' in page
    assert "<script" not in page  # the typed text is shown, never run
    assert "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;" in page
    for outside in ("http://", "https://", "<link", " src=", "@import", "url("):
        assert outside not in page, outside
    assert "html { font-size: 22px; }" in page and "@media print" in page
    for question in report.doctor_questions:
        assert question in page


def test_json_holds_words_and_ids():
    summary, report = typical_report()
    data = json.loads(R.render_json(report, summary))
    assert data["report_version"] == R.REPORT_VERSION
    assert data["triage"] == "see_doctor_soon"
    assert data["summary"]["answers"]["situations"] == ["stairs_down", "standing_up"]
    groups = {g["title"]: g for g in data["answers"]}
    assert groups["いつから"]["lines"][0]["answer"] == "「3か月くらい前から」"
    assert data["doctor_questions"] == list(F.content().advice.doctor_questions)


# ------------------------------------------------------------------ the command


def args(**kw) -> argparse.Namespace:
    return argparse.Namespace(**{"session": None, "format": "all", "output": None, **kw})


@pytest.fixture
def data(tmp_path) -> tuple[Settings, Path]:
    settings = Settings(data_dir=tmp_path / "data")
    F.saved_session(settings.data_dir, "20261101-090000", {**F.TYPICAL, "frequency": "sometimes"})
    F.saved_session(settings.data_dir, "20261121-101500", F.TYPICAL)
    return settings, tmp_path


def test_command_writes_all_formats_into_the_latest_session_privately(data, capsys):
    settings, _ = data
    assert R.command(args(), settings) == 0
    out = capsys.readouterr().out
    folder = settings.data_dir / "sessions" / "20261121-101500"
    for suffix in (".md", ".html", ".json"):
        path = folder / f"report{suffix}"
        assert path.exists(), path
        assert stat.S_IMODE(path.stat().st_mode) == 0o600
        assert str(path) in out
    assert json.loads((folder / "report.json").read_text())["session_id"] == "20261121-101500"


def test_command_prints_markdown_for_a_chosen_session(data, capsys):
    settings, _ = data
    assert R.command(args(session="20261101", format="md"), settings) == 0
    out = capsys.readouterr().out
    assert out.startswith("# 膝折れ") and "20261101-090000" in out
    assert F.content().question("frequency").option("sometimes").label in out


def test_command_output_to_a_file_and_to_a_folder(data, capsys):
    settings, tmp_path = data
    target = tmp_path / "out" / "for-doctor.html"
    assert R.command(args(format="html", output=str(target)), settings) == 0
    assert target.read_text(encoding="utf-8").startswith("<!DOCTYPE html>")
    folder = tmp_path / "printouts"
    folder.mkdir()
    assert R.command(args(output=str(folder)), settings) == 0
    assert sorted(p.name for p in folder.iterdir()) == [
        "report-20261121-101500.html", "report-20261121-101500.json", "report-20261121-101500.md",
    ]
    assert str(target) in capsys.readouterr().out


def test_command_reports_an_interrupted_session_from_its_saved_progress(tmp_path, capsys):
    settings = Settings(data_dir=tmp_path)
    record = SessionStore(tmp_path).start("text")
    answers = {"safety_now": "no", "situations": "stairs_down", "frequency": "daily", "near_fall": "yes"}
    record.save_progress(F.progress_for(answers).to_json())
    assert R.command(args(session=record.id, format="md"), settings) == 0
    out = capsys.readouterr().out
    assert R.UNFINISHED_NOTE in out
    assert F.content().question("near_fall").yes_statement in out
    assert R.NOT_ASKED in out


def test_command_without_sessions_is_a_clear_error(tmp_path):
    with pytest.raises(StoreError, match="まだありません"):
        R.command(args(), Settings(data_dir=tmp_path))
    with pytest.raises(StoreError, match="見つかりません"):
        F.saved_session(tmp_path, "20261121-101500", F.TYPICAL)
        R.command(args(session="20200101-000000"), Settings(data_dir=tmp_path))


def test_command_unwritable_output_is_a_message_not_a_traceback(data, capsys):
    settings, tmp_path = data
    blocker = tmp_path / "blocker"
    blocker.write_text("x")
    assert R.command(args(format="md", output=str(blocker / "r.md")), settings) == 1
    assert "書き出せません" in capsys.readouterr().err


# ------------------------------------------------------------------ a real browser

CHROMIUM = shutil.which("chromium") or ("/usr/bin/chromium" if os.path.exists("/usr/bin/chromium") else None)
BROWSER_FLAGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
]
needs_chromium = pytest.mark.skipif(CHROMIUM is None, reason="Debian chromium is not installed")


def has_japanese_font() -> bool:
    try:
        out = subprocess.run(["fc-list", ":lang=ja"], capture_output=True, text=True, timeout=20).stdout
    except (OSError, subprocess.SubprocessError):
        return False
    return bool(out.strip())


def chromium(tmp_path: Path, *extra: str) -> subprocess.CompletedProcess:
    profile = tmp_path / "profile"
    return subprocess.run(
        [CHROMIUM, *BROWSER_FLAGS, f"--user-data-dir={profile}", *extra],
        capture_output=True, text=True, timeout=120,
    )


@needs_chromium
def test_html_renders_in_headless_chromium(tmp_path):
    from PIL import Image

    _, report = typical_report()
    page = tmp_path / "report.html"
    page.write_text(R.render_html(report), encoding="utf-8")
    shot = tmp_path / "shot.png"
    width, height = 1000, 1400
    done = chromium(tmp_path, f"--screenshot={shot}", f"--window-size={width},{height}", page.as_uri())
    assert shot.exists(), done.stderr[-2000:]

    with Image.open(shot) as img:
        assert img.size == (width, height)
        gray = np.asarray(img.convert("L"), dtype=np.uint8)
        rgb = np.asarray(img.convert("RGB"), dtype=np.int16)
    dark = float((gray < 100).mean())
    light = float((gray > 200).mean())
    # mostly white paper with plenty of black text: not blank, not a black or error screen
    assert light > 0.6, light
    assert dark > 0.01, dark
    # large type: the title line alone has more than 20 px of ink from top to bottom
    ink_rows = np.flatnonzero((gray[:120] < 100).any(axis=1))
    assert ink_rows.size and ink_rows[-1] - ink_rows[0] >= 20
    # the triage box is coloured (amber for see_doctor_soon) and within the first screen
    r, g, b = rgb[..., 0], rgb[..., 1], rgb[..., 2]
    amber = int(((r > 240) & (g > 225) & (g < 250) & (b > 180) & (b < 215)).sum())
    assert amber > 5000, amber


@needs_chromium
def test_html_prints_to_pdf_with_the_report_text(tmp_path):
    if shutil.which("pdftotext") is None:
        pytest.skip("pdftotext (poppler-utils) is not installed; the screenshot test still runs")
    _, report = typical_report()
    page = tmp_path / "report.html"
    page.write_text(R.render_html(report), encoding="utf-8")
    pdf = tmp_path / "report.pdf"
    done = chromium(tmp_path, "--no-pdf-header-footer", f"--print-to-pdf={pdf}", page.as_uri())
    assert pdf.exists(), done.stderr[-2000:]
    text = subprocess.run(["pdftotext", "-layout", str(pdf), "-"], capture_output=True, text=True, timeout=60).stdout
    assert "20261121-101500" in text  # drawn with any font
    if has_japanese_font():
        flat = "".join(text.split())
        assert report.triage_name in flat
        assert "".join(report.doctor_questions[0].split()) in flat
        assert "診断ではありません" in flat
        for cause in report.causes:
            assert cause.name in flat
    if shutil.which("pdfinfo"):
        info = subprocess.run(["pdfinfo", str(pdf)], capture_output=True, text=True, timeout=60).stdout
        pages = int(next(l.split()[-1] for l in info.splitlines() if l.startswith("Pages:")))
        assert 1 <= pages <= 8, pages
        assert "(A4)" in next(l for l in info.splitlines() if l.startswith("Page size:"))
