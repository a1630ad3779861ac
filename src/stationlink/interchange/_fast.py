"""The fast reader of the transactions file, for millions of rows (``docs/formats.md``).

Private to the package: :mod:`stationlink.interchange`, whose ``read_transactions`` and
``read_transaction_lines`` call :func:`read_transaction_table` (the format's contract is
stated there), and the reward engine, which runs its pass under :func:`gc_paused` too.

Contract:
- The result equals reading each row with ``csv.DictReader`` and judging it by
  :func:`~stationlink.interchange._rows.check_transaction`, then the known-station and duplicate
  checks: the same accepted rows (equal :class:`~stationlink.interchange._rows.Transaction` s), the
  same problems (file, line, column, reason) in the same order, the same count of identical
  duplicates. ``tests/rewards/test_rewards_reader.py`` checks this against such a reader.
- How: a row goes through a fast path that accepts it only when every rule holds, building
  the very same ``Transaction`` without its generated ``__init__``; any other row is handed
  to ``check_transaction``, so every problem is found and worded by one piece of code.
  Timestamps and amounts are parsed once per distinct text (at most ``_CACHE_LIMIT`` texts of
  each are remembered); repeated strings are interned; the cyclic garbage collector is paused
  while the rows are built (and resumed however the read ends).
- With problems and not ``skip_bad_rows``, :class:`~stationlink.errors.InputDataError` lists
  all of them; with it, the good rows are returned with the problems alongside.
"""

from __future__ import annotations

import gc
import sys
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from datetime import datetime
from decimal import Decimal
from pathlib import Path
from typing import IO, TypeVar

from ..errors import InputDataError, Problem
from ..records import rules
from ..records.cardnum import RUN_PATTERN
from ..records.vocab import (
    BILL_PRODUCTS,
    CEILING_FEN,
    KINDS,
    MAX_TEXT,
    MOVED,
    REFERRAL_PRODUCTS,
    REQUEST_MAX_FEN,
    STATUSES,
    Kind,
)
from ._rows import (
    TRANSACTION_COLUMNS,
    ReadResult,
    Transaction,
    check_transaction,
    open_table,
    parse_amount,
    parse_timestamp,
)

#: kind -> the products a row of that kind may carry (``records.rules.product_problem``).
_PRODUCTS: dict[str, frozenset[str]] = {
    k: frozenset(BILL_PRODUCTS if k == Kind.BILL_PAYMENT
                 else REFERRAL_PRODUCTS if k == Kind.REFERRAL else ("",))
    for k in KINDS
}
#: status -> kind -> the largest amount in yuan (``records.rules.amount_problem``).
_CEILINGS: dict[str, dict[str, Decimal]] = {
    st: {k: (Decimal(CEILING_FEN[k]) if st in MOVED else Decimal(REQUEST_MAX_FEN)).scaleb(-2)
         for k in KINDS}
    for st in STATUSES
}
_FORMULA = rules.FORMULA_START
_WITHDRAWAL, _APPROVED = Kind.WITHDRAWAL.value, "approved"
#: Build a Transaction without its generated ``__init__`` (which, for a frozen dataclass, goes
#: through ``object.__setattr__`` per field): ``object.__new__`` plus each slot's own setter.
#: The result is the same object ``Transaction(...)`` makes (it has no ``__post_init__``).
_NEW = object.__new__
_SET = tuple(getattr(Transaction, f).__set__ for f in Transaction.__slots__)
#: Parsed timestamps and amounts are cached by their text up to this many entries each.
_CACHE_LIMIT = 1 << 18
T = TypeVar("T")


@contextmanager
def gc_paused() -> Iterator[None]:
    """Pause the cyclic garbage collector while millions of rows (no cycles) are built.

    Also used by the reward engine (``stationlink.rewards.tally``) over those rows: with
    millions of live objects every full collection would rescan all of them for nothing.
    Restores the collector's previous state however the block ends.
    """
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


def _good(value: str, good: set[str], problem: Callable[[str], str | None]) -> bool:
    """Whether ``value`` passes the rule ``problem``; a value that does is remembered in
    ``good`` (up to ``_CACHE_LIMIT`` of them)."""
    if problem(value) is not None:
        return False
    if len(good) < _CACHE_LIMIT:
        good.add(value)
    return True


def _parse_cached(text: str, cache: dict[str, T], parse: Callable[[str], T]) -> T | None:
    """``parse(text)``, remembered in ``cache`` (up to ``_CACHE_LIMIT`` values); ``None``
    where it raises ``ValueError``."""
    try:
        value = parse(text)
    except ValueError:
        return None
    if len(cache) < _CACHE_LIMIT:
        cache[text] = value
    return value


def _amount_not_negative(text: str) -> Decimal:
    """:func:`parse_amount` of an amount the fast path takes (``ValueError`` if negative)."""
    amount = parse_amount(text)
    if amount < 0:
        raise ValueError(text)
    return amount


def read_transaction_table(
    source: str | Path | IO[str] | Iterable[str],
    name: str,
    known_stations: Iterable[str] | None,
    skip_bad_rows: bool,
) -> ReadResult[Transaction]:
    """The reader behind ``read_transactions`` (see module contract).

    Each row first goes through a fast path that accepts it only when every rule of
    :func:`check_transaction` holds, building the very same :class:`Transaction`; any other row is
    handed to :func:`check_transaction` itself, so every problem is found and worded by one piece
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
    products, ceilings, formula, run = _PRODUCTS, _CEILINGS, _FORMULA, RUN_PATTERN.search
    good_ids: set[str] = {""}  # station and terminal ids, card tokens known to be valid
    good_cards: set[str] = {""}
    intern, new = sys.intern, _NEW
    set_id, set_st, set_term, set_ts, set_kind, set_prod, set_amount, set_card, set_status = _SET
    with open_table(source, TRANSACTION_COLUMNS, name) as (rows, index, line_num), gc_paused():
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
            terminal = row[i_term].strip()
            raw_ts = row[i_ts]
            ts = ts_cache.get(raw_ts)
            if ts is None:
                ts = _parse_cached(raw_ts, ts_cache, parse_timestamp)
            raw_amount = row[i_amt]
            amount = amount_cache.get(raw_amount)
            if amount is None:
                amount = _parse_cached(raw_amount, amount_cache, _amount_not_negative)
            kind = row[i_kind].strip()
            product = row[i_prod].strip()
            card = row[i_card].strip()
            status = row[i_status].strip()
            txn: Transaction | None
            if (
                txn_id and station and ts is not None and amount is not None
                and product in products.get(kind, ())
                and status in ceilings and amount <= ceilings[status][kind]
                and (card or kind != _WITHDRAWAL or status != _APPROVED)
                and (card in good_cards or _good(card, good_cards, rules.card_problem))
                and (station in good_ids or _good(station, good_ids, rules.reference_problem))
                and (terminal in good_ids or _good(terminal, good_ids, rules.reference_problem))
                and len(txn_id) <= MAX_TEXT and txn_id[0] not in formula
                and txn_id.isprintable() and run(txn_id) is None
            ):
                txn = new(Transaction)
                set_id(txn, txn_id)
                set_st(txn, intern(station))
                set_term(txn, intern(terminal))
                set_ts(txn, ts)
                set_kind(txn, intern(kind))
                set_prod(txn, intern(product))
                set_amount(txn, amount)
                set_card(txn, intern(card))
                set_status(txn, intern(status))
            else:
                fields = {c: row[i] for c, i in zip(TRANSACTION_COLUMNS, columns, strict=True)}
                txn, column, reason = check_transaction(fields)
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
