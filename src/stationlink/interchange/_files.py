"""Reading and writing the three interchange files (stations, branches, transactions).

Private to :mod:`stationlink.interchange`, which states the format's contract and re-exports
the public names; import from ``stationlink.interchange``. The row types and the rule function
are in :mod:`._rows`, the fast transactions reader in :mod:`._fast`.
"""


from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import IO

from ..errors import InputDataError, Problem
from ..records.rules import FORMULA_START, reference_problem
from ._fast import read_transaction_table
from ._rows import (
    AREAS,
    BRANCH_COLUMNS,
    STATION_COLUMNS,
    TRANSACTION_COLUMNS,
    Branch,
    ReadResult,
    Station,
    Transaction,
    open_rows,
    source_name,
)


def read_transactions(
    source: str | Path | IO[str],
    *,
    known_stations: Iterable[str] | None = None,
    skip_bad_rows: bool = False,
) -> ReadResult[Transaction]:
    """Read and validate a transactions file (see module contract)."""
    return read_transaction_table(source, source_name(source), known_stations, skip_bad_rows)


def read_transaction_lines(
    lines: Iterable[str],
    name: str,
    *,
    known_stations: Iterable[str] | None = None,
    skip_bad_rows: bool = False,
) -> ReadResult[Transaction]:
    """Like :func:`read_transactions` over lines of CSV text; problems name ``name``."""
    return read_transaction_table(lines, name, known_stations, skip_bad_rows)


def _id_problem(
    name: str, line: int, row: dict[str, str], columns: tuple[str, ...]
) -> Problem | None:
    """The first of ``columns`` whose value the id rule refuses (``records.rules``)."""
    for column in columns:
        reason = reference_problem(row.get(column, "").strip())
        if reason is not None:
            return Problem(name, line, column, f"{column} {reason}")
    return None


def read_stations(
    source: str | Path | IO[str],
    *,
    skip_bad_rows: bool = False,
    known_branches: Iterable[str] | None = None,
) -> ReadResult[Station]:
    """Read and validate a stations file.

    Besides each row's own fields: a station whose branch is not in ``known_branches`` (when
    given) is a bad row, and so is a rural station whose ``village_households`` differs from
    an earlier station of the same village.
    """
    name = source_name(source)
    result: ReadResult[Station] = ReadResult()
    seen: set[str] = set()
    branches = set(known_branches) if known_branches is not None else None
    villages: dict[str, tuple[int, int]] = {}
    for line, row in open_rows(source, STATION_COLUMNS[:3], name):
        sid, branch, area = row["station_id"].strip(), row["branch_id"].strip(), row["area"].strip()
        village = row.get("village_id", "").strip()
        hh_text = row.get("village_households", "").strip()
        problem: Problem | None = None
        households: int | None = None
        bad_id = _id_problem(name, line, row, ("station_id", "branch_id", "village_id"))
        if not sid:
            problem = Problem(name, line, "station_id", "empty station_id")
        elif bad_id is not None:
            problem = bad_id
        elif sid in seen:
            problem = Problem(name, line, "station_id", f"duplicate station {sid!r}")
        elif not branch:
            problem = Problem(name, line, "branch_id", "empty branch_id")
        elif branches is not None and branch not in branches:
            problem = Problem(name, line, "branch_id", f"unknown branch {branch!r}")
        elif area not in AREAS:
            problem = Problem(name, line, "area", f"area must be rural or urban, not {area!r}")
        elif area == "rural":
            if not village:
                problem = Problem(name, line, "village_id", "rural station without a village")
            elif not hh_text.isdigit() or int(hh_text) <= 0:
                problem = Problem(
                    name, line, "village_households", f"not a positive whole number: {hh_text!r}"
                )
            else:
                households = int(hh_text)
                earlier = villages.get(village)
                if earlier is not None and earlier[0] != households:
                    problem = Problem(
                        name, line, "village_households",
                        f"village {village!r} has {earlier[0]} households on line {earlier[1]}, "
                        f"{households} here",
                    )
                else:
                    villages.setdefault(village, (households, line))
        if problem is not None:
            result.problems.append(problem)
            continue
        seen.add(sid)
        result.rows.append(Station(sid, branch, area, village, households))
    if result.problems and not skip_bad_rows:
        raise InputDataError(result.problems)
    return result


def read_branches(
    source: str | Path | IO[str], *, skip_bad_rows: bool = False
) -> ReadResult[Branch]:
    name = source_name(source)
    result: ReadResult[Branch] = ReadResult()
    seen: set[str] = set()
    for line, row in open_rows(source, BRANCH_COLUMNS, name):
        bid, area, plan = (
            row["branch_id"].strip(),
            row["area"].strip(),
            row["plan_effective_stations"].strip(),
        )
        problem: Problem | None = None
        if not bid:
            problem = Problem(name, line, "branch_id", "empty branch_id")
        elif (bad_id := _id_problem(name, line, row, ("branch_id",))) is not None:
            problem = bad_id
        elif bid in seen:
            problem = Problem(name, line, "branch_id", f"duplicate branch {bid!r}")
        elif area not in AREAS:
            problem = Problem(name, line, "area", f"area must be rural or urban, not {area!r}")
        elif not plan.isdigit():
            problem = Problem(
                name, line, "plan_effective_stations", f"not a whole number >= 0: {plan!r}"
            )
        if problem is not None:
            result.problems.append(problem)
            continue
        seen.add(bid)
        result.rows.append(Branch(bid, area, int(plan)))
    if result.problems and not skip_bad_rows:
        raise InputDataError(result.problems)
    return result


def neutralise(cell: str) -> str:
    """``cell`` as written to a CSV file: a ``'`` in front of a value that a spreadsheet would
    take for a formula (module contract), else unchanged."""
    return "'" + cell if cell[:1] in FORMULA_START else cell


def _safe_row(row: dict[str, str]) -> dict[str, str]:
    for key, value in row.items():
        if value[:1] in FORMULA_START:
            row[key] = "'" + value
    return row


def write_transactions(rows: Iterable[Transaction], out: IO[str]) -> int:
    """Write the transactions format; returns the number of rows written."""
    writer = csv.DictWriter(out, fieldnames=TRANSACTION_COLUMNS, lineterminator="\n")
    writer.writeheader()
    n = 0
    for txn in rows:
        writer.writerow(_safe_row(txn.as_row()))
        n += 1
    return n


_LINES = re.compile(r"[^\r\n]*(?:\r\n|\r|\n)|[^\r\n]+")


class _LastLine:
    """A write target that keeps the last string written (``csv`` writes a row at once)."""

    text = ""

    def write(self, text: str) -> int:
        self.text = text
        return len(text)


def transaction_lines(rows: Iterable[Transaction]) -> Iterator[str]:
    """The lines :func:`write_transactions` writes for ``rows`` (header first), one by one.

    Split where reading the written file would split it, so a reader counts the same lines.
    """
    sink = _LastLine()
    writer = csv.DictWriter(sink, fieldnames=TRANSACTION_COLUMNS, lineterminator="\n")
    writer.writeheader()
    yield sink.text
    for txn in rows:
        writer.writerow(_safe_row(txn.as_row()))
        text = sink.text
        if "\r" in text or "\n" in text[:-1]:  # a quoted value with a line break
            yield from _LINES.findall(text)
        else:
            yield text


def write_stations(rows: Iterable[Station], out: IO[str]) -> None:
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(STATION_COLUMNS)
    for s in rows:
        hh = "" if s.village_households is None else str(s.village_households)
        writer.writerow([neutralise(v) for v in (s.station_id, s.branch_id, s.area,
                                                 s.village_id, hh)])


def write_branches(rows: Iterable[Branch], out: IO[str]) -> None:
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(BRANCH_COLUMNS)
    for b in rows:
        writer.writerow([neutralise(v) for v in (b.branch_id, b.area,
                                                 str(b.plan_effective_stations))])


def transactions_to_text(rows: Iterable[Transaction]) -> str:
    buf = io.StringIO()
    write_transactions(rows, buf)
    return buf.getvalue()


