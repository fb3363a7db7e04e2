"""The few phrases only a room says (prompts/<lang>/satellites.toml), checked at start-up."""
from __future__ import annotations

import tomllib
from dataclasses import dataclass
from pathlib import Path

from voicecheck.content import ContentError

FILE = "satellites.toml"
KEYS = ("checkin_offer", "checkin_later", "resumed_after_break")


@dataclass(frozen=True)
class RoomPhrases:
    checkin_offer: str
    checkin_later: str
    resumed_after_break: str


def load_room_phrases(prompts_dir: Path) -> RoomPhrases:
    path = Path(prompts_dir) / FILE
    where = f"{Path(prompts_dir).name}/{FILE}"
    try:
        with open(path, "rb") as f:
            data = tomllib.load(f)
    except FileNotFoundError:
        raise ContentError(where, "(file)", "the file is missing") from None
    except (OSError, tomllib.TOMLDecodeError) as error:
        raise ContentError(where, "(file)", f"cannot be read ({error})") from None
    for key in KEYS:
        if not isinstance(data.get(key), str) or not data[key].strip():
            raise ContentError(where, key, "a phrase (text)")
    unknown = set(data) - set(KEYS)
    if unknown:
        raise ContentError(where, ", ".join(sorted(unknown)), f"unknown; the phrases are {', '.join(KEYS)}")
    return RoomPhrases(**{key: data[key].strip() for key in KEYS})
