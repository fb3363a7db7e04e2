"""A room's conversation: one thread per satellite that waits for a start and runs whole sessions.

The session is exactly the one of every other mode (voicecheck.session.run_session: greeting,
questionnaire, read-back or emergency, exercise coach), with the room's ears and mouth and the
room's own store, data_dir/rooms/<name>/, so each resident has their own sessions, reports and
history. Answers are saved after every question; when the satellite drops in the middle, the
session stops there and resumes where it stopped once the satellite is back.
"""
from __future__ import annotations

import logging
import queue
import threading
import time
from pathlib import Path
from typing import Any

from voicecheck.audio import SpeechError
from voicecheck.conversation import Progress
from voicecheck.interfaces import RealClock
from voicecheck.satellites.channel import RoomChannel, RoomOffline, ServerStopping
from voicecheck.satellites.config import SatelliteConfig
from voicecheck.satellites.ears import RoomEars
from voicecheck.satellites.mouth import RoomMouth
from voicecheck.satellites.phrases import RoomPhrases
from voicecheck.satellites.scheduler import StartKind
from voicecheck.satellites.shared_engines import SharedEngines, locked
from voicecheck.session import run_session
from voicecheck.store import SessionRecord, SessionStore, StoreError
from voicecheck.talk import Talk

log = logging.getLogger("voicecheck.satellites")

MODE = "satellite"  # the session's mode in session.json and summary.json
ROOMS_DIR = "rooms"
DAILY_WAIT_FOR_ROOM_S = 3600.0  # a check-in due while the satellite is away still runs within an hour
WAIT_FOR_ROOM_S = 60.0
AUDIO_WAIT_S = 3.0  # how long a started session waits for microphone audio before asking for it
RESUME_WITHIN_S = 2 * 3600.0  # a session cut off by a drop resumes unasked within this time


def room_data_dir(data_dir: Path, name: str) -> Path:
    return Path(data_dir) / ROOMS_DIR / name


class _Buffered:
    """Transcript events said before a session record exists (the check-in offer)."""

    def __init__(self) -> None:
        self.events: list[dict[str, Any]] = []

    def log(self, event: dict[str, Any]) -> None:
        self.events.append(event)


class RoomSessions:
    def __init__(self, config: SatelliteConfig, channel: RoomChannel, engines: SharedEngines, settings,
                 phrases: RoomPhrases, max_sessions: int | None = None) -> None:
        self.config = config
        self.name = config.name
        self.channel = channel
        self.engines = engines
        self.settings = settings
        self.phrases = phrases
        self.max_sessions = max_sessions
        self.store = SessionStore(room_data_dir(settings.data_dir, config.name))
        self.recognizer = engines.recognition.client(f"room:{config.name}") if engines.recognition else None
        self._starts: queue.Queue[StartKind] = queue.Queue(maxsize=1)
        self._busy = threading.Event()
        self.done = threading.Event()  # set when max_sessions have finished, or the thread ended
        self.finished: list[str] = []  # ids of the sessions finished here
        self.interrupted: tuple[str | None, float] | None = None  # (record id, when) of a session cut off by a drop
        self.detector = None  # the room's speech detector, made at its first session
        self.mouths: list[RoomMouth] = []  # the latest sessions' mouths and ears (bench timings)
        self.ears: list[RoomEars] = []
        self.thread = threading.Thread(target=self._run, name=f"voicecheck-room-{config.name}", daemon=True)
        self._folder_lock = None

    def hold_folder(self) -> None:
        """Take the room's data folder for this server (SessionRunning when another process has it),
        and clear what killed runs left there."""
        self._folder_lock = self.store.lock()
        self.store.sweep()

    def release_folder(self) -> None:
        if self._folder_lock is not None:
            self._folder_lock.release()
            self._folder_lock = None

    @property
    def busy(self) -> bool:
        """A session (or a start of one) is under way."""
        return self._busy.is_set() or not self._starts.empty()

    # ------------------------------------------------------------------ called from the event loop

    def start(self, kind: StartKind) -> None:
        """Ask for a session; ignored while one runs or another start is already waiting."""
        if self._busy.is_set():
            if kind in ("daily", "now"):
                log.info("[%s] セッション中なので、%s の開始は見送ります", self.name, kind)
            return
        try:
            self._starts.put_nowait(kind)
        except queue.Full:
            pass

    def connected(self) -> None:
        """The satellite is (back) online: resume a session a drop cut off."""
        if self.interrupted and self.interrupted[0] and time.monotonic() - self.interrupted[1] < RESUME_WITHIN_S:
            self.start("resume")

    # ------------------------------------------------------------------ the room's thread

    def _run(self) -> None:
        try:
            while not self.channel.stopping:
                try:
                    kind = self._starts.get(timeout=0.5)
                except queue.Empty:
                    continue
                self._busy.set()
                try:
                    self._session(kind)
                except ServerStopping:
                    return
                except (StoreError, SpeechError) as error:  # a full disk, a broken model: said plainly
                    log.error("[%s] セッションを続けられませんでした: %s", self.name, error)
                except Exception:  # a bug: report it, keep the room (and every other room) going
                    log.exception("[%s] セッションで思わぬエラーが起きました。答えはそこまで保存してあります", self.name)
                finally:
                    self.channel.close_session()
                    self._busy.clear()
                if self.interrupted and self.channel.connected:
                    self.connected()  # the satellite came back while this session was still winding down
                if self.max_sessions and len(self.finished) >= self.max_sessions:
                    return
        finally:
            self.done.set()

    def _microphone_flows(self, generation: int) -> bool:
        if self.channel.wait_for_audio(generation, AUDIO_WAIT_S):
            return True
        connection = self.channel.connection
        if connection is not None and connection.info.supports_trigger:
            self.channel.call(generation, lambda c: c.ask_to_listen())
            return self.channel.wait_for_audio(generation, AUDIO_WAIT_S)
        return False

    def _session(self, kind: StartKind) -> None:
        wait = DAILY_WAIT_FOR_ROOM_S if kind == "daily" else WAIT_FOR_ROOM_S
        if not self.channel.wait_connected(wait):
            log.warning("[%s] サテライトにつながらないので、%s のセッションは始められませんでした", self.name, kind)
            return
        generation = self.channel.open_session()
        record: SessionRecord | None = None
        try:
            if not self._microphone_flows(generation):
                log.warning("[%s] マイクの音が届きません。ウェイクワードで呼びかけると始まります", self.name)
                return
            log.info("[%s] セッションを始めます（%s）", self.name, kind)
            e = self.engines
            if self.detector is None:
                from voicecheck.listening.endpointer import default_detector

                self.detector = default_detector()
            ears = RoomEars(self.channel, self.recognizer, self.settings, generation, detector=self.detector)
            mouth = RoomMouth(self.channel, e.voice, generation, self.settings.pause_s)
            self.ears, self.mouths = [*self.ears[-3:], ears], [*self.mouths[-3:], mouth]
            record, progress = self._record_for(kind, ears, mouth)
            if record is None:
                return
            if self.settings.keep_audio:
                ears.audio_dir = record.audio_dir()
            result = run_session(
                e.content, e.matcher, ears, mouth, record, mode=MODE, retries=self.settings.retries,
                timeout_s=self.settings.no_answer_timeout_s, progress=progress, coach=self._coach,
            )
            record.finish(result.summary)
            self.interrupted = None
            self.finished.append(record.id)
            log.info("[%s] セッションが終わりました（記録 %s）", self.name, record.id)
        except RoomOffline:
            self.interrupted = (record.id if record else None, time.monotonic())
            log.warning("[%s] セッションの途中でサテライトが切れました。つながったら続きから始めます", self.name)
        finally:
            self._release(generation)

    def _release(self, generation: int) -> None:
        try:
            self.channel.call(generation, lambda c: c.session_over(), timeout_s=5.0)
        except (RoomOffline, ServerStopping):
            pass

    def _record_for(self, kind: StartKind, ears: RoomEars, mouth: RoomMouth) -> tuple[SessionRecord | None, Progress | None]:
        """The session to run: the one a drop cut off, an older unfinished one if wanted, or a new one."""
        e = self.engines
        unfinished = self.store.unfinished()
        cut_off = self.interrupted is not None and time.monotonic() - self.interrupted[1] < RESUME_WITHIN_S
        if unfinished is not None and cut_off and self.interrupted[0] == unfinished.id:
            saved = unfinished.load_progress()
            if saved:
                talk = Talk(e.content, e.matcher, ears, mouth, unfinished.log)
                talk.say(self.phrases.resumed_after_break)
                unfinished.log({"type": "resumed_after_break", "start": kind})
                return unfinished, Progress.from_json(saved)
        buffered = _Buffered()
        talk = Talk(e.content, e.matcher, ears, mouth, buffered.log)
        if kind == "daily":
            talk.say(self.phrases.checkin_offer)
            if not talk.ask_yes_no():
                talk.say(self.phrases.checkin_later)
                log.info("[%s] 毎日の確認は、今回は見送りになりました", self.name)
                return None, None
        if unfinished is not None:
            saved = unfinished.load_progress()
            if saved:
                progress = Progress.from_json(saved)
                talk.log = unfinished.log
                talk.say_phrase("resume_offer", answered=len(progress.answers))
                if talk.ask_yes_no():
                    talk.say_phrase("resume_yes")
                    return unfinished, progress
                talk.say_phrase("resume_no")
            unfinished.abandon()
        record = self.store.start(MODE)
        for event in buffered.events:
            record.log(event)
        record.log({"type": "room", "room": self.name, "start": kind})
        return record, None

    def _coach(self, ids: tuple[str, ...], ears, mouth) -> tuple[str, ...]:
        from voicecheck.coach import command_matcher, run_coach

        book = self.engines.content.exercises
        result = run_coach(ids, book=book, ears=ears, mouth=mouth, clock=RealClock(),
                           match_command=locked(command_matcher(book)),
                           slow=self.settings.speaking_rate == "slow")
        return tuple(result.completed)
