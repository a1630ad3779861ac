"""Input sources for the engine: each returns :class:`Inputs` (stations, branches, rows).

Contract: ``from_csv`` reads the three interchange files (``docs/formats.md``). Every bad row
of every file is collected; without ``skip_bad_rows`` any bad row raises
:class:`~stationlink.errors.InputDataError` listing all of them (file, line, column, reason);
with it, the good rows are used and ``info.skipped_bad_rows`` says how many were left out.
Identical duplicate transaction rows are counted once (``info.duplicate_rows``).
Another source (e.g. a hub database) only needs to build an :class:`Inputs`.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from ..errors import InputDataError, Problem
from ..interchange import (
    Branch,
    Station,
    Transaction,
    read_branches,
    read_stations,
    read_transactions,
)
from .statements import RunInfo


@dataclass
class Inputs:
    stations: list[Station]
    branches: list[Branch]
    transactions: Iterable[Transaction]
    info: RunInfo = field(default_factory=RunInfo)
    problems: list[Problem] = field(default_factory=list)


def from_csv(
    transactions: str | Path,
    stations: str | Path,
    branches: str | Path,
    *,
    skip_bad_rows: bool = False,
) -> Inputs:
    """Read the interchange CSV files (see module contract)."""
    b = read_branches(branches, skip_bad_rows=True)
    s = read_stations(stations, skip_bad_rows=True,
                      known_branches={x.branch_id for x in b.rows})
    t = read_transactions(transactions, skip_bad_rows=True,
                          known_stations={x.station_id for x in s.rows})
    problems = [*b.problems, *s.problems, *t.problems]
    if problems and not skip_bad_rows:
        raise InputDataError(problems)
    info = RunInfo(skipped_bad_rows=len(problems), duplicate_rows=t.duplicates)
    return Inputs(s.rows, b.rows, t.rows, info, problems)
