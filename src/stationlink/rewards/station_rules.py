"""Station line items: apply a policy's ``station.items`` to one station's facts.

Contract: ``station_items(policy, facts)`` returns the station's line items in policy order,
each amount rounded with the policy's rounding mode to 0.01 yuan (percentages are computed on
the period's summed amount, then rounded; per-transaction rates times counts are exact).
Tier rates apply uniformly to every counted transaction. An item appears when it has a
non-zero amount or counted transactions behind it; ``withhold`` items always appear. Every
``basis`` string shows the arithmetic.
"""

from __future__ import annotations

import functools
from decimal import Decimal
from fractions import Fraction

from ..errors import StationLinkError
from .model import CENT, Condition, Policy, StationItem, Tier
from .statements import CountValue, LineItem, StationFacts


def fmt_money(value: Decimal) -> str:
    return str(value.quantize(CENT))


def fmt_num(value: Decimal) -> str:
    """A rate or bound without trailing zeros beyond two decimals (0.25, 1, 0.5)."""
    text = format(value.normalize(), "f")
    return text


@functools.lru_cache(maxsize=256)
def fmt_rate(value: Decimal) -> str:
    return fmt_money(value) if value == value.quantize(CENT) else fmt_num(value)


def fmt_percent(value: Fraction) -> str:
    """A ratio as a percentage with one decimal, truncated (never rounds up across a tier)."""
    tenths = (value * 1000).__floor__()
    return f"{tenths // 10}.{tenths % 10}%"


def fmt_fraction(value: Fraction) -> str:
    if value.denominator == 1:
        return str(value.numerator)
    return fmt_num(Decimal(value.numerator) / Decimal(value.denominator))


def tier_text(tier: Tier, measure: str) -> str:
    def bound(b: Decimal) -> str:
        if measure == "coverage":
            return fmt_num(b * 100) + "%"
        return fmt_num(b)

    name = {"count": "n", "amount": "amount", "coverage": "coverage"}[measure]
    if tier.lower is None or tier.lower == 0:
        return f"{name} < {bound(tier.upper)}" if tier.upper is not None else "any " + name
    if tier.upper is None:
        return f"{name} >= {bound(tier.lower)}"
    return f"{bound(tier.lower)} <= {name} < {bound(tier.upper)}"


def find_tier(tiers: tuple[Tier, ...], value: Fraction | int) -> Tier:
    """The tier containing ``value`` (exact: Decimal bounds compare exactly with int and
    Fraction via ``Fraction(bound)``)."""
    for tier in tiers:
        if tier.contains(value):
            return tier
    raise AssertionError("validated tiers cover every value >= 0")


def condition_value(cond: Condition, counts: dict[str, CountValue]) -> Decimal:
    cv = counts[cond.count]
    return Decimal(cv.n) if cond.measure == "count" else cv.amount


def condition_text(cond: Condition, counts: dict[str, CountValue]) -> tuple[bool, str]:
    cv = counts[cond.count]
    value = condition_value(cond, counts)
    ok = value >= cond.minimum
    shown = str(cv.n) if cond.measure == "count" else f"{fmt_money(cv.amount)} yuan of"
    minimum = fmt_num(cond.minimum) if cond.measure == "count" else fmt_money(cond.minimum)
    return ok, f"{shown} {cv.label} {'>=' if ok else '<'} {minimum}"


def _cap_note(cv: CountValue) -> str:
    if cv.cap is None or cv.approved == cv.n:
        return ""
    return (f" ({cv.approved} approved, {cv.approved - cv.n} over the "
            f"{cv.cap}-per-card-per-day cap)")


def _item(policy: Policy, item: StationItem, facts: StationFacts, fee: Decimal) -> LineItem:
    rnd = policy.rounding_mode

    def done(amount: Decimal, basis: str, n: int) -> LineItem:
        return LineItem(item.code, item.label, amount.quantize(CENT, rounding=rnd), basis, n,
                        item.sms)

    if item.type == "withhold":
        amount = min(item.amount, max(fee, Decimal(0)))
        basis = (f"withheld {fmt_money(amount)} of the fee {fmt_money(fee)} "
                 f"(at most {fmt_money(item.amount)})")
        return done(-amount, basis, 0)
    cv = facts.counts[item.count]
    n = cv.n
    if item.type == "per_txn":
        amount = item.rate * n
        return done(amount, f"{n} {cv.label}{_cap_note(cv)} x {fmt_rate(item.rate)} yuan "
                    f"= {fmt_money(amount)}", n)
    if item.type == "percent_of_amount":
        exact = cv.amount * item.percent / 100
        rounded = exact.quantize(CENT, rounding=rnd)
        shown = fmt_money(rounded) if exact == rounded else f"{fmt_num(exact)} -> {rounded}"
        return done(exact, f"{n} {cv.label}, {fmt_money(cv.amount)} yuan x "
                    f"{fmt_num(item.percent)}% = {shown}", n)
    if item.type == "tiered_per_txn":
        if item.measure == "coverage":
            households = facts.effective_households
            if households is None:  # validated: coverage items apply to rural stations only
                raise StationLinkError("coverage needs a rural station with village households")
            cov = Fraction(n) / households
            value: Fraction | int = cov
            hh = fmt_fraction(households)
            if facts.stations_in_village > 1:
                hh = (f"({facts.village_households} households / {facts.stations_in_village} "
                      f"stations = {hh})")
            what = f"coverage {n}/{hh} = {fmt_percent(cov)}"
        elif item.measure == "amount":
            value = Fraction(cv.amount)
            what = f"amount {fmt_money(cv.amount)} yuan"
        else:
            value = n
            what = f"n = {n}"
        tier = find_tier(item.tiers, value)
        amount = tier.rate * n
        return done(amount, f"{n} {cv.label}{_cap_note(cv)}, {what} "
                    f"({tier_text(tier, item.measure)}) -> {fmt_rate(tier.rate)} yuan each "
                    f"= {fmt_money(amount)}", n)
    if item.type == "fixed_if":
        if item.when is None:
            raise StationLinkError(f"{item.code}: fixed_if without a condition")
        ok, text = condition_text(item.when, facts.counts)
        amount = item.amount if ok else Decimal(0)
        result = fmt_money(amount) if ok else "not reached, 0.00"
        return done(amount, f"{text} -> {result}", n)
    # unpriced
    count_def = policy.counts[item.count]
    parts = [f"{pn} {product or '(no product)'}"
             for (kind, product), (pn, _) in sorted(facts.by_product.items())
             if pn and count_def.matches(kind, product)]
    listed = f" ({', '.join(parts)})" if parts else ""
    return done(Decimal(0), f"{n} {cv.label}{listed}, {fmt_money(cv.amount)} yuan collected: "
                "not priced by this policy -> 0.00", n)


def station_items(policy: Policy, facts: StationFacts) -> tuple[LineItem, ...]:
    items: list[LineItem] = []
    fee = Decimal(0)
    for item in policy.station_items:
        if facts.area not in item.areas:
            continue
        line = _item(policy, item, facts, fee)
        if line.amount == 0 and line.quantity == 0 and item.type != "withhold":
            continue
        items.append(line)
        fee += line.amount
    return tuple(items)
