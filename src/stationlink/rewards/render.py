"""Renderers for statements: JSON objects, a readable table, and CSV line items.

Contract: all money is rendered as a string with exactly two decimals. ``month_json`` /
``quarter_json`` return plain dicts (``json.dumps``-ready); ``table`` is for a person at a
terminal; ``csv_text`` writes one row per line item with the columns of :data:`CSV_COLUMNS`.
"""

from __future__ import annotations

import csv
import io
from datetime import date
from typing import Any

from .statements import (
    BranchStatement,
    LineItem,
    MonthResult,
    QuarterResult,
    RunInfo,
    StationStatement,
)
from .station_rules import fmt_money

CSV_COLUMNS = ("period", "policy", "party", "party_id", "branch_id", "code", "label",
               "quantity", "amount", "basis")
CALENDAR_WORDS = {
    "details_by": "details extracted", "county_check_by": "county verification",
    "station_signoff_by": "stations sign off", "city_audit_by": "city audit",
    "paid_by": "paid", "notice_by": "SMS notice",
}


def item_json(item: LineItem) -> dict[str, Any]:
    return {"code": item.code, "label": item.label, "quantity": item.quantity,
            "amount": fmt_money(item.amount), "basis": item.basis}


def station_json(st: StationStatement) -> dict[str, Any]:
    return {"station_id": st.station_id, "branch_id": st.branch_id, "area": st.facts.area,
            "total": fmt_money(st.total), "items": [item_json(i) for i in st.items]}


def branch_json(b: BranchStatement) -> dict[str, Any]:
    return {"branch_id": b.branch_id, "area": b.area, "stations": b.stations,
            "effective_stations": b.effective_stations, "plan_effective_stations": b.plan,
            "total": fmt_money(b.total), "head": fmt_money(b.head),
            "maintainer": fmt_money(b.maintainer), "items": [item_json(i) for i in b.items]}


def info_json(info: RunInfo) -> dict[str, Any]:
    return {"rows": info.rows, "outside_period": info.outside_period,
            "declined": info.declined, "reversed": info.reversed,
            "skipped_bad_rows": info.skipped_bad_rows, "duplicate_rows": info.duplicate_rows,
            "warnings": list(info.warnings)}


def month_json(result: MonthResult) -> dict[str, Any]:
    return {"month": result.month, "policy": result.policy,
            "stations": [station_json(s) for s in result.stations],
            "branches": [branch_json(b) for b in result.branches],
            "info": info_json(result.info)}


def quarter_json(result: QuarterResult) -> dict[str, Any]:
    return {"quarter": result.quarter, "policy": result.policy,
            "stations": [{"station_id": s.station_id, "branch_id": s.branch_id,
                          "withheld": fmt_money(s.withheld), "refund": fmt_money(s.refund),
                          "total": fmt_money(s.total), "items": [item_json(i) for i in s.items]}
                         for s in result.stations],
            "months": [month_json(m) for m in result.months],
            "info": info_json(result.info)}


def _items_table(items: tuple[LineItem, ...], out: list[str]) -> None:
    width = max((len(i.code) for i in items), default=0)
    for i in items:
        out.append(f"    {i.code:<{width}} {fmt_money(i.amount):>10}  {i.basis}")


def info_lines(info: RunInfo, period: str) -> list[str]:
    lines = [f"{info.rows} rows read; {info.outside_period} outside {period}; "
             f"{info.declined} declined and {info.reversed} reversed not counted"]
    if info.skipped_bad_rows:
        lines.append(f"{info.skipped_bad_rows} bad rows skipped (--skip-bad-rows)")
    if info.duplicate_rows:
        lines.append(f"{info.duplicate_rows} identical duplicate rows counted once")
    lines += [f"warning: {w}" for w in info.warnings]
    return lines


def settlement_line(month: str, calendar: dict[str, int]) -> str:
    if not calendar:
        return ""
    year, mon = int(month[:4]), int(month[5:7])
    year, mon = (year + 1, 1) if mon == 12 else (year, mon + 1)
    parts = [f"{CALENDAR_WORDS[k]} by {date(year, mon, d).isoformat()}"
             for k, d in calendar.items()]
    return f"Settlement of {month}: " + "; ".join(parts)


def table(result: MonthResult, calendar: dict[str, int] | None = None) -> str:
    out = [f"Rewards for {result.month} under policy {result.policy}", "", "Stations"]
    for st in result.stations:
        out.append(f"  {st.station_id} (branch {st.branch_id}, {st.facts.area})"
                   f"  total {fmt_money(st.total)}")
        _items_table(st.items, out)
    if result.branches:
        out += ["", "Branches"]
    for b in result.branches:
        out.append(f"  {b.branch_id} ({b.area}) effective {b.effective_stations}/{b.stations}"
                   f", plan {b.plan}  total {fmt_money(b.total)}  head {fmt_money(b.head)}"
                   f"  maintainer {fmt_money(b.maintainer)}")
        _items_table(b.items, out)
    out += ["", *info_lines(result.info, result.month)]
    line = settlement_line(result.month, calendar or {})
    if line:
        out.append(line)
    return "\n".join(out) + "\n"


def quarter_table(result: QuarterResult) -> str:
    out = [f"Quarter {result.quarter} under policy {result.policy}: monthly withholding "
           "and quarter-end refund", ""]
    for s in result.stations:
        out.append(f"  {s.station_id} (branch {s.branch_id})  withheld {fmt_money(s.withheld)}"
                   f"  refund {fmt_money(s.refund)}  quarter total {fmt_money(s.total)}")
        _items_table(s.items, out)
    out += ["", *info_lines(result.info, result.quarter)]
    return "\n".join(out) + "\n"


def csv_text(result: MonthResult | QuarterResult) -> str:
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(CSV_COLUMNS)
    if isinstance(result, QuarterResult):
        for q in result.stations:
            for i in q.items:
                w.writerow([result.quarter, result.policy, "station", q.station_id,
                            q.branch_id, i.code, i.label, i.quantity, fmt_money(i.amount),
                            i.basis])
        return buf.getvalue()
    for st in result.stations:
        for i in st.items:
            w.writerow([result.month, result.policy, "station", st.station_id, st.branch_id,
                        i.code, i.label, i.quantity, fmt_money(i.amount), i.basis])
    for b in result.branches:
        for i in b.items:
            w.writerow([result.month, result.policy, "branch", b.branch_id, b.branch_id,
                        i.code, i.label, i.quantity, fmt_money(i.amount), i.basis])
    return buf.getvalue()
