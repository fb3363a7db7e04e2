"""When a room's session starts: its wake word, a daily check-in time, or at once.

The wake word arrives from the satellite (voicecheck.satellites.connection); this module keeps
the clock side: the next daily check-in after a given moment (pure, so it is tested without
waiting), and the asyncio task that sleeps until then and hands the room a start.
"""
from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import datetime, time, timedelta
from typing import Literal

StartKind = Literal["wake", "daily", "now", "resume"]
LONGEST_NAP_S = 60.0  # re-read the wall clock at least this often (clock changes, suspend)


def next_daily_start(now: datetime, times: tuple[time, ...]) -> datetime | None:
    """The first of the daily times strictly after `now` (today or tomorrow); None without times."""
    if not times:
        return None
    today = now.date()
    candidates = [datetime.combine(day, t, tzinfo=now.tzinfo) for day in (today, today + timedelta(days=1)) for t in times]
    return min(c for c in candidates if c > now)


async def run_daily(times: tuple[time, ...], start: Callable[[StartKind], None],
                    now: Callable[[], datetime] = datetime.now) -> None:
    """Call `start("daily")` at each daily time, forever (cancel the task to stop)."""
    if not times:
        return
    due = next_daily_start(now(), times)
    while due is not None:
        wait_s = (due - now()).total_seconds()
        if wait_s > 0:
            await asyncio.sleep(min(wait_s, LONGEST_NAP_S))
            continue
        start("daily")
        due = next_daily_start(max(now(), due), times)
