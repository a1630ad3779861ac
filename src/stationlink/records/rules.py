"""The rules of a valid transaction record, decided once (``docs/formats.md``, "Rules").

Every producer and reader applies these: the interchange CSV reader (reference and fast
path), the station buffer (journal records, live results, pages), the hub's batch
validation (precise and fast path) and so the hub export. Each function returns ``None`` when
the value is fine, else the reason in words; the caller names the field its own way (a CSV
column, a JSON path) and raises its own error.

Contract:
- :func:`reference_problem`: an id or reference (txn id, station, terminal, terminal ref,
  client ref, original ref) is at most :data:`~.vocab.MAX_TEXT` characters, printable (no
  control character, no invisible formatting such as the bidi overrides U+202A-U+202E,
  U+2066-U+2069 or the marks U+200E/U+200F, no space other than U+0020), does not begin with
  ``=``, ``+``, ``-`` or ``@`` (a spreadsheet formula) and holds no card number written with
  spaces or dashes (:func:`~.cardnum.separated_card_numbers`).
- :func:`text_problem`: free text (a referral's note, a non-bill account) is at most
  :data:`~.vocab.MAX_TEXT` characters, printable and holds no card-number shape at all.
- :func:`card_problem`: the card field holds a token, never a card number: printable, not a
  formula, not 12 or more digits (plain or separated) and no card-number shape inside.
- :func:`product_problem`: a bill payment has a bill product, a referral a referral product,
  a withdrawal or balance inquiry none, a reversal its original's (a bill product or none).
- :func:`account_problem`: a bill payment's account is judged by its product's format
  (phone top-ups: an 11-digit mobile number starting with 1; utilities: 6 to 20 digits),
  never by the Luhn check. A bill payment whose money moved must have a well-formed account;
  any other record's account that is not well-formed must be valid free text.
- :func:`amount_problem`: integer fen in [0, ceiling]: :data:`~.vocab.CEILING_FEN` of the
  kind when the money moved (approved, reversed), else :data:`~.vocab.REQUEST_MAX_FEN`.
- :func:`card_required_problem`: an approved withdrawal has a card; a declined or reversed
  one (a card-read failure, a refused card) may have none.
- :func:`time_problem`: aware, offset within +-14:00 in whole minutes, within
  [:data:`~.vocab.TS_MIN`, :data:`~.vocab.TS_MAX`), and when ``received`` is given not more
  than :data:`~.vocab.FUTURE_WINDOW` after it (an old time is fine: the hub calls it late).
- :func:`integer_problem`: a JSON integer in a closed range (SQLite's int64 at most).
"""

from __future__ import annotations

import re
from datetime import datetime, timedelta

from . import cardnum
from .vocab import (
    BILL_PRODUCTS,
    CEILING_FEN,
    FUTURE_WINDOW,
    MAX_OFFSET,
    MAX_TEXT,
    MOVED,
    PHONE_PRODUCTS,
    REFERRAL_PRODUCTS,
    REQUEST_MAX_FEN,
    TS_MAX,
    TS_MIN,
    UTILITY_PRODUCTS,
    Kind,
    Status,
)

#: First characters that make a spreadsheet read a cell as a formula (OWASP CSV injection);
#: TAB and CR are control characters, refused anyway.
FORMULA_START = frozenset("=+-@\t\r")
#: Account formats per bill product (``docs/formats.md``, "Bill accounts").
PHONE_ACCOUNT = re.compile(r"1[0-9]{10}")
UTILITY_ACCOUNT = re.compile(r"[0-9]{6,20}")
ACCOUNT_FORMAT = {
    **{p: PHONE_ACCOUNT for p in PHONE_PRODUCTS},
    **{p: UTILITY_ACCOUNT for p in UTILITY_PRODUCTS},
}
ACCOUNT_WORDS = {
    **{p: "an 11-digit mobile number starting with 1" for p in PHONE_PRODUCTS},
    **{p: "6 to 20 digits" for p in UTILITY_PRODUCTS},
}
_BILL = frozenset(BILL_PRODUCTS)
_REFERRAL = frozenset(REFERRAL_PRODUCTS)
_ONE_MINUTE = timedelta(minutes=1)
#: Every UTC offset :func:`time_problem` accepts: whole minutes within +-:data:`MAX_OFFSET`.
_OFFSETS = frozenset(_ONE_MINUTE * m for m in range(-MAX_OFFSET // _ONE_MINUTE,
                                                    MAX_OFFSET // _ONE_MINUTE + 1))
#: Local years whose every time, at any offset in :data:`_OFFSETS`, lies in
#: [:data:`TS_MIN`, :data:`TS_MAX`).
_SAFE_YEARS = (TS_MIN.year + 1, TS_MAX.year - 2)


def shown(value: str, limit: int = 40) -> str:
    """``value`` as an error message may quote it: at most ``limit`` characters, control
    characters escaped (``repr``) and every run of 12 or more digits masked to its last four,
    so a message never repeats a card number."""
    text = value if len(value) <= limit else value[:limit] + "..."
    return repr(cardnum.RUN_PATTERN.sub(lambda m: cardnum.masked(m.group()), text))


def _printable_problem(value: str) -> str | None:
    if len(value) > MAX_TEXT:
        return f"longer than {MAX_TEXT} characters"
    if not value.isprintable():
        bad = next(c for c in value if not c.isprintable())
        return (f"holds the control or invisible character U+{ord(bad):04X} "
                "(bidi overrides, marks and control characters are refused)")
    return None


def reference_problem(value: str) -> str | None:
    """Why ``value`` is not a valid id or reference (module contract), or ``None``."""
    problem = _printable_problem(value)
    if problem is not None:
        return problem
    if value[:1] in FORMULA_START:
        return f"begins with {value[0]!r} (a spreadsheet would run it as a formula)"
    run = next(cardnum.separated_card_numbers(value), None)
    if run is not None:
        return f"holds what looks like a card number ({cardnum.masked(run)}); refused"
    return None


def text_problem(value: str) -> str | None:
    """Why ``value`` is not valid free text (module contract), or ``None``."""
    problem = _printable_problem(value)
    if problem is not None:
        return problem
    run = next(cardnum.card_numbers(value), None)
    if run is not None:
        return f"holds what looks like a card number ({cardnum.masked(run)}); refused"
    return None


def card_problem(value: str) -> str | None:
    """Why ``value`` is not a card token (module contract), or ``None``."""
    if cardnum.is_digit_string(value) or cardnum.has_card_number(value):
        return "looks like a full card number; only card tokens are accepted"
    problem = _printable_problem(value)
    if problem is not None:
        return problem
    if value[:1] in FORMULA_START:
        return f"begins with {value[0]!r} (a spreadsheet would run it as a formula)"
    return None


def product_problem(kind: str, product: str) -> str | None:
    """Why ``product`` does not go with ``kind`` (module contract), or ``None``."""
    if kind == Kind.BILL_PAYMENT:
        if not product:
            return "bill payment without a product"
        if product not in _BILL:
            return (f"unknown bill product {shown(product)} (expected one of "
                    f"{', '.join(BILL_PRODUCTS)})")
    elif kind == Kind.REFERRAL:
        if product not in _REFERRAL:
            return f"unknown referral product {shown(product)}"
    elif kind == Kind.REVERSAL:
        if product and product not in _BILL:
            return f"a reversal carries its original's bill product or none, not {shown(product)}"
    elif product:
        return f"a {kind} carries no product, not {shown(product)}"
    return None


def account_problem(kind: str, product: str, status: str, account: str) -> str | None:
    """Why ``account`` is not valid for the record (module contract), or ``None``."""
    pattern = ACCOUNT_FORMAT.get(product) if kind in (Kind.BILL_PAYMENT, Kind.REVERSAL) \
        else None
    if pattern is not None:
        if pattern.fullmatch(account):
            return None
        if status in MOVED:
            return f"not a {product} account ({ACCOUNT_WORDS[product]}): {shown(account)}"
    return text_problem(account)


def amount_problem(kind: str, status: str, amount_fen: int) -> str | None:
    """Why ``amount_fen`` is out of range for the record (module contract), or ``None``."""
    if amount_fen < 0:
        return f"negative amount ({amount_fen} fen)"
    ceiling = CEILING_FEN.get(kind, 0) if status in MOVED else REQUEST_MAX_FEN
    if amount_fen > ceiling:
        if status in MOVED:
            return (f"{amount_fen} fen is more than one {kind} may move "
                    f"({ceiling} fen, {ceiling // 100} yuan)")
        return f"{amount_fen} fen is more than a terminal's amount field holds ({ceiling} fen)"
    return None


def card_required_problem(kind: str, status: str, card: str) -> str | None:
    """An approved withdrawal without a card (module contract), else ``None``."""
    if not card and kind == Kind.WITHDRAWAL and status == Status.APPROVED:
        return "approved withdrawal without a card token"
    return None


def time_problem(ts: datetime, received: datetime | None = None) -> str | None:
    """Why ``ts`` is not a usable record time (module contract), or ``None``."""
    offset = ts.utcoffset()
    if offset not in _OFFSETS:  # one look-up in the common case; else which rule it breaks
        if offset is None:
            return "time without a UTC offset"
        if abs(offset) > MAX_OFFSET:
            return f"UTC offset {offset_text(offset)} is beyond +-14:00"
        if offset % _ONE_MINUTE:
            return f"UTC offset {offset_text(offset)} is not a whole number of minutes"
    # with the offset within +-14:00, a local year in 1971..2098 is inside the window (the
    # cheap test first: comparing times of different offsets costs about a microsecond)
    if not _SAFE_YEARS[0] <= ts.year <= _SAFE_YEARS[1] and not TS_MIN <= ts < TS_MAX:
        return f"outside {TS_MIN.year}..{TS_MAX.year - 1}"
    if received is not None and ts - received > FUTURE_WINDOW:
        return (f"more than {FUTURE_WINDOW.days} day after it was received "
                f"({received.isoformat()}); a clock is wrong")
    return None


def offset_text(offset: timedelta) -> str:
    sign = "-" if offset < timedelta(0) else "+"
    seconds = int(abs(offset).total_seconds())
    text = f"{sign}{seconds // 3600:02d}:{seconds % 3600 // 60:02d}"
    return text + (f":{seconds % 60:02d}" if seconds % 60 else "")


def integer_problem(value: int, minimum: int, maximum: int) -> str | None:
    """Why the integer ``value`` is out of [minimum, maximum], or ``None``."""
    if minimum <= value <= maximum:
        return None
    got = str(value) if -10**20 < value < 10**20 else \
        f"an integer of {len(str(abs(value)))} digits"
    if value < minimum:
        return f"must be at least {minimum}, got {got}"
    return f"must be at most {maximum}, got {got}"


__all__ = [
    "ACCOUNT_FORMAT", "FORMULA_START", "account_problem", "amount_problem", "card_problem",
    "card_required_problem", "integer_problem", "product_problem", "reference_problem",
    "shown", "text_problem", "time_problem",
]
