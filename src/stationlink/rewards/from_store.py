"""Rewards from the store: the hub computes the month's tallies in SQL, the engine the policy.

Contract:
- :func:`compute_from_tallies` applies a policy on a store's
  :class:`~stationlink.hub.store.MonthTallies` for consecutive months and returns the same
  :class:`~.statements.MonthResult` per month, to the fen and to the letter, as
  :func:`~.engine.compute_months` over the rows those tallies aggregate (the policy step is
  one shared function, :func:`~.engine.statements_from`). A row of a station not in
  ``stations`` raises :class:`~stationlink.errors.InputDataError` naming the station and how
  many rows it has.
- :func:`hub_months` is ``rewards compute --hub``'s path: the stations and branches files are
  read as :func:`~.inputs.from_hub` reads them; the hub (a SQLite file or a PostgreSQL URL,
  opened by :func:`~stationlink.hub.stores.open_hub_store`) is asked for its tallies
  (``HubStore.month_tallies``, nothing written). A SQLite file is first checked read-only
  (:func:`~stationlink.hub.hub_schema.check_hub_file`: a file that is no hub database is a
  ``StorageError`` before anything is read).
  It returns ``None`` — "use the row path" — at the first doubt: a bad row in the stations or
  branches file, or a hub row whose station the stations file does not know. The row path
  (:func:`~.inputs.from_hub`) then reports each bad row with its file and line exactly as
  before. The hub's rows themselves passed the record rules at ingest (the same rules the CSV
  reader applies, :mod:`stationlink.records.rules`), so they need no second check here.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from decimal import Decimal
from pathlib import Path

from ..errors import ConfigError, InputDataError, Problem
from ..hub.store import MonthTallies
from ..interchange import Branch, Station
from ..money import fen_to_yuan
from .engine import Capped, _check_refs, month_period, statements_from
from .inputs import _reference_files
from .model import Policy
from .statements import MonthResult, RunInfo


def compute_from_tallies(
    policy: Policy,
    stations: Sequence[Station],
    branches: Sequence[Branch],
    tallies: MonthTallies,
    *,
    info: RunInfo | None = None,
) -> tuple[MonthResult, ...]:
    """Statements for the tallies' months (module contract)."""
    periods = tuple(month_period(m) for m in tallies.months)
    for a, b in zip(periods, periods[1:], strict=False):
        if a.end != b.start:
            raise ConfigError(f"months must be consecutive: {a.label} then {b.label}")
    _check_refs(stations, branches)
    index = {p.label: i for i, p in enumerate(periods)}
    known = {s.station_id for s in stations}
    unknown: dict[str, int] = defaultdict(int)
    cells: dict[tuple[int, str, str, str], tuple[int, Decimal]] = {}
    not_approved: dict[tuple[int, str, str], int] = defaultdict(int)
    rows = outside = 0
    for (month, st, status, kind, product), (n, fen) in tallies.cells.items():
        rows += n
        if st not in known:
            unknown[st] += n
            continue
        p = index.get(month)
        if p is None:
            outside += n
        elif status == "approved":
            cells[(p, st, kind, product)] = (n, fen_to_yuan(fen))
        else:
            not_approved[(p, st, status)] += n
    if unknown:
        raise InputDataError([
            Problem("transactions", 0, "station_id",
                    f"station {st!r}: unknown station ({n} transaction(s))")
            for st, n in sorted(unknown.items())
        ])
    capped: Capped = defaultdict(dict)
    for (month, st, name), valid in tallies.valid.items():
        p = index.get(month)
        if p is not None:
            capped[(p, st)][name] = (valid, [])
    for month, st, name, card, date, swipes in tallies.over:
        p = index.get(month)
        if p is not None:
            capped[(p, st)][name][1].append((card, date, swipes))
    return statements_from(policy, stations, branches, periods, cells, not_approved, capped,
                           rows, outside, info)


def hub_months(
    db_path: str | Path,
    stations: str | Path,
    branches: str | Path,
    months: Sequence[str],
    policy: Policy,
    *,
    include_late: bool = False,
) -> tuple[MonthResult, ...] | None:
    """The months' statements from the hub's SQL tallies, or ``None`` (module contract)."""
    from ..hub.hub_schema import check_hub_file
    from ..hub.stores import open_hub_store, sqlite_path

    file = sqlite_path(db_path)
    if file is not None:  # a PostgreSQL hub's schema is checked when it is opened
        check_hub_file(file)  # StorageError naming the file; nothing read or written
    s, b = _reference_files(stations, branches)
    if s.problems or b.problems:
        return None
    for m in months:
        month_period(m)  # ConfigError for a malformed month before the store is opened
    capped = [c for c in policy.counts.values() if c.cap_per_card_per_day is not None]
    store = open_hub_store(db_path, create=False)
    try:
        tallies = store.month_tallies(months, include_late=include_late, capped=capped)
    finally:
        store.close()
    known = {x.station_id for x in s.rows}
    if any(st not in known for (_, st, _, _, _) in tallies.cells):
        return None
    return compute_from_tallies(policy, s.rows, b.rows, tallies)
