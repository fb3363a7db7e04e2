"""Where sessions live on disk, written so that nothing is lost and nothing is readable by others.

Layout::

    <data_dir>/sessions/<YYYYmmdd-HHMMSS[-n]>/
        session.json      when and how the session started (mode)
        transcript.jsonl  one JSON line per event, appended and fsynced
        progress.json     the answers so far, rewritten atomically after every answer
        summary.json      written once at the end; its presence means "finished"

A session killed half-way has ``progress.json`` but no ``summary.json``; the next start
offers to resume it. Folders are 0700 and files 0600 because the answers are health data.
Every whole-file write goes through `write_json_atomic`: a temporary file in the same folder,
fsync, then ``os.replace``, so a reader sees either the old file or the new one, never half.
"""
from __future__ import annotations

import json
import os
import re
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

DIR_MODE = 0o700
FILE_MODE = 0o600

SESSION_ID = re.compile(r"^(\d{8}-\d{6})(?:-(\d+))?$")

META_FILE = "session.json"
TRANSCRIPT_FILE = "transcript.jsonl"
PROGRESS_FILE = "progress.json"
SUMMARY_FILE = "summary.json"
ABANDONED_FILE = "progress.abandoned.json"  # progress of a session the user chose not to resume
AUDIO_DIR = "audio"  # only used when keep-audio is on


class StoreError(Exception):
    """A problem with the saved sessions, worded for the person at the keyboard."""


def now_iso() -> str:
    """Local time with offset, e.g. 2026-11-21T10:15:00.123+09:00."""
    return datetime.now().astimezone().isoformat(timespec="milliseconds")


def _fsync_dir(path: Path) -> None:
    # Makes a rename or a new directory entry durable; not every platform allows it.
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def _make_private_dir(path: Path) -> None:
    """Create `path` (and missing parents) with mode 0700; an existing folder is left as it is."""
    missing: list[Path] = []
    p = path
    while not p.exists():
        missing.append(p)
        if p.parent == p:
            break
        p = p.parent
    for d in reversed(missing):
        try:
            d.mkdir(mode=DIR_MODE)
        except FileExistsError:
            continue
        os.chmod(d, DIR_MODE)  # mkdir's mode is filtered by the umask
        _fsync_dir(d.parent)


def _dumps(data: Any, indent: int | None = 2) -> str:
    return json.dumps(data, ensure_ascii=False, indent=indent, default=str)


def write_json_atomic(path: Path, data: dict, mode: int = FILE_MODE) -> None:
    """Replace `path` with `data` as JSON so that a crash leaves either the old or the new file."""
    write_text_atomic(path, _dumps(data) + "\n", mode)


def write_text_atomic(path: Path, text: str, mode: int = FILE_MODE) -> None:
    """Replace `path` with `text` (UTF-8): a temporary file, fsync, then os.replace."""
    path = Path(path)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, mode)
    try:
        os.fchmod(fd, mode)  # exact mode whatever the umask
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(text)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise
    _fsync_dir(path.parent)


def _read_json(path: Path) -> dict | None:
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return None
    except OSError as e:
        raise StoreError(f"{path} を読めません（{e.strerror}）。") from e
    try:
        data = json.loads(text)
    except json.JSONDecodeError as e:
        raise StoreError(f"{path} が壊れています（JSON の {e.lineno} 行目）。") from e
    if not isinstance(data, dict):
        raise StoreError(f"{path} の形式が違います（JSON のオブジェクトではありません）。")
    return data


def _id_sort_key(session_id: str) -> tuple[str, int]:
    m = SESSION_ID.match(session_id)
    if not m:
        return (session_id, 0)
    return (m.group(1), int(m.group(2) or 1))


@dataclass(frozen=True)
class SessionRecord:
    """One session folder. Cheap to create; every method reads or writes the disk directly."""

    id: str
    path: Path

    @property
    def transcript_path(self) -> Path:
        return self.path / TRANSCRIPT_FILE

    @property
    def progress_path(self) -> Path:
        return self.path / PROGRESS_FILE

    @property
    def summary_path(self) -> Path:
        return self.path / SUMMARY_FILE

    @property
    def is_finished(self) -> bool:
        return self.summary_path.exists()

    @property
    def is_unfinished(self) -> bool:
        """Killed or closed before the end, and not set aside by the user."""
        return self.progress_path.exists() and not self.summary_path.exists()

    @property
    def is_abandoned(self) -> bool:
        return (self.path / ABANDONED_FILE).exists() and not self.summary_path.exists()

    def load_meta(self) -> dict:
        """{"version", "session_id", "mode", "started"}; {} for a folder written by hand."""
        try:
            return _read_json(self.path / META_FILE) or {}
        except StoreError:
            return {}

    @property
    def mode(self) -> str | None:
        return self.load_meta().get("mode")

    @property
    def started(self) -> str | None:
        return self.load_meta().get("started")

    def log(self, event: dict) -> None:
        """Append one event to transcript.jsonl and make it durable before returning."""
        line = _dumps({"t": now_iso(), **event}, indent=None) + "\n"
        fd = os.open(self.transcript_path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, FILE_MODE)
        try:
            os.fchmod(fd, FILE_MODE)
            os.write(fd, line.encode("utf-8"))  # one write call: lines never interleave
            os.fsync(fd)
        finally:
            os.close(fd)

    def transcript(self) -> list[dict]:
        """The logged events; a half-written last line (process killed mid-write) is ignored."""
        try:
            lines = self.transcript_path.read_text(encoding="utf-8").splitlines()
        except FileNotFoundError:
            return []
        events = []
        for line in lines:
            try:
                event = json.loads(line)
            except json.JSONDecodeError:
                continue
            if isinstance(event, dict):
                events.append(event)
        return events

    def save_progress(self, progress: dict) -> None:
        write_json_atomic(self.progress_path, progress)

    def load_progress(self) -> dict | None:
        """The last saved progress, or None. Raises StoreError if the file is unreadable."""
        return _read_json(self.progress_path)

    def abandon(self) -> None:
        """The user chose not to resume: keep the answers, stop offering the session."""
        if self.progress_path.exists():
            os.replace(self.progress_path, self.path / ABANDONED_FILE)
            _fsync_dir(self.path)

    def load_abandoned(self) -> dict | None:
        return _read_json(self.path / ABANDONED_FILE)

    def finish(self, summary: dict) -> Path:
        """Write summary.json; afterwards the session is finished and progress.json is gone."""
        write_json_atomic(self.summary_path, summary)
        # The summary holds everything progress held; removing progress only after the summary
        # is on disk means a crash in between still leaves a finished session.
        for leftover in (self.progress_path, self.path / ABANDONED_FILE):
            try:
                leftover.unlink()
            except FileNotFoundError:
                pass
        _fsync_dir(self.path)
        return self.summary_path

    def load_summary(self) -> dict | None:
        return _read_json(self.summary_path)

    def audio_dir(self) -> Path:
        """A private folder for recordings; call only when keep-audio is on."""
        d = self.path / AUDIO_DIR
        _make_private_dir(d)
        return d


class SessionStore:
    """All sessions under one data folder."""

    def __init__(self, data_dir: Path, now: Callable[[], datetime] | None = None) -> None:
        self.data_dir = Path(data_dir).expanduser()
        self.sessions_dir = self.data_dir / "sessions"
        self._now = now or datetime.now

    def audio_dir(self) -> Path:
        """A private folder for microphone recordings; used only when keep-audio is on."""
        self.ensure_dirs()
        path = self.data_dir / AUDIO_DIR
        _make_private_dir(path)
        os.chmod(path, DIR_MODE)
        return path

    def ensure_dirs(self) -> None:
        try:
            _make_private_dir(self.sessions_dir)
            os.chmod(self.sessions_dir, DIR_MODE)
        except OSError as e:
            raise StoreError(
                f"データフォルダ {self.data_dir} を作れません（{e.strerror}）。"
                "設定 data_dir で書き込めるフォルダを指定してください。"
            ) from e

    def start(self, mode: str) -> SessionRecord:
        """Create a new, empty session folder named after the current local time."""
        self.ensure_dirs()
        stamp = self._now().strftime("%Y%m%d-%H%M%S")
        n = 1
        while True:
            session_id = stamp if n == 1 else f"{stamp}-{n}"
            path = self.sessions_dir / session_id
            try:
                path.mkdir(mode=DIR_MODE)  # fails if it exists: two starts in one second get -2, -3
                break
            except FileExistsError:
                n += 1
        os.chmod(path, DIR_MODE)
        _fsync_dir(self.sessions_dir)
        record = SessionRecord(session_id, path)
        write_json_atomic(
            path / META_FILE,
            {"version": 1, "session_id": session_id, "mode": mode, "started": now_iso()},
        )
        return record

    def sessions(self) -> list[SessionRecord]:
        """Every session folder, oldest first."""
        if not self.sessions_dir.is_dir():
            return []
        found = [
            SessionRecord(p.name, p)
            for p in self.sessions_dir.iterdir()
            if p.is_dir() and SESSION_ID.match(p.name)
        ]
        return sorted(found, key=lambda r: _id_sort_key(r.id))

    def finished(self) -> list[SessionRecord]:
        return [r for r in self.sessions() if r.is_finished]

    def unfinished(self) -> SessionRecord | None:
        """The newest session that was interrupted after at least one saved answer."""
        for record in reversed(self.sessions()):
            if record.is_unfinished:
                return record
        return None

    def get(self, session_id: str | None) -> SessionRecord:
        """A session by id (or a unique beginning of one, e.g. a date); None: the latest finished."""
        if session_id is None or session_id in ("latest", "last"):
            done = self.finished()
            if not done:
                raise StoreError(
                    f"終わったセッションがまだありません（データフォルダ: {self.data_dir}）。"
                    "先に python run.py で質問に答えてください。"
                )
            return done[-1]
        session_id = session_id.strip()
        if not re.fullmatch(r"[0-9-]+", session_id):
            raise StoreError(
                f"セッション名 {session_id!r} の形が違います。"
                "例: 20261121-101500。一覧は python run.py history で見られます。"
            )
        all_sessions = self.sessions()
        exact = [r for r in all_sessions if r.id == session_id]
        if exact:
            return exact[0]
        prefixed = [r for r in all_sessions if r.id.startswith(session_id)]
        if len(prefixed) == 1:
            return prefixed[0]
        if len(prefixed) > 1:
            names = ", ".join(r.id for r in prefixed[-5:])
            raise StoreError(
                f"{session_id!r} に当てはまるセッションが {len(prefixed)} 件あります（{names}）。"
                "もっと長く指定してください。"
            )
        raise StoreError(
            f"セッション {session_id!r} は見つかりません。"
            "一覧は python run.py history で見られます。"
        )
