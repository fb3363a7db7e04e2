"""A full disk and hard kills (issue 12, item 4 and "done when"): nothing partial is ever written,
an answer acknowledged aloud is never lost, the person hears plainly that saving stopped, and
no file left behind makes `report` or `history` fail.

The disk fills up in three ways: an injected os.write that refuses or takes part of the bytes
(in-process, always), a small tmpfs (when the tests may mount one, as root), and the same
injection in a real program killed again and again.
"""
from __future__ import annotations

import errno
import io
import json
import os
import random
import re
import shutil
import signal
import subprocess
import sys
import textwrap
import time
from contextlib import contextmanager
from pathlib import Path

import pytest

import session_factory as F
from voicecheck import app, cli
from voicecheck import history as H
from voicecheck import report as R
from voicecheck.content import QUESTION_ORDER
from voicecheck.interfaces import RecordingMouth, ScriptedEars
from voicecheck.session import run_session
from voicecheck.store import SessionStore, StoreWriteError
from tests.fakes import IdMatcher

PROJECT = Path(__file__).resolve().parent.parent
ALL_NO = ["no", "stairs_down", "sometimes"] + ["no"] * 13 + ["先月から"]


# ------------------------------------------------------------------ an injected full disk

class Disk:
    """os.write that takes at most `budget` more bytes for files under `root`: then a short
    write (part of the bytes, as a filesystem filling up does), then ENOSPC."""

    def __init__(self, root: Path, budget: int) -> None:
        self.root, self.budget = str(root), budget
        self.real_write = os.write
        self.refused = 0

    def write(self, fd: int, data) -> int:
        try:
            path = os.readlink(f"/proc/self/fd/{fd}")
        except OSError:
            path = ""
        if not path.startswith(self.root):
            return self.real_write(fd, data)
        data = bytes(data)
        if self.budget <= 0:
            self.refused += 1
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        written = self.real_write(fd, data[:self.budget])
        self.budget -= written
        return written


@contextmanager
def full_disk(root: Path, budget: int = 0):
    disk = Disk(root, budget)
    original = os.write
    os.write = disk.write
    try:
        yield disk
    finally:
        os.write = original


def test_a_transcript_line_is_written_whole_or_not_at_all(tmp_path):
    record = SessionStore(tmp_path).start("text")
    record.log({"type": "say", "text": "膝がカクンとなることはありますか。"})
    before = record.transcript_path.read_bytes()
    for budget in (0, 1, 7, 40):  # refused, then half a character, then half a line
        with full_disk(tmp_path, budget), pytest.raises(StoreWriteError) as raised:
            record.log({"type": "say", "text": "階段を下りるときに、膝の力が抜けますか。"})
        assert raised.value.disk_full and "ディスクの空きがありません" in str(raised.value)
        assert record.transcript_path.read_bytes() == before, f"budget {budget} left a partial line"
    record.log({"type": "heard", "text": "はい"})
    assert [e["type"] for e in record.transcript()] == ["say", "heard"]


def test_a_damaged_last_line_is_skipped_and_the_next_line_starts_clean(tmp_path):
    record = SessionStore(tmp_path).start("text")
    record.log({"type": "say", "text": "一つ目"})
    with open(record.transcript_path, "ab") as f:  # what an older version left on a full disk
        f.write('{"type": "say", "text": "二つ'.encode()[:-1])  # ends in half a character
    assert [e["text"] for e in record.transcript()] == ["一つ目"]
    record.log({"type": "say", "text": "三つ目"})
    assert [e["text"] for e in record.transcript()] == ["一つ目", "三つ目"]
    raw = record.transcript_path.read_bytes().split(b"\n")
    assert raw[-1] == b"" and json.loads(raw[-2])["text"] == "三つ目"  # its own whole line


def test_a_whole_file_write_on_a_full_disk_keeps_the_old_file(tmp_path):
    record = SessionStore(tmp_path).start("text")
    record.save_progress({"index": 1, "answers": {"safety_now": {"value": "no"}}})
    for budget in (0, 10):
        with full_disk(tmp_path, budget), pytest.raises(StoreWriteError):
            record.save_progress({"index": 2, "answers": {"safety_now": {"value": "no"}, "x": "y" * 500}})
        assert record.load_progress()["index"] == 1
    assert sorted(p.name for p in record.path.iterdir()) == ["progress.json", "session.json"]
    with full_disk(tmp_path), pytest.raises(StoreWriteError):
        record.finish({"status": "complete"})
    assert record.is_unfinished and record.load_progress()["index"] == 1


def test_a_full_disk_at_the_start_leaves_no_half_made_session(tmp_path):
    store = SessionStore(tmp_path)
    store.ensure_dirs()
    with full_disk(tmp_path), pytest.raises(StoreWriteError):
        store.start("text")
    assert store.sessions() == []


def test_saving_stops_mid_session_no_acknowledged_answer_is_lost(content, tmp_path):
    record = SessionStore(tmp_path).start("text")
    saves = []
    real_save = record.save_progress

    def save(progress):
        if len(saves) == 4:  # the fifth answer meets a full disk
            raise StoreWriteError("お答えを保存できません（ディスクの空きがありません）。", disk_full=True)
        real_save(progress)
        saves.append(progress)

    object.__setattr__(record, "save_progress", save)
    mouth = RecordingMouth()
    result = run_session(content, IdMatcher(content), ScriptedEars(ALL_NO), mouth, record, mode="text")
    assert result.status == "stopped" and result.save_failed is not None
    said = mouth.said
    assert content.say("save_failed") in said
    saved = record.load_progress()["answers"]
    assert list(saved) == list(QUESTION_ORDER[:4])
    # the fifth answer ("near_fall") was never acknowledged: its acknowledgement comes after saving
    fifth = content.question(QUESTION_ORDER[4])
    asked = said.index(fifth.text)
    assert not any(line.endswith("ですね。") or line == content.say("acknowledged") for line in said[asked:])
    assert content.say("results_intro") not in said


def test_a_transcript_that_cannot_be_written_does_not_stop_the_talk(content, tmp_path):
    record = SessionStore(tmp_path).start("text")

    def log(event):
        raise StoreWriteError("会話の記録を保存できません（ディスクの空きがありません）。", disk_full=True)

    object.__setattr__(record, "log", log)
    result = run_session(content, IdMatcher(content), ScriptedEars(ALL_NO + ["no"]), RecordingMouth(), record,
                         mode="text")
    assert result.status == "complete" and result.transcript_problem is not None
    assert record.load_progress()["index"] == len(QUESTION_ORDER)


# ------------------------------------------------------------------ the whole program, in-process

@pytest.fixture
def data(tmp_path, monkeypatch) -> Path:
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))
    monkeypatch.delenv("VOICECHECK_CONFIG", raising=False)
    monkeypatch.setattr(app, "_load_matcher", lambda content: IdMatcher(content))
    monkeypatch.setattr(os, "umask", lambda mask: 0o022)
    return Path(os.environ["VOICECHECK_DATA_DIR"])


def main(monkeypatch, argv: list[str], typed: str = "") -> int:
    monkeypatch.setattr(sys, "stdin", io.StringIO(typed))
    return cli.main(argv)


def readers_work(data: Path) -> None:
    """`history` lists every session and `report` renders each one."""
    content = F.content()
    rows, problems = H.session_rows(SessionStore(data), content)
    assert problems == [], problems
    H.render_history(rows, content)
    for row in rows:
        report = R.build_report(row.summary, content, unfinished=bool(row.summary.get("unfinished")))
        for fmt in R.FORMATS:
            R.render(report, fmt, row.summary)


def test_full_disk_at_start_is_said_and_written(data, monkeypatch, capsys):
    SessionStore(data).ensure_dirs()
    with full_disk(data):
        assert main(monkeypatch, ["--text"], "no\n") == 2
    out, err = capsys.readouterr()
    assert F.content().say("save_failed_start") in out
    assert "ディスクの空きがありません" in err and "Traceback" not in err
    assert SessionStore(data).sessions() == []
    readers_work(data)


def remaining_input(data: Path) -> str:
    record = SessionStore(data).unfinished()
    index = record.load_progress()["index"] if record else 0
    return "\n".join((["yes"] if record else []) + ALL_NO[index:] + ["no"]) + "\n"


@pytest.mark.parametrize("budget", [300, 2500, 6000, 12000])
def test_full_disk_mid_session_is_said_and_every_acknowledged_answer_kept(data, monkeypatch, capsys, budget):
    content = F.content()
    with full_disk(data, budget) as disk:
        status = main(monkeypatch, ["--text"], remaining_input(data))
    out, err = capsys.readouterr()
    assert disk.budget == 0, "the disk did not fill up"
    assert status == 2 and content.say("save_failed") in out and "ディスクの空きがありません" in err
    [record] = SessionStore(data).sessions()
    saved = R.load_session_summary(record, content) or {"answers": {}}
    for qid in acknowledged_questions(out, content):
        assert qid in saved["answers"], qid
    readers_work(data)
    # after space is freed, the next start continues from what was saved
    assert main(monkeypatch, ["--text"], remaining_input(data)) == 0
    summary = SessionStore(data).sessions()[-1].load_summary()
    assert summary is not None and summary["status"] == "complete"
    assert summary["answers"]["since_when"] == ALL_NO[-1]


def test_summary_option_on_a_full_disk_keeps_the_session_summary(data, tmp_path, monkeypatch, capsys):
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    with full_disk(elsewhere):
        status = main(monkeypatch, ["--text", "--summary", str(elsewhere / "s.json")], "\n".join(ALL_NO + ["no"]) + "\n")
    assert status == 2
    assert "--summary" in capsys.readouterr().err
    assert SessionStore(data).sessions()[0].load_summary()["status"] == "complete"
    assert list(elsewhere.iterdir()) == []


# ------------------------------------------------------------------ a real small disk (tmpfs)

@contextmanager
def small_disk(path: Path, size_kib: int):
    path.mkdir(parents=True, exist_ok=True)
    if os.geteuid() != 0 or shutil.which("mount") is None:
        pytest.skip("mounting a small tmpfs needs root")
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size_kib}k,mode=0700", "tmpfs", str(path)],
                          capture_output=True, text=True)
    if done.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {done.stderr.strip()[:200]}")
    try:
        yield path
    finally:
        subprocess.run(["umount", "-l", str(path)], capture_output=True)


def grow(path: Path, size_kib: int) -> None:
    subprocess.run(["mount", "-o", f"remount,size={size_kib}k", str(path)], check=True, capture_output=True)


def fill(path: Path) -> Path:
    filler = path / "filler"
    fd = os.open(filler, os.O_WRONLY | os.O_CREAT, 0o600)
    try:
        while os.write(fd, b"\0" * 1024):
            pass
    except OSError:
        pass
    finally:
        os.close(fd)
    return filler


def env_for(tmp_path: Path, data: Path) -> dict:
    env = {**os.environ, "VOICECHECK_DATA_DIR": str(data), "XDG_CONFIG_HOME": str(tmp_path / "config"),
           "PYTHONPATH": str(PROJECT)}
    env.pop("VOICECHECK_CONFIG", None)
    return env


def run_py(tmp_path: Path, data: Path, args: list[str], stdin: str = "") -> subprocess.CompletedProcess:
    done = subprocess.run([sys.executable, str(PROJECT / "run.py"), *args], input=stdin, capture_output=True,
                          text=True, env=env_for(tmp_path, data), cwd=tmp_path, timeout=300)
    assert "Traceback" not in done.stderr, done.stderr[-3000:]
    return done


def test_a_real_full_disk_from_start_to_resume(tmp_path):
    content = F.content()
    data = tmp_path / "data"
    rows = F.typed_session()
    with small_disk(data, 24):
        filler = fill(data)
        start = run_py(tmp_path, data, ["--text", "--no-confirm"], F.typed_input(rows))
        assert start.returncode == 2 and content.say("save_failed_start") in start.stdout
        assert "ディスクの空きがありません" in start.stderr
        filler.unlink()
        middle = run_py(tmp_path, data, ["--text", "--no-confirm"], F.typed_input(rows))
        assert middle.returncode == 2, "a whole session cannot fit in 24 KiB"
        assert content.say("save_failed") in middle.stdout
        acknowledged = acknowledged_questions(middle.stdout, content)
        store = SessionStore(data)
        record = store.unfinished()
        assert record is not None and acknowledged
        saved = record.load_progress()["answers"]
        for qid in acknowledged:
            assert qid in saved, qid
        for name in ("history", "report"):
            done = run_py(tmp_path, data, [name] + (["--format", "md"] if name == "report" else []))
            if name == "history":
                assert done.returncode == 0 and record.id in done.stdout
        grow(data, 4096)  # space is freed
        index = record.load_progress()["index"]
        end = run_py(tmp_path, data, ["--text", "--no-confirm"],
                     content.say("yes_label") + "\n" + F.typed_input(rows[index:]))
        assert end.returncode == 0, end.stderr[-2000:]
        summary = record.load_summary()
        assert summary["status"] == "complete"
        for qid, _, value in rows:
            assert summary["answers"][qid] == value, qid


# ------------------------------------------------------------------ SIGKILL, again and again

def acknowledged_questions(out: str, content) -> list[str]:
    """The questions whose answer the program acknowledged aloud (「…」ですね。 / わかりました。)."""
    header = re.compile(re.escape(content.system["question_number"])
                        .replace(re.escape("{total}"), r"\d+").replace(re.escape("{number}"), r"(\d+)") + "$")
    prefix, suffix = content.system["acknowledged_option"].split("{label}")
    plain = content.say("acknowledged")
    found, current = [], None
    for line in out.splitlines():
        line = line.strip()
        m = header.match(line)
        if m:
            current = QUESTION_ORDER[int(m.group(1)) - 1]
        elif current and (line == plain or (line.startswith(prefix) and line.endswith(suffix))):
            found.append(current)
            current = None
    return found


WRAPPER = textwrap.dedent(
    """
    # Runs run.py with a disk that fills up: a byte budget shared by every run (a file), then
    # short writes, then ENOSPC, for the files of the data folder only.
    import errno, os, runpy, sys
    budget_file = sys.argv.pop(1)
    root = os.environ["VOICECHECK_DATA_DIR"]
    real_write = os.write

    def write(fd, data):
        try:
            path = os.readlink(f"/proc/self/fd/{fd}")
        except OSError:
            path = ""
        if not path.startswith(root):
            return real_write(fd, data)
        with open(budget_file) as f:
            budget = int(f.read())
        if budget <= 0:
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        written = real_write(fd, bytes(data)[:budget])
        with open(budget_file + ".new", "w") as f:  # replaced whole: a kill never leaves it empty
            f.write(str(budget - written))
        os.replace(budget_file + ".new", budget_file)
        return written

    os.write = write
    sys.argv = sys.argv[1:]
    runpy.run_path(sys.argv[0], run_name="__main__")
    """
)


class KillLoop:
    """Runs the real program in text mode with piped answers, SIGKILLs it after a random number of
    printed lines, and after every run checks that nothing acknowledged was lost and that the
    readers still work. Each run resumes (「はい」) and types the remaining answers."""

    def __init__(self, tmp_path: Path, data: Path, seed: int, budget_file: Path | None = None) -> None:
        self.tmp_path, self.data, self.rng = tmp_path, data, random.Random(seed)
        self.content = F.content()
        self.rows = F.typed_session()
        self.expected = {qid: value for qid, _, value in self.rows}
        self.budget_file = budget_file
        self.kills = 0
        self.full_disk_said = 0
        if budget_file is not None:
            (tmp_path / "wrapper.py").write_text(WRAPPER, encoding="utf-8")

    def command(self) -> list[str]:
        head = [sys.executable]
        if self.budget_file is not None:
            head += [str(self.tmp_path / "wrapper.py"), str(self.budget_file)]
        return head + [str(PROJECT / "run.py"), "--text", "--no-confirm"]

    def typed(self) -> str:
        record = SessionStore(self.data).unfinished()
        if record is None:
            return F.typed_input(self.rows)
        index = record.load_progress()["index"]
        return self.content.say("yes_label") + "\n" + F.typed_input(self.rows[index:])

    def run(self, kill_after: int | None) -> int | None:
        child = subprocess.Popen(self.command(), stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                 stderr=subprocess.PIPE, text=True, env=env_for(self.tmp_path, self.data),
                                 cwd=self.tmp_path)
        lines: list[str] = []
        try:
            child.stdin.write(self.typed())
            child.stdin.close()
            while True:
                line = child.stdout.readline()
                if not line:
                    break
                lines.append(line)
                if kill_after is not None and len(lines) >= kill_after:
                    time.sleep(self.rng.uniform(0, 0.02))  # land inside a write as likely as not
                    os.kill(child.pid, signal.SIGKILL)
                    self.kills += 1
                    break
            lines += child.stdout.readlines()  # what it printed before it died
            child.wait(timeout=300)
            err = child.stderr.read()
        finally:
            if child.poll() is None:
                child.kill()
                child.wait()
            child.stdout.close()
            child.stderr.close()
        assert "Traceback" not in err, err[-3000:]
        out = "".join(lines)
        self.full_disk_said += self.content.say("save_failed") in out or self.content.say("save_failed_start") in out
        self.check(acknowledged_questions(out, self.content))
        return child.returncode

    def newest_answers(self) -> dict:
        for record in reversed(SessionStore(self.data).sessions()):
            summary = R.load_session_summary(record, self.content)
            if summary is not None:
                return summary["answers"]
        return {}

    def check(self, acknowledged: list[str]) -> None:
        answers = self.newest_answers()
        for qid in acknowledged:
            assert qid in answers, f"{qid} was acknowledged aloud but is not saved"
            assert answers[qid] == self.expected[qid], qid
        readers_work(self.data)

    def finish(self, max_runs: int = 6) -> dict:
        for _ in range(max_runs):
            if self.run(None) == 0 and SessionStore(self.data).unfinished() is None:
                break
        record = SessionStore(self.data).sessions()[-1]
        summary = record.load_summary()
        assert summary is not None and summary["status"] == "complete"
        assert summary["answers"] == self.expected
        leftovers = [p for p in self.data.rglob("*.tmp")]
        assert leftovers == [], leftovers
        return summary


def test_sigkill_at_any_moment_never_loses_an_acknowledged_answer(tmp_path):
    loop = KillLoop(tmp_path, tmp_path / "data", seed=12)
    for _ in range(10):
        loop.run(loop.rng.randint(1, 70))
    assert loop.kills >= 8
    loop.finish()
    for name in (["history"], ["report", "--format", "md"]):
        assert run_py(tmp_path, tmp_path / "data", name).returncode == 0


def test_sigkill_while_the_disk_fills_up_never_loses_an_acknowledged_answer(tmp_path):
    budget = tmp_path / "budget"
    budget.write_text("26000")  # a little less than one whole session needs
    loop = KillLoop(tmp_path, tmp_path / "data", seed=7, budget_file=budget)
    for _ in range(6):
        loop.run(loop.rng.randint(5, 90))
    runs = 0
    while int(budget.read_text()) > 0 and runs < 8:  # go on until the disk is full
        loop.run(None)
        runs += 1
    assert int(budget.read_text()) <= 0, "the disk never filled up"
    loop.run(None)
    assert loop.full_disk_said, "the person was never told that saving stopped"
    for _ in range(3):
        loop.run(loop.rng.randint(1, 40))  # killed while nothing can be saved
    budget.write_text(str(10**9))  # space is freed
    loop.finish()
