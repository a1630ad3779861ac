"""The buffer's fast check: a journal page judged column by column, :func:`check_columns`.

Private to :mod:`stationlink.buffer` (used by :mod:`.page`). Contract: it accepts a page only
when every record plainly passes what the reference, :func:`.records.check_journal`
(record by record), checks; at the first doubt it raises :class:`Unusual` and the caller
runs the reference, which raises the first error in record order with its words
(``tests/buffer/test_buffer_page.py`` compares the two on hostile pages). The rules and
limits are :mod:`stationlink.records`' (``rules``, ``vocab``, the declared integer ranges);
nothing here re-declares them.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from datetime import datetime, timedelta
from itertools import chain
from itertools import product as cross
from operator import gt
from typing import Any

from ..records import rules
from ..records.cardnum import SEPARATED_DIGITS
from ..records.rules import ACCOUNT_FORMAT
from ..records.vocab import (
    BILL_PRODUCTS,
    CEILING_FEN,
    MAX_OFFSET,
    MAX_TEXT,
    MOVED,
    REFERRAL_PRODUCTS,
    REQUEST_MAX_FEN,
    STATUSES,
    TERMINAL_KINDS,
    TS_MAX,
    TS_MIN,
    Kind,
    Status,
)
from .records import INT_RANGES


class Unusual(Exception):  # noqa: N818
    """The page needs the record-by-record path."""


#: A formula's first characters (``rules.FORMULA_START`` but TAB and CR, which
#: ``isprintable`` refuses first), looked for at the start of the joined references and
#: after each ``|`` that joins them: ``in`` scans text at C speed, where a regex would try
#: an alternation at every position.
_FORMULA_CHARS = tuple(c for c in sorted(rules.FORMULA_START) if c.isprintable())
#: (kind, product) pairs the rules accept (``records.rules.product_problem``).
_PRODUCTS = frozenset(
    (kind, product) for kind in TERMINAL_KINDS
    for product in ("", *BILL_PRODUCTS, *REFERRAL_PRODUCTS)
    if rules.product_problem(kind, product) is None
)
#: (kind, status) -> the largest amount in fen (``records.rules.amount_problem``).
_CEILING = {(kind, status): CEILING_FEN[kind] if status in MOVED else REQUEST_MAX_FEN
            for kind in TERMINAL_KINDS for status in STATUSES}
_BILL_KINDS = frozenset({Kind.BILL_PAYMENT.value, Kind.REVERSAL.value})
_APPROVED_WITHDRAWAL = (Kind.WITHDRAWAL.value, Status.APPROVED.value, "")
_MINUTE = timedelta(minutes=1)
#: Whether every product with an account format goes only with a bill kind (as the rules
#: have it): then a page's accounts can be judged by product alone, once its (kind, product)
#: pairs are known good (:data:`_ACCOUNTS`).
_BY_PRODUCT = all(kind in _BILL_KINDS for kind, product in _PRODUCTS if product in ACCOUNT_FORMAT)


def _accounts_patterns() -> tuple[re.Pattern[str], dict[str, re.Pattern[str]]]:
    """Accounts that plainly pass (``records.rules.account_problem``), built from
    ``rules.ACCOUNT_FORMAT``: a page's ``product TAB account`` lines joined by newlines, each
    a product with an account format and an account of that format, or neither product nor
    account; and per product, its accounts alone joined by newlines."""
    by_format: dict[str, list[str]] = {}
    for product, pattern in ACCOUNT_FORMAT.items():
        by_format.setdefault(pattern.pattern, []).append(re.escape(product))
    line = "|".join([f"(?:{'|'.join(products)})\t(?:{fmt})"
                     for fmt, products in by_format.items()] + ["\t"])
    alone = {product: re.compile(f"(?:{p.pattern})(?:\n(?:{p.pattern}))*")
             for product, p in ACCOUNT_FORMAT.items()}
    return re.compile(f"(?:{line})(?:\n(?:{line}))*"), alone


_ACCOUNTS, _ACCOUNTS_OF = _accounts_patterns()
#: The declared integer ranges, the columns sharing a bound together: (low, columns) and
#: (high, columns).
_LOWS = tuple((low, tuple(n for n, lo, _ in INT_RANGES if lo == low))
              for low in {lo for _, lo, _ in INT_RANGES})
_HIGHS = tuple((high, tuple(n for n, _, hi in INT_RANGES if hi == high))
               for high in {hi for _, _, hi in INT_RANGES})


def check_columns(
    terminal_id: str, refs: list[str], client_refs: list[str], original_refs: list[str],
    kinds: list[str], products: list[str], accounts: list[str], amounts: list[int],
    statuses: list[str], tokens: Sequence[str], times: list[datetime], zones: set[Any],
    wall_time: datetime, ints: dict[str, list[int]],
) -> None:
    """Column by column, what :func:`.records.check_rules` checks record by record (``ints``:
    the integer columns by their journal record attribute); raises :class:`Unusual` at the
    first doubt (the record-by-record path then decides). Each check first looks at the
    page's sets of values (a few, so cheap); only a page they leave in doubt is looked at
    row by row (pairs, exact ceilings, accounts one by one)."""
    refs_text = "|".join(chain(refs, client_refs, original_refs))
    if (rules.reference_problem(terminal_id) is not None or not refs_text.isprintable()
            or max(map(len, chain(refs, client_refs, original_refs))) > MAX_TEXT):
        raise Unusual
    for c in _FORMULA_CHARS:  # one C-speed scan a character, seldom a second
        if c in refs_text and (refs_text[0] == c or "|" + c in refs_text):
            raise Unusual
    # a separated card number needs a space or a dash: without either, no regex scan
    if (" " in refs_text or "-" in refs_text) and SEPARATED_DIGITS.search(refs_text):
        raise Unusual
    kind_set, status_set, product_set = set(kinds), set(statuses), set(products)
    if not _PRODUCTS.issuperset(cross(kind_set, product_set)) and \
            not _PRODUCTS.issuperset(zip(kinds, products, strict=True)):
        raise Unusual
    if max(amounts) > min(map(_CEILING.__getitem__, cross(kind_set, status_set))) and any(
            map(gt, amounts, map(_CEILING.__getitem__, zip(kinds, statuses, strict=True)))):
        raise Unusual
    _check_accounts(kinds, products, accounts, statuses, product_set)
    if (_APPROVED_WITHDRAWAL[0] in kind_set and _APPROVED_WITHDRAWAL[1] in status_set
            and _APPROVED_WITHDRAWAL in zip(kinds, statuses, tokens, strict=True)):
        raise Unusual
    for tz in zones:
        offset = tz.utcoffset(None)
        if abs(offset) > MAX_OFFSET or offset % _MINUTE:
            raise Unusual
    if (rules.time_problem(wall_time) is not None or min(times) < TS_MIN
            or max(times) >= TS_MAX):
        raise Unusual
    for low, names in _LOWS:
        if min(chain.from_iterable(ints[name] for name in names)) < low:
            raise Unusual
    for high, names in _HIGHS:
        if max(chain.from_iterable(ints[name] for name in names)) > high:
            raise Unusual


def _check_accounts(kinds: list[str], products: list[str], accounts: list[str],
                    statuses: list[str], product_set: set[str]) -> None:
    """The accounts by :data:`_ACCOUNTS` (or, one product on the page, its pattern alone),
    else one by one. A newline or tab inside an account fails the count (so the lines split
    where they were joined)."""
    n = len(accounts)
    if _BY_PRODUCT:
        if len(product_set) == 1 and next(iter(product_set)) in _ACCOUNTS_OF:
            text = "\n".join(accounts)
            if text.count("\n") == n - 1 and \
                    _ACCOUNTS_OF[next(iter(product_set))].fullmatch(text):
                return
        else:
            lines = "\n".join(map("\t".join, zip(products, accounts, strict=True)))
            if lines.count("\t") == n and lines.count("\n") == n - 1 and \
                    _ACCOUNTS.fullmatch(lines):
                return
    _accounts_one_by_one(kinds, products, accounts, statuses)


def _accounts_one_by_one(
    kinds: list[str], products: list[str], accounts: list[str], statuses: list[str]
) -> None:
    """The accounts record by record (a page with free-text or malformed accounts)."""
    for kind, product, account, status in zip(kinds, products, accounts, statuses,
                                              strict=True):
        if not account and not product:
            continue
        pattern = ACCOUNT_FORMAT.get(product)
        if pattern is not None and kind in _BILL_KINDS and pattern.fullmatch(account):
            continue
        if rules.account_problem(kind, product, status, account) is not None:
            raise Unusual
