"""`python run.py serve`: every configured room and, if enabled, the speech services, on one machine.

The engines (content, matcher, voice, recogniser) are loaded once and shared; each room gets
its connection task and its session thread; the speech services get a port. SIGINT or SIGTERM
stops everything gently: sessions stop where they are (their answers are saved, and they are
offered for resuming next time) and satellites are told to pause.
"""
from __future__ import annotations

import argparse
import asyncio
import logging
import os
import signal
import sys

from voicecheck.satellites.config import ServeConfig, serve_config
from voicecheck.satellites.events import WireLimits
from voicecheck.satellites.phrases import RoomPhrases, load_room_phrases
from voicecheck.satellites.room import Room
from voicecheck.satellites.shared_engines import SharedEngines
from voicecheck.satellites.speech_services import SpeechServices

log = logging.getLogger("voicecheck.satellites")


class VoicecheckServer:
    """Rooms and services on the running event loop: `await start()`, then `await stop()`."""

    def __init__(self, config: ServeConfig, engines: SharedEngines, settings, phrases: RoomPhrases,
                 limits: WireLimits | None = None, max_sessions: int | None = None,
                 first_retry_s: float = 1.0) -> None:
        self.config = config
        self.engines = engines
        self.settings = settings
        self.phrases = phrases
        self.limits = limits or WireLimits()
        self.max_sessions = max_sessions
        self.first_retry_s = first_retry_s
        self.rooms: dict[str, Room] = {}
        self.services: SpeechServices | None = None

    async def start(self) -> None:
        loop = asyncio.get_running_loop()
        if self.config.services.enabled:
            self.services = SpeechServices(self.config.services, self.engines, self.limits)
            await self.services.start()
        rooms = [Room(satellite, self.engines, self.settings, self.phrases, loop, self.limits,
                      self.max_sessions, self.first_retry_s) for satellite in self.config.satellites]
        held = []
        try:  # every room's folder first: a second `serve` for the same rooms stops here, touching nothing
            for room in rooms:
                room.sessions.hold_folder()
                held.append(room)
        except BaseException:
            for room in held:
                room.sessions.release_folder()
            if self.services is not None:
                await self.services.stop()
            raise
        for room in rooms:
            self.rooms[room.name] = room
            room.start()

    async def wait_rooms_done(self) -> None:
        """Return when every room has finished its sessions (only with max_sessions)."""
        while self.rooms and not all(r.sessions.done.is_set() for r in self.rooms.values()):
            await asyncio.sleep(0.2)

    async def stop(self) -> None:
        await asyncio.gather(*(room.stop() for room in self.rooms.values()), return_exceptions=True)
        if self.services is not None:
            await self.services.stop()


def _configure_logging() -> None:
    logger = logging.getLogger("voicecheck.satellites")
    if not logger.handlers:
        handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(logging.Formatter("%(asctime)s %(message)s", "%Y-%m-%d %H:%M:%S"))
        logger.addHandler(handler)
        # VOICECHECK_DEBUG=1 adds a line per answer with its timings (bench/rooms.py reads them).
        logger.setLevel(logging.DEBUG if os.environ.get("VOICECHECK_DEBUG") else logging.INFO)
        logger.propagate = False


async def _serve(server: VoicecheckServer) -> None:
    loop = asyncio.get_running_loop()
    stop = asyncio.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        try:
            loop.add_signal_handler(sig, stop.set)
        except (NotImplementedError, RuntimeError):
            pass
    await server.start()
    waits = [asyncio.create_task(stop.wait())]
    if server.max_sessions:
        waits.append(asyncio.create_task(server.wait_rooms_done()))
    await asyncio.wait(waits, return_when=asyncio.FIRST_COMPLETED)
    for task in waits:
        task.cancel()
    log.info("止めています…（途中のセッションは保存してあり、次に続きから始められます）")
    await server.stop()


def serve_command(args: argparse.Namespace, settings) -> int:
    config = serve_config(args)
    if not config.satellites and not config.services.enabled:
        print("voicecheck: つなぐサテライトがありません。設定ファイル（python run.py config --init で作れます）の "
              '[satellites] に "居間" = "tcp://192.168.1.20:10700" のように書くか、--satellite 居間=tcp://… を'
              "付けてください。Home Assistant 向けの音声サービスだけを開くときは --speech-services を付けます。",
              file=sys.stderr)
        return 2
    _configure_logging()
    os.umask(0o077)  # every file a session writes (answers, recordings) is health data
    phrases = load_room_phrases(settings.prompts_dir)
    log.info("モデルと声を読み込んでいます…")
    engines = SharedEngines.build(settings)
    names = ", ".join(s.name for s in config.satellites) or "なし"
    log.info("準備ができました。部屋: %s（記録: %s）", names, settings.data_dir / "rooms")
    server = VoicecheckServer(config, engines, settings, phrases, max_sessions=args.sessions_per_room)
    try:
        asyncio.run(_serve(server))
    except OSError as error:  # the services port is taken, or the address is not this machine's
        print(f"voicecheck: 音声サービスのポートを開けません（{config.services.host}:{config.services.port}: "
              f"{error.strerror or error}）。設定 [speech_services] の host と port を確かめてください。", file=sys.stderr)
        return 2
    finally:
        engines.close()
    return 0
