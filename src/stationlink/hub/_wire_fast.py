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
from functools import partial
from itertools import chain, repeat
from operator import attrgetter, itemgetter
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
from ..records.cardnum import (
    RUN_PATTERN,
    SEPARATED_DIGITS,
    has_card_number,
    separated_card_numbers,
)
from ..records.rules import ACCOUNT_FORMAT
from ..records.vocab import (
    CEILING_FEN,
    FUTURE_WINDOW,
    MAX_TEXT,
    MOVED,
    REQUEST_MAX_FEN,
    TS_MAX,
    TS_MIN,
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
#: A formula's first characters that ``isprintable`` lets through (``rules.FORMULA_START``).
_FORMULA_CHARS = tuple(c for c in sorted(rules.FORMULA_START) if c.isprintable())
_TZINFO = attrgetter("tzinfo")
_MAKE = partial(tuple.__new__, StoredRecord)  # a StoredRecord from a tuple of its fields
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


# ---------------------------------------------------------------- a whole batch at once

_BATCH_FIELDS = tuple(f for f in fields.WIRE if f != "seq")
_ROW = itemgetter(*_BATCH_FIELDS)
_AT = {name: i for i, name in enumerate(_BATCH_FIELDS)}
_BILL_PRODUCTS = frozenset(ACCOUNT_FORMAT)
#: Every product with an account format goes only with a bill kind among the terminal kinds
#: (as the rules have it): so on a page of terminal kinds, accounts are judged by product.
_BY_PRODUCT = all(kind in _BILL_KINDS for kind in KIND_VALUES
                  for product in _PRODUCTS_OF[kind] if product in _BILL_PRODUCTS)
#: ``product TAB account`` lines joined by newlines, each a product with an account format
#: and an account of that format, or neither product nor account (``rules.ACCOUNT_FORMAT``).
_ACCOUNT_LINES = re.compile("(?:{0})(?:\n(?:{0}))*".format("|".join(
    [f"{re.escape(product)}\t(?:{pattern.pattern})" for product, pattern in
     ACCOUNT_FORMAT.items()] + ["\t"])))
#: ASCII digits, space and dash as ``0``: a run of 12 digits (separated or not) becomes 12
#: zeros or more, so a text without twelve zeros in a row after this has no card number.
_RUNLIKE = bytes.maketrans(b"0123456789 -", b"0" * 12)
_TWELVE = b"0" * 12


_ZEROS = re.compile(b"0{12,}")


def _no_run(text: str) -> bool:
    """Whether ``text`` holds no card-number shape (``cardnum.RUN_PATTERN``): an ASCII text
    is scanned for twelve digits, spaces or dashes in a row at C speed (as bytes), and only
    such a stretch (a hex token may hold one, glued to its letters) is looked at by the
    pattern."""
    if not text.isascii():
        return RUN_PATTERN.search(text) is None
    runlike = text.encode("ascii").translate(_RUNLIKE)
    if _TWELVE not in runlike:
        return True
    # the pattern sees the characters on either side (a letter there: no card number)
    return not any(RUN_PATTERN.search(text, m.start(), m.end() + 1)
                   for m in _ZEROS.finditer(runlike))


def _times(texts: tuple[Any, ...], received: datetime | None,
           distinct: bool = False) -> list[datetime] | None:
    """Each time text as ``.wire.parse_record`` reads it, when every one plainly passes
    ``rules.time_problem`` (``received``: the window), else ``None``. ``distinct``: the texts
    are mostly different (a terminal's clock): parsed one by one; else (the station PC's
    clock, one per journal page) each distinct text is parsed once."""
    if max(map(len, texts)) > MAX_TEXT:
        return None
    try:
        if distinct:
            values: Any = list(map(datetime.fromisoformat, texts))
        else:
            parsed = {text: datetime.fromisoformat(text) for text in set(texts)}
            values = parsed.values()
    except (TypeError, ValueError):
        return None
    for tz in set(map(_TZINFO, values)):
        if tz is None or tz.utcoffset(None) not in _OFFSETS:
            return None
    if min(values) < TS_MIN or max(values) >= TS_MAX:
        return None
    if received is not None and max(values) - received > FUTURE_WINDOW:
        return None
    return values if distinct else list(map(parsed.__getitem__, texts))


def fast_batch(
    items: list[Any], station_id: str, first: int, received: datetime | None = None
) -> list[StoredRecord] | None:
    """The records of a batch of plain terminal results (every entry ``txn``) at seqs
    ``first``, ``first + 1`` ..., checked column by column, when every record plainly
    passes what :func:`fast_record` (and so the reference) checks; else ``None`` and the
    caller goes record by record. Any exception (an unhashable value, a non-string in a
    join) is a doubt too: the caller catches it and goes record by record."""
    n = len(items)
    # objects of exactly the fields' number that hold every field (else _ROW raises)
    if (not n or _GENERIC or set(map(type, items)) != {dict}
            or set(map(len, items)) != {len(_FIELD_SET)}):
        return None
    seqs = [o["seq"] for o in items]
    if set(map(type, seqs)) != {int} or seqs != list(range(first, first + n)):
        return None
    col: dict[str, Any] = dict(zip(_BATCH_FIELDS, zip(*map(_ROW, items), strict=True),
                                   strict=True))
    if set(col["entry"]) != {_TXN.value} or not set(col["source"]) <= _SOURCES.keys():
        return None
    kinds, statuses, products = col["kind"], col["status"], col["product"]
    terminal_ids, refs, client_refs, original_refs = (
        col["terminal_id"], col["terminal_ref"], col["client_ref"], col["original_ref"])
    tokens, masked, accounts = col["card_token"], col["card_masked"], col["account"]
    # strings only (the value of every text field is joined below: a join refuses a
    # non-string), of plain types (not a subclass of str) in the columns from closed sets
    # or formats; lengths: those of closed sets and formats are short
    if (set(map(type, chain(terminal_ids, kinds, statuses, products))) != {str}
            or max(map(len, chain(set(terminal_ids), refs, client_refs, original_refs,
                                  tokens, masked))) > MAX_TEXT):
        return None
    kind_set, status_set = set(kinds), set(statuses)
    if (not kind_set <= KIND_VALUES or not status_set <= STATUS_VALUES
            or not all(terminal_ids) or not all(refs)):
        return None
    if _REVERSAL in kind_set and not all(o for k, o in zip(kinds, original_refs, strict=True)
                                         if k == _REVERSAL):
        return None
    text = "|".join(chain(terminal_ids, refs, client_refs, original_refs, tokens, masked))
    if not text.isprintable():
        return None
    for c in _FORMULA_CHARS:  # a formula's first character at a field's start
        if c in text and (text[0] == c or "|" + c in text):
            return None
    if (" " in text or "-" in text) and SEPARATED_DIGITS.search(text):
        return None
    for kind, product in set(zip(kinds, products, strict=True)):
        if product not in _PRODUCTS_OF[kind]:
            return None
    lines = "\n".join(map("\t".join, zip(products, accounts, strict=True)))
    if (not _BY_PRODUCT or lines.count("\t") != n or lines.count("\n") != n - 1
            or _ACCOUNT_LINES.fullmatch(lines) is None):
        return None  # a free-text or malformed account: record by record
    if not _no_run("|".join(chain(tokens, masked))):
        return None
    amounts = col["amount_fen"]
    if set(map(type, amounts)) != {int} or min(amounts) < 0:
        return None
    if max(amounts) > min(_CEILING[s][k] for s in status_set for k in kind_set) and any(
            a > _CEILING[s][k] for a, s, k in zip(amounts, statuses, kinds, strict=True)):
        return None
    if (_WITHDRAWAL in kind_set and _APPROVED in status_set
            and (_WITHDRAWAL, _APPROVED, "") in zip(kinds, statuses, tokens, strict=True)):
        return None
    for name, low, high in _NULLABLE_INTS:
        values = col[name]
        types = set(map(type, values))
        if types == {int}:
            ints = values
        elif types <= {int, type(None)}:
            ints = [v for v in values if v is not None]
            if not ints:
                continue
        else:
            return None
        if min(ints) < low or max(ints) > high:
            return None
    walls = _times(col["wall_time"], received)
    terminals = _times(col["terminal_time"], None, True)  # range only, as .wire.parse_record
    if walls is None or terminals is None:
        return None
    col["wall_time"], col["terminal_time"] = walls, terminals
    col.update(seq=seqs, station_id=repeat(station_id), entry=repeat(_TXN),
               source=map(_SOURCES.__getitem__, col["source"]))
    return list(map(_MAKE, zip(*(col[name] for name in fields.STORED), strict=False)))
