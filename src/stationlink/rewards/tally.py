"""One pass over transactions into per-station, per-period tallies (the engine's hot loop).

Contract:
- ``tally(txns, periods, capped, known_stations)`` reads any iterable of
  :class:`~stationlink.interchange.Transaction` exactly once, in any order, and returns the
  same :class:`Tally` for every order of the same rows.
- A row belongs to the period whose ``[start, end)`` contains its timestamp (aware datetimes
  compare by instant, so any UTC offset works); rows outside every period are only counted.
- Approved rows are summed per ``(period, station, kind, product)`` as ``[count, amount]``
  (``Decimal`` addition of two-decimal amounts is exact). Declined and reversed rows are only
  counted, per station and status.
- For each count with a per-card-per-day cap, swipes are counted per
  ``(period, station, card token, CST calendar day)``; the valid number is
  ``min(swipes, cap)`` per card-day. (The first ``cap`` by time are the valid ones; which
  ones they are does not change any count, so no sorting is needed.)
- A row for a station not in ``known_stations`` is collected in ``unknown`` (by txn_id), not
  tallied.
- The pass runs with the cyclic garbage collector paused (:func:`gc_paused`, shared with the
  transactions reader): the engine allocates no reference cycles, and with millions of live
  rows every full collection would rescan all of them for nothing.
"""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from ..interchange import Transaction
from ..interchange._fast import gc_paused as gc_paused  # re-exported: engine and CLI use it
from ..money import CST
from .model import CountDef

CST_EPOCH = datetime(1970, 1, 1, tzinfo=CST)
ONE_DAY = timedelta(days=1)


@dataclass(frozen=True)
class Period:
    label: str
    start: datetime
    end: datetime


@dataclass
class Tally:
    periods: tuple[Period, ...]
    #: (period index, station, kind, product) -> [count, amount]
    cells: dict[tuple[int, str, str, str], list[Any]] = field(default_factory=dict)
    #: (period index, station, status) -> count, for declined and reversed rows
    not_approved: dict[tuple[int, str, str], int] = field(default_factory=dict)
    #: (period index, station, capped count name, card, CST day number) -> swipes
    card_days: dict[tuple[int, str, str, str, int], int] = field(default_factory=dict)
    outside: int = 0
    unknown: list[str] = field(default_factory=list)
    rows: int = 0


def day_number(ts: datetime) -> int:
    """Days since 1970-01-01 in CST: two timestamps share a number iff same CST day."""
    return (ts - CST_EPOCH) // ONE_DAY


def tally(
    txns: Iterable[Transaction],
    periods: tuple[Period, ...],
    capped: Iterable[CountDef],
    known_stations: set[str] | None = None,
) -> Tally:
    """Aggregate ``txns`` in one pass (see module contract)."""
    with gc_paused():
        return _tally(txns, periods, capped, known_stations)


def _tally(
    txns: Iterable[Transaction],
    periods: tuple[Period, ...],
    capped: Iterable[CountDef],
    known_stations: set[str] | None,
) -> Tally:
    result = Tally(periods)
    cells = result.cells
    not_approved = result.not_approved
    card_days = result.card_days
    unknown = result.unknown
    capped_defs = list(capped)
    cap_kinds = {c.kind for c in capped_defs}
    capped_for: dict[tuple[str, str], tuple[str, ...]] = {}
    start, end = periods[0].start, periods[-1].end
    bounds = [p.end for p in periods[:-1]]
    single = not bounds
    outside = rows = 0
    epoch, one_day = CST_EPOCH, ONE_DAY
    for t in txns:
        rows += 1
        st = t.station_id
        if known_stations is not None and st not in known_stations:
            unknown.append(t.txn_id)
            continue
        ts = t.ts
        if ts < start or ts >= end:
            outside += 1
            continue
        p = 0 if single else bisect_right(bounds, ts)
        status = t.status
        if status != "approved":
            nk = (p, st, status)
            not_approved[nk] = not_approved.get(nk, 0) + 1
            continue
        kind = t.kind
        product = t.product
        key = (p, st, kind, product)
        cell = cells.get(key)
        if cell is None:
            cells[key] = [1, t.amount]
        else:
            cell[0] += 1
            cell[1] += t.amount
        if kind in cap_kinds:
            names = capped_for.get((kind, product))
            if names is None:
                names = tuple(c.name for c in capped_defs if c.matches(kind, product))
                capped_for[(kind, product)] = names
            if names:
                day = (ts - epoch) // one_day
                for name in names:
                    ck = (p, st, name, t.card, day)
                    card_days[ck] = card_days.get(ck, 0) + 1
    result.outside = outside
    result.rows = rows
    return result
