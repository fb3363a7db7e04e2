"""Where a session's memory goes: resident memory after each start-up stage, as JSON lines.

Run by bench/run.py as a subprocess:  python bench/memory_probe.py ENGINE
Each line: {"stage": …, "rss_mb": current resident size, "peak_mb": the highest so far}.
Stages follow the order `python run.py` builds things in (see voicecheck.app): content and
matcher, recogniser, voice, then one answer heard and matched.
"""
from __future__ import annotations

import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def _status_mb(field: str) -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1]) / 1024.0
    return float("nan")


def report(stage: str) -> None:
    print(json.dumps({"stage": stage, "rss_mb": round(_status_mb("VmRSS"), 1),
                      "peak_mb": round(_status_mb("VmHWM"), 1)}), flush=True)


def main() -> int:
    engine = sys.argv[1] if len(sys.argv) > 1 else "whisper"
    report("python started")
    import numpy as np

    from voicecheck import cli  # noqa: F401  the program's own imports
    report("program imported")
    from voicecheck.content import load_content
    from voicecheck.matcher import Matcher
    from voicecheck.settings import Settings

    settings = Settings(engine=engine)
    content = load_content(settings.prompts_dir)
    matcher = Matcher(content)
    report("content and matcher built")
    from voicecheck.recognizers import select_recognizer

    recognizer = select_recognizer(settings)
    report(f"recogniser loaded ({recognizer.name})")
    from voicecheck.voices import select_voice

    voice = select_voice(settings)
    samples, rate = voice.synthesize(content.say("greeting"))
    report("voice loaded, greeting synthesised")
    from voicecheck.audio import resample
    from voicecheck.interfaces import ListenContext

    speech = resample(np.asarray(samples, dtype=np.float32), rate)
    heard = recognizer.transcribe(speech, ListenContext("swelling", matcher.phrases("swelling")))
    matcher.match("swelling", heard.text)
    report("one answer heard and matched")
    from bench.startup import spoken_phrases

    for text in spoken_phrases(content):
        voice.synthesize(text)  # a session says most of these once; the voice keeps them cached
    report(f"every fixed phrase spoken once ({voice.misses} phrases synthesised and cached)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
