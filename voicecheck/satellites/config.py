"""Which satellites to serve and how, from the settings file's `[satellites]` and
`[speech_services]` tables and the `serve` command line.

    [satellites]
    "居間" = "tcp://192.168.1.20:10700"                      # starts with the satellite's wake word
    "room-2" = { uri = "tcp://192.168.1.21:10700", daily = "09:30" }   # also a daily check-in
    "room-3" = { uri = "tcp://192.168.1.22:10700", start = "now" }     # starts as soon as it is reached

    [speech_services]          # Wyoming tts + asr for Home Assistant (off unless enabled)
    enabled = true
    host = "127.0.0.1"         # the default; another address opens the port to the network
    port = 10350

Only the satellites named here (or with --satellite) are ever connected to: nothing is discovered
on the network. Every mistake is reported with the file, the name and what is allowed.
"""
from __future__ import annotations

import argparse
import ipaddress
import re
import tomllib
from dataclasses import dataclass
from datetime import time
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

from voicecheck import settings as settings_module
from voicecheck.settings import SettingsError

SATELLITES_TABLE = "satellites"
SERVICES_TABLE = "speech_services"
START_MODES = ("wake", "now")
DEFAULT_SERVICES_PORT = 10350
# Names become folder names (data_dir/rooms/<name>/): letters of any script, digits, - _ .
_ROOM_NAME = re.compile(r"^[^\W_][\w.-]{0,39}$")
_DAILY = re.compile(r"^([01]?\d|2[0-3]):([0-5]\d)$")


@dataclass(frozen=True)
class SatelliteConfig:
    name: str
    uri: str
    start: str = "wake"  # wake: the satellite's wake word starts a session; now: start when reached
    daily: tuple[time, ...] = ()  # daily check-ins, local time

    @property
    def host_port(self) -> tuple[str, int] | None:
        parsed = urlparse(self.uri)
        if parsed.scheme != "tcp":
            return None
        return parsed.hostname or "", int(parsed.port or 0)

    @property
    def unix_path(self) -> str | None:
        parsed = urlparse(self.uri)
        return parsed.path if parsed.scheme == "unix" else None


@dataclass(frozen=True)
class ServicesConfig:
    enabled: bool = False
    host: str = "127.0.0.1"
    port: int = DEFAULT_SERVICES_PORT


@dataclass(frozen=True)
class ServeConfig:
    satellites: tuple[SatelliteConfig, ...]
    services: ServicesConfig
    source: str  # where the tables came from, for messages


def _problem(where: str, what: str, allowed: str) -> SettingsError:
    return SettingsError(f"{where}: {what}。{allowed}")


def check_room_name(name: object, where: str) -> str:
    if not isinstance(name, str) or not _ROOM_NAME.match(name.strip()) or name.strip() in (".", ".."):
        raise _problem(where, f"サテライトの名前 {name!r} は使えません",
                       "名前は40文字まで。文字と数字で始め、文字・数字・「-」「_」「.」だけを使ってください（例: 居間, room-1）。")
    return name.strip()


def check_uri(uri: object, where: str) -> str:
    allowed = "tcp://アドレス:ポート（例: tcp://192.168.1.20:10700）か unix://ソケットのパス の形で書いてください。"
    if not isinstance(uri, str) or not uri.strip():
        raise _problem(where, "サテライトのアドレスがありません", allowed)
    uri = uri.strip()
    parsed = urlparse(uri)
    if parsed.scheme == "tcp":
        try:
            port = parsed.port
        except ValueError:
            port = None
        if not parsed.hostname or not port:
            raise _problem(where, f"アドレス {uri} にはポート番号がありません", allowed)
        return uri
    if parsed.scheme == "unix" and parsed.path:
        return uri
    raise _problem(where, f"アドレス {uri} は使えません", allowed)


def parse_daily(value: object, where: str) -> tuple[time, ...]:
    items = value if isinstance(value, list) else [value]
    times = []
    for item in items:
        match = _DAILY.match(item.strip()) if isinstance(item, str) else None
        if not match:
            raise _problem(where, f"毎日の時刻 {item!r} が読めません", "「09:30」のように24時間制の 時:分 で書いてください（いくつもあるときは [\"09:30\", \"18:00\"]）。")
        times.append(time(int(match.group(1)), int(match.group(2))))
    return tuple(sorted(set(times)))


def parse_satellite(name: object, value: object, where: str) -> SatelliteConfig:
    name = check_room_name(name, where)
    here = f"{where} の {name}"
    if isinstance(value, str):
        return SatelliteConfig(name, check_uri(value, here))
    if not isinstance(value, dict):
        raise _problem(here, "書き方が違います", '"名前" = "tcp://…" か "名前" = { uri = "tcp://…", start = "wake", daily = "09:30" } と書いてください。')
    unknown = set(value) - {"uri", "start", "daily"}
    if unknown:
        raise _problem(here, f"知らない項目 {', '.join(sorted(unknown))} があります", "使えるのは uri, start, daily です。")
    start = value.get("start", "wake")
    if start not in START_MODES:
        raise _problem(here, f"start の値 {start!r} は使えません",
                       "wake（ウェイクワードで始める）か now（つながったらすぐ始める）のどちらかです。")
    daily = parse_daily(value["daily"], here) if "daily" in value else ()
    return SatelliteConfig(name, check_uri(value.get("uri"), here), start, daily)


def parse_services(value: object, where: str) -> ServicesConfig:
    here = f"{where} の [{SERVICES_TABLE}]"
    if not isinstance(value, dict):
        raise _problem(here, "表になっていません", "[speech_services] の下に enabled, host, port を書いてください。")
    unknown = set(value) - {"enabled", "host", "port"}
    if unknown:
        raise _problem(here, f"知らない項目 {', '.join(sorted(unknown))} があります", "使えるのは enabled, host, port です。")
    enabled = value.get("enabled", False)
    if not isinstance(enabled, bool):
        raise _problem(here, f"enabled の値 {enabled!r} は使えません", "true か false です。")
    return ServicesConfig(enabled, check_host(value.get("host", "127.0.0.1"), here), check_port(value.get("port", DEFAULT_SERVICES_PORT), here))


def check_host(host: object, where: str) -> str:
    allowed = "IP アドレス（例: 127.0.0.1、家の中のネットワークに開くときは 0.0.0.0 やこの機械のアドレス）で書いてください。"
    if not isinstance(host, str):
        raise _problem(where, f"host の値 {host!r} は使えません", allowed)
    try:
        ipaddress.ip_address(host.strip())
    except ValueError:
        if host.strip() != "localhost":
            raise _problem(where, f"host の値 {host!r} は使えません", allowed) from None
    return host.strip()


def check_port(port: object, where: str) -> int:
    if isinstance(port, str) and port.strip().isdigit():
        port = int(port.strip())
    if isinstance(port, bool) or not isinstance(port, int) or not 1 <= port <= 65535:
        raise _problem(where, f"port の値 {port!r} は使えません", "1 から 65535 までの番号です。")
    return port


def read_tables(path: Path | None) -> dict[str, Any]:
    """The satellite tables of the settings file (empty when there is no file)."""
    if path is None or not path.is_file():
        return {}
    try:
        with open(path, "rb") as f:
            data = tomllib.load(f)
    except (OSError, tomllib.TOMLDecodeError) as error:
        raise SettingsError(f"設定ファイル {path} を読めません: {error}") from None
    return {k: data[k] for k in (SATELLITES_TABLE, SERVICES_TABLE) if k in data}


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Options of the `serve` sub-command."""
    parser.add_argument("--satellite", action="append", default=[], metavar="NAME=URI",
                        help="このサテライトにもつなぐ（例: 居間=tcp://192.168.1.20:10700）。何度でも書けます")
    parser.add_argument("--start-now", nargs="*", metavar="NAME",
                        help="この部屋ではすぐにセッションを始める（名前を書かないとすべての部屋）")
    parser.add_argument("--speech-services", action="store_true", default=None,
                        help="Home Assistant 向けの音声合成・音声認識サービス（Wyoming）も開く")
    parser.add_argument("--no-speech-services", dest="speech_services", action="store_false",
                        help="--speech-services の反対")
    parser.add_argument("--services-host", metavar="ADDRESS", help="サービスを開くアドレス（初めは 127.0.0.1）")
    parser.add_argument("--services-port", metavar="PORT", help=f"サービスのポート（初めは {DEFAULT_SERVICES_PORT}）")
    parser.add_argument("--sessions-per-room", type=int, metavar="N",
                        help="各部屋で N 回セッションを終えたら止まる（ふだんは止まらずに待ち続けます）")


def serve_config(args: argparse.Namespace) -> ServeConfig:
    """The satellites and services for `serve`: the settings file, then the command line."""
    path, explicit = settings_module.config_path_for(getattr(args, "setting_config", None))
    tables = read_tables(path) if (explicit or path.exists()) else {}
    where = f"設定ファイル {path}"
    rooms: dict[str, SatelliteConfig] = {}
    raw = tables.get(SATELLITES_TABLE, {})
    if not isinstance(raw, dict):
        raise _problem(where, "[satellites] が表になっていません", '[satellites] の下に "名前" = "tcp://…" を並べてください。')
    for name, value in raw.items():
        room = parse_satellite(name, value, where)
        rooms[room.name] = room
    for item in args.satellite or []:
        name, sep, uri = item.partition("=")
        if not sep:
            raise _problem("コマンドラインの --satellite", f"{item!r} に「=」がありません", "名前=tcp://アドレス:ポート の形で書いてください。")
        room = SatelliteConfig(check_room_name(name, "コマンドラインの --satellite"),
                               check_uri(uri, "コマンドラインの --satellite"))
        rooms[room.name] = room
    if args.start_now is not None:
        chosen = set(args.start_now) or set(rooms)
        missing = chosen - set(rooms)
        if missing:
            raise _problem("コマンドラインの --start-now", f"{', '.join(sorted(missing))} というサテライトはありません",
                           f"あるのは {', '.join(rooms) or '（なし）'} です。")
        rooms = {n: (SatelliteConfig(r.name, r.uri, "now", r.daily) if n in chosen else r) for n, r in rooms.items()}
    services = parse_services(tables[SERVICES_TABLE], where) if SERVICES_TABLE in tables else ServicesConfig()
    if args.speech_services is not None:
        services = ServicesConfig(args.speech_services, services.host, services.port)
    if args.services_host:
        services = ServicesConfig(services.enabled, check_host(args.services_host, "コマンドラインの --services-host"), services.port)
    if args.services_port:
        services = ServicesConfig(services.enabled, services.host, check_port(args.services_port, "コマンドラインの --services-port"))
    if args.sessions_per_room is not None and args.sessions_per_room < 1:
        raise _problem("コマンドラインの --sessions-per-room", f"{args.sessions_per_room} は使えません", "1 以上の数です。")
    return ServeConfig(tuple(rooms.values()), services, where)
