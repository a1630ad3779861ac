"""Clocks for emulated terminals: an injectable base clock and the terminal's own clock.

Contract:
- A :class:`BaseClock` gives an aware wall time (``now``) and a monotonic second count
  (``monotonic``). :class:`SystemClock` reads the real clocks; :class:`ManualClock` only moves
  when told (unit tests, deterministic replays). All three are those of
  :mod:`stationlink.clock` (``BaseClock`` is :class:`stationlink.clock.Clock`), re-exported.
- :class:`TerminalClock` is what the terminal believes the time is: the base wall time plus an
  offset plus a drift of ``drift_ppm`` parts per million accumulated since the clock was set.
  ``reset()`` sets it to 2000-01-01T00:00:00+08:00 (a flat RTC battery) and it runs on from
  there; ``set_drift`` changes the rate from now on without a jump.
- Uptime is measured on the base monotonic clock from :meth:`TerminalClock.boot`; a power cycle
  calls ``boot()`` again. Nothing here sleeps or reads the clock at import time.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from stationlink.clock import Clock as BaseClock
from stationlink.clock import ManualClock, SystemClock
from stationlink.money import CST

#: Where a terminal's real-time clock lands when its backup battery is flat.
RESET_TIME = datetime(2000, 1, 1, 0, 0, 0, tzinfo=CST)


class TerminalClock:
    """The terminal's real-time clock: base time + offset + drift; can be reset."""

    def __init__(
        self, base: BaseClock, *, drift_ppm: float = 0.0, offset: timedelta = timedelta(0)
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


__all__ = ["RESET_TIME", "BaseClock", "ManualClock", "SystemClock", "TerminalClock"]
