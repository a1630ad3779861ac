"""The transactions / stations / branches interchange format (``docs/formats.md``).

Contract:
- UTF-8 CSV with a header row; column order is free and extra columns are ignored.
- ``read_*`` functions validate every row and collect a :class:`~stationlink.errors.Problem`
  (file, line, column, reason) for each bad one. With ``skip_bad_rows=False`` (the default)
  any problem raises :class:`~stationlink.errors.InputDataError` listing all of them; with
  ``skip_bad_rows=True`` the good rows are returned with the problems alongside.
- Identical duplicate transaction rows are kept once; a duplicate ``txn_id`` with different
  content is a bad row (the first occurrence is kept, the later one reported).
- ``write_transactions`` writes exactly the columns of :data:`TRANSACTION_COLUMNS`, money with
  two decimals, timestamps ISO 8601 in CST with their offset.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from pathlib import Path
from typing import IO, Generic, TypeVar

from .errors import InputDataError, Problem
from .money import format_yuan, parse_yuan, to_cst

TRANSACTION_COLUMNS = (
    "txn_id",
    "station_id",
    "terminal_id",
    "ts",
    "kind",
    "product",
    "amount",
    "card",
    "status",
)
STATION_COLUMNS = ("station_id", "branch_id", "area", "village_id", "village_households")
BRANCH_COLUMNS = ("branch_id", "area", "plan_effective_stations")

KINDS = ("bill_payment", "withdrawal", "balance_inquiry", "referral")
STATUSES = ("approved", "declined", "reversed")
AREAS = ("rural", "urban")
BILL_PRODUCTS = ("mobile", "unicom", "telecom", "electricity", "water", "gas", "cable_tv")
REFERRAL_PRODUCTS = ("huinongtong", "finance_lead", "car_insurance_lead", "car_insurance_sale")


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


@dataclass
class ReadResult(Generic[T]):
    """Rows that were accepted, and every problem found (empty unless skipping bad rows)."""

    rows: list[T] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)
    duplicates: int = 0


def _open_rows(
    source: str | Path | IO[str], required: tuple[str, ...], name: str
) -> Iterator[tuple[int, dict[str, str]]]:
    """Yield ``(line_number, row)``; raise InputDataError if required columns are missing."""
    if isinstance(source, (str, Path)):
        handle: IO[str] = open(source, encoding="utf-8-sig", newline="")  # noqa: SIM115
        close = True
    else:
        handle, close = source, False
    try:
        reader = csv.DictReader(handle)
        header = reader.fieldnames or []
        missing = [c for c in required if c not in header]
        if missing:
            raise InputDataError(
                [Problem(name, 1, c, "required column missing from header") for c in missing]
            )
        for row in reader:
            yield reader.line_num, {k: (v or "") for k, v in row.items() if k is not None}
    except UnicodeDecodeError as exc:
        raise InputDataError(
            [Problem(name, 0, "", f"not UTF-8 text (byte offset {exc.start})")]
        ) from exc
    finally:
        if close:
            handle.close()


def _name(source: str | Path | IO[str]) -> str:
    if isinstance(source, (str, Path)):
        return str(source)
    return str(getattr(source, "name", "<stream>"))


def parse_timestamp(text: str) -> datetime:
    """ISO 8601 with an offset or ``Z``; naive timestamps are refused."""
    s = text.strip()
    if s.endswith(("Z", "z")):
        s = s[:-1] + "+00:00"
    ts = datetime.fromisoformat(s)
    if ts.tzinfo is None:
        raise ValueError(f"timestamp has no UTC offset: {text!r}")
    return ts


def _transaction(row: dict[str, str]) -> tuple[Transaction | None, str, str]:
    """Parse one row; returns (txn, bad_column, reason)."""
    txn_id = row["txn_id"].strip()
    if not txn_id:
        return None, "txn_id", "empty txn_id"
    station = row["station_id"].strip()
    if not station:
        return None, "station_id", "empty station_id"
    try:
        ts = parse_timestamp(row["ts"])
    except ValueError as exc:
        return None, "ts", f"unparsable time {row['ts']!r}: {exc}"
    kind = row["kind"].strip()
    if kind not in KINDS:
        return None, "kind", f"unknown kind {kind!r} (expected one of {', '.join(KINDS)})"
    product = row["product"].strip()
    if kind == "referral" and product not in REFERRAL_PRODUCTS:
        return None, "product", f"unknown referral product {product!r}"
    if kind == "bill_payment" and not product:
        return None, "product", "bill payment without a product"
    try:
        amount = parse_yuan(row["amount"]) if row["amount"].strip() else Decimal("0.00")
    except ValueError as exc:
        return None, "amount", str(exc)
    if amount < 0:
        return None, "amount", f"negative amount {row['amount']!r}"
    status = row["status"].strip()
    if status not in STATUSES:
        return None, "status", f"unknown status {status!r} (expected one of {', '.join(STATUSES)})"
    card = row["card"].strip()
    if card.isdigit() and len(card) >= 12:
        return None, "card", "looks like a full card number; only card tokens are accepted"
    if kind == "withdrawal" and not card:
        return None, "card", "withdrawal without a card token"
    txn = Transaction(
        txn_id, station, row["terminal_id"].strip(), ts, kind, product, amount, card, status
    )
    return txn, "", ""


def read_transactions(
    source: str | Path | IO[str],
    *,
    known_stations: Iterable[str] | None = None,
    skip_bad_rows: bool = False,
) -> ReadResult[Transaction]:
    """Read and validate a transactions file (see module contract)."""
    name = _name(source)
    stations = set(known_stations) if known_stations is not None else None
    result: ReadResult[Transaction] = ReadResult()
    seen: dict[str, Transaction] = {}
    for line, row in _open_rows(source, TRANSACTION_COLUMNS, name):
        txn, column, reason = _transaction(row)
        if txn is None:
            result.problems.append(Problem(name, line, column, reason))
            continue
        if stations is not None and txn.station_id not in stations:
            result.problems.append(
                Problem(name, line, "station_id", f"unknown station {txn.station_id!r}")
            )
            continue
        earlier = seen.get(txn.txn_id)
        if earlier is not None:
            if earlier == txn:
                result.duplicates += 1
            else:
                reason = f"duplicate txn_id {txn.txn_id!r} with different content"
                result.problems.append(Problem(name, line, "txn_id", reason))
            continue
        seen[txn.txn_id] = txn
        result.rows.append(txn)
    if result.problems and not skip_bad_rows:
        raise InputDataError(result.problems)
    return result


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
    name = _name(source)
    result: ReadResult[Station] = ReadResult()
    seen: set[str] = set()
    branches = set(known_branches) if known_branches is not None else None
    villages: dict[str, tuple[int, int]] = {}
    for line, row in _open_rows(source, STATION_COLUMNS[:3], name):
        sid, branch, area = row["station_id"].strip(), row["branch_id"].strip(), row["area"].strip()
        village = row.get("village_id", "").strip()
        hh_text = row.get("village_households", "").strip()
        problem: Problem | None = None
        households: int | None = None
        if not sid:
            problem = Problem(name, line, "station_id", "empty station_id")
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
    name = _name(source)
    result: ReadResult[Branch] = ReadResult()
    seen: set[str] = set()
    for line, row in _open_rows(source, BRANCH_COLUMNS, name):
        bid, area, plan = (
            row["branch_id"].strip(),
            row["area"].strip(),
            row["plan_effective_stations"].strip(),
        )
        problem: Problem | None = None
        if not bid:
            problem = Problem(name, line, "branch_id", "empty branch_id")
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


def write_transactions(rows: Iterable[Transaction], out: IO[str]) -> int:
    """Write the transactions format; returns the number of rows written."""
    writer = csv.DictWriter(out, fieldnames=TRANSACTION_COLUMNS, lineterminator="\n")
    writer.writeheader()
    n = 0
    for txn in rows:
        writer.writerow(txn.as_row())
        n += 1
    return n


def write_stations(rows: Iterable[Station], out: IO[str]) -> None:
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(STATION_COLUMNS)
    for s in rows:
        hh = "" if s.village_households is None else str(s.village_households)
        writer.writerow([s.station_id, s.branch_id, s.area, s.village_id, hh])


def write_branches(rows: Iterable[Branch], out: IO[str]) -> None:
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(BRANCH_COLUMNS)
    for b in rows:
        writer.writerow([b.branch_id, b.area, str(b.plan_effective_stations)])


def transactions_to_text(rows: Iterable[Transaction]) -> str:
    buf = io.StringIO()
    write_transactions(rows, buf)
    return buf.getvalue()
