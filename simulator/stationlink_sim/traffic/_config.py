"""Strict reading of one TOML table of a scenario file.

Contract:
- :class:`Table` wraps one parsed TOML table and its dotted path (``activity``,
  ``amounts.mobile``). Each accessor takes a key, checks type and range, and records the key as
  used; :meth:`Table.finish` raises :class:`~stationlink.errors.ConfigError` for any key that
  was never asked for (an unknown or misspelt key).
- Every error names the file, the table and the key: ``county.toml: [activity] weight_sigma:
  must be > 0, not -1``.
- Money is read as a whole number of yuan (``50``) or a decimal string (``"22.50"``) and
  returned in integer fen; a TOML float for money is refused (it could not be exact).
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Mapping
from typing import Any

from stationlink.errors import ConfigError
from stationlink.money import parse_yuan, yuan_to_fen

_MISSING: Any = object()


class Table:
    """One table of a scenario file, read key by key."""

    def __init__(self, data: Mapping[str, Any], path: str, source: str) -> None:
        self._data = data
        self.path = path
        self.source = source
        self._used: set[str] = set()

    def error(self, key: str, reason: str) -> ConfigError:
        where = f"[{self.path}] " if self.path else ""
        return ConfigError(f"{self.source}: {where}{key}: {reason}")

    def has(self, key: str) -> bool:
        return key in self._data

    def keys(self) -> list[str]:
        return list(self._data)

    def _get(self, key: str, default: Any) -> Any:
        self._used.add(key)
        if key in self._data:
            return self._data[key]
        if default is _MISSING:
            typo = [k for k in self._data if k not in self._used and _similar(k, key)]
            hint = f" (is {typo[0]!r} a typo?)" if typo else ""
            raise self.error(key, "required key is missing" + hint)
        return default

    def table(self, key: str, *, optional: bool = False) -> Table:
        value = self._get(key, {} if optional else _MISSING)
        if not isinstance(value, Mapping):
            raise self.error(key, f"must be a table, not {type(value).__name__}")
        return Table(value, f"{self.path}.{key}" if self.path else key, self.source)

    def number(
        self,
        key: str,
        default: Any = _MISSING,
        *,
        low: float | None = None,
        high: float | None = None,
        positive: bool = False,
    ) -> float:
        value = self._get(key, default)
        return self._check_number(key, value, low, high, positive)

    def _check_number(
        self, key: str, value: Any, low: float | None, high: float | None, positive: bool
    ) -> float:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise self.error(key, f"must be a number, not {value!r}")
        number = float(value)
        if not math.isfinite(number):
            raise self.error(key, f"must be finite, not {value!r}")
        if positive and number <= 0:
            raise self.error(key, f"must be > 0, not {value!r}")
        if low is not None and number < low:
            raise self.error(key, f"must be >= {low:g}, not {value!r}")
        if high is not None and number > high:
            raise self.error(key, f"must be <= {high:g}, not {value!r}")
        return number

    def probability(self, key: str, default: Any = _MISSING) -> float:
        return self.number(key, default, low=0.0, high=1.0)

    def integer(
        self, key: str, default: Any = _MISSING, *, low: int | None = None
    ) -> int:
        value = self._get(key, default)
        if isinstance(value, bool) or not isinstance(value, int):
            raise self.error(key, f"must be a whole number, not {value!r}")
        if low is not None and value < low:
            raise self.error(key, f"must be >= {low}, not {value!r}")
        return value

    def text(self, key: str, default: Any = _MISSING) -> str:
        value = self._get(key, default)
        if not isinstance(value, str) or not value.strip():
            raise self.error(key, f"must be a non-empty string, not {value!r}")
        return value

    def date(self, key: str, default: Any = _MISSING) -> dt.date:
        value = self._get(key, default)
        if isinstance(value, dt.datetime) or not isinstance(value, dt.date):
            raise self.error(key, f"must be a TOML date such as 2014-06-01, not {value!r}")
        return value

    def numbers(
        self, key: str, length: int | None = None, *, min_length: int = 1, low: float = 0.0
    ) -> tuple[float, ...]:
        value = self._get(key, _MISSING)
        if not isinstance(value, list):
            raise self.error(key, f"must be an array of numbers, not {value!r}")
        if length is not None and len(value) != length:
            raise self.error(key, f"must have exactly {length} entries, not {len(value)}")
        if len(value) < min_length:
            raise self.error(key, f"must have at least {min_length} entries")
        out = tuple(
            self._check_number(f"{key}[{i}]", v, low, None, False) for i, v in enumerate(value)
        )
        return out

    def weights(self, key: str, length: int | None = None) -> tuple[float, ...]:
        """Non-negative numbers with a positive sum."""
        out = self.numbers(key, length)
        if sum(out) <= 0:
            raise self.error(key, "weights must not all be zero")
        return out

    def money_fen(self, key: str, default: Any = _MISSING) -> int:
        value = self._get(key, default)
        return self._fen(key, value)

    def _fen(self, key: str, value: Any) -> int:
        if isinstance(value, bool) or isinstance(value, float):
            raise self.error(
                key,
                f"money must be a whole number of yuan or a string like \"22.50\", not {value!r}",
            )
        if isinstance(value, int):
            fen = value * 100
        elif isinstance(value, str):
            try:
                fen = yuan_to_fen(parse_yuan(value))
            except ValueError as exc:
                raise self.error(key, str(exc)) from exc
        else:
            raise self.error(key, f"must be an amount of money, not {value!r}")
        if fen <= 0:
            raise self.error(key, f"must be a positive amount, not {value!r}")
        return fen

    def money_list(self, key: str) -> tuple[int, ...]:
        value = self._get(key, _MISSING)
        if not isinstance(value, list) or not value:
            raise self.error(key, f"must be a non-empty array of amounts, not {value!r}")
        return tuple(self._fen(f"{key}[{i}]", v) for i, v in enumerate(value))

    def texts(self, key: str) -> tuple[str, ...]:
        value = self._get(key, _MISSING)
        if not isinstance(value, list) or not value:
            raise self.error(key, f"must be a non-empty array of strings, not {value!r}")
        for i, v in enumerate(value):
            if not isinstance(v, str) or not v:
                raise self.error(f"{key}[{i}]", f"must be a non-empty string, not {v!r}")
        return tuple(value)

    def finish(self) -> None:
        unknown = [k for k in self._data if k not in self._used]
        if unknown:
            raise self.error(unknown[0], "unknown key" + self._hint(unknown[0]))

    def _hint(self, key: str) -> str:
        known = sorted(self._used)
        close = [k for k in known if _similar(k, key)]
        if close:
            return f" (did you mean {close[0]!r}?)"
        return f" (known keys: {', '.join(known)})" if known else ""


def _similar(a: str, b: str) -> bool:
    """Rough typo detection: same letters give or take two edits."""
    if abs(len(a) - len(b)) > 2:
        return False
    prev = list(range(len(b) + 1))
    for i, ca in enumerate(a, 1):
        cur = [i]
        for j, cb in enumerate(b, 1):
            cur.append(min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (ca != cb)))
        prev = cur
    return prev[-1] <= 2
