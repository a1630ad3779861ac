"""What the console's station and month pages show, as plain data (dicts, JSON-ready).

Contract (docs/console.md, "Pages"):
- The policy in force is :data:`POLICY` (the built-in ``dezhou-2014``, as ``rewards compute``
  uses by default); the stations and branches are the hub's reference data
  (:mod:`.monthstore`, ``hub stations import``).
- :func:`month_result` computes a month's statements from the hub store's SQL tallies
  (:meth:`~stationlink.hub.store.HubStore.month_tallies`) exactly as ``rewards compute --hub``
  does (same :func:`~stationlink.rewards.from_store.compute_from_tallies`); rows of a station
  the reference data does not know are left out of the statements and named in a warning
  with their count (nothing is dropped silently).
- :func:`station_view` / :func:`branch_view` are a statement with every item's derivation
  in the console's language (:mod:`stationlink.rewards.derivation`) and the inputs behind it
  as ``rewards explain`` lists them (``by_product``: approved transactions by kind and
  product; ``over_cap``: card-days over the cap, card token only; for a branch, what its
  commission counts at its effective stations and its stations' card-days over the cap); a
  close stores exactly these dicts, and a closed month's pages show the stored ones, never
  recomputed (a month closed before these two lists existed shows none).
- :func:`month_view`: provisional statements (on-time records only, like ``rewards compute
  --hub``) while the month is open, the frozen ones once closed; totals per branch and per
  county; the late records; once closed, the adjustments still to carry (:mod:`.carry`: per
  station and branch, now minus frozen minus carried already, and the open month they go
  into), while open, the lines it carries (``carried``, ``payable``); data-quality warnings
  (a carried line without a statement to carry it, stations silent for
  :data:`SILENT_DAYS` days or more, records the agents quarantined, unknown stations).
- Amounts are text in yuan with two decimals (exact, from Decimal); times are CST.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import replace
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from ...i18n import gettext_for
from ...money import CST
from ...rewards.derivation import (
    OverCapDay,
    ProductSum,
    branch_basis,
    branch_over_cap_days,
    branch_product_sums,
    condition,
    label,
    over_cap_days,
    product_sums,
    station_basis,
    vocab_name,
)
from ...rewards.engine import month_period
from ...rewards.from_store import compute_from_tallies
from ...rewards.model import Policy
from ...rewards.notice import notice_for
from ...rewards.policy import load_policy
from ...rewards.statements import BranchStatement, MonthResult, StationStatement
from ...rewards.station_rules import fmt_money
from ..store import HubRecord, MonthTallies
from .carry import (
    Recompute,
    carried_into,
    carry_target,
    closes_in_force,
    lines_total,
    outstanding,
)
from .monthstore import Close, MonthStore, Reference

POLICY_NAME = "dezhou-2014"
POLICY: Policy = load_policy(POLICY_NAME)
SILENT_DAYS = 3
_CAPPED = [c for c in POLICY.counts.values() if c.cap_per_card_per_day is not None]


def month_result(hub_store: Any, ref: Reference, month: str, *, include_late: bool,
                 lang: str | None) -> tuple[MonthResult, list[str]]:
    """The month's statements and the warnings about rows left out (module contract)."""
    month_period(month)  # ConfigError for a malformed month
    tallies: MonthTallies = hub_store.month_tallies([month], include_late=include_late,
                                                    capped=_CAPPED)
    known = {s.station_id for s in ref.stations}
    unknown: dict[str, int] = defaultdict(int)
    for key, (n, _fen) in tallies.cells.items():
        if key[1] not in known:
            unknown[key[1]] += n
    if unknown:
        tallies = replace(
            tallies, cells={k: v for k, v in tallies.cells.items() if k[1] in known},
            valid={k: v for k, v in tallies.valid.items() if k[1] in known},
            over=[o for o in tallies.over if o[1] in known])
    _ = gettext_for(lang)
    warnings = [_("{n} rows of station {station}, which the reference data does not know, "
                  "are left out; import the stations file.").format(n=n, station=s)
                for s, n in sorted(unknown.items())]
    if not ref.stations:
        return MonthResult(month, POLICY.name, (), ()), warnings
    (result,) = compute_from_tallies(POLICY, ref.stations, ref.branches, tallies)
    return result, warnings


def station_view(result: MonthResult, st: StationStatement, lang: str | None
                 ) -> dict[str, Any]:
    f = st.facts
    notice = notice_for(POLICY, result.month, st, lang)
    reasons = _reasons(result, st.station_id, f.effective_reasons, lang)
    return {
        "notice": {"text": notice.text, "segments": list(notice.segments)},
        "station_id": st.station_id, "branch_id": st.branch_id, "area": f.area,
        "village_id": f.village_id, "total": fmt_money(st.total),
        "effective": f.effective, "effective_reasons": reasons,
        "items": [{"code": i.code, "label": label(i.label, lang), "quantity": i.quantity,
                   "amount": fmt_money(i.amount),
                   "basis": station_basis(POLICY, st, i, lang)} for i in st.items],
        "by_product": [_product_row(p) for p in product_sums(f, lang)],
        "over_cap": [_over_cap_row(d) for d in over_cap_days(st.station_id, f, lang)],
    }


def _product_row(p: ProductSum) -> dict[str, Any]:
    return {"kind": p.kind, "product": p.product, "kind_name": p.kind_name,
            "product_name": p.product_name, "n": p.n, "amount": fmt_money(p.amount)}


def _over_cap_row(d: OverCapDay) -> dict[str, Any]:
    return {"station_id": d.station_id, "count": d.count, "label": d.label, "card": d.card,
            "day": d.day, "day_text": d.day_text, "swipes": d.swipes, "cap": d.cap,
            "over": d.over}


def branch_view(result: MonthResult, b: BranchStatement, lang: str | None
                ) -> dict[str, Any]:
    return {
        "branch_id": b.branch_id, "area": b.area, "stations": b.stations,
        "effective_stations": b.effective_stations, "plan_effective_stations": b.plan,
        "total": fmt_money(b.total), "head": fmt_money(b.head),
        "maintainer": fmt_money(b.maintainer),
        "station_status": {k: {"effective": v[0], "reasons": _reasons(result, k, v[1], lang)}
                           for k, v in sorted(b.station_status.items())},
        "items": [{"code": i.code, "label": label(i.label, lang), "quantity": i.quantity,
                   "amount": fmt_money(i.amount),
                   "basis": branch_basis(POLICY, result, b, i, lang)} for i in b.items],
        "by_product": [_product_row(p) for p in branch_product_sums(POLICY, result, b, lang)],
        "over_cap": [_over_cap_row(d) for d in branch_over_cap_days(result, b, lang)],
    }


def _reasons(result: MonthResult, station_id: str, given: tuple[str, ...], lang: str | None
             ) -> list[str]:
    """The effective-station test of a station, in ``lang`` (as ``rewards explain``)."""
    st = result.station(station_id)
    if st is None or POLICY.branch is None:
        return list(given)
    return [condition(c, st.facts.counts, lang) for c in POLICY.branch.effective_when_all]


def statement_views(result: MonthResult, lang: str | None
                    ) -> list[tuple[str, str, dict[str, Any]]]:
    """(subject, id, view) of every station and branch statement: what a close stores."""
    return [*(("station", s.station_id, station_view(result, s, lang))
              for s in result.stations),
            *(("branch", b.branch_id, branch_view(result, b, lang)) for b in result.branches)]


def _sum(values: list[str]) -> str:
    return fmt_money(sum((Decimal(v) for v in values), Decimal(0)))


def _totals(result: MonthResult) -> dict[tuple[str, str], Decimal]:
    """(subject, id) -> the statement's total as shown (two decimals)."""
    return {**{("station", s.station_id): Decimal(fmt_money(s.total)) for s in result.stations},
            **{("branch", b.branch_id): Decimal(fmt_money(b.total)) for b in result.branches}}


def recomputer(hub_store: Any, ref: Reference) -> Recompute:
    """A month's totals recomputed now, late records included (:mod:`.carry`)."""
    def totals(month: str) -> dict[tuple[str, str], Decimal]:
        return _totals(month_result(hub_store, ref, month, include_late=True, lang=None)[0])

    return totals


def provisional_views(hub_store: Any, months: MonthStore, ref: Reference, month: str,
                      lang: str | None) -> tuple[list[tuple[str, str, dict[str, Any]]],
                                                 list[str]]:
    """The open month's statements (what a close stores), each with ``carried``: the
    adjustments it carries for that station or branch, as separate lines naming their month
    (:func:`.carry.carried_into`), and ``payable`` (its own total plus those lines)."""
    result, warnings = month_result(hub_store, ref, month, include_late=False, lang=lang)
    carried = [a.as_dict() for a in carried_into(months, month, recomputer(hub_store, ref))]
    views = statement_views(result, lang)
    for subject, sid, view in views:
        lines = [a for a in carried if a["subject"] == subject and a["id"] == sid]
        view["carried"] = lines
        view["payable"] = fmt_money(Decimal(view["total"]) + lines_total(lines))
    shown = {(s, i) for s, i, _v in views}
    _ = gettext_for(lang)
    warnings += [_("{subject} {id} is not in this month's statements; its adjustment of "
                   "{amount} yuan for {month} stays to carry.").format(
        subject=a["subject"], id=a["id"], amount=a["adjustment"], month=a["month"])
        for a in carried if (a["subject"], a["id"]) not in shown]
    return views, warnings


def month_view(hub_store: Any, months: MonthStore, month: str, *, lang: str | None,
               now: datetime) -> dict[str, Any]:
    """The month page's data (module contract)."""
    _ = gettext_for(lang)
    ref = months.reference()
    closes = months.closes(month)
    close: Close | None = closes[-1] if closes and closes[-1].in_force else None
    warnings: list[str] = []
    if close is not None:
        frozen = months.statements(month, close.version)
        views = [(k[0], k[1], v) for k, v in frozen.items()]
        current, w = month_result(hub_store, ref, month, include_late=True, lang=lang)
        warnings += w
        adjustments = [a.as_dict() for a in outstanding(
            months, close, _totals(current), carry_target(month, closes_in_force(months)))]
    else:
        views, w = provisional_views(hub_store, months, ref, month, lang)
        warnings += w
        adjustments = []
    stations = [v for s, _i, v in views if s == "station"]
    branches = [v for s, _i, v in views if s == "branch"]
    by_county: dict[str, list[str]] = defaultdict(list)
    branch_totals: dict[str, list[str]] = defaultdict(list)
    for st in stations:
        branch_totals[st["branch_id"]].append(st["total"])
    for b in branches:
        county = ref.counties.get(b["branch_id"], _("(no county)"))
        by_county[county] += [b["total"], *branch_totals.get(b["branch_id"], [])]
    late = [_record_row(r, lang) for r in hub_store.late_records(month)]
    if close is not None:  # records received after the close are adjustments too
        held = {(x["station_id"], x["seq"]) for x in late}
        late += [_record_row(r, lang) for r in hub_store.records(month)
                 if r.received_at > close.closed_at
                 and (r.record.station_id, r.record.seq) not in held]
    warnings += _quality(hub_store, ref, now, lang)
    return {
        "month": month, "policy": close.policy if close else POLICY.name,
        "closed": None if close is None else {
            "version": close.version, "closed_by": close.closed_by,
            "closed_at": close.closed_at.astimezone(CST).isoformat()},
        "versions": [{"version": c.version, "closed_by": c.closed_by,
                      "closed_at": c.closed_at.astimezone(CST).isoformat(),
                      "reopened_by": c.reopened_by,
                      "reopened_at": c.reopened_at.astimezone(CST).isoformat()
                      if c.reopened_at else None} for c in closes],
        "stations": stations, "branches": branches,
        "branch_totals": [{"branch_id": b["branch_id"],
                           "stations": _sum(branch_totals.get(b["branch_id"], [])),
                           "branch": b["total"],
                           "total": _sum([b["total"], *branch_totals.get(b["branch_id"], [])])}
                          for b in branches],
        "county_totals": [{"county": c, "total": _sum(v)} for c, v in sorted(by_county.items())],
        "total": _sum([s["total"] for s in stations] + [b["total"] for b in branches]),
        "late_records": late, "adjustments": adjustments, "warnings": warnings,
    }


def _record_row(r: HubRecord, lang: str | None) -> dict[str, Any]:
    rec = r.record
    return {"station_id": rec.station_id, "seq": rec.seq, "kind": vocab_name(rec.kind, lang),
            "product": vocab_name(rec.product, lang) if rec.product else "",
            "amount": fmt_money(Decimal(rec.amount_fen) / 100),
            "ts": r.ts.astimezone(CST).isoformat(),
            "received_at": r.received_at.astimezone(CST).isoformat()}


def _quality(hub_store: Any, ref: Reference, now: datetime, lang: str | None) -> list[str]:
    _ = gettext_for(lang)
    out = []
    seen = {o.station_id: o for o in hub_store.overview()}
    for s in ref.stations:
        o = seen.get(s.station_id)
        if o is None or o.last_contact is None:
            out.append(_("Station {station} has never reached the hub.").format(
                station=s.station_id))
        elif now - o.last_contact >= timedelta(days=SILENT_DAYS):
            out.append(_("Station {station} has been silent for {days} days.").format(
                station=s.station_id, days=(now - o.last_contact).days))
    for o in seen.values():
        q = (o.agent_status or {}).get("quarantined_records", 0)
        if q:
            out.append(_("Station {station}: {n} records refused by the hub, held in "
                         "quarantine at the station.").format(station=o.station_id, n=q))
    return out
