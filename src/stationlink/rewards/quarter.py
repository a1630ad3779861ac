"""Quarter settlement: monthly withholding and its refund at quarter end.

Contract:
- A quarter ``YYYYQn`` is three calendar months in CST: Q1 = January-March, Q2 = April-June,
  Q3 = July-September, Q4 = October-December.
- ``compute_quarter`` computes the three monthly statements in one pass over the
  transactions (which must cover the whole quarter), then, for each station and month, refunds
  what the policy's ``withhold`` item withheld that month if any condition of
  ``quarter.refund_when_any`` held for that month; otherwise the withheld amount is forfeited.
- Each station's quarter statement has, per month, the month's paid total (already net of the
  withholding) and the refund line; its total is the sum of those items.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from decimal import Decimal

from ..errors import ConfigError, StationLinkError
from ..interchange import Branch, Station, Transaction
from .engine import compute_months
from .model import Policy, QuarterRule
from .statements import LineItem, MonthResult, QuarterResult, QuarterStatement, RunInfo
from .station_rules import condition_text, fmt_money

_QUARTER = re.compile(r"^(\d{4})Q([1-4])$")


def quarter_months(quarter: str) -> list[str]:
    """``'2026Q4'`` -> ``['2026-10', '2026-11', '2026-12']``."""
    m = _QUARTER.match(quarter.strip().upper())
    if m is None:
        raise ConfigError(f"quarter must look like 2026Q4, not {quarter!r}")
    year, q = int(m.group(1)), int(m.group(2))
    return [f"{year:04d}-{3 * (q - 1) + i:02d}" for i in (1, 2, 3)]


def _settle_station(rule: QuarterRule, months: Sequence[MonthResult],
                    station_id: str) -> QuarterStatement:
    items: list[LineItem] = []
    withheld_total = refund_total = Decimal("0.00")
    branch_id = ""
    for month in months:
        st = month.station(station_id)
        if st is None:
            raise StationLinkError(f"station {station_id} missing from {month.month}")
        branch_id = st.branch_id
        hold = st.item(rule.withhold_code)
        withheld = -hold.amount if hold is not None else Decimal("0.00")
        withheld_total += withheld
        fee = st.total + withheld
        items.append(LineItem(
            f"month.{month.month}", f"{month.month} statement", st.total,
            f"{month.month}: fee {fmt_money(fee)} - withheld {fmt_money(withheld)} "
            f"= {fmt_money(st.total)} paid monthly"))
        results = [condition_text(c, st.facts.counts) for c in rule.refund_when_any]
        qualified = any(ok for ok, _ in results)
        why = (" or " if qualified else " and ").join(
            text for ok, text in results if ok == qualified)
        refund = withheld if qualified else Decimal("0.00")
        refund_total += refund
        if withheld == 0:
            verdict = "nothing was withheld"
        elif qualified:
            verdict = f"withheld {fmt_money(withheld)} returned"
        else:
            verdict = f"withheld {fmt_money(withheld)} not returned (forfeited)"
        items.append(LineItem(f"refund.{month.month}", f"{rule.label} for {month.month}",
                              refund, f"{month.month}: {why} -> {verdict}", sms=rule.sms))
    total = sum((i.amount for i in items), Decimal("0.00"))
    return QuarterStatement(station_id, branch_id, total, withheld_total, refund_total,
                            tuple(items))


def settle_quarter(policy: Policy, quarter: str,
                   months: Sequence[MonthResult]) -> QuarterResult:
    rule = policy.quarter
    if rule is None:
        raise ConfigError(f"policy {policy.name} has no [quarter] rule; use --month")
    ids = [s.station_id for s in months[0].stations]
    stations = tuple(_settle_station(rule, months, sid) for sid in ids)
    first = months[0].info
    warnings = tuple(dict.fromkeys(w for m in months for w in m.info.warnings))
    info = RunInfo(first.rows, first.outside_period, sum(m.info.declined for m in months),
                   sum(m.info.reversed for m in months), first.skipped_bad_rows,
                   first.duplicate_rows, warnings)
    return QuarterResult(quarter.strip().upper(), policy.name, tuple(months), stations, info)


def compute_quarter(
    policy: Policy,
    stations: Sequence[Station],
    branches: Sequence[Branch],
    transactions: Iterable[Transaction],
    quarter: str,
    *,
    info: RunInfo | None = None,
) -> QuarterResult:
    """Monthly statements for the quarter's three months plus the quarter settlement."""
    if policy.quarter is None:
        raise ConfigError(f"policy {policy.name} has no [quarter] rule; use --month")
    months = compute_months(policy, stations, branches, transactions,
                            quarter_months(quarter), info=info)
    return settle_quarter(policy, quarter, months)
