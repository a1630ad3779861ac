"""Injectable time sources: an aware wall clock and a monotonic clock, read through one shape.

Contract:
- A :class:`Clock` has ``now()`` (aware current wall time) and ``monotonic()`` (seconds on a
  clock that never goes back). Code that needs time takes a ``Clock`` instead of reading the
  machine, so tests and replays decide what time it is.
- :class:`SystemClock` reads the machine: ``datetime.now(CST)`` and ``time.monotonic()``.
- :class:`ManualClock` moves only with :meth:`ManualClock.advance` (unit tests, deterministic
  replays): ``now()`` is the aware start time plus the seconds advanced, ``monotonic()`` the
  seconds advanced (0.0 at the start). It refuses a naive start time and a negative step;
  thread-safe.
- Nothing here sleeps or reads a clock at import time. Used by the sync agent
  (:mod:`stationlink.agent.clock`) and the simulator (``stationlink_sim.clock``).
"""

from __future__ import annotations

import threading
import time
from datetime import datetime, timedelta
from typing import Protocol

from .money import CST


class Clock(Protocol):
    """Source of wall time and monotonic time."""

    def now(self) -> datetime:
        """Aware current wall time."""
        ...

    def monotonic(self) -> float:
        """Seconds on a clock that never goes back."""
        ...


class SystemClock:
    """The machine's clocks: ``datetime.now(CST)`` and ``time.monotonic()``."""

    def now(self) -> datetime:
        return datetime.now(CST)

    def monotonic(self) -> float:
        return time.monotonic()


class ManualClock:
    """A clock that moves only with :meth:`advance`; thread-safe."""

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


__all__ = ["Clock", "ManualClock", "SystemClock"]
