"""Text mode: spoken lines are printed, answers are typed (or piped, one per line)."""
from __future__ import annotations

import select
import sys
from typing import TextIO

from voicecheck.interfaces import Heard, ListenContext


class TextEars:
    def __init__(self, stream: TextIO | None = None, out: TextIO | None = None) -> None:
        self.stream = stream or sys.stdin
        self.out = out or sys.stdout
        self.interactive = bool(getattr(self.stream, "isatty", lambda: False)())

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
            line = self.stream.readline()
        except (UnicodeDecodeError, ValueError):
            # A line that is not valid text counts as "not understood", never as a crash.
            return Heard(text="\ufffd")
        except KeyboardInterrupt:
            return None
        if line == "":
            return None
        text = line.rstrip("\r\n")
        if not self.interactive:
            self.out.write(f"> {text}\n")  # piped answers are echoed so the printed dialogue reads whole
        return Heard(text=text)


    def _ready(self, timeout_s: float) -> bool:
        try:
            readable, _, _ = select.select([self.stream], [], [], timeout_s)
        except (OSError, ValueError, TypeError):
            return True  # a stream select cannot watch: just read it
        return bool(readable)


class TextMouth:
    def __init__(self, out: TextIO | None = None) -> None:
        self.out = out or sys.stdout

    def say(self, text: str, *, slow: bool = False) -> None:
        self.out.write(f"{text}\n")
        self.out.flush()
