"""The written summary for the doctor: Markdown, a printable HTML page in large type, and JSON.

A session summary (see voicecheck.session.build_summary) holds ids; this module turns them into
the words of the content files and arranges them the way a doctor takes a history: since when,
in which movements, how often, how the knee feels, past injuries and falls. Building the report
(`build_report`) is pure; the three renderers only format it.

The headings here are written, not spoken, text, so they live in this module rather than in
prompts/; every sentence about the knee itself still comes from the content files.
"""
from __future__ import annotations

import argparse
import html
import json
import sys
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from voicecheck.assessment import SAFETY_CLEAR, SAFETY_NOT_ANSWERED, SAFETY_QUESTION, SAFETY_SIGN
from voicecheck.content import TRIAGE_LEVELS, Content, Question, load_content
from voicecheck.settings import Settings
from voicecheck.store import DAMAGED_FILE, SessionRecord, SessionStore, StoreError, os_reason, write_text_atomic

REPORT_VERSION = 1
SUPPORTED_SUMMARY_VERSION = 1
FORMATS = ("md", "html", "json")
SUFFIX = {"md": ".md", "html": ".html", "json": ".json"}

TITLE = "膝折れ（膝がカクンとなる）についての問診メモ"

# The order a doctor asks in. Any question not listed (new content) goes into "そのほか".
ANSWER_GROUPS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("いつから", ("since_when",)),
    ("どんな動きのときに", ("situations",)),
    ("どのくらいの頻度で", ("frequency", "getting_worse")),
    ("膝の感じ（腫れ・熱っぽさ・痛み・引っかかり）",
     ("swelling", "warmth", "pain_grinding", "catching", "morning_stiffness")),
    ("これまでのけがと転倒", ("past_injury", "near_fall", "going_out_less")),
    ("体の特徴とほかのサイン", ("age_50_plus", "bow_legs", "unsteady_walking", "back_nerve")),
    ("急ぎのサイン", ("safety_now",)),
)
OTHER_GROUP = "そのほか"

STATUS_TEXT = {
    "complete": "すべての質問に答えました。",
    "stopped": "途中で終わりました。答えていない質問があります。",
    "emergency": "急ぎのサインがあったため、質問を途中で止めました。",
}
MODE_TEXT = {"live": "声", "text": "文字入力", "replay": "録音の再生（テスト用）", "satellite": "声（部屋の音声端末）"}
NOT_ASKED = "（まだ聞いていません）"
SKIPPED = "（飛ばしました）"
UNFINISHED_NOTE = "このセッションは最後まで終わっていません。保存されていた途中までの答えからまとめました。"
NO_TRIAGE = "（お答えがないため、目安は出せません）"
SAFETY_TITLE = "急ぎの確認に答えていません"


# ------------------------------------------------------------------ the report model


@dataclass(frozen=True)
class AnswerLine:
    question_id: str
    topic: str  # the question's short name, e.g. 「膝の腫れ」
    answer: str  # the answer in plain words
    heard: str  # what the person said, as recognised ("" when nothing was heard)
    status: str  # answered | unknown | skipped | not_asked
    notable: bool  # a finding worth the doctor's eye (a "yes", a frequent giving way, …)


@dataclass(frozen=True)
class AnswerGroup:
    title: str
    lines: tuple[AnswerLine, ...]


@dataclass(frozen=True)
class CauseLine:
    id: str
    name: str
    reasons: tuple[str, ...]


@dataclass(frozen=True)
class Report:
    session_id: str
    started: str  # as written for people, e.g. 2026年11月21日 10:15
    ended: str
    mode: str
    status: str
    status_text: str
    unfinished: bool
    triage: str  # a triage level id, "none" when the session has no answer at all
    triage_name: str
    triage_lines: tuple[str, ...]
    triage_reasons: tuple[str, ...]
    emergency_lines: tuple[str, ...]
    answers: tuple[AnswerGroup, ...]
    causes: tuple[CauseLine, ...]
    doctor_questions: tuple[str, ...]
    note_down: tuple[str, ...]
    advice: tuple[str, ...]  # the first sentence of each home measure suggested
    exercises_recommended: tuple[str, ...]
    exercises_done: tuple[str, ...]
    disclaimer: str
    generated: str
    safety_screen: str = "clear"  # sign_present | clear | not_answered
    safety_lines: tuple[str, ...] = ()  # when not answered: the notice, the signs, what to do


def people_time(iso: str | None) -> str:
    """2026-11-21T10:15:00+09:00 → 2026年11月21日 10:15; anything unreadable is shown as it is."""
    if not iso:
        return "—"
    try:
        t = datetime.fromisoformat(iso)
    except ValueError:
        return str(iso)
    return f"{t.year}年{t.month}月{t.day}日 {t.hour:02d}:{t.minute:02d}"


def _as_ids(value: Any) -> tuple[str, ...]:
    if value is None:
        return ()
    if isinstance(value, str):
        return tuple(v for v in value.split("+") if v) if "+" in value else (value,)
    return tuple(str(v) for v in value)


def _option_label(question: Question, option_id: str) -> str:
    try:
        return question.option(option_id).label
    except KeyError:
        return option_id  # an id the content no longer has: show it rather than lose it


def describe(question: Question, value: Any, status: str, content: Content) -> tuple[str, bool]:
    """(the answer in plain words, whether it is a notable finding)."""
    if status == "not_asked":
        return NOT_ASKED, False
    if status == "skipped":
        return SKIPPED, False
    unknown = content.say("unknown_label")
    if status == "unknown" or value == "unknown":
        return unknown, False
    if question.kind == "free_text":
        return (f"「{value}」" if value else NOT_ASKED), bool(value)
    if question.kind == "yes_no":
        if value == "yes":
            return question.yes_statement, question.id != "age_50_plus"
        if value == "no":
            return question.no_statement, False
        return str(value), False
    ids = _as_ids(value)
    words = content.say("reason_separator").join(_option_label(question, i) for i in ids)
    notable = question.id == "situations" or any(i in ("weekly", "daily") for i in ids)
    return words or NOT_ASKED, notable and bool(ids)


def _answer_line(question: Question, summary: Mapping[str, Any], content: Content) -> AnswerLine:
    details = (summary.get("answer_details") or {}).get(question.id) or {}
    answers = summary.get("answers") or {}
    skipped = set(summary.get("skipped") or ())
    if details:
        status = details.get("status", "answered")
        value = details.get("value", answers.get(question.id))
    elif question.id in answers:
        value = answers[question.id]
        status = "unknown" if value == "unknown" else "answered"
    elif question.id in skipped:
        status, value = "skipped", None
    else:
        status, value = "not_asked", None
    answer, notable = describe(question, value, status, content)
    # a free-text answer already is the person's own words
    heard = "" if question.kind == "free_text" else str(details.get("heard") or "")
    return AnswerLine(question.id, question.short, answer, heard, status, notable)


def exercise_names(content: Content) -> dict[str, str]:
    """Exercise id -> its name, from the coach's content file; {} when that file cannot be read."""
    from voicecheck.content import ContentError
    from voicecheck.exercises import load_exercises

    try:
        book = load_exercises(content.directory)
    except (ContentError, OSError):
        return {}  # the report still lists the ids; the file's problem is reported where it is used
    return {e.id: e.name for e in book.exercises}


_TEXT_LISTS = ("skipped", "causes", "triage_reasons", "advice", "exercises_recommended", "exercises_done")


def check_summary(summary: Any, session_id: str = "") -> dict:
    """The summary if every field the report and the history read has the right type; else
    StoreError naming the session and the field (the summary was damaged or written by hand)."""
    def wrong(field: str) -> StoreError:
        who = f"セッション {session_id} の" if session_id else ""
        return StoreError(f"{who}記録（summary.json）が壊れています（{field} の形が違います）。")

    if not isinstance(summary, dict):
        raise wrong("全体")
    version = summary.get("version", 1)
    if isinstance(version, bool) or not isinstance(version, int):
        raise wrong("version")
    for field in ("session_id", "started", "ended", "mode", "status", "triage", "safety_screen"):
        if summary.get(field) is not None and not isinstance(summary[field], str):
            raise wrong(field)
    for field in ("answers", "answer_details"):
        if not isinstance(summary.get(field) or {}, dict):
            raise wrong(field)
    for field in _TEXT_LISTS:
        value = summary.get(field) or []
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            raise wrong(field)
    for qid, value in (summary.get("answers") or {}).items():
        if not _plain_value(value):
            raise wrong(f"answers.{qid}")
    for qid, details in (summary.get("answer_details") or {}).items():
        if not isinstance(details, dict) or not _plain_value(details.get("value")) \
                or not isinstance(details.get("status", "answered"), str) \
                or not isinstance(details.get("heard", ""), (str, type(None))):
            raise wrong(f"answer_details.{qid}")
    details = summary.get("cause_details") or []
    if not isinstance(details, list):
        raise wrong("cause_details")
    for detail in details:
        reasons = detail.get("reasons") or [] if isinstance(detail, dict) else None
        if not isinstance(detail, dict) or not isinstance(detail.get("id", ""), str) \
                or not isinstance(detail.get("name", ""), (str, type(None))) \
                or not isinstance(reasons, list) or not all(isinstance(r, str) for r in reasons):
            raise wrong("cause_details")
    return summary


def _plain_value(value: Any) -> bool:
    return value is None or isinstance(value, str) or (
        isinstance(value, list) and all(isinstance(v, str) for v in value))


def safety_screen_of(summary: Mapping[str, Any]) -> str:
    """What the emergency screen found; read from the answers for summaries older than the field."""
    screen = summary.get("safety_screen")
    if screen in (SAFETY_SIGN, SAFETY_CLEAR, SAFETY_NOT_ANSWERED):
        return str(screen)
    if summary.get("triage") == "emergency":
        return SAFETY_SIGN
    value = (summary.get("answers") or {}).get(SAFETY_QUESTION)
    return {"yes": SAFETY_SIGN, "no": SAFETY_CLEAR}.get(value, SAFETY_NOT_ANSWERED) \
        if isinstance(value, str) else SAFETY_NOT_ANSWERED


def triage_level_of(summary: Mapping[str, Any]) -> str | None:
    """The triage level to show. A session saved before the rule existed may say "self_care"
    although its emergency screen was not answered: that is never shown as reassurance."""
    level = summary.get("triage")
    if not isinstance(level, str) or level not in TRIAGE_LEVELS:
        return None
    if level == "self_care" and safety_screen_of(summary) == SAFETY_NOT_ANSWERED:
        return "see_doctor_soon"
    return level


def safety_lines(content: Content) -> tuple[str, ...]:
    text = content.advice.safety_not_answered
    return (text.notice, text.signs_intro, *text.signs, *text.what_to_do, *content.advice.about_7119)


def build_report(summary: Mapping[str, Any], content: Content, *, unfinished: bool = False,
                 exercises: Mapping[str, str] | None = None) -> Report:
    """Arrange a session summary for the doctor. `exercises` maps exercise ids to names
    (default: read from the content folder)."""
    names = exercise_names(content) if exercises is None else exercises
    version = summary.get("version", 1)
    if not isinstance(version, int) or version > SUPPORTED_SUMMARY_VERSION:
        raise StoreError(
            f"この記録は新しい版の voicecheck で作られています（版 {version}）。voicecheck を更新してください。"
        )
    questions = {q.id: q for q in content.questions}
    placed: set[str] = set()
    groups = []
    for title, ids in ANSWER_GROUPS:
        lines = tuple(_answer_line(questions[q], summary, content) for q in ids if q in questions)
        placed.update(ids)
        if lines:
            groups.append(AnswerGroup(title, lines))
    rest = tuple(_answer_line(q, summary, content) for q in content.questions if q.id not in placed)
    if rest:
        groups.append(AnswerGroup(OTHER_GROUP, rest))

    level = triage_level_of(summary)
    triage_text = content.advice.triage.get(level) if level else None
    screen = safety_screen_of(summary)
    reasons = tuple(summary.get("triage_reasons") or ())
    if screen == SAFETY_NOT_ANSWERED and level and content.advice.safety_not_answered.reason not in reasons:
        reasons = (content.advice.safety_not_answered.reason,) + reasons
    status = str(summary.get("status") or "stopped")
    causes = []
    for detail in summary.get("cause_details") or ():
        cause_id = detail.get("id", "")
        try:
            name = content.cause(cause_id).name
        except KeyError:
            name = detail.get("name") or cause_id
        causes.append(CauseLine(cause_id, name, tuple(detail.get("reasons") or ())))
    measures = {m.id: m for m in content.advice.home_measures}
    advice = tuple(measures[a].lines[0] for a in summary.get("advice") or () if a in measures)
    return Report(
        session_id=str(summary.get("session_id", "")),
        started=people_time(summary.get("started")),
        ended=people_time(summary.get("ended")),
        mode=MODE_TEXT.get(str(summary.get("mode")), str(summary.get("mode") or "—")),
        status=status,
        status_text=STATUS_TEXT.get(status, status),
        unfinished=unfinished,
        triage=level or "none",
        triage_name=triage_text.name if triage_text else NO_TRIAGE,
        triage_lines=triage_text.lines if triage_text else (),
        triage_reasons=reasons if level else (),
        emergency_lines=content.advice.emergency_lines + (content.advice.device_cannot_call,)
        if level == "emergency" else (),
        answers=tuple(groups),
        causes=tuple(causes),
        doctor_questions=content.advice.doctor_questions,
        note_down=content.advice.note_down,
        advice=advice,
        exercises_recommended=tuple(names.get(e, e) for e in summary.get("exercises_recommended") or ()),
        exercises_done=tuple(names.get(e, e) for e in summary.get("exercises_done") or ()),
        disclaimer=content.say("disclaimer"),
        generated=people_time(datetime.now().astimezone().isoformat()),
        safety_screen=screen,
        safety_lines=safety_lines(content) if screen == SAFETY_NOT_ANSWERED else (),
    )


# ------------------------------------------------------------------ Markdown


def _md(text: str) -> str:
    """Text safe inside a Markdown table cell or line."""
    return text.replace("\\", "\\\\").replace("|", "\\|").replace("\n", " ").replace("*", "\\*")


def render_markdown(report: Report) -> str:
    out = [f"# {TITLE}", ""]
    out += [f"> **{_md(report.disclaimer)}**", ""]
    out += [
        f"- 記録した日時: {report.started}（セッション {report.session_id}）",
        f"- 答え方: {report.mode}",
        f"- 状態: {report.status_text}",
    ]
    if report.unfinished:
        out.append(f"- {UNFINISHED_NOTE}")
    if report.safety_lines:
        out += ["", f"## 注意: {SAFETY_TITLE}", ""]
        out.append(f"**{_md(report.safety_lines[0])}**")
        out.append("")
        out += [f"- {_md(line)}" for line in report.safety_lines[1:]]
    out += ["", f"## 受診の目安: {report.triage_name}", ""]
    for line in report.emergency_lines:
        out.append(f"**{_md(line)}**  ")
    if report.triage_reasons:
        out.append("そう判断した答え:")
        out += [f"- {_md(r)}" for r in report.triage_reasons]
    out += ["", "## お答えのまとめ", "", "太字は、気になるお答えです。", ""]
    for group in report.answers:
        out += [f"### {group.title}", "", "| 項目 | お答え | ご本人の言葉 |", "| --- | --- | --- |"]
        for line in group.lines:
            answer = f"**{_md(line.answer)}**" if line.notable else _md(line.answer)
            out.append(f"| {_md(line.topic)} | {answer} | {_md(line.heard) if line.heard else '—'} |")
        out.append("")
    out += ["## 考えられる原因（可能性の高い順）", ""]
    if report.causes:
        for rank, cause in enumerate(report.causes, start=1):
            out.append(f"{rank}. **{_md(cause.name)}**")
            out += [f"    - {_md(r)}" for r in cause.reasons]
    else:
        out.append("お答えからは、特に目立つ原因は見つかりませんでした。")
    out += ["", "## 受診のときに聞いてみること", ""]
    out += [f"- [ ] {_md(q)}" for q in report.doctor_questions]
    if report.advice or report.exercises_recommended:
        out += ["", "## お伝えした家での工夫と体操", ""]
        out += [f"- {_md(a)}" for a in report.advice]
        if report.exercises_recommended:
            out.append(f"- おすすめした体操: {_md('、'.join(report.exercises_recommended))}")
        if report.exercises_done:
            out.append(f"- 一緒にした体操: {_md('、'.join(report.exercises_done))}")
    out += ["", "---", ""]
    out += [f"{_md(report.disclaimer)}  ", f"作成: {report.generated}（voicecheck）", ""]
    return "\n".join(out)


# ------------------------------------------------------------------ HTML

_CSS = """
@page { size: A4; margin: 14mm; }
* { box-sizing: border-box; }
html { font-size: 22px; }
body { margin: 0 auto; max-width: 46rem; padding: 1.2rem; color: #111; background: #fff;
  font-family: "Noto Sans CJK JP", "Noto Sans JP", "IPAexGothic", "IPAGothic", "Hiragino Sans",
  "Yu Gothic", "Meiryo", sans-serif; line-height: 1.6; }
h1 { font-size: 1.6rem; margin: 0 0 .6rem; line-height: 1.3; }
h2 { font-size: 1.3rem; margin: 1.6rem 0 .5rem; border-bottom: 3px solid #111; padding-bottom: .15rem; }
h3 { font-size: 1.1rem; margin: 1.1rem 0 .3rem; }
p, li, td, th { font-size: 1rem; }
.disclaimer { border: 3px solid #111; padding: .5rem .8rem; font-weight: bold; margin: .8rem 0; }
.meta { list-style: none; padding: 0; margin: 0; }
.triage { border: 4px solid #111; border-radius: .4rem; padding: .6rem .9rem; margin: .5rem 0; }
.triage .level { font-size: 1.3rem; font-weight: bold; }
.triage-emergency { background: #fde2e2; border-color: #b00020; }
.triage-see_doctor_soon { background: #fff3cd; border-color: #8a6100; }
.triage-self_care { background: #e3f4e5; border-color: #1e6b2d; }
.emergency-line { font-weight: bold; }
table { width: 100%; border-collapse: collapse; margin: .2rem 0 .6rem; }
th, td { border: 2px solid #444; padding: .35rem .5rem; text-align: left; vertical-align: top; }
th { background: #eee; }
td.topic { width: 30%; }
td.heard { width: 28%; color: #333; }
.notable { font-weight: bold; }
.notable::before { content: "● "; }
.muted { color: #444; }
ol.causes > li { margin-bottom: .5rem; }
ul.checklist { list-style: none; padding-left: 0; }
ul.checklist li::before { content: "□ "; }
.memo { border: 2px solid #444; min-height: 6rem; }
footer { margin-top: 1.6rem; border-top: 2px solid #111; padding-top: .4rem; }
@media print {
  html { font-size: 14pt; }
  body { max-width: none; padding: 0; }
  h2 { break-after: avoid; }
  tr, li, .triage { break-inside: avoid; }
  .triage-emergency, .triage-see_doctor_soon, .triage-self_care { background: none; }
}
"""


def _h(text: str) -> str:
    return html.escape(text, quote=True)


def render_html(report: Report) -> str:
    """One self-contained page: inline style, no scripts, no links to anything outside."""
    out = [
        "<!DOCTYPE html>",
        '<html lang="ja">',
        "<head>",
        '<meta charset="utf-8">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        f"<title>{_h(TITLE)}（{_h(report.session_id)}）</title>",
        f"<style>{_CSS}</style>",
        "</head>",
        "<body>",
        "<main>",
        f"<h1>{_h(TITLE)}</h1>",
        f'<p class="disclaimer">{_h(report.disclaimer)}</p>',
        '<ul class="meta">',
        f"<li>記録した日時: {_h(report.started)}（セッション <span class=\"session-id\">{_h(report.session_id)}</span>）</li>",
        f"<li>答え方: {_h(report.mode)}</li>",
        f"<li>状態: {_h(report.status_text)}</li>",
    ]
    if report.unfinished:
        out.append(f"<li>{_h(UNFINISHED_NOTE)}</li>")
    out.append("</ul>")
    if report.safety_lines:
        out += ['<section class="triage triage-emergency safety-not-answered">',
                f'<p class="level">{_h(SAFETY_TITLE)}</p>',
                f'<p class="emergency-line">{_h(report.safety_lines[0])}</p>', "<ul>"]
        out += [f"<li>{_h(line)}</li>" for line in report.safety_lines[1:]]
        out += ["</ul>", "</section>"]
    out += ["<h2>受診の目安</h2>", f'<section class="triage triage-{_h(report.triage)}">',
            f'<p class="level">{_h(report.triage_name)}</p>']
    out += [f'<p class="emergency-line">{_h(line)}</p>' for line in report.emergency_lines]
    if report.triage_reasons:
        out.append("<p>そう判断した答え:</p><ul>")
        out += [f"<li>{_h(r)}</li>" for r in report.triage_reasons]
        out.append("</ul>")
    out += ["</section>", "<h2>お答えのまとめ</h2>", '<p class="muted">● と太字は、気になるお答えです。</p>']
    for group in report.answers:
        out += [f"<h3>{_h(group.title)}</h3>", "<table>",
                "<thead><tr><th>項目</th><th>お答え</th><th>ご本人の言葉</th></tr></thead>", "<tbody>"]
        for line in group.lines:
            cls = ' class="answer notable"' if line.notable else ' class="answer"'
            out.append(
                f'<tr data-question="{_h(line.question_id)}"><td class="topic">{_h(line.topic)}</td>'
                f"<td{cls}>{_h(line.answer)}</td><td class=\"heard\">{_h(line.heard) if line.heard else '—'}</td></tr>"
            )
        out += ["</tbody>", "</table>"]
    out.append("<h2>考えられる原因（可能性の高い順）</h2>")
    if report.causes:
        out.append('<ol class="causes">')
        for cause in report.causes:
            reasons = "".join(f"<li>{_h(r)}</li>" for r in cause.reasons)
            out.append(f'<li data-cause="{_h(cause.id)}"><strong>{_h(cause.name)}</strong><ul>{reasons}</ul></li>')
        out.append("</ol>")
    else:
        out.append("<p>お答えからは、特に目立つ原因は見つかりませんでした。</p>")
    out += ["<h2>受診のときに聞いてみること</h2>", '<ul class="checklist">']
    out += [f"<li>{_h(q)}</li>" for q in report.doctor_questions]
    out.append("</ul>")
    if report.advice or report.exercises_recommended:
        out += ["<h2>お伝えした家での工夫と体操</h2>", "<ul>"]
        out += [f"<li>{_h(a)}</li>" for a in report.advice]
        if report.exercises_recommended:
            out.append(f"<li>おすすめした体操: {_h('、'.join(report.exercises_recommended))}</li>")
        if report.exercises_done:
            out.append(f"<li>一緒にした体操: {_h('、'.join(report.exercises_done))}</li>")
        out.append("</ul>")
    out += ["<h2>メモ（飲んでいる薬など）</h2>", '<div class="memo"></div>', "</main>",
            f"<footer><p>{_h(report.disclaimer)}</p>",
            f'<p class="muted">作成: {_h(report.generated)}（voicecheck）</p></footer>',
            "</body>", "</html>", ""]
    return "\n".join(out)


# ------------------------------------------------------------------ JSON


def render_json(report: Report, summary: Mapping[str, Any] | None = None) -> str:
    """The report's words plus the raw summary ids, for other programs."""
    data: dict[str, Any] = {"report_version": REPORT_VERSION, "title": TITLE, **asdict(report)}
    if summary is not None:
        data["summary"] = dict(summary)
    return json.dumps(data, ensure_ascii=False, indent=2, default=str) + "\n"


def render(report: Report, fmt: str, summary: Mapping[str, Any] | None = None) -> str:
    if fmt == "md":
        return render_markdown(report)
    if fmt == "html":
        return render_html(report)
    if fmt == "json":
        return render_json(report, summary)
    raise ValueError(f"unknown report format {fmt!r}; expected one of {', '.join(FORMATS)}")


# ------------------------------------------------------------------ sessions on disk


def summary_from_progress(record: SessionRecord, progress: dict, content: Content) -> dict:
    """A summary for a session that never reached its end, from the answers saved so far."""
    from voicecheck.assessment import assess
    from voicecheck.session import build_summary, progress_from_saved

    try:
        saved = progress_from_saved(progress, content)
    except ValueError as e:
        raise StoreError(f"セッション {record.id} の途中の記録（progress.json）が壊れています（{e}）。") from None
    result = assess(saved.answer_values(), content)
    meta = record.load_meta()
    summary = build_summary(record.id, meta.get("started", ""), meta.get("mode", ""), "stopped", saved, result, ())
    events = record.transcript()
    summary["ended"] = events[-1].get("t") if events else None
    summary["unfinished"] = True
    return summary


def load_session_summary(record: SessionRecord, content: Content) -> dict | None:
    """The finished summary, or one rebuilt from saved progress; None for an empty session.
    StoreError, naming the session, when what is on disk is damaged."""
    summary = record.load_summary()
    if summary is not None:
        return check_summary(summary, record.id)
    progress = record.load_progress() or record.load_abandoned()
    if progress is None and record.is_damaged:
        raise StoreError(f"セッション {record.id} の途中の記録は壊れていたため、別にしてあります"
                         f"（{record.path / DAMAGED_FILE}）。")
    if not progress or not progress.get("answers"):
        return None
    return summary_from_progress(record, progress, content)


def write_report(text: str, path: Path) -> Path:
    """Write one report file, readable only by its owner (it holds health answers)."""
    path = Path(path).expanduser()
    if not path.parent.exists():
        path.parent.mkdir(parents=True, mode=0o700)
    write_text_atomic(path, text)
    return path


def command(args: argparse.Namespace, settings: Settings) -> int:
    """`python run.py report [SESSION] [--format md|html|json|all] [--output FILE|DIR|-]`."""
    store = SessionStore(settings.data_dir)
    wanted = getattr(args, "session", None)
    try:
        record = store.get(wanted)
    except StoreError:
        # A replayed (test) session is reported only when asked for by name.
        replays = SessionStore.for_replays(settings.data_dir)
        if wanted in (None, "latest", "last") or not any(r.id.startswith(wanted.strip()) for r in replays.sessions()):
            raise
        record = replays.get(wanted)
    content = load_content(settings.prompts_dir)
    summary = load_session_summary(record, content)
    if summary is None:
        print(f"セッション {record.id} には、まだ答えが一つも保存されていません。", file=sys.stderr)
        return 1
    report = build_report(summary, content, unfinished=bool(summary.get("unfinished")))
    fmt = getattr(args, "format", None) or "all"
    output = getattr(args, "output", None)
    formats = FORMATS if fmt == "all" else (fmt,)
    if output == "-" or (output is None and fmt in ("md", "json")):
        if fmt == "all":
            print("--format all は画面には出せません。--format md などを指定してください。", file=sys.stderr)
            return 1
        sys.stdout.write(render(report, fmt, summary))
        return 0
    if output is None:
        targets = {f: record.path / f"report{SUFFIX[f]}" for f in formats}
    else:
        out = Path(output).expanduser()
        if fmt == "all" or out.is_dir():
            targets = {f: out / f"report-{record.id}{SUFFIX[f]}" for f in formats}
        else:
            targets = {fmt: out}
    try:
        for f, path in targets.items():
            written = write_report(render(report, f, summary), path)
            print(f"書き出しました: {written}")
    except OSError as e:
        print(f"レポートを書き出せません: {e.filename or ''}（{os_reason(e)}）", file=sys.stderr)
        return 1
    if "html" in targets:
        print("HTML はブラウザで開いて、そのまま印刷できます。")
    return 0
