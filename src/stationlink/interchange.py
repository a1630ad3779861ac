"""The transactions / stations / branches interchange format (``docs/formats.md``).

Contract:
- UTF-8 CSV with a header row; column order is free and extra columns are ignored.
- ``read_*`` functions validate every row and collect a :class:`~stationlink.errors.Problem`
  (file, line, column, reason) for each bad one. With ``skip_bad_rows=False`` (the default)
  any problem raises :class:`~stationlink.errors.InputDataError` listing all of them; with
  ``skip_bad_rows=True`` the good rows are returned with the problems alongside.
- Identical duplicate transaction rows are kept once; a duplicate ``txn_id`` with different
  content is a bad row (the first occurrence is kept, the later one reported).
- ``read_transaction_lines`` reads lines of CSV text the same way (e.g. a hub's rows as
  :func:`transaction_lines` gives them, which are the lines ``write_transactions`` writes).
- The transactions reader is built for millions of rows (``docs/formats.md``, "Reading the
  files"): a fast path accepts a row only when every rule holds; any other row is judged by
  the one rule function, so no check is skipped and every problem reads the same.
- ``write_transactions`` writes exactly the columns of :data:`TRANSACTION_COLUMNS`, money with
  two decimals, timestamps ISO 8601 in CST with their offset.
"""

from __future__ import annotations

import csv
import gc
import io
import re
import sys
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import IO, Generic, TypeVar

from .errors import InputDataError, Problem
from .money import CST, format_yuan, parse_yuan, to_cst

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
Rows = Iterator[list[str]]


@dataclass
class ReadResult(Generic[T]):
    """Rows that were accepted, and every problem found (empty unless skipping bad rows)."""

    rows: list[T] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)
    duplicates: int = 0


@contextmanager
def _table(
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


def _open_rows(
    source: str | Path | IO[str], required: tuple[str, ...], name: str
) -> Iterator[tuple[int, dict[str, str]]]:
    """Yield ``(line_number, row)`` like ``csv.DictReader``: blank lines skipped, missing
    trailing fields empty, fields beyond the header ignored."""
    with _table(source, required, name) as (rows, index, line_num):
        columns = list(index.items())
        for row in rows:
            if row:
                n = len(row)
                yield line_num(), {c: (row[i] if i < n else "") for c, i in columns}


@contextmanager
def _gc_paused() -> Iterator[None]:
    """Pause the cyclic garbage collector while millions of rows (no cycles) are built."""
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


def _name(source: str | Path | IO[str]) -> str:
    if isinstance(source, (str, Path)):
        return str(source)
    return str(getattr(source, "name", "<stream>"))


def parse_timestamp(text: str) -> datetime:
    """ISO 8601 with an offset or ``Z``; naive timestamps are refused.

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
    if ts.utcoffset() == _CST_OFFSET and ts.tzinfo is not CST:
        ts = ts.replace(tzinfo=CST)
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


#: kind -> what its product must be: 0 anything, 1 non-empty, 2 a referral product.
_PRODUCT_RULE = {k: {"bill_payment": 1, "referral": 2}.get(k, 0) for k in KINDS}
_REFERRALS = frozenset(REFERRAL_PRODUCTS)
_STATUSES = frozenset(STATUSES)
_ZERO = Decimal("0.00")
_CST_OFFSET = timedelta(hours=8)
#: Build a Transaction without its generated ``__init__`` (which, for a frozen dataclass, goes
#: through ``object.__setattr__`` per field): ``object.__new__`` plus each slot's own setter.
#: The result is the same object ``Transaction(...)`` makes (it has no ``__post_init__``).
_NEW = object.__new__
_SET = tuple(getattr(Transaction, f).__set__ for f in Transaction.__slots__)
#: Parsed timestamps and amounts are cached by their text up to this many entries each.
_CACHE_LIMIT = 1 << 18


def _parse_ts_cached(text: str, cache: dict[str, datetime]) -> datetime | None:
    try:
        ts = parse_timestamp(text)
    except ValueError:
        return None
    if len(cache) < _CACHE_LIMIT:
        cache[text] = ts
    return ts


def _parse_amount_cached(text: str, cache: dict[str, Decimal]) -> Decimal | None:
    try:
        amount = parse_yuan(text) if text.strip() else _ZERO
    except ValueError:
        return None
    if amount < 0:
        return None
    if len(cache) < _CACHE_LIMIT:
        cache[text] = amount
    return amount


def _read_transactions(
    source: str | Path | IO[str] | Iterable[str],
    name: str,
    known_stations: Iterable[str] | None,
    skip_bad_rows: bool,
) -> ReadResult[Transaction]:
    """The reader behind :func:`read_transactions` (see module contract).

    Each row first goes through a fast path that accepts it only when every rule of
    :func:`_transaction` holds, building the very same :class:`Transaction`; any other row is
    handed to :func:`_transaction` itself, so every problem is found and worded by one piece
    of code. Timestamps and amounts are parsed once per distinct text; repeated strings
    (stations, terminals, kinds, products, cards, statuses) are interned.
    """
    stations = set(known_stations) if known_stations is not None else None
    result: ReadResult[Transaction] = ReadResult()
    problems, accepted = result.problems, result.rows
    seen: set[str] = set()
    by_id: dict[str, Transaction] | None = None  # built at the first repeated txn_id
    ts_cache: dict[str, datetime] = {}
    amount_cache: dict[str, Decimal] = {}
    product_rule, referrals, statuses = _PRODUCT_RULE, _REFERRALS, _STATUSES
    intern, new = sys.intern, _NEW
    set_id, set_st, set_term, set_ts, set_kind, set_prod, set_amount, set_card, set_status = _SET
    with _table(source, TRANSACTION_COLUMNS, name) as (rows, index, line_num), _gc_paused():
        columns = [index[c] for c in TRANSACTION_COLUMNS]
        i_id, i_st, i_term, i_ts, i_kind, i_prod, i_amt, i_card, i_status = columns
        width = max(columns) + 1
        for row in rows:
            if len(row) < width:
                if not row:
                    continue  # a blank line
                row = row + [""] * (width - len(row))
            txn_id = row[i_id].strip()
            station = row[i_st].strip()
            raw_ts = row[i_ts]
            ts = ts_cache.get(raw_ts)
            if ts is None:
                ts = _parse_ts_cached(raw_ts, ts_cache)
            raw_amount = row[i_amt]
            amount = amount_cache.get(raw_amount)
            if amount is None:
                amount = _parse_amount_cached(raw_amount, amount_cache)
            kind = row[i_kind].strip()
            product = row[i_prod].strip()
            card = row[i_card].strip()
            status = row[i_status].strip()
            rule = product_rule.get(kind)
            txn: Transaction | None
            if (
                txn_id and station and ts is not None and amount is not None
                and rule is not None and status in statuses
                and (rule == 0 or (product in referrals if rule == 2 else product != ""))
                and (card or kind != "withdrawal")
                and not (len(card) >= 12 and card.isdigit())
            ):
                txn = new(Transaction)
                set_id(txn, txn_id)
                set_st(txn, intern(station))
                set_term(txn, intern(row[i_term].strip()))
                set_ts(txn, ts)
                set_kind(txn, intern(kind))
                set_prod(txn, intern(product))
                set_amount(txn, amount)
                set_card(txn, intern(card))
                set_status(txn, intern(status))
            else:
                fields = {c: row[i] for c, i in zip(TRANSACTION_COLUMNS, columns, strict=True)}
                txn, column, reason = _transaction(fields)
                if txn is None:
                    problems.append(Problem(name, line_num(), column, reason))
                    continue
            if stations is not None and txn.station_id not in stations:
                problems.append(Problem(name, line_num(), "station_id",
                                        f"unknown station {txn.station_id!r}"))
                continue
            n = len(seen)
            seen.add(txn.txn_id)
            if len(seen) == n:  # a txn_id read before
                if by_id is None:
                    by_id = {t.txn_id: t for t in accepted}
                if by_id[txn.txn_id] == txn:
                    result.duplicates += 1
                else:
                    reason = f"duplicate txn_id {txn.txn_id!r} with different content"
                    problems.append(Problem(name, line_num(), "txn_id", reason))
                continue
            if by_id is not None:
                by_id[txn.txn_id] = txn
            accepted.append(txn)
    if problems and not skip_bad_rows:
        raise InputDataError(problems)
    return result


def read_transactions(
    source: str | Path | IO[str],
    *,
    known_stations: Iterable[str] | None = None,
    skip_bad_rows: bool = False,
) -> ReadResult[Transaction]:
    """Read and validate a transactions file (see module contract)."""
    return _read_transactions(source, _name(source), known_stations, skip_bad_rows)


def read_transaction_lines(
    lines: Iterable[str],
    name: str,
    *,
    known_stations: Iterable[str] | None = None,
    skip_bad_rows: bool = False,
) -> ReadResult[Transaction]:
    """Like :func:`read_transactions` over lines of CSV text; problems name ``name``."""
    return _read_transactions(lines, name, known_stations, skip_bad_rows)


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
        writer.writerow(txn.as_row())
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
