"""Past sessions, and how the answers changed from one session to the next, in plain words.

`python run.py history` is read by families and caregivers: "giving way more often than last
time" matters more to them than a table of ids. Comparing (`compare`) is pure; `command` reads the
sessions from disk and prints.
"""
from __future__ import annotations

import argparse
import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from voicecheck.content import Content, load_content
from voicecheck.assessment import SAFETY_NOT_ANSWERED
from voicecheck.report import load_session_summary, people_time, safety_screen_of, triage_level_of
from voicecheck.settings import Settings
from voicecheck.store import SessionRecord, SessionStore, StoreError

# Options in increasing order, for questions where "more" has a direction.
ORDERED_OPTIONS: dict[str, tuple[str, ...]] = {"frequency": ("sometimes", "weekly", "daily")}
# Yes/no questions where a change is a fact about the person, neither better nor worse.
NEUTRAL_QUESTIONS: frozenset[str] = frozenset({"age_50_plus"})
# Free words change with every telling; comparing them would only be noise.
NOT_COMPARED_KINDS: frozenset[str] = frozenset({"free_text"})

STATUS_LABEL = {
    "complete": "完了",
    "stopped": "途中で終了",
    "emergency": "急ぎのサイン",
    "unfinished": "途中（続きから再開できます）",
    "abandoned": "途中でやめました",
}
NOT_COMPARED_STATUSES: frozenset[str] = frozenset({"unfinished", "emergency"})
WORSE_TITLE = "気になる変化"
BETTER_TITLE = "よくなった点"
OTHER_TITLE = "そのほかの変化"
NO_CHANGE = "前回から、お答えに変わりはありません。"
NO_SESSIONS = "まだ記録がありません。python run.py で質問に答えると、ここに記録が並びます。"
SAFETY_MARK = "（※急ぎの確認に答えていません）"
SAFETY_FOOTNOTE = "※ 最初の急ぎの確認に、はっきりしたお答えがないセッションです。急ぎのサインがないとは言えません。"
ABANDONED_HINT = "途中でやめたセッションも、続きから再開できます: python run.py --resume セッション名"


@dataclass(frozen=True)
class Change:
    question_id: str
    direction: str  # worse | better | other
    text: str


@dataclass(frozen=True)
class SessionRow:
    session_id: str
    when: str
    status: str  # a STATUS_LABEL key
    triage: str  # the level's name for people, "—" when none
    top_cause: str  # the most likely cause's name, "—" when none
    summary: dict[str, Any] | None
    safety_not_answered: bool = False


def _value(summary: Mapping[str, Any], question_id: str) -> Any:
    """The answer to compare, or None when the question was not answered either way."""
    details = (summary.get("answer_details") or {}).get(question_id)
    if details:
        if details.get("status") == "skipped":
            return None
        value = details.get("value")
    else:
        value = (summary.get("answers") or {}).get(question_id)
    if isinstance(value, list):
        return tuple(value)
    return value


def _words(content: Content, question_id: str, value: Any) -> str:
    question = content.question(question_id)
    if value == "unknown":
        return content.say("unknown_label")
    if question.kind == "yes_no":
        return {"yes": question.yes_statement, "no": question.no_statement}.get(value, str(value))
    ids = value if isinstance(value, tuple) else (value,)
    labels = []
    for option_id in ids:
        try:
            labels.append(question.option(option_id).label)
        except KeyError:
            labels.append(str(option_id))
    return content.say("reason_separator").join(labels)


def compare(previous: Mapping[str, Any], current: Mapping[str, Any], content: Content) -> list[Change]:
    """The answers that differ between two sessions, as sentences, in question order."""
    changes: list[Change] = []
    for question in content.questions:
        if question.kind in NOT_COMPARED_KINDS:
            continue
        qid = question.id
        before, now = _value(previous, qid), _value(current, qid)
        if before is None or now is None or before == now:
            continue
        short = question.short
        if before == "unknown" and now == "yes" and question.kind == "yes_no":
            direction = "other" if qid in NEUTRAL_QUESTIONS else "worse"
            changes.append(Change(qid, direction, f"新しく「{question.yes_statement}」とのお答えです"
                                                  f"（前回は「{_words(content, qid, before)}」）。"))
        elif "unknown" in (before, now):
            changes.append(Change(qid, "other", f"{short}: 前回は「{_words(content, qid, before)}」、"
                                                f"今回は「{_words(content, qid, now)}」です。"))
        elif qid in ORDERED_OPTIONS and isinstance(before, str) and isinstance(now, str):
            order = ORDERED_OPTIONS[qid]
            if before in order and now in order:
                more = order.index(now) > order.index(before)
                changes.append(Change(
                    qid, "worse" if more else "better",
                    f"{short}が、前回より{'増えています' if more else '減っています'}"
                    f"（「{_words(content, qid, before)}」→「{_words(content, qid, now)}」）。",
                ))
            else:
                changes.append(Change(qid, "other", f"{short}: 「{_words(content, qid, before)}」→"
                                                    f"「{_words(content, qid, now)}」。"))
        elif question.kind == "multi":
            was, is_ = set(before), set(now)
            for option in question.options:
                if option.id in is_ - was:
                    changes.append(Change(qid, "worse", f"{short}に、新しく「{option.label}」が加わりました。"))
                elif option.id in was - is_:
                    changes.append(Change(qid, "better", f"{short}から、「{option.label}」がなくなりました。"))
        elif question.kind == "yes_no":
            direction = "other" if qid in NEUTRAL_QUESTIONS else ("worse" if now == "yes" else "better")
            if now == "yes":
                text = f"新しく「{question.yes_statement}」とのお答えです（前回は「{question.no_statement}」）。"
            else:
                text = f"前回の「{question.yes_statement}」は、今回は「{question.no_statement}」とのお答えです。"
            changes.append(Change(qid, direction, text))
        else:
            changes.append(Change(qid, "other", f"{short}: 「{_words(content, qid, before)}」→"
                                                f"「{_words(content, qid, now)}」。"))
    return changes


def _triage_name(content: Content, level: str | None) -> str:
    if not level:
        return "—"
    text = content.advice.triage.get(level)
    return text.name if text else level


def compare_outcome(previous: Mapping[str, Any], current: Mapping[str, Any], content: Content) -> list[Change]:
    """Changes in the triage level and in the most likely cause."""
    changes = []
    levels = ("self_care", "see_doctor_soon", "emergency")
    before, now = triage_level_of(previous), triage_level_of(current)
    if before != now and before in levels and now in levels:
        direction = "worse" if levels.index(now) > levels.index(before) else "better"
        changes.append(Change("triage", direction, f"受診の目安が「{_triage_name(content, before)}」から"
                                                   f"「{_triage_name(content, now)}」に変わりました。"))
    top_before, top_now = _top_cause(content, previous), _top_cause(content, current)
    if top_before != top_now and "—" not in (top_before, top_now):
        changes.append(Change("causes", "other", f"いちばん考えられる原因が「{top_before}」から"
                                                 f"「{top_now}」に変わりました。"))
    return changes


def _top_cause(content: Content, summary: Mapping[str, Any]) -> str:
    details = summary.get("cause_details") or []
    if details:
        cause_id = details[0].get("id", "")
        try:
            return content.cause(cause_id).name
        except KeyError:
            return details[0].get("name") or cause_id or "—"
    causes = summary.get("causes") or []
    if causes:
        try:
            return content.cause(causes[0]).name
        except KeyError:
            return str(causes[0])
    return "—"


def _status(record: SessionRecord, summary: Mapping[str, Any]) -> str:
    if not summary.get("unfinished"):
        return str(summary.get("status") or "stopped")
    return "abandoned" if record.is_abandoned else "unfinished"


def session_rows(store: SessionStore, content: Content) -> tuple[list[SessionRow], list[str]]:
    """Every session with at least one answer, oldest first, and warnings for unreadable ones."""
    rows, problems = [], []
    for record in store.sessions():
        try:
            summary = load_session_summary(record, content)
            if summary is None:
                continue  # started but not a single answer saved
            not_answered = safety_screen_of(summary) == SAFETY_NOT_ANSWERED
            row = SessionRow(
                session_id=record.id,
                when=people_time(summary.get("started") or record.started),
                status=_status(record, summary),
                triage=_triage_name(content, triage_level_of(summary)) + (SAFETY_MARK if not_answered else ""),
                top_cause=_top_cause(content, summary),
                summary=summary,
                safety_not_answered=not_answered,
            )
        except StoreError as e:
            problems.append(str(e))
            continue
        except (TypeError, ValueError, AttributeError, KeyError) as e:  # a summary of a shape never written
            problems.append(f"セッション {record.id} の記録が壊れています（{type(e).__name__}）。")
            continue
        rows.append(row)
    return rows, problems


def _width(text: str) -> int:
    return sum(2 if unicodedata.east_asian_width(ch) in "WF" else 1 for ch in text)


def _pad(text: str, width: int) -> str:
    return text + " " * max(0, width - _width(text))


def render_table(rows: list[SessionRow]) -> list[str]:
    header = ("日時", "セッション", "状態", "受診の目安", "いちばん考えられる原因")
    cells = [header] + [(r.when, r.session_id, STATUS_LABEL.get(r.status, r.status), r.triage, r.top_cause)
                        for r in rows]
    widths = [max(_width(row[i]) for row in cells) for i in range(len(header))]
    return ["  ".join(_pad(c, w) for c, w in zip(row, widths)).rstrip() for row in cells]


def render_changes(previous: SessionRow, current: SessionRow, content: Content) -> list[str]:
    assert previous.summary is not None and current.summary is not None
    changes = compare_outcome(previous.summary, current.summary, content)
    changes += compare(previous.summary, current.summary, content)
    out = [f"■ {previous.when} → {current.when}"]
    if not changes:
        out.append(f"  {NO_CHANGE}")
        return out
    for direction, title in (("worse", WORSE_TITLE), ("better", BETTER_TITLE), ("other", OTHER_TITLE)):
        picked = [c for c in changes if c.direction == direction]
        if picked:
            out.append(f"  {title}:")
            out += [f"   ・{c.text}" for c in picked]
    return out


def render_history(rows: list[SessionRow], content: Content) -> str:
    if not rows:
        return NO_SESSIONS + "\n"
    out = [f"これまでの記録（{len(rows)}件、古い順）", ""]
    out += render_table(rows)
    # A session waiting to be resumed may still change, and an emergency stop asked almost
    # nothing: comparing with them would report answers as "gone" that were never asked.
    comparable = [r for r in rows if r.status not in NOT_COMPARED_STATUSES]
    if len(comparable) > 1:
        out += ["", "前回からの変化"]
        for previous, current in zip(comparable, comparable[1:]):
            out.append("")
            out += render_changes(previous, current, content)
    if any(r.safety_not_answered for r in rows):
        out += ["", SAFETY_FOOTNOTE]
    if any(r.status == "unfinished" for r in rows):
        out += ["", "途中のセッションは、次に python run.py を始めたときに続きから再開できます。"]
    if any(r.status == "abandoned" for r in rows):
        out += ["", ABANDONED_HINT]
    out += ["", "くわしいまとめ: python run.py report セッション名"]
    return "\n".join(out) + "\n"


def command(args: argparse.Namespace, settings: Settings) -> int:
    """`python run.py history`: the sessions so far and what changed between them."""
    content = load_content(settings.prompts_dir)
    rows, problems = session_rows(SessionStore(settings.data_dir), content)
    print(render_history(rows, content), end="")
    for problem in problems:
        print(f"注意: {problem}")  # the damaged session is named; every other one is listed above
    return 0
