"""A closed month's adjustments, carried into the first open month after it, exactly once.

Contract (docs/console.md, "Adjustments carried into the next open month"):
- For a month ``M`` with a close in force and a station or branch ``X``: ``now`` is X's total
  recomputed from the hub store (late records included), ``frozen`` the total M's close in
  force stored, ``carried`` the sum of the lines for ``M`` that the closes in force of later
  months froze with their statements (:meth:`~.monthstore.MonthStore.carried_for`). What is
  still to carry is ``now - frozen - carried``; when it is not zero it is one line
  (:class:`Adjustment`), exact (Decimal yuan, two decimals).
- Where a line goes (:func:`carry_target`): the first month after ``M`` that has no close in
  force. That month's provisional statements show it as a separate line naming ``M``
  (:func:`carried_into`); closing that month freezes the line with its statement, so from
  then on it counts in ``carried`` and is never carried again. Re-opening that month takes
  its lines out of ``carried`` (its close is no longer in force): the month, open again, shows
  what is still to carry — what its first version carried included — and its next close
  freezes that, once.
- Hence for every closed month ``M`` and subject ``X``, at any time:
  ``frozen + carried + (the line the open target month shows) == now``, to the fen.
- A month without a close in force has no adjustments of its own (its statements are
  provisional).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from ...rewards.station_rules import fmt_money
from .monthstore import Close, MonthStore

Key = tuple[str, str]  # (subject: "station" | "branch", id)
#: a month's totals recomputed now (late records included), per (subject, id)
Recompute = Callable[[str], Mapping[Key, Decimal]]


@dataclass(frozen=True)
class Adjustment:
    """What is still to carry for one station or branch of a closed month (module contract)."""

    month: str  # the closed month it belongs to
    subject: str
    id: str
    frozen: Decimal
    now: Decimal
    carried: Decimal  # carried already: frozen with the closes in force of later months
    into: str  # the month whose statements carry it

    @property
    def amount(self) -> Decimal:
        return self.now - self.frozen - self.carried

    def as_dict(self) -> dict[str, Any]:
        return {"month": self.month, "subject": self.subject, "id": self.id,
                "frozen": fmt_money(self.frozen), "now": fmt_money(self.now),
                "carried_before": fmt_money(self.carried),
                "adjustment": fmt_money(self.amount), "into": self.into}


def previous_month(month: str) -> str:
    year, mon = int(month[:4]), int(month[5:7])
    return f"{year - 1:04d}-12" if mon == 1 else f"{year:04d}-{mon - 1:02d}"


def next_month(month: str) -> str:
    year, mon = int(month[:4]), int(month[5:7])
    return f"{year + 1:04d}-01" if mon == 12 else f"{year:04d}-{mon + 1:02d}"


def closes_in_force(months: MonthStore) -> dict[str, Close]:
    """Month -> its close in force."""
    return {c.month: c for c in months.all_closes() if c.in_force}


def carry_target(month: str, closed: Mapping[str, Close]) -> str:
    """The first month after ``month`` without a close in force."""
    target = next_month(month)
    while target in closed:
        target = next_month(target)
    return target


def frozen_totals(months: MonthStore, close: Close) -> dict[Key, Decimal]:
    return {key: Decimal(st["total"])
            for key, st in months.statements(close.month, close.version).items()}


def outstanding(months: MonthStore, close: Close, now: Mapping[Key, Decimal], into: str
                ) -> list[Adjustment]:
    """The closed month's lines still to carry (module contract), by subject and id."""
    frozen = frozen_totals(months, close)
    carried = months.carried_for(close.month)
    out = []
    for key in sorted(set(now) | set(frozen) | set(carried)):
        a = Adjustment(close.month, key[0], key[1], frozen.get(key, Decimal(0)),
                       now.get(key, Decimal(0)), carried.get(key, Decimal(0)), into)
        if a.amount:
            out.append(a)
    return out


def carried_into(months: MonthStore, month: str, recompute: Recompute) -> list[Adjustment]:
    """The lines the open ``month`` carries: those of every closed month whose first open
    month after it is ``month`` (the closed months right before it), oldest first."""
    closed = closes_in_force(months)
    if month in closed:
        return []
    run = []
    m = previous_month(month)
    while m in closed:
        run.append(closed[m])
        m = previous_month(m)
    return [a for close in reversed(run) for a in outstanding(months, close, recompute(
        close.month), month)]


def lines_total(lines: list[dict[str, Any]]) -> Decimal:
    return sum((Decimal(a["adjustment"]) for a in lines), Decimal(0))
