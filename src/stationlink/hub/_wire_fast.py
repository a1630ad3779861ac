"""The fast path of the hub's record validation: :func:`fast_record`.

Private to :mod:`stationlink.hub.wire`, the reference (:func:`.wire.parse_record`), whose
contract this follows. Contract: :func:`fast_record` returns the record only when every rule
the reference applies plainly holds, built identically; at any doubt it returns ``None`` and
the reference decides and names the problem (``tests/hub/test_hub_wire_fast.py`` checks the
two agree on valid and hostile records). The field list and the integer ranges are the
declaration's (``stationlink.records.fields``); the value rules are ``stationlink.records``'.
"""

from __future__ import annotations

import re
from datetime import datetime, timedelta
from typing import Any

from ..buffer.records import (
    KIND_VALUES,
    REFERRAL_ENTRIES,
    REFERRAL_KIND,
    REFERRAL_PRODUCT_VALUES,
    REFERRAL_TERMINAL,
    STATUS_VALUES,
    Entry,
    Source,
    StoredRecord,
)
from ..records import fields, rules
from ..records.cardnum import RUN_PATTERN, has_card_number, separated_card_numbers
from ..records.rules import ACCOUNT_FORMAT
from ..records.vocab import (
    CEILING_FEN,
    FUTURE_WINDOW,
    MAX_TEXT,
    MOVED,
    REQUEST_MAX_FEN,
    Kind,
    Status,
)

_FIELD_SET = frozenset(fields.WIRE)
_ENTRIES = {e.value: e for e in Entry}
_SOURCES = {s.value: s for s in Source}
_TXN = Entry.TXN
_REFERRAL = Entry.REFERRAL
_WITHDRAWAL, _REVERSAL = Kind.WITHDRAWAL.value, Kind.REVERSAL.value
_APPROVED = Status.APPROVED.value
_FORMULA_AT_START = re.compile(r"(?:^|\|)[=+\-@]")
#: A formula start or a digit, separator, digit: either needs a closer look.
_DOUBT = re.compile(r"(?:^|\|)[=+\-@]|\d[ -]\d")
_BILL_KINDS = frozenset({Kind.BILL_PAYMENT.value, Kind.REVERSAL.value})
#: status -> kind -> the largest amount in fen (``records.rules.amount_problem``).
_CEILING = {status: {kind: CEILING_FEN[kind] if status in MOVED else REQUEST_MAX_FEN
                     for kind in (*KIND_VALUES, REFERRAL_KIND)}
            for status in (*STATUS_VALUES, "")}
#: kind -> the products the rules accept with it (``records.rules.product_problem``).
_PRODUCTS_OF = {
    kind: frozenset(product for product in ("", *ACCOUNT_FORMAT, *REFERRAL_PRODUCT_VALUES)
                    if rules.product_problem(kind, product) is None)
    for kind in (*KIND_VALUES, REFERRAL_KIND)
}
#: Fields read generically (``records.fields.GENERIC``): name, integer range, text check.
_GENERIC = tuple(
    (f.name, *(fields.INT_RANGES.get(f.name) or (None, None)), f.check) for f in fields.GENERIC
)
_NULLABLE = frozenset(f.name for f in fields.RECORD if f.nullable)
#: (name, low, high) of each integer-or-null field (``records.fields``).
_NULLABLE_INTS = tuple((name, *fields.INT_RANGES[name]) for name in fields.NULLABLE_INT)


def _separated_card(text: str) -> bool:
    return next(separated_card_numbers(text), None) is not None


def _plain_text(value: object) -> bool:
    return type(value) is str and len(value) <= MAX_TEXT


#: Every UTC offset the rules accept (whole minutes within +-14:00).
_OFFSETS = frozenset(timedelta(minutes=m) for m in range(-14 * 60, 14 * 60 + 1))


def _aware(value: object, received: datetime | None) -> datetime | None:
    """The time ``value`` when it plainly passes ``rules.time_problem``, else ``None``."""
    if type(value) is not str or len(value) > MAX_TEXT:
        return None
    try:
        ts = datetime.fromisoformat(value)
    except ValueError:
        return None
    if (ts.utcoffset() not in _OFFSETS or not 1971 <= ts.year <= 2098
            or (received is not None and ts > received + FUTURE_WINDOW)):
        return None  # naive, an odd offset, near the range's ends (decided precisely) ...
    return ts


def fast_record(
    obj: object, station_id: str, seq: int, received: datetime | None = None
) -> StoredRecord | None:
    """The record at ``seq`` when ``obj`` is plainly valid, else ``None``.

    The common case without the per-field reader: it accepts only what
    :func:`.wire.parse_record` accepts, builds the identical record, and returns ``None`` at
    the first doubt so that :func:`.wire.parse_record` finds and names the problem (a test
    checks the two agree on valid and broken records).
    """
    if type(obj) is not dict or obj.keys() != _FIELD_SET:
        return None
    o: dict[str, Any] = obj
    entry = _ENTRIES.get(o["entry"]) if type(o["entry"]) is str else None
    source = _SOURCES.get(o["source"]) if type(o["source"]) is str else None
    if entry is None or source is None or o["seq"] != seq or type(o["seq"]) is not int:
        return None
    texts = (o["terminal_id"], o["terminal_ref"], o["client_ref"], o["kind"], o["product"],
             o["account"], o["status"], o["card_token"], o["card_masked"], o["original_ref"])
    if not all(map(_plain_text, texts)):
        return None
    terminal_id, terminal_ref, client_ref, kind, product, account, status, token, masked, \
        original_ref = texts
    txn = entry is _TXN
    if entry in REFERRAL_ENTRIES:
        if (terminal_id != REFERRAL_TERMINAL or kind != REFERRAL_KIND or not client_ref
                or product not in REFERRAL_PRODUCT_VALUES
                or status != (_APPROVED if entry is _REFERRAL else "")):
            return None
    elif (not terminal_id or kind not in KIND_VALUES
            or (not terminal_ref if txn else not client_ref)
            or (status not in STATUS_VALUES if txn else status != "")
            or (txn and kind == _REVERSAL and not original_ref)):
        return None
    # one scan each over all references and card fields; a hit is decided precisely
    texts_ = f"{terminal_id}|{terminal_ref}|{client_ref}|{original_ref}|{token}|{masked}"
    if not texts_.isprintable() or (_DOUBT.search(texts_) and (
            _FORMULA_AT_START.search(texts_) or _separated_card(texts_))):
        return None
    if product not in _PRODUCTS_OF.get(kind, ()):
        return None
    pattern = ACCOUNT_FORMAT.get(product) if kind in _BILL_KINDS else None
    if pattern is not None and pattern.fullmatch(account):  # a well-formed bill account
        free = f"{token}|{masked}" if token or masked else ""
    elif pattern is not None and status in MOVED:
        return None
    elif not account.isprintable():
        return None
    else:
        free = f"{token}|{masked}|{account}"
    if free and RUN_PATTERN.search(free) and (
            rules.card_problem(token) or rules.card_problem(masked) or has_card_number(account)):
        return None
    amount = o["amount_fen"]
    if type(amount) is not int or not 0 <= amount <= _CEILING[status][kind]:
        return None
    if txn and not token and kind == _WITHDRAWAL and status == _APPROVED:
        return None
    for name, low, high in _NULLABLE_INTS:
        value = o[name]
        if value is not None and (type(value) is not int or not low <= value <= high):
            return None
    wall = _aware(o["wall_time"], received)
    if wall is None:
        return None
    terminal = o["terminal_time"]
    if terminal is not None:
        terminal = _aware(terminal, None)  # range only, as .wire.parse_record
        if terminal is None:
            return None
    elif txn:
        return None
    extras: dict[str, Any] = {}
    for name, low, high, check in _GENERIC:  # none today: a field added to the declaration
        value = o[name]
        if value is None and name in _NULLABLE:
            extras[name] = None
        elif low is not None and high is not None:
            if type(value) is not int or not low <= value <= high:
                return None
            extras[name] = value
        elif not _plain_text(value) or check is None or check(value) is not None:
            return None
        else:
            extras[name] = value
    rec = StoredRecord(
        seq=seq, station_id=station_id, terminal_id=terminal_id, entry=entry,
        terminal_ref=terminal_ref, client_ref=client_ref, kind=kind, product=product,
        account=account, amount_fen=amount, status=status, result=o["result"],
        card_token=token, card_masked=masked, original_ref=original_ref,
        refers_to_seq=o["refers_to_seq"], source=source, wall_time=wall,
        terminal_time=terminal, uptime_ms=o["uptime_ms"], boot_id=o["boot_id"],
        journal_cursor=o["journal_cursor"],
    )
    return rec._replace(**extras) if extras else rec
