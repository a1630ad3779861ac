"""The in-memory form of a reward policy (what ``policy.load_policy`` builds from TOML).

Contract: every object here is frozen and already validated; the engine trusts it. Money and
rates are ``Decimal``; tier bounds and thresholds are ``Decimal`` compared exactly against
counts, amounts or coverage ratios (``fractions.Fraction``). ``docs/policies.md`` documents
the TOML keys that map onto these fields.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import ROUND_HALF_EVEN, ROUND_HALF_UP, Decimal
from fractions import Fraction

CENT = Decimal("0.01")
ROUNDING_MODES = {"half_up": ROUND_HALF_UP, "half_even": ROUND_HALF_EVEN}

#: Station item types and branch item types understood by the engine.
STATION_ITEM_TYPES = ("per_txn", "percent_of_amount", "tiered_per_txn", "fixed_if", "unpriced",
                      "withhold")
BRANCH_ITEM_TYPES = ("per_effective_station", "per_txn_of_effective", "all_effective_bonus",
                     "per_block_bonus", "plan_shortfall_penalty")
MEASURES = ("count", "amount", "coverage")


@dataclass(frozen=True)
class CountDef:
    """A named selection of a station's approved transactions in the period."""

    name: str
    label: str
    kind: str
    products: frozenset[str] | None = None
    products_except: frozenset[str] | None = None
    cap_per_card_per_day: int | None = None

    def matches(self, kind: str, product: str) -> bool:
        if kind != self.kind:
            return False
        if self.products is not None:
            return product in self.products
        if self.products_except is not None:
            return product not in self.products_except
        return True


@dataclass(frozen=True)
class Tier:
    """``lower <= value < upper``; ``None`` is an open end. ``rate`` is yuan per transaction."""

    lower: Decimal | None
    upper: Decimal | None
    rate: Decimal

    def contains(self, value: int | Fraction) -> bool:
        """Exact: ints compare exactly with Decimal; Fractions with ``Fraction(bound)``."""
        if isinstance(value, Fraction):
            lo_ok = self.lower is None or value >= Fraction(self.lower)
            hi_ok = self.upper is None or value < Fraction(self.upper)
        else:
            lo_ok = self.lower is None or value >= self.lower
            hi_ok = self.upper is None or value < self.upper
        return lo_ok and hi_ok


@dataclass(frozen=True)
class Condition:
    """``measure`` of ``count`` is at least ``minimum``."""

    count: str
    measure: str
    minimum: Decimal


@dataclass(frozen=True)
class StationItem:
    code: str
    label: str
    type: str
    count: str = ""
    areas: frozenset[str] = frozenset({"rural", "urban"})
    rate: Decimal = Decimal(0)
    percent: Decimal = Decimal(0)
    measure: str = "count"
    tiers: tuple[Tier, ...] = ()
    when: Condition | None = None
    amount: Decimal = Decimal(0)
    sms: str = ""


@dataclass(frozen=True)
class BranchItem:
    code: str
    label: str
    type: str
    areas: frozenset[str] = frozenset({"rural", "urban"})
    amount: Decimal = Decimal(0)
    rate: Decimal = Decimal(0)
    counts: tuple[str, ...] = ()
    block: int = 0


@dataclass(frozen=True)
class BranchRules:
    effective_when_all: tuple[Condition, ...]
    items: tuple[BranchItem, ...]
    head_share: Decimal


@dataclass(frozen=True)
class QuarterRule:
    """At quarter end, refund what item ``withhold_code`` withheld in each qualifying month."""

    withhold_code: str
    refund_when_any: tuple[Condition, ...]
    label: str = "quarter refund"
    sms: str = ""


@dataclass(frozen=True)
class NoticeFormat:
    template: str
    part: str
    separator: str
    segment_chars: int = 70


@dataclass(frozen=True)
class Policy:
    name: str
    title: str
    source: str
    rounding: str
    counts: dict[str, CountDef]
    station_items: tuple[StationItem, ...]
    branch: BranchRules | None
    quarter: QuarterRule | None
    notice: NoticeFormat
    calendar: dict[str, int] = field(default_factory=dict)

    @property
    def rounding_mode(self) -> str:
        return ROUNDING_MODES[self.rounding]
