"""Simulated time for end-to-end runs: a clock that runs at the real rate and jumps forward.

Contract:
- :class:`SimClock` starts at an aware simulated time. Between jumps it advances exactly as
  the machine's monotonic clock does (one simulated second per real second); :meth:`jump_to`
  moves it forward to a later simulated instant at once (never back: an earlier target is a
  no-op). ``now()`` (aware, CST) and ``monotonic()`` (seconds since the start, jumps
  included) therefore always agree: a terminal's uptime, the agent's schedule and every wall
  time stamped by anyone move together, so the buffer's and the hub's drift correction sees a
  terminal clock that is right.
- Why not a clock that stands still between events: link timers (T1 retransmission, T2
  response timeouts, reconnect backoff, a power-cycled terminal's boot time) must elapse
  while bytes cross a real pty or socket. They run on real time (the transport layers use
  ``time.monotonic`` directly); the business clock runs on with them, and the driver jumps
  it to the next customer's time only when the station is quiescent (the previous action
  finished and the agent's round is done). A day therefore runs as fast as the machine
  allows; a record's time is its event's time plus the real seconds the exchange took
  (milliseconds, or a few seconds after a lost response).
- :class:`WorldClock` is the hub's clock when several stations run side by side, each on its
  own :class:`SimClock`: the latest simulated time any station has reached (monotone).
- Both satisfy ``stationlink_sim.clock.BaseClock`` and ``stationlink.agent.AgentClock``;
  thread-safe. ``real`` is injectable (unit tests).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

from stationlink.money import CST


class SimClock:
    """See the module contract."""

    def __init__(self, start: datetime, *, real: Callable[[], float] = time.monotonic) -> None:
        if start.tzinfo is None or start.utcoffset() is None:
            raise ValueError("SimClock needs an aware start time")
        self._start = start.astimezone(CST)
        self._real = real
        self._real0 = real()
        self._jumped = 0.0
        self._lock = threading.Lock()
        self.jumps = 0

    def monotonic(self) -> float:
        with self._lock:
            return self._real() - self._real0 + self._jumped

    def now(self) -> datetime:
        return self._start + timedelta(seconds=self.monotonic())

    def jump_to(self, when: datetime) -> float:
        """Move forward to ``when`` (no-op if it is not later); returns the seconds jumped."""
        if when.tzinfo is None:
            raise ValueError("jump_to needs an aware time")
        with self._lock:
            current = self._real() - self._real0 + self._jumped
            target = (when - self._start).total_seconds()
            step = target - current
            if step <= 0:
                return 0.0
            self._jumped += step
            self.jumps += 1
            return step


class WorldClock:
    """The latest time reached by any of several :class:`SimClock` s (the hub's clock)."""

    def __init__(self, start: datetime) -> None:
        self._latest = start.astimezone(CST)
        self._clocks: list[SimClock] = []
        self._lock = threading.Lock()

    def follow(self, clock: SimClock) -> None:
        with self._lock:
            self._clocks.append(clock)

    def forget(self, clock: SimClock) -> None:
        with self._lock:
            self._latest = max(self._latest, clock.now())
            self._clocks = [c for c in self._clocks if c is not clock]

    def now(self) -> datetime:
        with self._lock:
            for c in self._clocks:
                self._latest = max(self._latest, c.now())
            return self._latest

    def utc_now(self) -> datetime:
        """What the hub's app takes as its clock (an aware UTC time)."""
        return self.now().astimezone(UTC)
