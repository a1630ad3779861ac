"""The vocabulary of time: one name per concept, and the machine's and a manual time source.

Contract:
- :data:`WallClock` is a function giving the aware current wall time (``Callable[[],
  datetime]``): what records, statements and the hub's ``received_at`` are stamped with.
- :data:`MonotonicClock` is a function giving seconds on a clock that never goes back
  (``Callable[[], float]``): what timers, schedules and backoff are measured on. The
  sans-I/O protocol core takes one of these, never a wall clock.
- A :class:`TimeSource` offers both at once: ``now()`` (a wall clock) and ``monotonic()``
  (a monotonic clock) that agree with each other. Code that needs both (the sync agent, an
  emulated terminal's base time, a CLI command's "today") takes a ``TimeSource`` instead of
  reading the machine, so tests and replays decide what time it is.
- :func:`when` shows a time to people: a stored ISO 8601 text (or an aware datetime) as China
  Standard Time, ``2026-10-05 09:00:00 CST``; ``None`` becomes ``missing``; a text that is not
  an aware ISO 8601 time is returned unchanged (never an exception on display).
- :class:`SystemClock` is the machine's time source: ``datetime.now(CST)`` and
  ``time.monotonic()``; :func:`utc_now` is the machine's wall clock in UTC (the hub's).
- :class:`ManualClock` is a time source that moves only with :meth:`ManualClock.advance`
  (unit tests, deterministic replays): ``now()`` is the aware start time plus the seconds
  advanced, ``monotonic()`` the seconds advanced (0.0 at the start). It refuses a naive start
  time and a negative step; thread-safe.
- The simulator's simulated (scaled, skipping) time source is
  ``stationlink_sim.clock.SimulatedClock``; an emulated terminal's own drifting clock is
  ``stationlink_sim.clock.TerminalClock``.
- Importing this module loads no I/O or threading module (the sans-I/O protocol core imports
  the names above); nothing here sleeps or reads a clock at import time.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Protocol

from .money import CST

WallClock = Callable[[], datetime]
"""A function giving the aware current wall time."""

MonotonicClock = Callable[[], float]
"""A function giving seconds on a clock that never goes back."""


def utc_now() -> datetime:
    """The machine's wall time in UTC: a :data:`WallClock` (the hub's default)."""
    return datetime.now(UTC)


class TimeSource(Protocol):
    """A wall clock and a monotonic clock read together (they agree with each other)."""

    def now(self) -> datetime:
        """Aware current wall time."""
        ...

    def monotonic(self) -> float:
        """Seconds on a clock that never goes back."""
        ...


class SystemClock:
    """The machine's time source: ``datetime.now(CST)`` and ``time.monotonic()``."""

    def now(self) -> datetime:
        return datetime.now(CST)

    def monotonic(self) -> float:
        return time.monotonic()


class ManualClock:
    """A time source that moves only with :meth:`advance`; thread-safe."""

    def __init__(self, start: datetime) -> None:
        if start.tzinfo is None:
            raise ValueError("ManualClock needs an aware start time")
        # imported here, not at the top: the sans-I/O protocol core imports this module's
        # names and must not load threading
        import threading

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


__all__ = [
    "ManualClock", "MonotonicClock", "SystemClock", "TimeSource", "WallClock", "utc_now",
]


def when(value: str | datetime | None, missing: str = "never") -> str:
    """A time for people, in CST (module contract)."""
    if value is None:
        return missing
    if isinstance(value, datetime):
        ts = value
    else:
        try:
            ts = datetime.fromisoformat(value)
        except ValueError:
            return value
    if ts.tzinfo is None or ts.utcoffset() is None:
        return value if isinstance(value, str) else ts.isoformat()
    return f"{ts.astimezone(CST):%Y-%m-%d %H:%M:%S} CST"
