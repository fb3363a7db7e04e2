"""Wyoming events on the wire: read with limits, written with the `wyoming` package.

An event is one JSON header line (`type`, optional `data`, `data_length`, `payload_length`),
then `data_length` bytes of extra JSON data merged into `data`, then `payload_length` bytes of
binary payload (PCM audio). The `wyoming` package reads whatever lengths a peer announces; a
server that many rooms share cannot, so the reader here checks every length against
`WireLimits` before reading a byte of it. A peer that breaks the framing gets a
`ProtocolError`, and its caller closes that one connection with a log line.
"""
from __future__ import annotations

import asyncio
import json
import re
from dataclasses import dataclass
from typing import Any

from wyoming.event import Event, async_write_event

_EVENT_TYPE = re.compile(r"^[a-z0-9][a-z0-9_.-]{0,63}$")


@dataclass(frozen=True)
class WireLimits:
    """The largest parts of an event this side accepts."""

    header_bytes: int = 16 * 1024  # the JSON line; large data travels in the data part
    data_bytes: int = 256 * 1024  # an `info` with many programs and wake words fits easily
    payload_bytes: int = 256 * 1024  # audio: a second of 48 kHz stereo 16-bit is 192 kB

    @property
    def stream_limit(self) -> int:
        """The asyncio StreamReader buffer limit that makes an over-long header line an error."""
        return self.header_bytes + 1


class ProtocolError(Exception):
    """The peer sent something that is not a well-formed Wyoming event (the message says what)."""


class OversizedEvent(ProtocolError):
    """The peer announced or sent more bytes than `WireLimits` allow."""


def _length(header: dict[str, Any], key: str, limit: int) -> int:
    value = header.get(key)
    if value is None:
        return 0
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise ProtocolError(f"{key} is not a length: {str(value)[:40]!r}")
    if value > limit:
        raise OversizedEvent(f"{key} {value} is over the limit of {limit} bytes")
    return value


def parse_header(line: bytes, limits: WireLimits) -> tuple[str, dict[str, Any], int, int]:
    """(type, data, data_length, payload_length) of one header line; ProtocolError when malformed."""
    if len(line) > limits.header_bytes:
        raise OversizedEvent(f"header line of {len(line)} bytes is over the limit of {limits.header_bytes}")
    try:
        header = json.loads(line)
    except (UnicodeDecodeError, ValueError):
        raise ProtocolError(f"header is not JSON: {line[:60]!r}") from None
    if not isinstance(header, dict):
        raise ProtocolError("header is not a JSON object")
    event_type = header.get("type")
    if not isinstance(event_type, str) or not _EVENT_TYPE.match(event_type):
        raise ProtocolError(f"no usable event type: {str(event_type)[:40]!r}")
    data = header.get("data")
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise ProtocolError(f"{event_type}: data is not a JSON object")
    return (event_type, data, _length(header, "data_length", limits.data_bytes),
            _length(header, "payload_length", limits.payload_bytes))


async def _read_exactly(reader: asyncio.StreamReader, count: int, what: str) -> bytes:
    try:
        return await reader.readexactly(count)
    except asyncio.IncompleteReadError:
        raise ProtocolError(f"the connection closed in the middle of the {what}") from None


async def read_event(reader: asyncio.StreamReader, limits: WireLimits) -> Event | None:
    """The next event, or None when the peer closed the connection between events.

    Raises ProtocolError (OversizedEvent for sizes over the limits) for anything else.
    The reader must have been opened with `limit=limits.stream_limit`."""
    try:
        line = await reader.readuntil(b"\n")
    except asyncio.IncompleteReadError as error:
        if not error.partial.strip():
            return None
        raise ProtocolError("the connection closed in the middle of a header line") from None
    except asyncio.LimitOverrunError:
        raise OversizedEvent(f"header line longer than {limits.header_bytes} bytes") from None
    event_type, data, data_length, payload_length = parse_header(line, limits)
    if data_length:
        extra_bytes = await _read_exactly(reader, data_length, "data")
        try:
            extra = json.loads(extra_bytes)
        except (UnicodeDecodeError, ValueError):
            raise ProtocolError(f"{event_type}: data is not JSON") from None
        if not isinstance(extra, dict):
            raise ProtocolError(f"{event_type}: data is not a JSON object")
        data = {**data, **extra}
    payload = await _read_exactly(reader, payload_length, "payload") if payload_length else None
    return Event(type=event_type, data=data, payload=payload)


class EventWriter:
    """Writes whole events to one connection; several coroutines may share it."""

    def __init__(self, writer: asyncio.StreamWriter) -> None:
        self._writer = writer
        self._lock = asyncio.Lock()

    async def write(self, event: Event) -> None:
        async with self._lock:
            await async_write_event(event, self._writer)

    def close(self) -> None:
        try:
            self._writer.close()
        except (OSError, RuntimeError):  # already closed, or its loop is gone
            pass

    @property
    def peer(self) -> str:
        peer = self._writer.get_extra_info("peername")
        if isinstance(peer, tuple) and len(peer) >= 2:
            return f"{peer[0]}:{peer[1]}"
        return str(peer or "?")
