"""Retry pacing for the sync agent: :class:`Backoff`.

Contract: capped exponential backoff with full jitter — the n-th delay (n from 0) is drawn
uniformly from ``[0, min(cap, base * 2**n)]`` with the injected ``random.Random``; a
``Retry-After`` from the hub is honoured (the delay is at least that, capped by
``max_retry_after``). ``reset()`` after a success starts again from ``base``. Seconds are
floats: they are durations, not money.
"""

from __future__ import annotations

import random

from ..errors import ConfigError


class Backoff:
    def __init__(
        self,
        rng: random.Random,
        *,
        base: float = 0.5,
        cap: float = 60.0,
        max_retry_after: float = 3600.0,
    ) -> None:
        if base <= 0 or cap < base or max_retry_after < 0:
            raise ConfigError(f"bad backoff settings: base={base}, cap={cap}")
        self._rng = rng
        self.base = base
        self.cap = cap
        self.max_retry_after = max_retry_after
        self.attempt = 0

    def ceiling(self) -> float:
        """The upper bound of the next jittered delay."""
        return float(min(self.cap, self.base * 2.0 ** min(self.attempt, 62)))

    def next_delay(self, retry_after: float | None = None) -> float:
        """Seconds to wait before the next attempt; advances the attempt counter."""
        delay = self._rng.uniform(0.0, self.ceiling())
        self.attempt += 1
        if retry_after is not None:
            delay = max(delay, min(max(retry_after, 0.0), self.max_retry_after))
        return delay

    def reset(self) -> None:
        self.attempt = 0
