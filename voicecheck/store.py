"""Where sessions live on disk, written so that nothing is lost and nothing is readable by others.

Layout::

    <data_dir>/sessions/<YYYYmmdd-HHMMSS[-n]>/
        session.json      when and how the session started (mode)
        transcript.jsonl  one JSON line per event, appended and fsynced
        progress.json     the answers so far, rewritten atomically after every answer
        summary.json      written once at the end; its presence means "finished"
    <data_dir>/replays/<id>/  the same for replayed (test) sessions: never listed or offered
                              to the user, see `SessionStore.for_replays`

A session killed half-way has ``progress.json`` but no ``summary.json``; the next start
offers to resume it. Folders are 0700 and files 0600 because the answers are health data.
Every whole-file write goes through `write_json_atomic`: a temporary file in the same folder,
fsync, then ``os.replace``, so a reader sees either the old file or the new one, never half.
A transcript line is written with one ``os.write`` and cut back off if the disk took only part
of it, so a full disk never leaves half a line; readers skip a damaged line all the same.
Only one conversation at a time uses a data folder (`SessionStore.lock`, an flock the system
drops even when the process is killed).
"""
from __future__ import annotations

import errno
import fcntl
import json
import os
import re
import secrets
import shutil
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
DAMAGED_FILE = "progress.damaged.json"  # a progress file that could not be read, set aside as it was
AUDIO_DIR = "audio"  # only used when keep-audio is on
SESSIONS_DIR = "sessions"
REPLAYS_DIR = "replays"
LOCK_FILE = ".session.lock"
SPOKEN_DIR = "spoken"  # what a replay said, kept only while it runs (see app.py)
RECORD_LOCK_FILE = ".running.lock"

MAX_JSON_BYTES = 8 * 2**20  # far above any real summary; a bigger file is not ours
MAX_TRANSCRIPT_BYTES = 64 * 2**20
# `.<name>.<pid>.<hex>.tmp`: the temporary file of an atomic write (see write_text_atomic)
TEMPORARY_FILE = re.compile(r"^\..+\.(\d+)\.[0-9a-f]{8}\.tmp$")

DISK_FULL_ERRNOS = frozenset({errno.ENOSPC, errno.EDQUOT, errno.EFBIG})


class StoreError(Exception):
    """A problem with the saved sessions, worded for the person at the keyboard."""


class StoreWriteError(StoreError):
    """Something could not be saved. Nothing partial was left behind; what was saved before stays."""

    def __init__(self, message: str, *, disk_full: bool = False) -> None:
        super().__init__(message)
        self.disk_full = disk_full


class SessionRunning(StoreError):
    """Another conversation is using the same data folder right now."""


def os_reason(err: OSError) -> str:
    """Why a file operation failed, in plain words."""
    if err.errno in DISK_FULL_ERRNOS:
        return "ディスクの空きがありません"
    if err.errno in (errno.EACCES, errno.EPERM):
        return "読み書きする権限がありません"
    if err.errno == errno.EROFS:
        return "読み取り専用の場所です"
    if err.errno == errno.ENOENT:
        return "見つかりません"
    return err.strerror or str(err)


def write_error(what: str, err: OSError) -> StoreWriteError:
    full = err.errno in DISK_FULL_ERRNOS
    advice = "不要なファイルを消して空きを作ってから、もう一度始めてください。" if full else ""
    return StoreWriteError(f"{what}を保存できません（{os_reason(err)}）。それまでに保存したお答えは残っています。{advice}",
                           disk_full=full)


def _pid_alive(pid: int) -> bool:
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except (PermissionError, OverflowError):
        return True
    return True


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
    """Replace `path` with `text` (UTF-8): a temporary file, fsync, then os.replace.

    Text that is not valid Unicode (a lone surrogate from a bad input byte) is saved with a
    marker instead of failing the whole write. On any error the temporary file is removed and
    the old file stays as it was."""
    path = Path(path)
    data = text.encode("utf-8", "replace")
    tmp = path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, mode)
    try:
        try:
            os.fchmod(fd, mode)  # exact mode whatever the umask
            write_all(fd, data)
            os.fsync(fd)
        finally:
            os.close(fd)
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise
    _fsync_dir(path.parent)


def write_all(fd: int, data: bytes) -> None:
    """os.write until every byte is written; a write that takes nothing is a full disk."""
    view = memoryview(data)
    while view:
        written = os.write(fd, view)
        if written <= 0:
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        view = view[written:]


def read_limited(path: Path, limit: int) -> bytes:
    """At most `limit` bytes of a file; OSError for a bigger one, so /dev/zero cannot eat memory."""
    with open(path, "rb") as f:
        data = f.read(limit + 1)
    if len(data) > limit:
        raise OSError(errno.EFBIG, f"larger than {limit // 2**20} MiB")
    return data


def _read_json(path: Path) -> dict | None:
    try:
        raw = read_limited(path, MAX_JSON_BYTES)
    except FileNotFoundError:
        return None
    except OSError as e:
        if e.errno == errno.EFBIG:
            raise StoreError(f"{path} が壊れています（大きすぎます）。") from None
        raise StoreError(f"{path} を読めません（{os_reason(e)}）。") from None
    try:
        data = json.loads(raw.decode("utf-8"))
    except UnicodeDecodeError:
        raise StoreError(f"{path} が壊れています（文字として読めないところがあります）。") from None
    except json.JSONDecodeError as e:
        raise StoreError(f"{path} が壊れています（JSON の {e.lineno} 行目）。") from None
    except RecursionError:
        raise StoreError(f"{path} が壊れています（入れ子が深すぎます）。") from None
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

    @property
    def is_damaged(self) -> bool:
        """Its progress could not be read and was set aside (see `set_aside_damaged`)."""
        return (self.path / DAMAGED_FILE).exists() and not self.summary_path.exists()

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
        """Append one event to transcript.jsonl and make it durable before returning.

        The line goes in whole or not at all: one write call (so lines never interleave), and a
        short write (a full disk) is cut back off. StoreWriteError when it could not be written."""
        text = _dumps({"t": now_iso(), **event}, indent=None)
        data = text.encode("utf-8", "replace") + b"\n"  # "replace": a lone surrogate is not UTF-8
        try:
            fd = os.open(self.transcript_path, os.O_RDWR | os.O_APPEND | os.O_CREAT, FILE_MODE)
        except OSError as e:
            raise write_error("会話の記録", e) from None
        try:
            os.fchmod(fd, FILE_MODE)
            size = os.fstat(fd).st_size
            if size and os.pread(fd, 1, size - 1) != b"\n":
                data = b"\n" + data  # a line cut off earlier must not swallow this one
            try:
                written = os.write(fd, data)
                if written != len(data):
                    raise OSError(errno.ENOSPC, "short write")
                os.fsync(fd)
            except OSError as e:
                _cut_back(fd, size)
                raise write_error("会話の記録", e) from None
        except OSError as e:
            raise write_error("会話の記録", e) from None
        finally:
            os.close(fd)

    def transcript(self) -> list[dict]:
        """The logged events; damaged lines (a kill mid-write, half a character) are skipped."""
        try:
            raw = read_limited(self.transcript_path, MAX_TRANSCRIPT_BYTES)
        except FileNotFoundError:
            return []
        except OSError:
            return []  # the transcript is only the story of the talk; answers live in progress/summary
        events = []
        for line in raw.split(b"\n"):
            try:
                event = json.loads(line.decode("utf-8"))
            except (UnicodeDecodeError, json.JSONDecodeError, RecursionError):
                continue
            if isinstance(event, dict):
                events.append(event)
        return events

    def save_progress(self, progress: dict) -> None:
        """Replace progress.json; StoreWriteError (with the old file intact) when it cannot be written."""
        try:
            write_json_atomic(self.progress_path, progress)
        except OSError as e:
            raise write_error("お答え", e) from None

    def load_progress(self) -> dict | None:
        """The last saved progress, or None. Raises StoreError if the file is unreadable."""
        return _read_json(self.progress_path)

    def abandon(self) -> None:
        """The user chose not to resume: keep the answers, stop offering the session.
        `restore` brings it back (python run.py --resume SESSION)."""
        self._move(self.progress_path, self.path / ABANDONED_FILE)

    def restore(self) -> None:
        """Make a session set aside by `abandon` resumable again."""
        self._move(self.path / ABANDONED_FILE, self.progress_path)

    def set_aside_damaged(self) -> None:
        """A progress file that cannot be read is kept as it was, under another name, so that it
        no longer blocks a start and can still be looked at."""
        self._move(self.progress_path, self.path / DAMAGED_FILE)

    def _move(self, source: Path, target: Path) -> None:
        try:
            if source.exists():
                os.replace(source, target)
                _fsync_dir(self.path)
        except OSError as e:
            raise StoreError(f"セッション {self.id} の記録を動かせません（{os_reason(e)}）。") from None

    def load_abandoned(self) -> dict | None:
        return _read_json(self.path / ABANDONED_FILE)

    def finish(self, summary: dict) -> Path:
        """Write summary.json; afterwards the session is finished and progress.json is gone.
        StoreWriteError when it cannot be written: progress.json then still holds every answer."""
        try:
            write_json_atomic(self.summary_path, summary)
        except OSError as e:
            raise write_error("まとめ", e) from None
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

    def spoken_dir(self) -> Path:
        """A private folder for what a replay says, removed by `remove_spoken_dir` at its end
        (or, after a kill, by the next start's `SessionStore.sweep`)."""
        d = self.path / SPOKEN_DIR
        _make_private_dir(d)
        os.chmod(d, DIR_MODE)
        return d

    def remove_spoken_dir(self) -> None:
        shutil.rmtree(self.path / SPOKEN_DIR, ignore_errors=True)

    def hold(self) -> "FolderLock":
        """Marks this session as running until released (or the process dies)."""
        return FolderLock(self.path / RECORD_LOCK_FILE).acquire(f"セッション {self.id} はもう動いています。")


class FolderLock:
    """An exclusive flock on a file; the system releases it when the process ends, however it ends."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.fd: int | None = None

    def try_acquire(self) -> bool:
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, FILE_MODE)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            return False
        except OSError:
            os.close(fd)
            raise
        self.fd = fd
        try:  # who holds it, for the message another start shows
            os.ftruncate(fd, 0)
            os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
        except OSError:
            pass  # a full disk must not stop the lock itself
        return True

    def acquire(self, busy_message: str) -> "FolderLock":
        try:
            if self.try_acquire():
                return self
        except OSError as e:
            raise StoreError(f"{self.path} を開けません（{os_reason(e)}）。") from None
        try:
            holder = self.path.read_text(encoding="ascii").strip()
        except (OSError, UnicodeDecodeError):
            holder = ""
        raise SessionRunning(busy_message + (f"（プロセス番号 {holder}）" if holder.isdigit() else ""))

    def release(self) -> None:
        if self.fd is not None:
            os.close(self.fd)  # closing drops the flock
            self.fd = None

    def __enter__(self) -> "FolderLock":
        return self

    def __exit__(self, *exc: object) -> None:
        self.release()


def _cut_back(fd: int, size: int) -> None:
    try:
        os.ftruncate(fd, size)
    except OSError:
        pass  # readers skip a damaged line anyway


class SessionStore:
    """All sessions under one data folder (or all replayed sessions: `for_replays`)."""

    def __init__(self, data_dir: Path, now: Callable[[], datetime] | None = None,
                 folder: str = SESSIONS_DIR) -> None:
        self.data_dir = Path(data_dir).expanduser()
        self.sessions_dir = self.data_dir / folder
        self._now = now or datetime.now

    @classmethod
    def for_replays(cls, data_dir: Path, now: Callable[[], datetime] | None = None) -> "SessionStore":
        """Replayed (test) sessions: kept apart, never listed in history nor offered for resuming."""
        return cls(data_dir, now, folder=REPLAYS_DIR)

    def lock(self) -> FolderLock:
        """Hold the data folder for one conversation; SessionRunning when another one has it."""
        self.ensure_dirs()
        return FolderLock(self.sessions_dir / LOCK_FILE).acquire(
            f"このデータフォルダ（{self.data_dir}）では、別のセッションがもう動いています。"
            "そちらを終えてから、もう一度始めてください。"
        )

    def sweep(self) -> list[Path]:
        """Remove what killed runs left: temporary files of atomic writes whose writer is gone,
        and replay read-back folders no running replay holds. Returns what was removed."""
        removed: list[Path] = []
        for record in self.sessions():
            try:
                entries = list(record.path.iterdir())
            except OSError:
                continue
            for entry in entries:
                m = TEMPORARY_FILE.match(entry.name)
                if m and not _pid_alive(int(m.group(1))):
                    try:
                        entry.unlink()
                        removed.append(entry)
                    except OSError:
                        pass
            spoken = record.path / SPOKEN_DIR
            if spoken.is_dir():
                lock = FolderLock(record.path / RECORD_LOCK_FILE)
                try:
                    free = lock.try_acquire()
                except OSError:
                    free = False
                if free:
                    shutil.rmtree(spoken, ignore_errors=True)
                    removed.append(spoken)
                    lock.release()
        return removed

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
            if not os.access(self.sessions_dir, os.R_OK | os.W_OK | os.X_OK):
                raise PermissionError(errno.EACCES, "permission denied")
        except OSError as e:
            what = "作れません" if e.errno != errno.EACCES else "使えません"
            raise StoreError(
                f"データフォルダ {self.data_dir} を{what}（{os_reason(e)}）。"
                "設定 data_dir で書き込めるフォルダを指定してください。"
            ) from None

    def start(self, mode: str) -> SessionRecord:
        """Create a new, empty session folder named after the current local time.
        StoreWriteError when the disk is full (nothing half-made is left behind)."""
        self.ensure_dirs()
        stamp = self._now().strftime("%Y%m%d-%H%M%S")
        n = 1
        try:
            while True:
                session_id = stamp if n == 1 else f"{stamp}-{n}"
                path = self.sessions_dir / session_id
                try:
                    path.mkdir(mode=DIR_MODE)  # fails if it exists: two starts in one second get -2, -3
                    break
                except FileExistsError:
                    n += 1
        except OSError as e:
            raise write_error("新しいセッション", e) from None
        try:
            os.chmod(path, DIR_MODE)
            _fsync_dir(self.sessions_dir)
            write_json_atomic(
                path / META_FILE,
                {"version": 1, "session_id": session_id, "mode": mode, "started": now_iso()},
            )
        except OSError as e:
            shutil.rmtree(path, ignore_errors=True)  # an empty folder would only confuse the history
            raise write_error("新しいセッション", e) from None
        return SessionRecord(session_id, path)

    def sessions(self) -> list[SessionRecord]:
        """Every session folder, oldest first."""
        try:
            if not self.sessions_dir.is_dir():
                return []
            found = [
                SessionRecord(p.name, p)
                for p in self.sessions_dir.iterdir()
                if SESSION_ID.match(p.name) and p.is_dir()
            ]
        except OSError as e:
            raise StoreError(
                f"データフォルダ {self.sessions_dir} を読めません（{os_reason(e)}）。"
                "設定 data_dir で、読み書きできるフォルダを指定してください。"
            ) from None
        return sorted(found, key=lambda r: _id_sort_key(r.id))

    def finished(self) -> list[SessionRecord]:
        return [r for r in self.sessions() if r.is_finished]

    def unfinished(self) -> SessionRecord | None:
        """The newest session that was interrupted after at least one saved answer."""
        for record in reversed(self.sessions()):
            if record.is_unfinished:
                return record
        return None

    def all_unfinished(self) -> list[SessionRecord]:
        """Every interrupted session, newest first."""
        return [r for r in reversed(self.sessions()) if r.is_unfinished]

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
