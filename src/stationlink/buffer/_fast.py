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


_FORMULA_AT_START = re.compile(r"(?:^|\|)[=+\-@]")
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


def check_columns(
    terminal_id: str, refs: list[str], client_refs: list[str], original_refs: list[str],
    kinds: list[str], products: list[str], accounts: list[str], amounts: list[int],
    statuses: list[str], tokens: Sequence[str], times: list[datetime], zones: set[Any],
    wall_time: datetime, ints: dict[str, list[int]],
) -> None:
    """Column by column, what :func:`.records.check_rules` checks record by record (``ints``:
    the integer columns by their journal record attribute); raises :class:`Unusual` at the
    first doubt (the record-by-record path then decides)."""
    refs_text = "|".join(chain(refs, client_refs, original_refs))
    if (rules.reference_problem(terminal_id) is not None or not refs_text.isprintable()
            or max(map(len, chain(refs, client_refs, original_refs))) > MAX_TEXT
            or _FORMULA_AT_START.search(refs_text) or SEPARATED_DIGITS.search(refs_text)):
        raise Unusual
    if not _PRODUCTS.issuperset(zip(kinds, products, strict=True)):
        raise Unusual
    if any(map(gt, amounts, map(_CEILING.__getitem__, zip(kinds, statuses, strict=True)))):
        raise Unusual
    for kind, product, account, status in zip(kinds, products, accounts, statuses,
                                              strict=True):
        if not account and not product:
            continue
        pattern = ACCOUNT_FORMAT.get(product)
        if pattern is not None and kind in _BILL_KINDS and pattern.fullmatch(account):
            continue
        if rules.account_problem(kind, product, status, account) is not None:
            raise Unusual
    if _APPROVED_WITHDRAWAL in zip(kinds, statuses, tokens, strict=True):
        raise Unusual
    for tz in zones:
        offset = tz.utcoffset(None)
        if abs(offset) > MAX_OFFSET or offset % _MINUTE:
            raise Unusual
    if (rules.time_problem(wall_time) is not None or min(times) < TS_MIN
            or max(times) >= TS_MAX):
        raise Unusual
    for name, low, high in INT_RANGES:
        if min(ints[name]) < low or max(ints[name]) > high:
            raise Unusual
