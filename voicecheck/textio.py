"""Text mode: spoken lines are printed, answers are typed (or piped, one per line).

Typed input is read as bytes and decoded one line at a time, so a line that is not valid UTF-8
spoils only itself: it counts as "not understood", and the lines before and after it are kept.
"""
from __future__ import annotations

import os
import select
import sys
from typing import TextIO

from voicecheck.interfaces import Heard, ListenContext

NOT_TEXT = "\ufffd"  # what a line that is not valid text is heard as: never matches an answer
READ_CHUNK = 4096
MAX_LINE_BYTES = 64 * 1024  # a longer "line" is not an answer; the rest of it is dropped


class TextEars:
    def __init__(self, stream: TextIO | None = None, out: TextIO | None = None) -> None:
        self.stream = stream or sys.stdin
        self.out = out or sys.stdout
        self.interactive = bool(getattr(self.stream, "isatty", lambda: False)())
        self._fd = self._file_descriptor()
        self._pending = b""  # bytes read past the end of the last line
        self._eof = False

    def _file_descriptor(self) -> int | None:
        # Only a real file or pipe is read as bytes; test streams (StringIO) are read as text.
        if getattr(self.stream, "buffer", None) is None:
            return None
        try:
            return self.stream.fileno()
        except (OSError, ValueError, AttributeError):
            return None

    def listen(self, context: ListenContext) -> Heard | None:
        if self.interactive:
            self.out.write("> ")
            self.out.flush()
            # At a terminal, silence works as it does on the speaker: after the timeout the
            # conversation (or the coach counting a hold) carries on without a key press.
            if context.timeout_s and not self._ready(context.timeout_s):
                self.out.write("\n")
                return Heard(text="", timed_out=True)
        try:
            line = self._readline()
        except KeyboardInterrupt:
            return None
        if line is None:
            return None
        text = line.rstrip("\r\n")
        if not self.interactive:
            self.out.write(f"> {text}\n")  # piped answers are echoed so the printed dialogue reads whole
        return Heard(text=text)

    def _readline(self) -> str | None:
        """The next line as text (NOT_TEXT when it is not valid text), or None at the end."""
        if self._fd is None:
            try:
                line = self.stream.readline()
            except (UnicodeDecodeError, ValueError):
                return NOT_TEXT
            if line == "":
                return None
            return NOT_TEXT if _has_surrogates(line) else line
        raw = self._read_raw_line()
        if raw is None:
            return None
        try:
            return raw.decode("utf-8")
        except UnicodeDecodeError:
            return NOT_TEXT

    def _read_raw_line(self) -> bytes | None:
        while b"\n" not in self._pending and not self._eof:
            try:
                chunk = os.read(self._fd, READ_CHUNK)
            except InterruptedError:
                continue
            except OSError:
                chunk = b""  # a closed or broken input ends the input, like end of file
            if not chunk:
                self._eof = True
            self._pending += chunk
            if len(self._pending) > MAX_LINE_BYTES and b"\n" not in self._pending:
                self._pending = b"\xff"  # too long to be an answer: heard as not text
                self._skip_rest_of_line()
        if not self._pending:
            return None
        line, sep, self._pending = self._pending.partition(b"\n")
        return line + sep

    def _skip_rest_of_line(self) -> None:
        while not self._eof:
            try:
                chunk = os.read(self._fd, READ_CHUNK)
            except OSError:
                chunk = b""
            if not chunk:
                self._eof = True
                return
            if b"\n" in chunk:
                self._pending += b"\n" + chunk.split(b"\n", 1)[1]
                return

    def _ready(self, timeout_s: float) -> bool:
        if b"\n" in self._pending or self._eof:
            return True  # a whole line is already waiting
        try:
            readable, _, _ = select.select([self.stream], [], [], timeout_s)
        except (OSError, ValueError, TypeError):
            return True  # a stream select cannot watch: just read it
        return bool(readable)


def _has_surrogates(text: str) -> bool:
    # Bytes that are not UTF-8 read with "surrogateescape" (the C locale) become lone surrogates.
    return any("\ud800" <= ch <= "\udfff" for ch in text)


class DiscardOutput:
    """Stands in for a closed standard output, so that printing never fails (see cli.main)."""

    closed = False

    def write(self, text: str) -> int:
        return len(text)

    def flush(self) -> None:
        pass

    def isatty(self) -> bool:
        return False


class TextMouth:
    def __init__(self, out: TextIO | None = None) -> None:
        self.out = out or sys.stdout

    def say(self, text: str, *, slow: bool = False) -> None:
        self.out.write(f"{text}\n")
        self.out.flush()
