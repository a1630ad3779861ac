"""Exact money and China Standard Time helpers.

Contract:
- Money is ``decimal.Decimal`` yuan or ``int`` fen, never ``float``. Functions here
  refuse floats with ``TypeError``.
- ``round_yuan`` rounds half-up to 0.01 yuan (the policy's rounding rule).
- ``CST`` is UTC+08:00; ``month_of`` gives the calendar month, in CST, of an
  aware timestamp; naive timestamps are refused.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta, timezone
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation

CST = timezone(timedelta(hours=8), "CST")
CENT = Decimal("0.01")


def round_yuan(value: Decimal) -> Decimal:
    """Round half-up to 0.01 yuan."""
    if isinstance(value, float):
        raise TypeError("money must not be a float")
    return value.quantize(CENT, rounding=ROUND_HALF_UP)


def fen_to_yuan(fen: int) -> Decimal:
    """Integer fen to exact yuan with two decimals."""
    if not isinstance(fen, int) or isinstance(fen, bool):
        raise TypeError(f"fen must be int, not {type(fen).__name__}")
    return (Decimal(fen) / 100).quantize(CENT)


def yuan_to_fen(yuan: Decimal) -> int:
    """Exact yuan to integer fen; refuses amounts finer than a fen."""
    if isinstance(yuan, float):
        raise TypeError("money must not be a float")
    scaled = yuan * 100
    if scaled != scaled.to_integral_value():
        raise ValueError(f"{yuan} yuan is not a whole number of fen")
    return int(scaled)


def parse_yuan(text: str) -> Decimal:
    """Parse decimal yuan text such as ``45.30``; ``ValueError`` if it is not exact money."""
    s = text.strip()
    try:
        value = Decimal(s)
    except InvalidOperation as exc:
        raise ValueError(f"not a decimal amount: {text!r}") from exc
    if not value.is_finite():
        raise ValueError(f"not a finite amount: {text!r}")
    try:
        cents = value.quantize(CENT, rounding=ROUND_HALF_UP)
    except InvalidOperation as exc:  # more digits than the decimal context holds (1e30)
        raise ValueError(f"amount too large: {text!r}") from exc
    if value != cents:
        raise ValueError(f"more than two decimals: {text!r}")
    return cents


def format_yuan(value: Decimal) -> str:
    """Money as a string with exactly two decimals."""
    return str(round_yuan(value))


def to_cst(ts: datetime) -> datetime:
    """An aware timestamp converted to China Standard Time."""
    if ts.tzinfo is None or ts.tzinfo.utcoffset(ts) is None:
        raise ValueError(f"timestamp without a UTC offset: {ts.isoformat()}")
    return ts.astimezone(CST)


def month_of(ts: datetime) -> str:
    """The ``YYYY-MM`` calendar month, in CST, that an aware timestamp falls in."""
    local = to_cst(ts)
    return f"{local.year:04d}-{local.month:02d}"


def local_day(ts: datetime) -> date:
    """The CST calendar day of an aware timestamp."""
    return to_cst(ts).date()


def parse_month(text: str) -> tuple[int, int]:
    """``'2026-10'`` -> ``(2026, 10)``; ``ValueError`` otherwise."""
    parts = text.strip().split("-")
    if len(parts) != 2 or len(parts[0]) != 4 or len(parts[1]) != 2:
        raise ValueError(f"month must look like 2026-10, not {text!r}")
    year, month = int(parts[0]), int(parts[1])
    if not 1 <= month <= 12:
        raise ValueError(f"no such month: {text!r}")
    return year, month


def month_bounds(text: str) -> tuple[datetime, datetime]:
    """Start (inclusive) and end (exclusive) of a CST calendar month, as aware datetimes."""
    year, month = parse_month(text)
    start = datetime(year, month, 1, tzinfo=CST)
    end = datetime(year + 1, 1, 1, tzinfo=CST) if month == 12 else datetime(
        year, month + 1, 1, tzinfo=CST
    )
    return start, end
