"""The reward engine: transactions + stations + branches + policy -> statements.

Contract:
- ``compute(policy, stations, branches, transactions, month)`` returns a
  :class:`~.statements.MonthResult` for one CST calendar month (``"2026-10"``);
  ``compute_months`` does several consecutive months in one pass over the transactions.
- ``transactions`` is any iterable of :class:`~stationlink.interchange.Transaction` (a CSV
  reader, a hub query, a generator) and is read exactly once. Results do not depend on row
  order. Only approved rows inside the month count; the rest is counted in ``RunInfo``.
- A transaction for a station that is not in ``stations``, or a station whose branch is not
  in ``branches``, raises :class:`~stationlink.errors.InputDataError`.
- Statements are sorted by id; every station and every branch of the inputs gets one.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import replace
from decimal import Decimal
from fractions import Fraction
from typing import Any

from ..errors import ConfigError, InputDataError, Problem
from ..interchange import Branch, Station, Transaction
from ..money import month_bounds
from .branch_rules import branch_statement, effective_status
from .model import CountDef, Policy
from .statements import (
    BranchStatement,
    CountValue,
    MonthResult,
    RunInfo,
    StationFacts,
    StationStatement,
)
from .station_rules import station_items
from .tally import CST_EPOCH, ONE_DAY, Period, Tally, gc_paused, tally


def month_period(month: str) -> Period:
    try:
        start, end = month_bounds(month)
    except ValueError as exc:
        raise ConfigError(str(exc)) from exc
    return Period(f"{start.year:04d}-{start.month:02d}", start, end)


def _check_refs(stations: Sequence[Station], branches: Sequence[Branch]) -> None:
    known = {b.branch_id for b in branches}
    problems = [
        Problem("stations", 0, "branch_id",
                f"station {s.station_id!r}: unknown branch {s.branch_id!r}")
        for s in stations if s.branch_id not in known
    ]
    if problems:
        raise InputDataError(problems)


def _counts(policy: Policy, by_product: dict[tuple[str, str], tuple[int, Decimal]],
            capped: dict[str, tuple[int, list[tuple[str, str, int]]]],
            matching: dict[tuple[str, str], tuple[str, ...]]) -> dict[str, CountValue]:
    """Named counts of one station; ``matching`` caches (kind, product) -> count names."""
    ns = dict.fromkeys(policy.counts, 0)
    amounts = dict.fromkeys(policy.counts, Decimal("0.00"))
    for kp, (k, amt) in by_product.items():
        names = matching.get(kp)
        if names is None:
            names = tuple(c.name for c in policy.counts.values() if c.matches(*kp))
            matching[kp] = names
        for name in names:
            ns[name] += k
            amounts[name] += amt
    counts: dict[str, CountValue] = {}
    for name, cdef in policy.counts.items():
        n, amount = ns[name], amounts[name]
        cap = cdef.cap_per_card_per_day
        if cap is None:
            counts[name] = CountValue(name, cdef.label, n, amount, n)
        else:
            valid, over = capped.get(name, (0, []))
            counts[name] = CountValue(name, cdef.label, valid, amount, n,
                                      tuple(sorted(over)), cap)
    return counts


def _capped(t: Tally, caps: dict[str, int]) -> dict[tuple[int, str], dict[str, tuple[
        int, list[tuple[str, str, int]]]]]:
    out: dict[tuple[int, str], dict[str, tuple[int, list[tuple[str, str, int]]]]] = \
        defaultdict(dict)
    for (p, st, name, card, day), swipes in t.card_days.items():
        cap = caps[name]
        per = out[(p, st)]
        valid, over = per.get(name, (0, []))
        if swipes > cap:
            date = (CST_EPOCH + day * ONE_DAY).date().isoformat()
            over.append((card, date, swipes))
        per[name] = (valid + min(swipes, cap), over)
    return out


def _facts(policy: Policy, station: Station, village_sizes: dict[str, int],
           by_product: dict[tuple[str, str], tuple[int, Decimal]],
           capped: dict[str, tuple[int, list[tuple[str, str, int]]]],
           declined: int, reversed_: int,
           matching: dict[tuple[str, str], tuple[str, ...]]) -> StationFacts:
    k = village_sizes.get(station.village_id, 0) if station.area == "rural" else 0
    households = station.village_households
    eff = Fraction(households, k) if households and k else None
    facts = StationFacts(station.area, station.village_id, households, k, eff, by_product,
                         declined, reversed_, _counts(policy, by_product, capped, matching))
    if policy.branch is not None:
        ok, reasons = effective_status(policy.branch, facts)
        facts = replace(facts, effective=ok, effective_reasons=reasons)
    return facts


def compute_months(
    policy: Policy,
    stations: Sequence[Station],
    branches: Sequence[Branch],
    transactions: Iterable[Transaction],
    months: Sequence[str],
    *,
    info: RunInfo | None = None,
) -> tuple[MonthResult, ...]:
    """Statements for consecutive months, one pass over ``transactions``."""
    with gc_paused():
        return _compute_months(policy, stations, branches, transactions, months, info)


def _compute_months(
    policy: Policy,
    stations: Sequence[Station],
    branches: Sequence[Branch],
    transactions: Iterable[Transaction],
    months: Sequence[str],
    info: RunInfo | None,
) -> tuple[MonthResult, ...]:
    periods = tuple(month_period(m) for m in months)
    for a, b in zip(periods, periods[1:], strict=False):
        if a.end != b.start:
            raise ConfigError(f"months must be consecutive: {a.label} then {b.label}")
    _check_refs(stations, branches)
    caps = {c.name: c.cap_per_card_per_day for c in policy.counts.values()
            if c.cap_per_card_per_day is not None}
    capped_defs: list[CountDef] = [policy.counts[n] for n in caps]
    t = tally(transactions, periods, capped_defs, {s.station_id for s in stations})
    if t.unknown:
        raise InputDataError([
            Problem("transactions", 0, "station_id", f"txn {txn_id!r}: unknown station")
            for txn_id in t.unknown
        ])
    return statements_from(policy, stations, branches, periods, t.cells, t.not_approved,
                           _capped(t, caps), t.rows, t.outside, info)


#: Per (period, station): count name -> (valid swipes, [(card, CST date, swipes) over cap]).
Capped = dict[tuple[int, str], dict[str, tuple[int, list[tuple[str, str, int]]]]]


def statements_from(
    policy: Policy,
    stations: Sequence[Station],
    branches: Sequence[Branch],
    periods: tuple[Period, ...],
    cells: Mapping[tuple[int, str, str, str], Sequence[Any]],
    not_approved: Mapping[tuple[int, str, str], int],
    capped: Capped,
    rows: int,
    outside: int,
    info: RunInfo | None,
) -> tuple[MonthResult, ...]:
    """The policy applied on tallies: ``cells`` (period, station, kind, product) -> (approved
    rows, amount), ``not_approved`` (period, station, status) -> rows, ``capped`` the capped
    counts; ``rows`` and ``outside`` for ``RunInfo``. Shared by the one-pass tally above and
    the store's SQL tallies (:mod:`stationlink.rewards.from_store`)."""
    by_station: dict[tuple[int, str], dict[tuple[str, str], tuple[int, Decimal]]] = \
        defaultdict(dict)
    rows_in: dict[int, int] = defaultdict(int)
    for (p, st, kind, product), (n, amount) in cells.items():
        by_station[(p, st)][(kind, product)] = (n, amount)
        rows_in[p] += n
    for (p, _, _), n in not_approved.items():
        rows_in[p] += n
    village_sizes: dict[str, int] = defaultdict(int)
    for s in stations:
        if s.area == "rural":
            village_sizes[s.village_id] += 1
    base = info or RunInfo()
    matching: dict[tuple[str, str], tuple[str, ...]] = {}
    results = []
    for p, period in enumerate(periods):
        statements = []
        facts_by_branch: dict[str, dict[str, StationFacts]] = {b.branch_id: {}
                                                               for b in branches}
        declined = reversed_ = 0
        for s in sorted(stations, key=lambda s: s.station_id):
            d = not_approved.get((p, s.station_id, "declined"), 0)
            r = not_approved.get((p, s.station_id, "reversed"), 0)
            declined += d
            reversed_ += r
            facts = _facts(policy, s, village_sizes, by_station.get((p, s.station_id), {}),
                           capped.get((p, s.station_id), {}), d, r, matching)
            items = station_items(policy, facts)
            total = sum((i.amount for i in items), Decimal("0.00"))
            statements.append(StationStatement(s.station_id, s.branch_id, total, items, facts))
            facts_by_branch[s.branch_id][s.station_id] = facts
        branch_statements: list[BranchStatement] = []
        if policy.branch is not None:
            branch_statements = [branch_statement(policy, b, facts_by_branch[b.branch_id])
                                 for b in sorted(branches, key=lambda b: b.branch_id)]
        warnings = list(base.warnings)
        if rows_in[p] == 0:
            warnings.append(f"no transactions at all in {period.label}: are the inputs "
                            "complete?")
        run = replace(base, rows=rows, outside_period=outside, declined=declined,
                      reversed=reversed_, warnings=tuple(warnings))
        results.append(MonthResult(period.label, policy.name, tuple(statements),
                                   tuple(branch_statements), run))
    return tuple(results)


def compute(
    policy: Policy,
    stations: Sequence[Station],
    branches: Sequence[Branch],
    transactions: Iterable[Transaction],
    month: str,
    *,
    info: RunInfo | None = None,
) -> MonthResult:
    """Statements for one CST calendar month (see module contract)."""
    return compute_months(policy, stations, branches, transactions, [month], info=info)[0]
