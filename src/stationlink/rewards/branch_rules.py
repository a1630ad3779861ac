"""Branch (支局) statements: effective stations, maintenance, bonuses, penalty and the split.

Contract: ``branch_statement(policy, branch, stations)`` takes the branch's stations' facts
(already computed for the period). A station is effective when every condition of
``branch.effective_when_all`` holds. Every applicable branch item appears, also at 0.00, so
each figure is explained. A branch with no stations earns no all-effective bonus. The total is
the sum of items (the penalty is negative); ``head = total x head_share`` rounded with the
policy's rounding mode, ``maintainer = total - head``, so the two always add up to the total.
"""

from __future__ import annotations

from decimal import Decimal

from ..errors import PolicyError
from ..interchange import Branch
from .model import CENT, BranchItem, BranchRules, Policy
from .statements import BranchStatement, LineItem, StationFacts
from .station_rules import condition_text, fmt_money, fmt_rate


def effective_status(rules: BranchRules, facts: StationFacts) -> tuple[bool, tuple[str, ...]]:
    results = [condition_text(c, facts.counts) for c in rules.effective_when_all]
    return all(ok for ok, _ in results), tuple(text for _, text in results)


def _line(item: BranchItem, amount: Decimal, basis: str, n: int = 0) -> LineItem:
    return LineItem(item.code, item.label, amount.quantize(CENT), basis, n)


def _item(item: BranchItem, branch: Branch, effective: list[StationFacts],
          total_stations: int) -> LineItem:
    e = len(effective)
    if item.type == "per_effective_station":
        amount = item.amount * e
        return _line(item, amount, f"{e} effective stations x {fmt_rate(item.amount)} yuan "
                     f"= {fmt_money(amount)}", e)
    if item.type == "per_txn_of_effective":
        parts = []
        n = 0
        for name in item.counts:
            k = sum(f.counts[name].n for f in effective)
            label = effective[0].counts[name].label if effective else name.replace("_", " ")
            parts.append(f"{k} {label}")
            n += k
        amount = item.rate * n
        return _line(item, amount, f"{fmt_rate(item.rate)} yuan x ({' + '.join(parts)} = {n}) "
                     f"at {e} effective stations = {fmt_money(amount)}", n)
    if item.type == "all_effective_bonus":
        ok = total_stations > 0 and e == total_stations
        amount = item.amount if ok else Decimal(0)
        verdict = "all effective" if ok else ("no stations" if total_stations == 0 else
                                              "not all effective")
        return _line(item, amount, f"{e} of {total_stations} stations effective: {verdict} "
                     f"-> {fmt_money(amount)}", e)
    if item.type == "per_block_bonus":
        blocks = e // item.block
        amount = item.amount * blocks
        return _line(item, amount, f"{e} effective stations: {blocks} full block(s) of "
                     f"{item.block} x {fmt_money(item.amount)} = {fmt_money(amount)}", blocks)
    # plan_shortfall_penalty
    short = max(0, branch.plan_effective_stations - e)
    amount = -(item.amount * short)
    return _line(item, amount, f"plan {branch.plan_effective_stations}, effective {e}: "
                 f"{short} short x {fmt_money(item.amount)} = {fmt_money(amount)}", short)


def branch_statement(policy: Policy, branch: Branch,
                     stations: dict[str, StationFacts]) -> BranchStatement:
    rules = policy.branch
    if rules is None:
        raise PolicyError(f"policy {policy.name} has no branch rules")
    status = {sid: effective_status(rules, f) for sid, f in sorted(stations.items())}
    effective = [stations[sid] for sid, (ok, _) in status.items() if ok]
    items = tuple(_item(i, branch, effective, len(stations)) for i in rules.items
                  if branch.area in i.areas)
    total = sum((i.amount for i in items), Decimal("0.00"))
    head = (total * rules.head_share).quantize(CENT, rounding=policy.rounding_mode)
    return BranchStatement(
        branch.branch_id, branch.area, len(effective), len(stations),
        branch.plan_effective_stations, total, head, total - head, items, status,
        rules.head_share,
    )
