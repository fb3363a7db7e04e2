"""One room: its satellite connection kept up with back-off, its daily check-ins, its session thread.

The connection side runs on the shared event loop; the conversation runs on the room's own
thread (voicecheck.satellites.room_sessions); the RoomChannel joins them. A satellite that
cannot be reached, drops, or sends something malformed is logged and tried again after 1, 2,
4 … up to 60 seconds; nothing that happens in one room reaches another.
"""
from __future__ import annotations

import asyncio
import logging
import time

from voicecheck.satellites.channel import RoomChannel
from voicecheck.satellites.config import SatelliteConfig
from voicecheck.satellites.connection import SatelliteConnection
from voicecheck.satellites.events import OversizedEvent, ProtocolError, WireLimits
from voicecheck.satellites.phrases import RoomPhrases
from voicecheck.satellites.room_sessions import RoomSessions
from voicecheck.satellites.scheduler import StartKind, run_daily
from voicecheck.satellites.shared_engines import SharedEngines

log = logging.getLogger("voicecheck.satellites")

FIRST_RETRY_S = 1.0
LONGEST_RETRY_S = 60.0
STABLE_AFTER_S = 30.0  # a connection that lasted this long resets the back-off


class Room:
    def __init__(self, config: SatelliteConfig, engines: SharedEngines, settings, phrases: RoomPhrases,
                 loop: asyncio.AbstractEventLoop, limits: WireLimits | None = None,
                 max_sessions: int | None = None, first_retry_s: float = FIRST_RETRY_S) -> None:
        self.config = config
        self.name = config.name
        self.limits = limits or WireLimits()
        self.channel = RoomChannel(config.name, loop)
        self.sessions = RoomSessions(config, self.channel, engines, settings, phrases, max_sessions)
        self.first_retry_s = first_retry_s
        self.connection: SatelliteConnection | None = None
        self.connects = 0  # successful connections so far
        self.failures: list[str] = []  # why each connection ended or failed (recent ones)
        self._tasks: list[asyncio.Task] = []
        self._stopping = False
        self._started_now = False

    def start(self) -> None:
        """Start the room (its data folder must be held: RoomSessions.hold_folder)."""
        self.sessions.thread.start()
        self._tasks = [asyncio.create_task(self._keep_connected(), name=f"room {self.name}")]
        if self.config.daily:
            self._tasks.append(asyncio.create_task(run_daily(self.config.daily, self._start_session)))

    def _start_session(self, kind: StartKind) -> None:
        self.sessions.start(kind)

    def _on_wake(self, how: str) -> None:
        log.info("[%s] ウェイクワードが聞こえました（%s）", self.name, how)
        self._start_session("wake")

    def _note_failure(self, reason: str) -> None:
        self.failures = [*self.failures[-19:], reason]

    async def _keep_connected(self) -> None:
        delay = self.first_retry_s
        while not self._stopping:
            connection = SatelliteConnection(self.config, self.channel, self._on_wake, self.limits)
            opened_at = None
            try:
                info = await connection.open()
                opened_at = time.monotonic()
                self.connection = connection
                self.connects += 1
                self.channel.attach(connection)
                where = f"、{info.area}" if info.area else ""
                log.info("[%s] サテライトにつながりました（%s%s）", self.name, self.config.uri, where)
                if self.config.start == "now" and not self._started_now:
                    self._started_now = True
                    self._start_session("now")
                self.sessions.connected()
                await connection.run()
                self._note_failure("closed")
                if not self._stopping:
                    log.warning("[%s] サテライトとの接続が切れました", self.name)
            except OversizedEvent as error:
                self._note_failure("oversized")
                log.warning("[%s] 大きすぎるデータが届いたので、この接続を閉じました（%s）", self.name, error)
            except ProtocolError as error:
                self._note_failure("malformed")
                log.warning("[%s] 読めないデータが届いたので、この接続を閉じました（%s）", self.name, error)
            except (OSError, ConnectionError, asyncio.TimeoutError, asyncio.IncompleteReadError) as error:
                self._note_failure("unreachable" if opened_at is None else "lost")
                if opened_at is None:
                    log.warning("[%s] サテライト %s につながりません（%s）", self.name, self.config.uri,
                                error.__class__.__name__ if not str(error) else error)
                else:
                    log.warning("[%s] サテライトとの接続が切れました（%s）", self.name, error)
            except Exception:  # a bug: report it, and keep the room trying like after any drop
                self._note_failure("error")
                log.exception("[%s] サテライトとのやりとりで思わぬエラーが起きました", self.name)
            finally:
                self.connection = None
                self.channel.detach()
                connection.close()
            if self._stopping:
                return
            if opened_at is not None and time.monotonic() - opened_at > STABLE_AFTER_S:
                delay = self.first_retry_s
            log.info("[%s] %g 秒後につなぎ直します", self.name, delay)
            await asyncio.sleep(delay)
            delay = min(delay * 2, LONGEST_RETRY_S)

    async def stop(self) -> None:
        """Stop the room: the session stops where it is (answers are saved), the satellite is paused."""
        self._stopping = True
        self.channel.stop()
        connection = self.connection
        if connection is not None:
            try:
                await asyncio.wait_for(connection.pause(), 2.0)
            except (OSError, ConnectionError, asyncio.TimeoutError):
                pass
            connection.close()
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        await asyncio.get_running_loop().run_in_executor(None, self.sessions.thread.join, 10.0)
        self.sessions.release_folder()
