"""The session store: private files, atomic writes, and resume after a hard kill."""
from __future__ import annotations

import json
import os
import signal
import stat
import subprocess
import sys
import textwrap
from datetime import datetime
from pathlib import Path

import pytest

from voicecheck.store import SessionStore, StoreError, write_json_atomic

PROJECT = Path(__file__).resolve().parent.parent


def mode_of(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def fixed_now(text: str):
    return lambda: datetime.strptime(text, "%Y%m%d-%H%M%S")


# ---------------------------------------------------------------- write_json_atomic


def test_write_json_atomic_writes_utf8_json_with_mode_0600(tmp_path):
    target = tmp_path / "a.json"
    old = os.umask(0)  # even a permissive umask must not widen the mode
    try:
        write_json_atomic(target, {"since_when": "3か月くらい前から", "n": 1})
    finally:
        os.umask(old)
    assert json.loads(target.read_text(encoding="utf-8")) == {"since_when": "3か月くらい前から", "n": 1}
    assert "3か月" in target.read_text(encoding="utf-8")  # readable Japanese, not \u escapes
    assert mode_of(target) == 0o600


def test_write_json_atomic_replaces_and_leaves_no_temporary_files(tmp_path):
    target = tmp_path / "p.json"
    for i in range(20):
        write_json_atomic(target, {"i": i})
    assert json.loads(target.read_text()) == {"i": 19}
    assert [p.name for p in tmp_path.iterdir()] == ["p.json"]


def test_write_json_atomic_keeps_old_file_when_data_cannot_be_serialised(tmp_path):
    target = tmp_path / "p.json"
    write_json_atomic(target, {"ok": True})

    class Loop(dict):
        pass

    bad = Loop()
    bad["self"] = bad  # circular: json raises before anything is written
    with pytest.raises(ValueError):
        write_json_atomic(target, bad)
    assert json.loads(target.read_text()) == {"ok": True}
    assert [p.name for p in tmp_path.iterdir()] == ["p.json"]


def test_write_json_atomic_failure_during_replace_keeps_old_and_cleans_up(tmp_path, monkeypatch):
    target = tmp_path / "p.json"
    write_json_atomic(target, {"v": 1})

    def broken_replace(src, dst):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "replace", broken_replace)
    with pytest.raises(OSError):
        write_json_atomic(target, {"v": 2})
    monkeypatch.undo()
    assert json.loads(target.read_text()) == {"v": 1}
    assert [p.name for p in tmp_path.iterdir()] == ["p.json"]


# ---------------------------------------------------------------- sessions


def test_start_creates_private_session_folder_named_by_time(tmp_path):
    store = SessionStore(tmp_path / "data", now=fixed_now("20261121-101500"))
    old = os.umask(0o022)
    try:
        rec = store.start("text")
    finally:
        os.umask(old)
    assert rec.id == "20261121-101500"
    assert rec.path == tmp_path / "data" / "sessions" / "20261121-101500"
    for d in (tmp_path / "data", tmp_path / "data" / "sessions", rec.path):
        assert mode_of(d) == 0o700, d
    assert rec.mode == "text"
    assert rec.started and rec.started.startswith("20")
    for f in rec.path.iterdir():
        assert mode_of(f) == 0o600, f


def test_two_starts_in_the_same_second_get_distinct_ids(tmp_path):
    store = SessionStore(tmp_path, now=fixed_now("20261121-101500"))
    ids = [store.start("text").id for _ in range(3)]
    assert ids == ["20261121-101500", "20261121-101500-2", "20261121-101500-3"]
    assert [r.id for r in store.sessions()] == ids


def test_sessions_are_listed_oldest_first_and_foreign_folders_ignored(tmp_path):
    times = iter(["20261121-101500", "20250101-090000", "20261121-101500", "20261120-235959"])
    store = SessionStore(tmp_path, now=lambda: datetime.strptime(next(times), "%Y%m%d-%H%M%S"))
    for _ in range(4):
        store.start("replay")
    (store.sessions_dir / "notes").mkdir()
    (store.sessions_dir / "README.txt").write_text("x")
    assert [r.id for r in store.sessions()] == [
        "20250101-090000",
        "20261120-235959",
        "20261121-101500",
        "20261121-101500-2",
    ]


def test_existing_data_dir_sessions_folder_is_made_private(tmp_path):
    (tmp_path / "sessions").mkdir(mode=0o755)
    os.chmod(tmp_path / "sessions", 0o755)
    SessionStore(tmp_path).start("text")
    assert mode_of(tmp_path / "sessions") == 0o700


def test_log_appends_timestamped_lines_with_mode_0600(tmp_path):
    rec = SessionStore(tmp_path).start("text")
    rec.log({"event": "said", "text": "膝がカクンとなることはありますか。"})
    rec.log({"event": "heard", "text": "はい", "score": 93.0})
    lines = rec.transcript_path.read_text(encoding="utf-8").splitlines()
    assert len(lines) == 2
    first, second = (json.loads(line) for line in lines)
    assert first["event"] == "said" and first["text"].startswith("膝が")
    assert second == {**second, "event": "heard", "text": "はい", "score": 93.0}
    datetime.fromisoformat(first["t"])  # a real ISO timestamp
    assert mode_of(rec.transcript_path) == 0o600
    assert [e["event"] for e in rec.transcript()] == ["said", "heard"]


def test_transcript_ignores_a_half_written_last_line(tmp_path):
    rec = SessionStore(tmp_path).start("text")
    rec.log({"event": "a"})
    with open(rec.transcript_path, "a", encoding="utf-8") as f:
        f.write('{"event": "b", "te')
    assert [e["event"] for e in rec.transcript()] == ["a"]


def test_progress_roundtrip_and_unfinished(tmp_path):
    store = SessionStore(tmp_path, now=fixed_now("20261121-101500"))
    rec = store.start("text")
    assert rec.load_progress() is None
    assert store.unfinished() is None  # no answer yet: nothing worth resuming
    progress = {"answers": {"safety_now": "no", "situations": ["stairs_down"]}, "index": 2}
    rec.save_progress(progress)
    assert mode_of(rec.progress_path) == 0o600
    assert rec.load_progress() == progress
    assert store.unfinished() == rec


def test_finish_writes_summary_and_clears_unfinished(tmp_path):
    store = SessionStore(tmp_path)
    rec = store.start("text")
    rec.save_progress({"answers": {"safety_now": "no"}})
    path = rec.finish({"version": 1, "session_id": rec.id, "status": "complete"})
    assert path == rec.summary_path
    assert mode_of(path) == 0o600
    assert rec.load_summary()["status"] == "complete"
    assert store.unfinished() is None
    assert not rec.progress_path.exists()
    assert store.get(None) == rec


def test_unfinished_is_the_newest_interrupted_session(tmp_path):
    times = iter(["20261101-100000", "20261102-100000", "20261103-100000"])
    store = SessionStore(tmp_path, now=lambda: datetime.strptime(next(times), "%Y%m%d-%H%M%S"))
    a, b, c = store.start("text"), store.start("text"), store.start("text")
    a.save_progress({"answers": {"safety_now": "no"}})
    b.save_progress({"answers": {"safety_now": "no", "frequency": "daily"}})
    c.save_progress({"answers": {}})
    c.finish({"status": "complete"})
    assert store.unfinished() == b
    b.abandon()  # the user said "start over": answers kept, no longer offered
    assert b.is_abandoned and b.load_abandoned()["answers"]["frequency"] == "daily"
    assert store.unfinished() == a


def test_get_by_id_prefix_latest_and_clear_errors(tmp_path):
    times = iter(["20261101-100000", "20261102-100000", "20261102-110000"])
    store = SessionStore(tmp_path, now=lambda: datetime.strptime(next(times), "%Y%m%d-%H%M%S"))
    with pytest.raises(StoreError, match="まだありません"):
        store.get(None)
    a, b, c = store.start("text"), store.start("text"), store.start("text")
    a.finish({"status": "complete"})
    b.finish({"status": "stopped"})
    c.save_progress({"answers": {}})  # unfinished: not "the latest report"
    assert store.get(None) == b
    assert store.get("20261101-100000") == a
    assert store.get("20261101") == a
    with pytest.raises(StoreError, match="2 件"):
        store.get("20261102")
    with pytest.raises(StoreError, match="見つかりません"):
        store.get("20991231-000000")
    with pytest.raises(StoreError, match="形が違います"):
        store.get("../../etc/passwd")


def test_damaged_progress_gives_a_store_error_not_a_traceback(tmp_path):
    rec = SessionStore(tmp_path).start("text")
    rec.progress_path.write_text("{not json")
    with pytest.raises(StoreError, match="壊れています"):
        rec.load_progress()


def test_unwritable_data_dir_is_a_store_error(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("x")
    with pytest.raises(StoreError, match="data_dir"):
        SessionStore(blocker / "data").start("text")


def test_audio_dir_is_private_and_only_made_on_request(tmp_path):
    rec = SessionStore(tmp_path).start("live")
    assert not (rec.path / "audio").exists()
    d = rec.audio_dir()
    assert d.is_dir() and mode_of(d) == 0o700


# ---------------------------------------------------------------- hard kill


WRITER = textwrap.dedent(
    """
    import sys
    from pathlib import Path
    from voicecheck.store import SessionStore

    store = SessionStore(Path(sys.argv[1]))
    rec = store.start("text")
    answers = {}
    i = 0
    while True:
        answers[f"q{i}"] = "回答" * (i % 7 + 1)   # varying size: the file shrinks and grows
        rec.save_progress({"session_id": rec.id, "answers": answers, "index": i})
        rec.log({"event": "answer", "i": i})
        print(i, flush=True)                     # only printed once save_progress returned
        i += 1
    """
)


@pytest.mark.parametrize("kill_after", [1, 7, 40])
def test_sigkill_mid_session_loses_no_saved_answer(tmp_path, kill_after):
    env = {**os.environ, "PYTHONPATH": str(PROJECT) + os.pathsep + os.environ.get("PYTHONPATH", "")}
    child = subprocess.Popen(
        [sys.executable, "-c", WRITER, str(tmp_path)],
        stdout=subprocess.PIPE,
        text=True,
        env=env,
        cwd=PROJECT,
    )
    acknowledged = -1
    try:
        while acknowledged < kill_after:
            line = child.stdout.readline()
            assert line, "writer exited early"
            acknowledged = int(line)
        os.kill(child.pid, signal.SIGKILL)  # no cleanup, no atexit, mid-write as likely as not
        child.wait(timeout=10)
    finally:
        if child.poll() is None:
            child.kill()
            child.wait()
        child.stdout.close()
    assert child.returncode == -signal.SIGKILL

    store = SessionStore(tmp_path)
    rec = store.unfinished()
    assert rec is not None, "the killed session must be offered for resume"
    progress = rec.load_progress()  # valid JSON: never a half-written file
    assert progress["session_id"] == rec.id
    # every answer whose save was acknowledged is there, with its exact value
    for i in range(acknowledged + 1):
        assert progress["answers"][f"q{i}"] == "回答" * (i % 7 + 1)
    assert progress["index"] >= acknowledged
    assert len(progress["answers"]) == progress["index"] + 1
    assert mode_of(rec.progress_path) == 0o600
    logged = [e["i"] for e in rec.transcript()]
    assert logged[: acknowledged + 1] == list(range(acknowledged + 1))


def test_a_temporary_file_left_by_a_kill_does_not_count_as_progress(tmp_path):
    rec = SessionStore(tmp_path).start("text")
    rec.save_progress({"answers": {"safety_now": "no"}})
    # what a kill between open and os.replace leaves behind
    (rec.path / ".progress.json.999.abcd.tmp").write_text('{"answers": {"saf')
    assert rec.load_progress() == {"answers": {"safety_now": "no"}}
    assert [r.id for r in SessionStore(tmp_path).sessions()] == [rec.id]


# ---------------------------------------------------------------- the real session, killed and resumed


def _session_env(data_dir: Path, tmp_path: Path) -> dict:
    env = {**os.environ, "VOICECHECK_DATA_DIR": str(data_dir), "XDG_CONFIG_HOME": str(tmp_path / "config"),
           "PYTHONPATH": str(PROJECT)}
    env.pop("VOICECHECK_CONFIG", None)
    return env


def _wait_for_answers(store: SessionStore, count: int, child: subprocess.Popen, timeout_s: float = 90) -> None:
    import time

    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if child.poll() is not None:
            raise AssertionError("the session ended before it was killed:\n" + child.stderr.read()[-3000:])
        rec = store.unfinished()
        progress = rec.load_progress() if rec else None
        if progress and len(progress.get("answers", {})) >= count:
            return
        time.sleep(0.05)
    found = sorted(str(p) for p in store.data_dir.rglob("*"))
    raise AssertionError(f"the session did not save {count} answers in {timeout_s} s: {found}")


def test_cli_session_killed_mid_questionnaire_resumes_with_every_answer(tmp_path):
    import session_factory as F

    rows = F.typed_session()
    given = 7  # answered before the kill; the session then waits for the 8th
    data_dir = tmp_path / "data"
    env = _session_env(data_dir, tmp_path)
    first = subprocess.Popen(
        [sys.executable, str(PROJECT / "run.py"), "--text", "--no-confirm"],
        stdin=subprocess.PIPE, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, env=env, cwd=tmp_path,
    )
    try:
        first.stdin.write("".join(typed + "\n" for _, typed, _ in rows[:given]))
        first.stdin.flush()
        _wait_for_answers(SessionStore(data_dir), given, first)
        os.kill(first.pid, signal.SIGKILL)
        first.wait(timeout=10)
    finally:
        if first.poll() is None:
            first.kill()
            first.wait()
        first.stdin.close()
        first.stderr.close()
    store = SessionStore(data_dir)
    killed = store.unfinished()
    assert killed is not None and killed.load_summary() is None

    # Next start: the offer to resume is answered "yes", then the remaining answers.
    yes = F.content().say("yes_label")
    second = subprocess.run(
        [sys.executable, str(PROJECT / "run.py"), "--text", "--no-confirm"],
        input=yes + "\n" + F.typed_input(rows[given:]), capture_output=True, text=True, env=env,
        cwd=tmp_path, timeout=300,
    )
    assert second.returncode == 0, second.stderr[-3000:]
    assert "Traceback" not in second.stderr
    assert [r.id for r in store.sessions()] == [killed.id], "resumed in the same session, not a new one"
    summary = killed.load_summary()
    assert summary is not None and summary["status"] == "complete"
    for qid, typed, value in rows:
        assert summary["answers"][qid] == value, qid
    for qid, typed, _ in rows[:given]:
        assert summary["answer_details"][qid]["heard"] == typed  # kept from the killed run
    assert store.unfinished() is None
