"""Statement dataclasses: what the engine returns and the renderers print.

Contract: every money field is a ``Decimal`` with exactly two decimals; every statement's
``total`` equals the sum of its items' amounts; a branch's ``head + maintainer == total``.
``facts`` carry the intermediate figures the ``explain`` renderer prints; they never affect
amounts.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal
from fractions import Fraction


@dataclass(frozen=True)
class LineItem:
    code: str
    label: str
    amount: Decimal
    basis: str
    quantity: int = 0
    sms: str = ""


@dataclass(frozen=True)
class CountValue:
    """A named count for one station: ``n`` counted (after any cap) and their amount."""

    name: str
    label: str
    n: int
    amount: Decimal
    approved: int
    #: (card token, CST date ``YYYY-MM-DD``, swipes) for each card-day over the cap
    over_cap: tuple[tuple[str, str, int], ...] = ()
    cap: int | None = None


@dataclass(frozen=True)
class StationFacts:
    area: str
    village_id: str
    village_households: int | None
    stations_in_village: int
    effective_households: Fraction | None
    #: (kind, product) -> (approved count, amount)
    by_product: dict[tuple[str, str], tuple[int, Decimal]]
    declined: int
    reversed: int
    counts: dict[str, CountValue]
    effective: bool | None = None
    effective_reasons: tuple[str, ...] = ()


@dataclass(frozen=True)
class StationStatement:
    station_id: str
    branch_id: str
    total: Decimal
    items: tuple[LineItem, ...]
    facts: StationFacts

    def item(self, code: str) -> LineItem | None:
        return next((i for i in self.items if i.code == code), None)


@dataclass(frozen=True)
class BranchStatement:
    branch_id: str
    area: str
    effective_stations: int
    stations: int
    plan: int
    total: Decimal
    head: Decimal
    maintainer: Decimal
    items: tuple[LineItem, ...]
    #: station id -> (effective?, reasons)
    station_status: dict[str, tuple[bool, tuple[str, ...]]] = field(default_factory=dict)
    head_share: Decimal = Decimal("0.2")


@dataclass(frozen=True)
class RunInfo:
    """What the run read and left out, so nothing is dropped silently."""

    rows: int = 0
    outside_period: int = 0
    declined: int = 0
    reversed: int = 0
    skipped_bad_rows: int = 0
    duplicate_rows: int = 0
    warnings: tuple[str, ...] = ()


@dataclass(frozen=True)
class MonthResult:
    month: str
    policy: str
    stations: tuple[StationStatement, ...]
    branches: tuple[BranchStatement, ...]
    info: RunInfo = RunInfo()

    def station(self, station_id: str) -> StationStatement | None:
        return next((s for s in self.stations if s.station_id == station_id), None)

    def branch(self, branch_id: str) -> BranchStatement | None:
        return next((b for b in self.branches if b.branch_id == branch_id), None)


@dataclass(frozen=True)
class QuarterStatement:
    station_id: str
    branch_id: str
    total: Decimal
    withheld: Decimal
    refund: Decimal
    items: tuple[LineItem, ...]


@dataclass(frozen=True)
class QuarterResult:
    quarter: str
    policy: str
    months: tuple[MonthResult, ...]
    stations: tuple[QuarterStatement, ...]
    info: RunInfo = RunInfo()
