"""Simulated time and the terminals' own clocks.

Contract:
- Time sources are :class:`stationlink.clock.TimeSource` s (``now()`` aware wall time,
  ``monotonic()`` seconds that never go back); the machine's is
  :class:`stationlink.clock.SystemClock`, a manual one :class:`stationlink.clock.ManualClock`.
- :class:`SimulatedClock` is the simulator's one simulated time source. From an aware
  ``start`` it runs ``speed`` simulated seconds per second of the injected real monotonic
  clock (``real``, default ``time.monotonic``); its knobs: :meth:`~SimulatedClock.set_speed`
  changes the rate from now on without a jump (``sim station --traffic`` pacing),
  :meth:`~SimulatedClock.skip` moves it forward by some seconds and
  :meth:`~SimulatedClock.jump_to` to a later instant (end-to-end runs jump to the next
  customer; an earlier target or a negative step is a no-op: it never goes back). ``now()``
  (CST) is always ``start`` plus ``monotonic()`` (simulated seconds since ``start``, skips
  included), so a terminal's uptime, an agent's schedule and every wall time stamped by
  anyone move together. A naive ``start`` or a speed that is not > 0 is a
  :class:`~stationlink.errors.SimulatorError`. Thread-safe.
- :class:`TerminalClock` is what the terminal believes the time is: the base wall time plus an
  offset plus a drift of ``drift_ppm`` parts per million accumulated since the clock was set.
  ``reset()`` sets it to 2000-01-01T00:00:00+08:00 (a flat RTC battery) and it runs on from
  there; ``set_drift`` changes the rate from now on without a jump.
- Uptime is measured on the base monotonic clock from :meth:`TerminalClock.boot`; a power cycle
  calls ``boot()`` again. Nothing here sleeps or reads the clock at import time.
"""

from __future__ import annotations

import threading
import time
from datetime import datetime, timedelta

from stationlink.clock import MonotonicClock, TimeSource
from stationlink.errors import SimulatorError
from stationlink.money import CST

#: Where a terminal's real-time clock lands when its backup battery is flat.
RESET_TIME = datetime(2000, 1, 1, 0, 0, 0, tzinfo=CST)


class SimulatedClock:
    """Simulated time: ``start`` + ``speed`` x real seconds elapsed + seconds skipped."""

    def __init__(self, start: datetime, *, speed: float = 1.0,
                 real: MonotonicClock = time.monotonic) -> None:
        if start.tzinfo is None or start.utcoffset() is None:
            raise SimulatorError("the simulated start time must be aware")
        _check_speed(speed)
        self._start = start.astimezone(CST)
        self._real = real
        self._lock = threading.Lock()
        self._anchor_real = real()
        self._anchor_sim = 0.0  # simulated seconds since start at the anchor, skips included
        self._speed = speed

    @property
    def speed(self) -> float:
        with self._lock:
            return self._speed

    def _elapsed(self) -> float:
        return self._anchor_sim + (self._real() - self._anchor_real) * self._speed

    def monotonic(self) -> float:
        """Simulated seconds since ``start`` (skips included)."""
        with self._lock:
            return self._elapsed()

    def now(self) -> datetime:
        return self._start + timedelta(seconds=self.monotonic())

    def set_speed(self, speed: float) -> None:
        """Run ``speed`` simulated seconds per real second from now on (no jump)."""
        _check_speed(speed)
        with self._lock:
            real = self._real()
            self._anchor_sim += (real - self._anchor_real) * self._speed
            self._anchor_real, self._speed = real, speed

    def skip(self, seconds: float) -> float:
        """Move forward by ``seconds`` at once (not back); returns the seconds skipped."""
        step = max(0.0, seconds)
        with self._lock:
            self._anchor_sim += step
        return step

    def jump_to(self, when: datetime) -> float:
        """Move forward to ``when`` (no-op if it is not later); returns the seconds jumped."""
        if when.tzinfo is None:
            raise SimulatorError("jump_to needs an aware time")
        target = (when - self._start).total_seconds()
        with self._lock:
            step = target - self._elapsed()
            if step <= 0:
                return 0.0
            self._anchor_sim += step
            return step


def _check_speed(speed: float) -> None:
    if not speed > 0:
        raise SimulatorError(f"speed must be > 0, not {speed}")


class TerminalClock:
    """The terminal's real-time clock: base time + offset + drift; can be reset."""

    def __init__(
        self, base: TimeSource, *, drift_ppm: float = 0.0, offset: timedelta = timedelta(0)
    ) -> None:
        self.base = base
        self._offset = offset
        self._drift_ppm = drift_ppm
        self._drift_anchor = base.monotonic()
        self._drift_accum = 0.0  # seconds of drift accumulated before the anchor
        self._boot_mono = base.monotonic()

    @property
    def drift_ppm(self) -> float:
        return self._drift_ppm

    def _drift_seconds(self) -> float:
        elapsed = self.base.monotonic() - self._drift_anchor
        return self._drift_accum + elapsed * self._drift_ppm / 1e6

    def now(self) -> datetime:
        """The terminal's idea of the current time, in CST."""
        t = self.base.now() + self._offset + timedelta(seconds=self._drift_seconds())
        return t.astimezone(CST)

    def set_drift(self, ppm: float) -> None:
        """Run ``ppm`` parts per million fast (negative: slow) from now on."""
        self._drift_accum = self._drift_seconds()
        self._drift_anchor = self.base.monotonic()
        self._drift_ppm = ppm

    def set_time(self, when: datetime) -> None:
        """Set the clock so that :meth:`now` reads ``when`` at this instant."""
        if when.tzinfo is None:
            raise ValueError("terminal time must be aware")
        self._offset += when - self.now()

    def reset(self) -> None:
        """Flat RTC battery: the clock reads 2000-01-01 00:00 CST and runs on from there."""
        self.set_time(RESET_TIME)

    def boot(self) -> None:
        """Start counting uptime from now (called at power-on)."""
        self._boot_mono = self.base.monotonic()

    def uptime_ms(self) -> int:
        return int((self.base.monotonic() - self._boot_mono) * 1000)


__all__ = ["RESET_TIME", "SimulatedClock", "TerminalClock"]
