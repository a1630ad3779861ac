"""The rows of the interchange format: columns, record types, the rules and the CSV plumbing.

Private to :mod:`stationlink.interchange` (which re-exports the public names and states the
format's contract) and its fast reader :mod:`._fast`; import from ``stationlink.interchange``.

Contract:
- :class:`Transaction`, :class:`Station`, :class:`Branch` are frozen, slotted records of one
  row each; :class:`ReadResult` holds the accepted rows, the problems and the count of
  identical duplicates.
- :func:`check_transaction` is *the* rule function of a transactions row: it returns the
  :class:`Transaction` or the first failing column and the reason, worded for the user. Every
  transactions reader judges a row it does not accept outright by this function.
- :func:`parse_timestamp` takes ISO 8601 with an offset (or ``Z``) and refuses naive times;
  a ``+08:00`` time comes back with :data:`~stationlink.money.CST` as its tzinfo.
- :func:`open_table` opens a CSV table (path, stream or lines) and checks the header's
  required columns; :func:`open_rows` yields ``(line, row dict)`` like ``csv.DictReader``.
  Undecodable text and unreadable CSV raise :class:`~stationlink.errors.InputDataError`
  naming the file and line (and the byte offset of bad UTF-8); a file opened here is closed.
"""

from __future__ import annotations

import csv
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import IO, Generic, TypeVar

from ..errors import InputDataError, Problem
from ..money import CST, format_yuan, parse_yuan, to_cst
from ..records import fields, rules
from ..records.vocab import BILL_PRODUCTS, KINDS, REFERRAL_PRODUCTS, STATUSES

#: The transactions file's columns, from the declaration (``records.fields.TRANSACTION``).
TRANSACTION_COLUMNS = fields.TRANSACTION_COLUMNS
STATION_COLUMNS = ("station_id", "branch_id", "area", "village_id", "village_households")
BRANCH_COLUMNS = ("branch_id", "area", "plan_effective_stations")

AREAS = ("rural", "urban")


@dataclass(frozen=True, slots=True)
class Transaction:
    """One row of the transactions file. ``card`` is a card token, never a card number."""

    txn_id: str
    station_id: str
    terminal_id: str
    ts: datetime
    kind: str
    product: str
    amount: Decimal
    card: str
    status: str

    def as_row(self) -> dict[str, str]:
        return {
            "txn_id": self.txn_id,
            "station_id": self.station_id,
            "terminal_id": self.terminal_id,
            "ts": to_cst(self.ts).isoformat(),
            "kind": self.kind,
            "product": self.product,
            "amount": format_yuan(self.amount),
            "card": self.card,
            "status": self.status,
        }


@dataclass(frozen=True, slots=True)
class Station:
    station_id: str
    branch_id: str
    area: str
    village_id: str
    village_households: int | None


@dataclass(frozen=True, slots=True)
class Branch:
    branch_id: str
    area: str
    plan_effective_stations: int


T = TypeVar("T")
Rows = Iterator[list[str]]


@dataclass
class ReadResult(Generic[T]):
    """Rows that were accepted, and every problem found (empty unless skipping bad rows)."""

    rows: list[T] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)
    duplicates: int = 0


_CST_OFFSET = timedelta(hours=8)
_ZERO = Decimal("0.00")
#: Longer amount text is not money (the largest amount allowed has 15 characters).
_AMOUNT_TEXT_MAX = 40


@contextmanager
def open_table(
    source: str | Path | IO[str] | Iterable[str], required: tuple[str, ...], name: str
) -> Iterator[tuple[Rows, dict[str, int], Callable[[], int]]]:
    """Open a CSV table: ``(rows, column -> index, current line number)``.

    Raises InputDataError if a required column is missing from the header, or (also while the
    rows are read) if the text is not UTF-8 or not CSV (a field over the csv module's size
    limit). A repeated column name means its last occurrence, as with ``csv.DictReader``.
    """
    opened: IO[str] | None = None
    lines: Iterable[str]
    if isinstance(source, (str, Path)):
        lines = opened = open(source, encoding="utf-8-sig", newline="")  # noqa: SIM115
    else:
        lines = source
    try:
        reader = csv.reader(lines)
        header = next(reader, [])
        index = {column: i for i, column in enumerate(header)}
        missing = [c for c in required if c not in index]
        if missing:
            raise InputDataError(
                [Problem(name, 1, c, "required column missing from header") for c in missing]
            )
        yield reader, index, lambda: reader.line_num
    except UnicodeDecodeError as exc:
        raise InputDataError(
            [Problem(name, 0, "", f"not UTF-8 text (byte offset {exc.start})")]
        ) from exc
    except csv.Error as exc:  # e.g. a field longer than csv.field_size_limit()
        raise InputDataError(
            [Problem(name, reader.line_num, "", f"not readable as CSV: {exc}")]
        ) from exc
    finally:
        if opened is not None:
            opened.close()


def open_rows(
    source: str | Path | IO[str], required: tuple[str, ...], name: str
) -> Iterator[tuple[int, dict[str, str]]]:
    """Yield ``(line_number, row)`` like ``csv.DictReader``: blank lines skipped, missing
    trailing fields empty, fields beyond the header ignored."""
    with open_table(source, required, name) as (rows, index, line_num):
        columns = list(index.items())
        for row in rows:
            if row:
                n = len(row)
                yield line_num(), {c: (row[i] if i < n else "") for c, i in columns}


def source_name(source: str | Path | IO[str]) -> str:
    """The name problems give a source: its path, else the stream's ``name``."""
    if isinstance(source, (str, Path)):
        return str(source)
    return str(getattr(source, "name", "<stream>"))


def parse_timestamp(text: str) -> datetime:
    """ISO 8601 with an offset or ``Z``; naive timestamps are refused, and so is a time the
    record rules refuse (offset beyond +-14:00, outside 1970..2099: ``records.rules``).

    A ``+08:00`` offset comes back with :data:`~stationlink.money.CST` as its tzinfo (the
    same instant; comparing and subtracting timestamps that share a tzinfo object is several
    times faster, which the reward engine's pass over millions of rows relies on).
    """
    s = text.strip()
    if s.endswith(("Z", "z")):
        s = s[:-1] + "+00:00"
    ts = datetime.fromisoformat(s)
    if ts.tzinfo is None:
        raise ValueError(f"timestamp has no UTC offset: {text!r}")
    if ts.utcoffset() == _CST_OFFSET:
        if ts.tzinfo is not CST:
            ts = ts.replace(tzinfo=CST)
        if 1971 <= ts.year <= 2098:  # the common case: well inside the rules' window
            return ts
    problem = rules.time_problem(ts)
    if problem is not None:
        raise ValueError(problem)
    return ts


def parse_amount(text: str) -> Decimal:
    """Decimal yuan (at most two decimals), empty meaning 0.00; ``ValueError`` otherwise,
    also for a number too large to be money (``1e30``)."""
    if not text.strip():
        return _ZERO
    if len(text) > _AMOUNT_TEXT_MAX:
        raise ValueError(f"not an amount of money: {rules.shown(text)} ({len(text)} characters)")
    try:
        return parse_yuan(text)
    except ArithmeticError as exc:  # decimal.InvalidOperation: beyond 28 digits
        raise ValueError(f"not an amount of money: {rules.shown(text)}") from exc
    except ValueError as exc:
        if rules.shown(text) == repr(text):  # its wording quotes the text
            raise
        raise ValueError(f"not an amount of money: {rules.shown(text)}") from exc


def amount_fen(amount: Decimal) -> int:
    """Exact yuan (two decimals, as :func:`parse_amount` gives them) as integer fen."""
    return int(amount.scaleb(2))


def _column_problem(
    row: dict[str, str], column: str, check: Callable[[str], str | None]
) -> tuple[None, str, str] | None:
    problem = check(row[column].strip())
    return None if problem is None else (None, column, f"{column} {problem}")


def check_transaction(row: dict[str, str]) -> tuple[Transaction | None, str, str]:
    """Parse one row by every rule; returns ``(txn, "", "")`` or ``(None, column, reason)``.

    The one place where a bad row is judged and its problem worded (see module contract);
    the rules themselves are :mod:`stationlink.records.rules`.
    """
    txn_id = row["txn_id"].strip()
    if not txn_id:
        return None, "txn_id", "empty txn_id"
    station = row["station_id"].strip()
    if not station:
        return None, "station_id", "empty station_id"
    for column in ("txn_id", "station_id", "terminal_id"):
        bad = _column_problem(row, column, rules.reference_problem)
        if bad is not None:
            return bad
    try:
        ts = parse_timestamp(row["ts"])
    except ValueError as exc:
        return None, "ts", f"unparsable time {rules.shown(row['ts'])}: {exc}"
    kind = row["kind"].strip()
    if kind not in KINDS:
        return None, "kind", (f"unknown kind {rules.shown(kind)} "
                              f"(expected one of {', '.join(KINDS)})")
    product = row["product"].strip()
    problem = rules.product_problem(kind, product)
    if problem is not None:
        return None, "product", problem
    try:
        amount = parse_amount(row["amount"])
    except ValueError as exc:
        return None, "amount", str(exc)
    if amount < 0:
        return None, "amount", f"negative amount {rules.shown(row['amount'])}"
    status = row["status"].strip()
    if status not in STATUSES:
        return None, "status", (f"unknown status {rules.shown(status)} "
                                f"(expected one of {', '.join(STATUSES)})")
    problem = rules.amount_problem(kind, status, amount_fen(amount))
    if problem is not None:
        return None, "amount", problem
    card = row["card"].strip()
    problem = rules.card_problem(card)
    if problem is not None:
        return None, "card", problem
    problem = rules.card_required_problem(kind, status, card)
    if problem is not None:
        return None, "card", problem
    txn = Transaction(
        txn_id, station, row["terminal_id"].strip(), ts, kind, product, amount, card, status
    )
    return txn, "", ""


__all__ = [
    "AREAS", "BILL_PRODUCTS", "BRANCH_COLUMNS", "KINDS", "REFERRAL_PRODUCTS", "STATION_COLUMNS",
    "STATUSES", "TRANSACTION_COLUMNS", "Branch", "ReadResult", "Station", "Transaction",
    "amount_fen", "check_transaction", "open_rows", "open_table", "parse_amount",
    "parse_timestamp", "source_name",
]
