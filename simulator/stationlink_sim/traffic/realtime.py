"""Pacing simulated events to a wall clock (``stationlink sim traffic --realtime``).

Contract:
- :func:`paced` yields the events of a time-ordered stream no earlier than their simulated
  time, mapped onto the wall clock: the first event is released at once, and an event ``d``
  simulated seconds after the first is released ``d / speed`` wall seconds after it.
- The clock and the sleep are injected (``monotonic``, ``sleep``), so tests run on a fake
  clock; with the defaults it uses ``time.monotonic`` and ``time.sleep``.
- A stream that is not in time order is an error (:class:`~stationlink.errors.SimulatorError`).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Iterator

from stationlink.errors import SimulatorError

from .model import SimEvent


def paced(
    events: Iterable[SimEvent],
    *,
    speed: float = 1.0,
    monotonic: Callable[[], float] = time.monotonic,
    sleep: Callable[[float], None] = time.sleep,
) -> Iterator[SimEvent]:
    """Release ``events`` at ``speed`` simulated seconds per wall second."""
    if not speed > 0:
        raise SimulatorError(f"speed must be > 0, not {speed}")
    first_ts: int | None = None
    wall0 = 0.0
    last_ts = 0
    for ev in events:
        if first_ts is None:
            first_ts, wall0 = ev.ts, monotonic()
        elif ev.ts < last_ts:
            raise SimulatorError(
                f"events out of time order: {ev.txn_id} at {ev.ts} after {last_ts}"
            )
        last_ts = ev.ts
        due = wall0 + (ev.ts - first_ts) / speed
        while True:
            wait = due - monotonic()
            if wait <= 0:
                break
            sleep(wait)
        yield ev
