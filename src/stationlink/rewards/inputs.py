"""Input sources for the engine: each returns :class:`Inputs` (stations, branches, rows).

Contract:
- ``from_csv`` reads the three interchange files (``docs/formats.md``). Every bad row of every
  file is collected; without ``skip_bad_rows`` any bad row raises
  :class:`~stationlink.errors.InputDataError` listing all of them (file, line, column,
  reason); with it, the good rows are used and ``info.skipped_bad_rows`` says how many were
  left out. Identical duplicate transaction rows are counted once (``info.duplicate_rows``).
- ``from_hub`` takes the transactions of the given months from a hub database
  (:func:`stationlink.hub.export.hub_transactions`, late records left out unless
  ``include_late``) and puts them through the very reader and rules of the CSV path, as the
  lines ``stationlink hub export --month M`` would write; so it gives the same
  :class:`Inputs` as ``from_csv`` on that export. Its problems name
  ``DB (hub export --month M)`` and the line of that export (several months: their exports
  one after another under one header). A file that is not a hub database raises
  :class:`~stationlink.errors.StorageError` before anything is read
  (:func:`stationlink.hub.hub_schema.check_hub_file`); nothing is written to it.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from ..errors import InputDataError, Problem
from ..interchange import (
    Branch,
    ReadResult,
    Station,
    Transaction,
    read_branches,
    read_stations,
    read_transaction_lines,
    read_transactions,
    transaction_lines,
)
from .statements import RunInfo


@dataclass
class Inputs:
    stations: list[Station]
    branches: list[Branch]
    transactions: Iterable[Transaction]
    info: RunInfo = field(default_factory=RunInfo)
    problems: list[Problem] = field(default_factory=list)


def _reference_files(
    stations: str | Path, branches: str | Path
) -> tuple[ReadResult[Station], ReadResult[Branch]]:
    b = read_branches(branches, skip_bad_rows=True)
    s = read_stations(stations, skip_bad_rows=True, known_branches={x.branch_id for x in b.rows})
    return s, b


def _inputs(s: ReadResult[Station], b: ReadResult[Branch], t: ReadResult[Transaction],
            skip_bad_rows: bool) -> Inputs:
    problems = [*b.problems, *s.problems, *t.problems]
    if problems and not skip_bad_rows:
        raise InputDataError(problems)
    info = RunInfo(skipped_bad_rows=len(problems), duplicate_rows=t.duplicates)
    return Inputs(s.rows, b.rows, t.rows, info, problems)


def from_csv(
    transactions: str | Path,
    stations: str | Path,
    branches: str | Path,
    *,
    skip_bad_rows: bool = False,
    lines: Iterable[str] | None = None,
) -> Inputs:
    """Read the interchange CSV files (see module contract); ``lines``: the transactions
    file's lines as read by the caller (e.g. with a progress report), problems still naming
    ``transactions``."""
    s, b = _reference_files(stations, branches)
    known = {x.station_id for x in s.rows}
    if lines is None:
        t = read_transactions(transactions, skip_bad_rows=True, known_stations=known)
    else:
        t = read_transaction_lines(lines, str(transactions), skip_bad_rows=True,
                                   known_stations=known)
    return _inputs(s, b, t, skip_bad_rows)


def hub_export_name(db_path: str | Path, months: Sequence[str], include_late: bool) -> str:
    """How problems in the hub's rows name their source: the export command's lines."""
    from ..hub.stores import describe

    late = " --include-late" if include_late else ""
    db = describe(db_path)  # a PostgreSQL URL without its password
    if len(months) == 1:
        return f"{db} (hub export --month {months[0]}{late})"
    return (f"{db} (hub export --month {', '.join(months)}{late}, one after another "
            "under one header)")


def from_hub(
    db_path: str | Path,
    stations: str | Path,
    branches: str | Path,
    months: Sequence[str],
    *,
    include_late: bool = False,
    skip_bad_rows: bool = False,
) -> Inputs:
    """The months' transactions as the hub holds them (see module contract)."""
    from ..hub.export import hub_transactions
    from ..hub.hub_schema import check_hub_file
    from ..hub.stores import sqlite_path

    file = sqlite_path(db_path)
    if file is not None:  # a PostgreSQL hub's schema is checked when it is opened
        check_hub_file(file)  # StorageError naming the file; nothing read or written
    s, b = _reference_files(stations, branches)
    rows = (txn for month in months
            for txn in hub_transactions(db_path, month, include_late=include_late))
    t = read_transaction_lines(transaction_lines(rows), hub_export_name(db_path, months,
                                                                         include_late),
                               known_stations={x.station_id for x in s.rows},
                               skip_bad_rows=True)
    return _inputs(s, b, t, skip_bad_rows)
