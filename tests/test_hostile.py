"""A hostile new user: safety never reassures by default, bad input and broken files give a clear
message (never a traceback), and nothing already answered is lost or offered to the wrong person.

Each test builds its broken files at run time. Items refer to issue 12; the full disk and the
SIGKILL loops are in test_hostile_disk.py.
"""
from __future__ import annotations

import io
import json
import os
import signal
import subprocess
import sys
import time
from datetime import datetime
from pathlib import Path

import pytest

import session_factory as F
from tests.fakes import IdMatcher
from voicecheck import app, cli
from voicecheck import history as H
from voicecheck import report as R
from voicecheck.conversation import Progress
from voicecheck.interfaces import RecordingMouth, ScriptedEars
from voicecheck.session import run_session
from voicecheck.store import DAMAGED_FILE, SessionStore

PROJECT = Path(__file__).resolve().parent.parent
ALL_NO = ["no", "stairs_down", "sometimes"] + ["no"] * 13 + ["先月から"]
_MATCHER: list = []


def real_matcher(content):
    if not _MATCHER:
        from voicecheck.matcher import Matcher
        _MATCHER.append(Matcher(content))
    return _MATCHER[0]


@pytest.fixture
def data(tmp_path, monkeypatch) -> Path:
    """The data folder of an in-process run of the command line (conftest points there)."""
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))
    monkeypatch.delenv("VOICECHECK_CONFIG", raising=False)
    monkeypatch.setattr(app, "_load_matcher", real_matcher)
    monkeypatch.setattr(os, "umask", lambda mask: 0o022)  # the run's umask must not leak into pytest
    return Path(os.environ["VOICECHECK_DATA_DIR"])


def main(monkeypatch, argv: list[str], typed: str = "") -> int:
    monkeypatch.setattr(sys, "stdin", io.StringIO(typed))
    return cli.main(argv)


def env_for(tmp_path: Path, data: Path) -> dict:
    env = {**os.environ, "VOICECHECK_DATA_DIR": str(data), "XDG_CONFIG_HOME": str(tmp_path / "config"),
           "PYTHONPATH": str(PROJECT)}
    env.pop("VOICECHECK_CONFIG", None)
    return env


def run_py(tmp_path: Path, data: Path, args: list[str], stdin: bytes | str | None = b"", env: dict | None = None,
           timeout: float = 300) -> subprocess.CompletedProcess:
    done = subprocess.run([sys.executable, str(PROJECT / "run.py"), *args], input=stdin, capture_output=True,
                          env=env or env_for(tmp_path, data), cwd=tmp_path, timeout=timeout,
                          text=isinstance(stdin, str))
    err = done.stderr if isinstance(done.stderr, str) else done.stderr.decode("utf-8", "replace")
    assert "Traceback" not in err, err[-3000:]
    return done


def ids(store: SessionStore) -> list[str]:
    return [r.id for r in store.sessions()]


# ============================================================ 1. the emergency screen

def session(content, answers, tmp_path, coach=None):
    record = SessionStore(tmp_path).start("text")
    mouth = RecordingMouth()
    result = run_session(content, IdMatcher(content), ScriptedEars(answers), mouth, record, mode="text",
                         coach=coach, retries=3)
    return result, mouth.said


def assert_signs_repeated(content, said: list[str]) -> None:
    text = content.advice.safety_not_answered
    assert text.intro in said
    for line in (*text.signs, *text.what_to_do, content.advice.device_cannot_call, content.advice.about_7119[1]):
        assert line in said, line
    assert said.index(text.intro) < said.index(text.what_to_do[0])


@pytest.mark.parametrize("reply", [["unknown"], ["", "", ""], ["buzz", "buzz", "buzz"], ["!skip"]],
                         ids=["dont-know", "three-silences", "noise", "skipped"])
def test_an_unanswered_emergency_screen_never_reads_back_self_care(content, tmp_path, reply):
    offered = []
    result, said = session(content, reply + ALL_NO[1:] + ["yes"], tmp_path,
                           coach=lambda ids, e, m: offered.append(ids) or ids)
    summary = result.summary
    assert summary["status"] == "complete"
    assert summary["safety_screen"] == "not_answered"
    assert summary["triage"] not in ("self_care", None)
    assert summary["triage_reasons"][0] == content.advice.safety_not_answered.reason
    assert_signs_repeated(content, said)
    self_care = content.advice.triage["self_care"]
    assert content.say("triage_intro", name=self_care.name) not in said
    assert not any(line in said for line in self_care.lines)
    # the signs come before anything else of the read-back
    assert said.index(content.advice.safety_not_answered.intro) < said.index(content.advice.risks[0])
    assert offered == [], "no exercises before the urgent signs are ruled out"


def test_a_clear_no_still_gets_self_care(content, tmp_path):
    result, said = session(content, ALL_NO + ["no"], tmp_path)
    assert result.summary["safety_screen"] == "clear" and result.summary["triage"] == "self_care"
    assert content.advice.safety_not_answered.intro not in said


def test_a_session_with_no_answer_has_no_triage_and_still_hears_the_signs(content, tmp_path):
    result, said = session(content, [], tmp_path)  # input ends at the first question
    assert result.summary["status"] == "stopped"
    assert result.summary["answers"] == {} and result.summary["triage"] is None
    assert result.summary["safety_screen"] == "not_answered"
    assert_signs_repeated(content, said)
    assert said[-1] == content.say("goodbye_stopped")


def test_stopping_before_the_screen_is_answered_repeats_the_signs(content, tmp_path):
    result, said = session(content, ["!stop"], tmp_path)
    assert result.summary["status"] == "stopped"
    assert_signs_repeated(content, said)


def test_an_urgent_yes_gets_the_emergency_instruction_even_if_it_could_not_be_saved(content, tmp_path):
    from voicecheck.store import StoreWriteError

    record = SessionStore(tmp_path).start("text")

    def full(progress):
        raise StoreWriteError("お答えを保存できません（ディスクの空きがありません）。", disk_full=True)

    object.__setattr__(record, "save_progress", full)
    mouth = RecordingMouth()
    result = run_session(content, IdMatcher(content), ScriptedEars(["yes", "no"]), mouth, record, mode="text")
    assert result.status == "emergency" and result.save_failed is not None
    assert mouth.said.count(content.advice.emergency_lines[0]) == 2


def test_a_session_killed_right_after_an_urgent_yes_resumes_with_the_instruction(content, tmp_path):
    record = SessionStore(tmp_path).start("text")
    progress = F.progress_for({"safety_now": "yes"})  # saved, then killed before the instruction
    mouth = RecordingMouth()
    result = run_session(content, IdMatcher(content), ScriptedEars(["no"] * 5), mouth, record, mode="text",
                         progress=progress)
    assert result.status == "emergency"
    assert mouth.said.count(content.advice.emergency_lines[0]) == 2
    assert content.question("situations").text not in mouth.said


def test_report_and_history_show_the_screen_was_not_answered(data, tmp_path, capsys, monkeypatch):
    content = F.content()
    answers = {**F.TYPICAL, "safety_now": "unknown", "frequency": "sometimes", "getting_worse": "no",
               "near_fall": "no", "pain_grinding": "no", "morning_stiffness": "no"}
    F.saved_session(data, "20261101-100000", answers)
    # written by an older version: "self_care" although the screen was not answered
    old = F.summary_for({**answers}, session_id="20261102-100000")
    old.update(triage="self_care", triage_reasons=[])
    old.pop("safety_screen")
    SessionStore(data, now=lambda: datetime(2026, 11, 2, 10)).start("text").finish(old)
    # no answer at all: no triage
    empty = F.summary_for({}, session_id="20261103-100000", status="stopped")
    SessionStore(data, now=lambda: datetime(2026, 11, 3, 10)).start("text").finish(empty)
    assert empty["triage"] is None

    self_care = content.advice.triage["self_care"].name
    for summary in (F.summary_for(answers), old):
        report = R.build_report(summary, content)
        assert report.safety_screen == "not_answered" and report.triage == "see_doctor_soon"
        for fmt in R.FORMATS:
            text = R.render(report, fmt, summary)
            assert content.advice.safety_not_answered.notice in text
            assert content.advice.safety_not_answered.signs[0] in text
            assert fmt == "json" or R.SAFETY_TITLE in text
            assert self_care not in text
    none = R.build_report(empty, content)
    assert none.triage == "none" and none.triage_name == R.NO_TRIAGE
    for fmt in R.FORMATS:
        assert R.NO_TRIAGE in R.render(none, fmt, empty)

    assert main(monkeypatch, ["history"]) == 0
    out = capsys.readouterr().out
    assert out.count(H.SAFETY_MARK) == 3 and H.SAFETY_FOOTNOTE in out
    assert self_care not in out
    assert main(monkeypatch, ["report", "20261102-100000", "--format", "md"]) == 0
    assert self_care not in capsys.readouterr().out


# ============================================================ 3. input that is not UTF-8

@pytest.mark.parametrize("environment", [{"LC_ALL": "C", "LANG": "C"}, {"PYTHONIOENCODING": "utf-8"}],
                         ids=["C-locale", "utf-8"])
def test_invalid_utf8_on_stdin_spoils_only_its_own_line(tmp_path, environment):
    data = tmp_path / "data"
    env = {**env_for(tmp_path, data), **environment}
    content = F.content()
    no = content.say("no_label").encode()
    stairs = content.question("situations").option("stairs_down").label.encode()
    typed = no + b"\n" + b"\xff\xfe\xe3\x81\n" + stairs + b"\n"  # then the input ends
    done = run_py(tmp_path, data, ["--text", "--no-confirm"], stdin=typed, env=env)
    assert done.returncode == 0
    [record] = SessionStore(data).sessions()
    summary = record.load_summary()
    assert summary["answers"]["safety_now"] == "no"  # typed before the bad bytes
    assert summary["answers"]["situations"] == ["stairs_down"]  # typed after them
    heard = [e["text"] for e in record.transcript() if e["type"] == "heard"]
    assert "\ufffd" in heard  # the bad line was heard as "not text", i.e. not understood
    assert content.say("not_understood").encode() in done.stdout


def test_text_ears_read_pipes_line_by_line(tmp_path):
    from voicecheck.interfaces import ListenContext
    from voicecheck.textio import NOT_TEXT, TextEars

    read_end, write_end = os.pipe()
    os.write(write_end, "はい\n".encode() + b"\xc3\x28\n" + "いいえ\r\n".encode() + b"\xed\xa0\x80\n")
    os.close(write_end)
    with open(read_end, encoding="utf-8", errors="surrogateescape") as stream:
        ears = TextEars(stream, out=io.StringIO())
        heard = [ears.listen(ListenContext("yes_no")) for _ in range(5)]
    assert [h.text if h else None for h in heard] == ["はい", NOT_TEXT, "いいえ", NOT_TEXT, None]
    surrogates = TextEars(io.StringIO("a\udcff\n"), out=io.StringIO())
    assert surrogates.listen(ListenContext("yes_no")).text == NOT_TEXT


# ============================================================ 5. a damaged progress file

def unfinished_session(data: Path, progress, when: str = "20261101-100000"):
    record = SessionStore(data, now=lambda: datetime.strptime(when, "%Y%m%d-%H%M%S")).start("text")
    if isinstance(progress, (dict, list)):
        record.save_progress(progress)  # type: ignore[arg-type]
    else:
        record.progress_path.write_bytes(progress)
    return record


DAMAGED = {
    "not-json": b"{not json",
    "half-character": '{"index": 1, "answers": {"safety_now": {"value": "no", "heard": "い'.encode()[:-1],
    "wrong-shape": [1, 2, 3],
    "answers-a-list": {"index": 1, "answers": [1, 2]},
    "index-text": {"index": "x", "answers": {}},
    "value-a-number": {"index": 1, "answers": {"safety_now": {"value": 5, "status": "answered"}}},
    "unknown-option": {"index": 2, "answers": {"situations": {"value": ["flying"], "status": "answered"}}},
    "unknown-question": {"index": 1, "answers": {"favourite_colour": {"value": "blue"}}},
}


@pytest.mark.parametrize("damage", list(DAMAGED), ids=list(DAMAGED))
def test_a_damaged_progress_file_is_set_aside_and_the_session_starts(data, monkeypatch, capsys, damage):
    content = F.content()
    record = unfinished_session(data, DAMAGED[damage])
    assert main(monkeypatch, ["--text", "--no-confirm"], "") == 0
    out, err = capsys.readouterr()
    assert content.say("resume_damaged") in out
    assert record.id in err and DAMAGED_FILE in err
    assert (record.path / DAMAGED_FILE).exists() and not record.progress_path.exists()
    store = SessionStore(data)
    assert store.unfinished() is None and len(store.sessions()) == 2  # a new session was started
    # history names the damaged session and still lists the rest
    F.saved_session(data, "20261105-100000", F.TYPICAL)
    assert main(monkeypatch, ["history"]) == 0
    out = capsys.readouterr().out
    assert "20261105-100000" in out and f"注意: セッション {record.id}" in out


def test_fresh_sets_a_damaged_session_aside_too(data, monkeypatch, capsys):
    record = unfinished_session(data, b"\x00\x00garbage")
    assert main(monkeypatch, ["--text", "--fresh"], "") == 0
    assert (record.path / DAMAGED_FILE).exists()
    capsys.readouterr()
    assert main(monkeypatch, ["--text"], "") == 0  # and it is not in the way any more
    assert F.content().say("resume_damaged") not in capsys.readouterr().out


# ============================================================ 6. the offer to resume

def offer(content, data: Path, replies: list[str], fresh: bool = False):
    store = SessionStore(data)
    record = unfinished_session(data, Progress(index=2, answers=F.progress_for(
        {"safety_now": "no", "situations": "turning"}).answers).to_json())
    mouth = RecordingMouth()
    import argparse
    args = argparse.Namespace(resume=None, fresh=fresh)
    chosen, progress = app._resume_or_start(store, content, IdMatcher(content), ScriptedEars(replies), mouth,
                                            "text", args)
    return record, chosen, progress, mouth.said


def test_hesitant_replies_are_asked_again_not_taken_for_no(content, tmp_path):
    record, chosen, progress, said = offer(content, tmp_path / "d", ["えーと", "なんだっけ", "yes"])
    assert chosen == record and progress.index == 2 and "situations" in progress.answers
    assert content.say("resume_offer_again") in said and content.say("resume_yes") in said
    assert content.say("resume_no") not in said


def test_a_reply_that_stays_unclear_continues_the_session(content, tmp_path):
    record, chosen, progress, said = offer(content, tmp_path / "d", ["えーと"] * 10)
    assert chosen == record and progress.index == 2
    assert said[-1] == content.say("resume_unclear")


def test_stop_at_the_offer_changes_nothing(content, tmp_path):
    record, chosen, progress, said = offer(content, tmp_path / "d", ["!stop"])
    assert chosen is None and record.is_unfinished


def test_no_sets_the_session_aside_and_resume_brings_it_back(data, monkeypatch, capsys):
    content = F.content()
    record, chosen, _, said = offer(content, data, ["no"])
    assert chosen != record and record.is_abandoned and not record.is_unfinished
    assert content.say("resume_no") in said
    assert main(monkeypatch, ["history"]) == 0
    assert H.ABANDONED_HINT in capsys.readouterr().out
    rows = F.typed_session()
    typed = F.typed_input(rows[2:])
    assert main(monkeypatch, ["--text", "--no-confirm", "--resume", record.id], typed) == 0
    summary = record.load_summary()
    assert summary["status"] == "complete"
    assert summary["answers"]["situations"] == ["turning"]  # the answer given before it was set aside
    assert summary["answers"]["frequency"] == "weekly"
    assert main(monkeypatch, ["--text", "--resume", record.id], "") == 2  # finished: nothing to resume
    assert "もう最後まで終わっています" in capsys.readouterr().err


def test_resume_offer_end_to_end_with_spoken_hesitation(tmp_path):
    """The real program and matcher: 「えーと」「なんだっけ」 are asked again; 「はい」 resumes."""
    data = tmp_path / "data"
    unfinished_session(data, F.progress_for({"safety_now": "no"}).to_json())
    rows = F.typed_session()
    done = run_py(tmp_path, data, ["--text", "--no-confirm"],
                  stdin="えーと\nなんだっけ\n" + F.content().say("yes_label") + "\n" + F.typed_input(rows[1:]))
    assert done.returncode == 0, done.stderr[-2000:]
    [record] = SessionStore(data).sessions()
    assert record.load_summary()["status"] == "complete"


# ============================================================ 7. two instances at once

def test_a_second_start_on_the_same_data_folder_says_a_session_is_running(tmp_path):
    data = tmp_path / "data"
    env = env_for(tmp_path, data)
    first = subprocess.Popen([sys.executable, str(PROJECT / "run.py"), "--text", "--no-confirm"],
                             stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env,
                             cwd=tmp_path, text=True)
    try:
        no = F.content().say("no_label")
        first.stdin.write(no + "\n")
        first.stdin.flush()
        deadline = time.monotonic() + 120
        store = SessionStore(data)
        while store.unfinished() is None:  # the first answer is saved: the first one holds the folder
            assert first.poll() is None and time.monotonic() < deadline
            time.sleep(0.05)
        second = run_py(tmp_path, data, ["--text", "--no-confirm"], stdin=no + "\n")
        assert second.returncode == 2
        assert "別のセッションがもう動いています" in second.stderr and str(first.pid) in second.stderr
        assert len(store.sessions()) == 1, "the second start must not touch the data"
        os.kill(first.pid, signal.SIGKILL)  # the system drops the lock with the process
        first.wait(timeout=10)
    finally:
        if first.poll() is None:
            first.kill()
            first.wait()
        for stream in (first.stdin, first.stdout, first.stderr):
            stream.close()
    third = run_py(tmp_path, data, ["--text", "--no-confirm"], stdin="")
    assert third.returncode == 0
    assert F.content().say("resume_offer", answered=1) in third.stdout


def test_the_lock_is_exclusive_within_one_process_too(tmp_path):
    from voicecheck.store import SessionRunning

    store = SessionStore(tmp_path)
    with store.lock():
        with pytest.raises(SessionRunning):
            SessionStore(tmp_path).lock()
    SessionStore(tmp_path).lock().release()  # free again


# ============================================================ 8. replays and leftovers

def test_a_killed_replay_is_never_offered_to_the_user(data, monkeypatch, capsys):
    replay = SessionStore.for_replays(data, now=lambda: datetime(2025, 1, 1, 9)).start("replay")
    replay.save_progress(F.progress_for({"safety_now": "no", "frequency": "daily"}).to_json())
    assert main(monkeypatch, ["--text"], "") == 0
    out = capsys.readouterr().out
    assert F.content().say("resume_offer", answered=2).split("。")[0] not in out
    assert main(monkeypatch, ["history"]) == 0
    assert replay.id not in capsys.readouterr().out
    assert replay.is_unfinished  # left as it was for the tester
    # a tester can still ask for its report by name
    assert main(monkeypatch, ["report", replay.id, "--format", "md"]) == 0


class FakeWavEars(ScriptedEars):
    pass


def test_a_replay_runs_apart_and_its_read_back_folder_is_private_and_removed(data, tmp_path, monkeypatch, capsys):
    answers = tmp_path / "answers"
    answers.mkdir()
    (answers / "01.wav").write_bytes(b"RIFF")
    seen = {}

    def fake_io(mode, args, settings, out_dir=None):
        assert mode == "replay" and out_dir is not None
        seen["out_dir"] = out_dir
        seen["mode"] = oct(out_dir.stat().st_mode & 0o777)
        seen["under_data"] = data in out_dir.parents
        (out_dir / "001.wav").write_bytes(b"x")  # what WavMouth would write
        return "replay", ScriptedEars([F.content().say("no_label")]), RecordingMouth()

    monkeypatch.setattr(app, "open_io", fake_io)
    assert main(monkeypatch, ["--replay", str(answers), "--no-confirm"]) == 0
    assert seen["under_data"] and seen["mode"] == "0o700"
    assert not seen["out_dir"].exists(), "the spoken read-back of a replay is removed at its end"
    assert not (data / "sessions").exists() or ids(SessionStore(data)) == []
    [record] = SessionStore.for_replays(data).sessions()
    assert record.load_summary()["answers"]["safety_now"] == "no"


def test_what_killed_runs_left_is_swept_at_the_next_start(data, monkeypatch):
    user = SessionStore(data).start("text")
    dead_pid = 2**22 + 12345  # above pid_max: no such process
    stale = user.path / f".progress.json.{dead_pid}.0badc0de.tmp"
    stale.write_text('{"answers": {"saf')
    live = user.path / f".report.md.{os.getpid()}.0badc0de.tmp"  # a writer still at work
    live.write_text("# half")
    replays = SessionStore.for_replays(data)
    killed = replays.start("replay")
    (killed.spoken_dir() / "001.wav").write_bytes(b"x")  # its process was SIGKILLed
    running = replays.start("replay")
    (running.spoken_dir() / "001.wav").write_bytes(b"x")
    held = running.hold()  # still running
    try:
        assert main(monkeypatch, ["--text"], "") == 0
        assert not stale.exists() and live.exists()
        answers = data.parent / "answers"
        answers.mkdir()
        (answers / "01.wav").write_bytes(b"RIFF")
        monkeypatch.setattr(app, "open_io", lambda *a, **k: ("replay", ScriptedEars([]), RecordingMouth()))
        assert main(monkeypatch, ["--replay", str(answers)]) == 0
        assert not (killed.path / "spoken").exists()
        assert (running.path / "spoken" / "001.wav").exists()
    finally:
        held.release()


# ============================================================ 9. no tracebacks

def deny(monkeypatch, path: Path, *functions: str) -> None:
    """Make `path` unreadable: chmod for a normal user; root reads everything, so the calls fail instead."""
    if os.geteuid() != 0:
        os.chmod(path, 0)  # the test puts the mode back
        return
    target = str(path)
    for name in functions:
        real = getattr(os, name)

        def failing(p, *a, _real=real, **k):
            if str(p).startswith(target):
                raise PermissionError(13, "Permission denied", str(p))
            return _real(p, *a, **k)

        monkeypatch.setattr(os, name, failing)


def test_an_unreadable_replay_folder_is_a_clear_message(data, tmp_path, monkeypatch, capsys):
    answers = tmp_path / "answers"
    answers.mkdir()
    (answers / "01.wav").write_bytes(b"RIFF")
    deny(monkeypatch, answers, "scandir")
    try:
        assert main(monkeypatch, ["--replay", str(answers)]) == 2
    finally:
        os.chmod(answers, 0o700)
    assert "読めません" in capsys.readouterr().err
    assert not (data / "replays").exists()


def test_an_unreadable_data_folder_is_a_clear_message(data, monkeypatch, capsys):
    F.saved_session(data, "20261101-100000", F.TYPICAL)
    sessions = data / "sessions"
    real_iterdir = Path.iterdir

    def iterdir(self):
        if self == sessions:
            raise PermissionError(13, "Permission denied", str(self))
        return real_iterdir(self)

    monkeypatch.setattr(Path, "iterdir", iterdir)
    assert main(monkeypatch, ["history"]) == 2
    assert "読めません" in capsys.readouterr().err
    monkeypatch.setattr(os, "access", lambda *a, **k: False)  # a folder the user may not use
    assert main(monkeypatch, ["--text"], "") == 2
    assert "data_dir" in capsys.readouterr().err


@pytest.mark.parametrize("redirect", ["<&-", ">&-", "2>&- <&-"])
def test_closed_standard_streams(tmp_path, redirect):
    data = tmp_path / "data"
    command = f'exec "{sys.executable}" "{PROJECT / "run.py"}" --text {redirect}'
    done = subprocess.run(["bash", "-c", command], capture_output=True, text=True, env=env_for(tmp_path, data),
                          cwd=tmp_path, timeout=300, stdin=subprocess.DEVNULL)
    assert "Traceback" not in done.stderr and done.returncode == 2
    if "2>&-" not in redirect:
        assert "閉じている" in done.stderr


def test_output_closed_by_its_reader_keeps_the_answers(tmp_path):
    data = tmp_path / "data"
    command = (f'yes "{F.content().say("no_label")}" | "{sys.executable}" "{PROJECT / "run.py"}" '
               f'--text --no-confirm | head -c 4000 > /dev/null; exit ${{PIPESTATUS[1]}}')
    done = subprocess.run(["bash", "-c", command], capture_output=True, text=True, env=env_for(tmp_path, data),
                          cwd=tmp_path, timeout=300)
    assert "Traceback" not in done.stderr and "Exception ignored" not in done.stderr
    assert done.returncode == 2 and "保存してあります" in done.stderr


def write_manifest(path: Path, data: bytes) -> Path:
    path.write_bytes(data)
    return path


@pytest.mark.parametrize("manifest, message", [
    (b"text\tquestion\texpected\n\xff\xfe\tsafety_now\tno\n", "not UTF-8"),
    (b"text\tquestion\texpected\n" + b"a" * 140000 + b"\tsafety_now\tno\n", "cannot be read at line"),
    (b"", "empty"),
    (b"text\tquestion\texpected\n\x00\tsafety_now\tno\n", None),
], ids=["invalid-utf8", "field-over-128KiB", "empty", "nul-byte"])
def test_broken_manifests_exit_2_with_a_message(data, tmp_path, monkeypatch, capsys, manifest, message):
    path = write_manifest(tmp_path / "m.tsv", manifest)
    status = main(monkeypatch, ["evaluate", str(path)])
    out = capsys.readouterr().out
    if message is None:  # a NUL is a character that is not understood, or a line that cannot be read
        assert status in (0, 1, 2) and out
    else:
        assert status == 2 and message in out


def test_history_lists_every_session_but_an_ill_typed_one(data, monkeypatch, capsys):
    F.saved_session(data, "20261101-100000", F.TYPICAL)
    F.saved_session(data, "20261103-100000", F.TYPICAL)
    for when, damage in (("20261102-100000", {"answers": ["a"]}), ("20261104-100000", {"cause_details": [5]}),
                         ("20261105-100000", {"triage": 3}), ("20261106-100000", {"version": "x"})):
        record = F.saved_session(data, when, F.TYPICAL)
        summary = record.load_summary()
        summary.update(damage)
        record.summary_path.write_text(json.dumps(summary))
    broken = F.saved_session(data, "20261107-100000", F.TYPICAL)
    broken.summary_path.write_bytes(b"[1, 2")
    assert main(monkeypatch, ["history"]) == 0
    out = capsys.readouterr().out
    assert "20261101-100000" in out and "20261103-100000" in out
    for damaged in ("20261102-100000", "20261104-100000", "20261105-100000", "20261106-100000", "20261107-100000"):
        assert f"注意: セッション {damaged}" in out or f"注意: {data}" in out and damaged in out, damaged
    assert main(monkeypatch, ["report", "20261104-100000"]) == 2
    assert "20261104-100000" in capsys.readouterr().err


def test_a_bad_summary_path_is_found_before_the_session(data, tmp_path, monkeypatch, capsys):
    for bad in (tmp_path / "no-such-folder" / "s.json", tmp_path):
        assert main(monkeypatch, ["--text", "--summary", str(bad)], "いいえ\n") == 2
        assert "--summary" in capsys.readouterr().err
    assert not (data / "sessions").exists() or ids(SessionStore(data)) == []


# ============================================================ 10. messages that say what is wrong

def test_a_manifest_header_with_a_bom_or_capitals_is_read_as_audio(tmp_path):
    from voicecheck.evaluate import manifest_has_audio

    for header in ("\ufeffaudio\tquestion\texpected", "Audio\tQuestion\tExpected", " AUDIO \tquestion\texpected"):
        path = tmp_path / "m.tsv"
        path.write_text(header + "\nx.wav\tsafety_now\tno\n", encoding="utf-8")
        assert manifest_has_audio(path), header
    (tmp_path / "t.tsv").write_text("\ufeffText\tquestion\texpected\n", encoding="utf-8")
    assert not manifest_has_audio(tmp_path / "t.tsv")


def test_an_unreadable_wav_in_a_manifest_is_named_as_unreadable(data, tmp_path, monkeypatch, capsys):
    (tmp_path / "a.wav").write_bytes(b"RIFF")
    path = write_manifest(tmp_path / "m.tsv", b"audio\tquestion\texpected\na.wav\tsafety_now\tno\n")
    if os.geteuid() == 0:
        real = os.access
        monkeypatch.setattr(os, "access", lambda p, m, *a, **k: False if str(p).endswith("a.wav") else real(p, m))
    else:
        os.chmod(tmp_path / "a.wav", 0)

    class Recogniser:
        name = "fake"

    monkeypatch.setattr("voicecheck.recognizers.select_recognizer", lambda settings: Recogniser())
    assert main(monkeypatch, ["evaluate", str(path)]) == 2
    out = capsys.readouterr().out
    assert "cannot be read" in out and "System error" not in out and "not found" not in out


def test_a_file_given_to_replay_is_not_called_missing(data, tmp_path, monkeypatch, capsys):
    (tmp_path / "answer.wav").write_bytes(b"RIFF")
    assert main(monkeypatch, ["--replay", str(tmp_path / "answer.wav")]) == 2
    err = capsys.readouterr().err
    assert "ファイルです" in err and "見つかりません" not in err


def test_an_unreadable_wav_in_a_replay_folder_is_named_before_anything_starts(data, tmp_path, monkeypatch, capsys):
    answers = tmp_path / "answers"
    answers.mkdir()
    for name in ("01.wav", "02.wav"):
        (answers / name).write_bytes(b"RIFF")
    if os.geteuid() == 0:
        real = os.access
        monkeypatch.setattr(os, "access", lambda p, m, *a, **k: False if str(p).endswith("02.wav") else real(p, m))
    else:
        os.chmod(answers / "02.wav", 0)
    assert main(monkeypatch, ["--replay", str(answers)]) == 2
    err = capsys.readouterr().err
    assert "02.wav" in err and "読めません" in err
    assert not (data / "replays").exists()


def test_a_settings_file_with_a_bom_is_read(data, tmp_path, monkeypatch, capsys):
    config = tmp_path / "settings.toml"
    config.write_bytes(b"\xef\xbb\xbfspeaking_rate = \"slow\"\n")
    assert main(monkeypatch, ["config", "--config", str(config)]) == 0
    assert "slow" in capsys.readouterr().out
    config.write_bytes(b"speaking_rate = \"\xff\"\n")
    assert main(monkeypatch, ["history", "--config", str(config)]) == 2
    assert "UTF-8" in capsys.readouterr().err


# ============================================================ 11. limits

def limited_memory() -> None:
    import resource

    # A reader without a size limit then fails fast (MemoryError) instead of eating the machine.
    resource.setrlimit(resource.RLIMIT_AS, (4 * 2**30, 4 * 2**30))


@pytest.mark.parametrize("args, message", [(["history", "--config", "/dev/zero"], "大きすぎます"),
                                           (["evaluate", "/dev/zero"], "larger than")],
                         ids=["settings", "manifest"])
def test_settings_and_manifests_are_read_with_a_size_limit(tmp_path, args, message):
    done = subprocess.run([sys.executable, str(PROJECT / "run.py"), *args], capture_output=True, text=True,
                          env=env_for(tmp_path, tmp_path / "data"), cwd=tmp_path, timeout=300,
                          preexec_fn=limited_memory)
    assert "Traceback" not in done.stderr and done.returncode == 2
    assert message in done.stdout + done.stderr


def test_models_verify_fails_when_no_model_is_installed(data, tmp_path, monkeypatch, capsys):
    monkeypatch.delenv("VOICECHECK_MODEL_MIRROR", raising=False)  # the mirror counts as a place models are
    assert main(monkeypatch, ["models", "verify", "--models-dir", str(tmp_path / "empty")]) == 1
    assert "No speech model is installed" in capsys.readouterr().err


def test_a_replay_folder_without_wavs_leaves_no_session_behind(data, tmp_path, monkeypatch, capsys):
    (tmp_path / "answers").mkdir()
    (tmp_path / "answers" / "notes.txt").write_text("x")
    assert main(monkeypatch, ["--replay", str(tmp_path / "answers")]) == 2
    assert "WAV" in capsys.readouterr().err
    assert not (data / "replays").exists() and not (data / "sessions").exists()


def test_a_wav_with_nan_samples_gives_no_runtime_warning(tmp_path, recwarn):
    import warnings

    import numpy as np
    import soundfile

    from voicecheck.audio import read_wav, speech_bounds, write_wav

    samples = np.full(16000, np.nan, dtype=np.float32)
    samples[:8000] = 0.2 * np.sin(np.arange(8000) / 5)
    soundfile.write(str(tmp_path / "nan.wav"), samples, 16000, subtype="FLOAT")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        read = read_wav(tmp_path / "nan.wav")
        speech_bounds(read)
        write_wav(tmp_path / "out.wav", read)
    assert not np.isnan(read).any()


# ============================================================ 12. written text keeps the usual spelling

def test_written_text_says_mri_and_only_the_voice_reads_it(content):
    import numpy as np

    from voicecheck.voices import load_readings
    from voicecheck.voices.base import CachedVoice

    lines = [line for line in content.advice.clinic_visit if "MRI" in line]
    assert lines, "the clinic-visit text writes MRI"
    assert not any("エムアールアイ" in line for part in (content.advice.clinic_visit, content.advice.note_down)
                   for line in part)

    class Voice:
        name = "fake"
        said: list[str] = []

        def synthesize(self, text, *, slow=False):
            self.said.append(text)
            return np.zeros(10, dtype=np.float32), 16000

    voice = Voice()
    CachedVoice(voice, readings=load_readings(content.directory)).synthesize(lines[0])
    assert "エムアールアイ" in voice.said[0] and "MRI" not in voice.said[0]
