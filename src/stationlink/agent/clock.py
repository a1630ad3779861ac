"""Time sources of the sync agent: an aware wall clock and a monotonic clock, injectable.

Contract: :class:`AgentClock` is what the agent reads — ``now()`` (aware, used for record
wall times, the daily settlement check and status) and ``monotonic()`` (seconds, used for
scheduling and backoff). :class:`SystemClock` reads the machine; :class:`ManualClock` moves
only when told (unit tests). Nothing here sleeps: waiting is the caller's business
(``threading.Event.wait`` in :meth:`stationlink.agent.Agent.run_forever`).
"""

from __future__ import annotations

import random
import threading
import time
from datetime import datetime, timedelta
from typing import Protocol

from ..money import CST


class AgentClock(Protocol):
    def now(self) -> datetime:
        """Aware current wall time."""
        ...

    def monotonic(self) -> float:
        """Seconds on a clock that never goes back."""
        ...


class SystemClock:
    def now(self) -> datetime:
        return datetime.now(CST)

    def monotonic(self) -> float:
        return time.monotonic()


class ManualClock:
    """Moves only with :meth:`advance`; thread-safe."""

    def __init__(self, start: datetime) -> None:
        if start.tzinfo is None:
            raise ValueError("ManualClock needs an aware start time")
        self._start = start
        self._elapsed = 0.0
        self._lock = threading.Lock()

    def now(self) -> datetime:
        with self._lock:
            return self._start + timedelta(seconds=self._elapsed)

    def monotonic(self) -> float:
        with self._lock:
            return self._elapsed

    def advance(self, seconds: float) -> None:
        if seconds < 0:
            raise ValueError("a clock does not go back")
        with self._lock:
            self._elapsed += seconds


def child_rng(rng: random.Random) -> random.Random:
    """An independent generator seeded from ``rng`` (jitter and client refs, not secrets)."""
    return random.Random(rng.getrandbits(64))  # noqa: S311
