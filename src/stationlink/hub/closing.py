"""Month close: when a month's statements stop being provisional.

Contract: month ``M`` (a CST calendar month) closes at the end of day ``close_day`` of month
``M+1``, i.e. at 00:00 CST on day ``close_day + 1`` of ``M+1`` (default 12: stations sign off
by the 12th, policy section 3). A record that reaches the hub at or after that instant, for a
transaction of month ``M``, is *late*: stored, flagged, listed for adjustment, and left out
of the month's default export so a paid statement never changes silently.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from ..errors import ConfigError
from ..money import CST, parse_month

DEFAULT_CLOSE_DAY = 12


def check_close_day(close_day: int) -> int:
    if not 1 <= close_day <= 27:
        raise ConfigError(f"close day must be between 1 and 27, not {close_day}")
    return close_day


def close_instant(month: str, close_day: int = DEFAULT_CLOSE_DAY) -> datetime:
    """The aware instant at which ``month`` closes (module contract)."""
    check_close_day(close_day)
    year, mon = parse_month(month)
    year, mon = (year + 1, 1) if mon == 12 else (year, mon + 1)
    return datetime(year, mon, close_day, tzinfo=CST) + timedelta(days=1)


def is_late(month: str, arrived: datetime, close_day: int = DEFAULT_CLOSE_DAY) -> bool:
    """Whether a record for ``month`` arriving at ``arrived`` is late."""
    return arrived >= close_instant(month, close_day)
