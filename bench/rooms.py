"""Many rooms on one machine: per-answer latency and peak memory of `run.py serve` with 1, 2, 4, 8 rooms.

Run:  .venv/bin/python bench/rooms.py [--rooms 1 2 4 8]      (also part of `make bench`)

For each room count, `python run.py serve` runs as its own process (its peak memory is read by
GNU time, so the simulated rooms do not count) and connects to that many simulated satellites
in this process (tests/satellite_peers.FakeSatellite, built on the wyoming package's server
classes). Each satellite streams its microphone at real-time pace and plays the device's speech
40× faster than real time (so the rooms answer more often than real rooms would: a harder
load than a real household's). Each resident answers three turns with recordings by other
voices than the product's: 「いいえ」 to the safety question, two situations, then
「もう終わりにします」 (repeated if need be, so every session ends).

Per-answer latency: from the end of the resident's speech to the moment the device's next
speech reaches the satellite. It contains the end-of-answer silence the endpointer waits for
(settings end_silence_s), waiting for the shared recogniser, recognition, matching and the
first piece of synthesis.
"""
from __future__ import annotations

import argparse
import asyncio
import os
import re
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
for path in (ROOT, ROOT / "tests"):
    if str(path) not in sys.path:
        sys.path.insert(0, str(path))

from satellite_peers import FakeSatellite, Resident, extra, session_answers  # noqa: E402

ROOM_COUNTS = (1, 2, 4, 8)
GNU_TIME = Path("/usr/bin/time")


TIMINGS = re.compile(r"timings endpoint=([\d.]+) queued=([\d.]+) recognition=([\d.]+)")


def _spread(values: list[float]) -> str:
    """p50 / p95 / max in seconds, or a dash."""
    if not values:
        return "—"
    a = np.asarray(values, dtype=float)
    return f"{np.percentile(a, 50):.2f} / {np.percentile(a, 95):.2f} / {a.max():.2f} s"


@dataclass
class RoomsRun:
    rooms: int
    latencies: list[float]
    peak_mb: float
    wall_s: float
    finished: int
    exit_code: int
    queued: list[float] = field(default_factory=list)  # waiting for the shared recogniser, per answer
    recognition: list[float] = field(default_factory=list)  # decoding time, per answer

    def row(self) -> str:
        return (f"| {self.rooms} | {len(self.latencies)} | {_spread(self.latencies)} | {_spread(self.queued)} "
                f"| {_spread(self.recognition)} | {self.peak_mb:.0f} MB | {self.finished}/{self.rooms} "
                f"| {self.wall_s:.0f} s |")


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def scripted(recordings):
    """The resident's answers in order; the last one again if the room asks for more."""
    remaining = list(recordings)

    def pick():
        return remaining.pop(0) if len(remaining) > 1 else remaining[0]

    return pick


async def run_rooms(count: int, work: Path, timeout_s: float = 900.0) -> RoomsRun:
    kumo = session_answers("jm_kumo")
    script = [kumo["safety_now"], kumo["situations"], extra("command_stop_jm_kumo")]
    satellites = [FakeSatellite(f"room-{n + 1}", Resident(scripted(script)), snd_rate=22_050) for n in range(count)]
    for satellite in satellites:
        await satellite.start()
    data = work / f"data-{count}"
    config = work / f"settings-{count}.toml"
    lines = ["pause_s = 0.1", f'data_dir = "{data}"', "[satellites]"]
    lines += [f'"{s.name}" = {{ uri = "{s.uri}", start = "now" }}' for s in satellites]
    config.write_text("\n".join(lines) + "\n", encoding="utf-8")
    peak_file = work / f"peak-{count}.txt"
    command = [sys.executable, str(ROOT / "run.py"), "serve", "--config", str(config), "--sessions-per-room", "1"]
    if GNU_TIME.exists():
        command = [str(GNU_TIME), "-f", "%M", "-o", str(peak_file), *command]
    started = time.monotonic()
    server = await asyncio.create_subprocess_exec(*command, cwd=str(ROOT), stdout=asyncio.subprocess.DEVNULL,
                                                  stderr=asyncio.subprocess.PIPE,
                                                  env={**os.environ, "VOICECHECK_DEBUG": "1"})
    peak_kb = 0.0
    try:
        stderr = await asyncio.wait_for(server.stderr.read(), timeout_s)
        await server.wait()
    except asyncio.TimeoutError:
        server.terminate()
        await server.wait()
        stderr = b""
        log(f"{count} rooms: serve did not finish within {timeout_s:.0f} s")
    wall = time.monotonic() - started
    for satellite in satellites:
        await satellite.stop()
    if peak_file.exists():
        try:
            peak_kb = float(peak_file.read_text().split()[-1])
        except (ValueError, IndexError):
            peak_kb = float("nan")
    finished = sum(1 for s in satellites if list((data / "rooms" / s.name / "sessions").glob("*/summary.json")))
    if server.returncode != 0:
        log(stderr.decode(errors="replace")[-2000:])
    latencies = [x for s in satellites for x in s.log.latencies]
    timings = [tuple(map(float, m.groups())) for m in TIMINGS.finditer(stderr.decode(errors="replace"))]
    return RoomsRun(count, latencies, peak_kb / 1024.0, wall, finished, server.returncode or 0,
                    queued=[t[1] for t in timings], recognition=[t[2] for t in timings])


LOAD_BEFORE = "?"


def measure(counts=ROOM_COUNTS) -> list[RoomsRun]:
    global LOAD_BEFORE
    LOAD_BEFORE = " ".join(f"{x:.1f}" for x in os.getloadavg())
    runs = []
    with tempfile.TemporaryDirectory(prefix="voicecheck-rooms-") as folder:
        for count in counts:
            log(f"rooms: {count} simulated satellite(s) …")
            runs.append(asyncio.run(run_rooms(count, Path(folder))))
            log("  " + runs[-1].row())
    return runs


def markdown(runs: list[RoomsRun]) -> str:
    lines = [
        "## Many rooms (`run.py serve`, simulated Wyoming satellites)",
        "",
        "Per-answer latency: end of the resident's speech → the device's next speech reaches the satellite "
        "(includes the end-of-answer silence, waiting for the shared recogniser, recognition, matching and "
        "the first synthesised piece). Peak memory: the serve process alone (GNU time). Load average "
        f"before / after: {LOAD_BEFORE} / {' '.join(f'{x:.1f}' for x in os.getloadavg())} on {os.cpu_count()} cores.",
        "",
        "| rooms | answers | latency p50 / p95 / max | of it: waiting for the recogniser | recognition "
        "| peak memory | sessions finished | wall time |",
        "|---|---|---|---|---|---|---|---|",
    ]
    lines += [run.row() for run in runs]
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="latency and memory of run.py serve with many rooms")
    parser.add_argument("--rooms", type=int, nargs="*", default=list(ROOM_COUNTS))
    args = parser.parse_args(argv)
    from voicecheck.models import MIRROR_ENV

    shared = ROOT.parent / "shared" / "models"
    if not os.environ.get(MIRROR_ENV) and shared.is_dir():
        os.environ[MIRROR_ENV] = str(shared)
    print(markdown(measure(tuple(args.rooms))))
    return 0


if __name__ == "__main__":
    sys.exit(main())
