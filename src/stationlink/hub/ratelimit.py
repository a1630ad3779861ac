"""Per-station request rate limiting for the hub: :class:`RateLimiter` (token buckets).

Contract:
- One token bucket per key (the authenticated station id), ``rate`` tokens per second up to
  ``burst``; a full bucket to start with. :meth:`RateLimiter.acquire` takes one token and
  returns ``0.0``, or takes nothing and returns the seconds until a token is available (the
  hub answers 429 with ``Retry-After`` rounded up to whole seconds, at least 1).
- The clock is injected (``monotonic()``, seconds), so tests are deterministic.
- The buckets live in this process: with several hub processes behind one address
  (``hub serve --workers N``, several hosts) each process limits on its own, so a station's
  effective limit is at most (processes) × ``rate`` — a bound against one agent crowding out
  the others, not an exact quota (docs/hub.md, Deployment). Keys are station ids that passed
  authentication, so the number of buckets is bounded by the stations with tokens.
- :func:`parse_rate` reads ``--rate-limit``: ``N/s``, ``N/min`` or ``off``.
"""

from __future__ import annotations

import math
import threading
import time

from ..clock import MonotonicClock
from ..errors import ConfigError

DEFAULT_RATE = 100.0  # requests per second per station
BURST_SECONDS = 2.0  # the bucket holds this many seconds' worth of requests


class RateLimiter:
    """See the module contract."""

    def __init__(self, rate: float, burst: float | None = None, *,
                 clock: MonotonicClock = time.monotonic) -> None:
        if not rate > 0:
            raise ConfigError(f"rate limit must be positive, not {rate}")
        self.rate = float(rate)
        self.burst = max(1.0, float(burst) if burst is not None else rate * BURST_SECONDS)
        self._clock = clock
        self._buckets: dict[str, tuple[float, float]] = {}  # key -> (tokens, at)
        self._lock = threading.Lock()

    def acquire(self, key: str) -> float:
        """Take a token for ``key``: 0.0, or the seconds to wait (nothing taken)."""
        with self._lock:
            now = self._clock()
            tokens, at = self._buckets.get(key, (self.burst, now))
            tokens = min(self.burst, tokens + max(0.0, now - at) * self.rate)
            if tokens >= 1.0:
                self._buckets[key] = (tokens - 1.0, now)
                return 0.0
            self._buckets[key] = (tokens, now)
            return (1.0 - tokens) / self.rate


def retry_after_seconds(wait: float) -> int:
    """``Retry-After`` for a wait of ``wait`` seconds: whole seconds, rounded up, >= 1."""
    return max(1, math.ceil(wait))


def parse_rate(text: str) -> float | None:
    """``--rate-limit`` into requests per second; ``None`` for ``off``; ConfigError else."""
    t = text.strip().lower()
    if t in ("off", "none", "0"):
        return None
    number, sep, unit = t.partition("/")
    per = {"s": 1.0, "sec": 1.0, "second": 1.0, "min": 60.0, "minute": 60.0}.get(unit)
    try:
        value = float(number)
    except ValueError:
        value = math.nan
    if not sep or per is None or not math.isfinite(value) or value <= 0:
        raise ConfigError(f"--rate-limit must look like 100/s, 600/min or off, not {text!r}")
    return value / per
