"""The time shape of traffic: day factors, hour-of-day sampling and Poisson counts.

Contract:
- The model is an inhomogeneous Poisson process whose intensity is piecewise constant by hour:
  ``rate(station, day, hour) = base × station weight × day factor × hour share``. Given the
  day's count, arrival times are independent draws from the hour-of-day shape (exactly the
  conditional law of a Poisson process), uniform within the hour.
- Day factor = day-of-week factor × day-of-month factor × market-day factor. Each factor is
  normalised to mean 1 over its own cycle (7 days; the days of that calendar month; the
  market cycle), so the scenario's base rates are long-run means.
- :func:`poisson` is exact for any rate (inversion, splitting rates above 30 in halves).
- Nothing here reads a clock or a global random state.
"""

from __future__ import annotations

import calendar as _calendar
import datetime as dt
import math
from bisect import bisect_right
from collections.abc import Callable, Sequence


def poisson(random: Callable[[], float], lam: float) -> int:
    """A Poisson(lam) count drawn with ``random`` (uniform in [0, 1))."""
    if lam <= 0.0:
        return 0
    if lam > 30.0:
        half = lam / 2.0
        return poisson(random, half) + poisson(random, half)
    u = random()
    p = math.exp(-lam)
    cumulative = p
    k = 0
    while u > cumulative:
        k += 1
        p *= lam / k
        cumulative += p
        if p < 1e-300:  # floating rounding left u above the total mass: stop at the tail
            break
    return k


class HourShape:
    """Draws a second of the day from 24 hourly weights (uniform within the hour)."""

    __slots__ = ("_cum", "_last", "_total", "_weights")

    def __init__(self, weights: Sequence[float]) -> None:
        if len(weights) != 24 or sum(weights) <= 0:
            raise ValueError("an hour-of-day shape has 24 weights with a positive sum")
        self._weights = tuple(float(w) for w in weights)
        cum: list[float] = []
        total = 0.0
        for w in self._weights:
            total += w
            cum.append(total)
        self._cum = cum
        self._total = total
        self._last = max(h for h in range(24) if self._weights[h] > 0)

    def second(self, u: float) -> int:
        """Second of the day (0..86399) for a uniform ``u`` in [0, 1)."""
        x = u * self._total
        hour = bisect_right(self._cum, x)
        if hour > 23:  # u * total rounded up to the total: take the last open hour
            hour = self._last
        start = self._cum[hour] - self._weights[hour]
        frac = (x - start) / self._weights[hour]
        offset = int(frac * 3600.0)
        return hour * 3600 + min(max(offset, 0), 3599)

    def is_open(self, second: int) -> bool:
        """Whether the hour of ``second`` (of the day) has a positive weight."""
        return self._weights[second // 3600 % 24] > 0.0

    def share(self, hour: int) -> float:
        return self._weights[hour] / self._total


def _normalised(weights: Sequence[float]) -> list[float]:
    mean = sum(weights) / len(weights)
    return [w / mean for w in weights]


def day_factors(
    days: Sequence[dt.date], day_of_week: Sequence[float], day_of_month: Sequence[float]
) -> list[float]:
    """Day-of-week × day-of-month factor of each date (each normalised to mean 1)."""
    dow = _normalised(day_of_week)
    out: list[float] = []
    month_cache: dict[tuple[int, int], list[float]] = {}
    for day in days:
        key = (day.year, day.month)
        dom = month_cache.get(key)
        if dom is None:
            length = _calendar.monthrange(day.year, day.month)[1]
            dom = _normalised(day_of_month[:length])
            month_cache[key] = dom
        out.append(dow[day.weekday()] * dom[day.day - 1])
    return out


def market_factors(cycle: int, factor: float) -> tuple[float, float]:
    """(market-day factor, other-day factor), normalised to mean 1 over the cycle."""
    if cycle <= 1:
        return 1.0, 1.0
    return factor, (cycle - factor) / (cycle - 1)


def is_market_day(day: dt.date, cycle: int, offset: int) -> bool:
    """Rural market days recur every ``cycle`` days; ``offset`` differs per village."""
    return cycle > 1 and (day.toordinal() + offset) % cycle == 0
