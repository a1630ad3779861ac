"""Times for people: ``YYYY-MM-DD HH:MM:SS CST``.

Contract: :func:`when` takes a stored ISO 8601 text (or an aware datetime) and returns it as
China Standard Time, ``2026-10-05 09:00:00 CST``; ``None`` becomes ``missing``; a text that is
not an aware ISO 8601 time is returned unchanged (never an exception on display).
"""

from __future__ import annotations

from datetime import datetime

from .money import CST


def when(value: str | datetime | None, missing: str = "never") -> str:
    """A time for people, in CST (module contract)."""
    if value is None:
        return missing
    if isinstance(value, datetime):
        ts = value
    else:
        try:
            ts = datetime.fromisoformat(value)
        except ValueError:
            return value
    if ts.tzinfo is None or ts.utcoffset() is None:
        return value if isinstance(value, str) else ts.isoformat()
    return f"{ts.astimezone(CST):%Y-%m-%d %H:%M:%S} CST"
