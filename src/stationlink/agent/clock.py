"""Time sources of the sync agent: an aware wall clock and a monotonic clock, injectable.

Contract: :class:`AgentClock` is what the agent reads — ``now()`` (aware, used for record
wall times, the daily settlement check and status) and ``monotonic()`` (seconds, used for
scheduling and backoff). It is :class:`stationlink.clock.Clock`; :class:`SystemClock` (reads
the machine) and :class:`ManualClock` (moves only when told; unit tests) are the ones of
:mod:`stationlink.clock`, re-exported here. Nothing here sleeps: waiting is the caller's
business (``threading.Event.wait`` in :meth:`stationlink.agent.Agent.run_forever`).
:func:`child_rng` derives an independent seeded generator for a part of the agent.
"""

from __future__ import annotations

import random

from ..clock import Clock as AgentClock
from ..clock import ManualClock, SystemClock


def child_rng(rng: random.Random) -> random.Random:
    """An independent generator seeded from ``rng`` (jitter and client refs, not secrets)."""
    return random.Random(rng.getrandbits(64))  # noqa: S311


__all__ = ["AgentClock", "ManualClock", "SystemClock", "child_rng"]
