"""Seeded randomness of the sync agent: every part draws from its own child generator.

Contract: :func:`child_rng` derives an independent generator seeded from the agent's ``rng``
(backoff jitter, client refs; never secrets), so a run is reproducible from one seed. The
agent's time source is a :class:`stationlink.clock.TimeSource` (``now()`` for record wall
times, the daily settlement check and status; ``monotonic()`` for scheduling and backoff);
nothing in the agent sleeps except by waiting on an event.
"""

from __future__ import annotations

import random


def child_rng(rng: random.Random) -> random.Random:
    """An independent generator seeded from ``rng`` (jitter and client refs, not secrets)."""
    return random.Random(rng.getrandbits(64))  # noqa: S311


__all__ = ["child_rng"]
