"""The hub's clock in an end-to-end run: the latest simulated time any station has reached.

Contract:
- Each station of a run has its own :class:`~stationlink_sim.clock.SimulatedClock` at the
  real rate (``speed`` 1), which the driver jumps to the next customer's time only when the
  station is quiescent (the previous action finished and the agent's round is done). Why
  not a clock that stands still between events: link timers (T1 retransmission, T2 response
  timeouts, reconnect backoff, a power-cycled terminal's boot time) must elapse while bytes
  cross a real pty or socket. They run on real time (the transport layers use
  ``time.monotonic`` directly); the business clock runs on with them. A day therefore runs
  as fast as the machine allows; a record's time is its event's time plus the real seconds
  the exchange took (milliseconds, or a few seconds after a lost response).
- :class:`WorldClock` is the hub's clock when several stations run side by side: the latest
  simulated time any followed station clock has reached (monotone, also after a station is
  forgotten). ``now()`` is CST, ``utc_now()`` the same instant in UTC (a
  :data:`stationlink.clock.WallClock` for the hub's app). Thread-safe.
"""

from __future__ import annotations

import threading
from datetime import UTC, datetime

from stationlink.money import CST

from ..clock import SimulatedClock


class WorldClock:
    """The latest time reached by any of several :class:`SimulatedClock` s (the hub's clock)."""

    def __init__(self, start: datetime) -> None:
        self._latest = start.astimezone(CST)
        self._clocks: list[SimulatedClock] = []
        self._lock = threading.Lock()

    def follow(self, clock: SimulatedClock) -> None:
        with self._lock:
            self._clocks.append(clock)

    def forget(self, clock: SimulatedClock) -> None:
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
