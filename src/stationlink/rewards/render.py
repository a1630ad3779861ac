"""Renderers for statements: JSON objects, a readable table, and CSV line items.

Contract: all money is rendered as a string with exactly two decimals. ``month_json`` /
``quarter_json`` return plain dicts (``json.dumps``-ready); ``csv_text`` writes one row per
line item with the columns of :data:`CSV_COLUMNS`; JSON and CSV are data and never change with
a language. ``table`` / ``quarter_table`` are for a person at a terminal, in ``lang`` (Chinese
by default, through :mod:`stationlink.i18n`; given the policy, each item's basis is in that
language too, :mod:`.derivation`); the settlement calendar's dates are CST calendar dates
(``2026年11月24日`` in zh, ISO ``2026-11-24`` in en). Figures are the same in every language.
"""

from __future__ import annotations

import csv
import io
from datetime import date
from typing import Any

from ..i18n import format_date, gettext_for
from . import derivation
from .model import Policy
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


def _calendar_word(key: str, lang: str | None) -> str:
    _ = gettext_for(lang)
    words = {"details_by": _("details extracted"), "county_check_by": _("county verification"),
             "station_signoff_by": _("stations sign off"), "city_audit_by": _("city audit"),
             "paid_by": _("paid"), "notice_by": _("SMS notice")}
    return words.get(key, CALENDAR_WORDS.get(key, key))


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


def _items_table(items: tuple[LineItem, ...], bases: list[str], out: list[str]) -> None:
    width = max((len(i.code) for i in items), default=0)
    for i, basis in zip(items, bases, strict=True):
        out.append(f"    {i.code:<{width}} {fmt_money(i.amount):>10}  {basis}")


def info_lines(info: RunInfo, period: str, lang: str | None = None) -> list[str]:
    _ = gettext_for(lang)
    lines = [_("{rows} rows read; {outside} outside {period}; {declined} declined and "
               "{reversed} reversed not counted").format(
        rows=info.rows, outside=info.outside_period, period=period, declined=info.declined,
        reversed=info.reversed)]
    if info.skipped_bad_rows:
        lines.append(_("{n} bad rows skipped (--skip-bad-rows)").format(
            n=info.skipped_bad_rows))
    if info.duplicate_rows:
        lines.append(_("{n} identical duplicate rows counted once").format(
            n=info.duplicate_rows))
    lines += [_("warning: {warning}").format(warning=w) for w in info.warnings]
    return lines


def settlement_line(month: str, calendar: dict[str, int], lang: str | None = None) -> str:
    if not calendar:
        return ""
    _ = gettext_for(lang)
    year, mon = int(month[:4]), int(month[5:7])
    year, mon = (year + 1, 1) if mon == 12 else (year, mon + 1)

    def day(d: int) -> str:
        when = date(year, mon, d)
        return when.isoformat() if lang == "en" else format_date(when, lang)

    parts = [_("{what} by {day}").format(what=_calendar_word(k, lang), day=day(d))
             for k, d in calendar.items()]
    return (_("Settlement of {month}: ").format(month=derivation.month_text(month, lang))
            + _("; ").join(parts))


def _area(area: str, lang: str | None) -> str:
    _ = gettext_for(lang)
    return {"rural": _("rural"), "urban": _("urban")}.get(area, area)


def table(result: MonthResult, calendar: dict[str, int] | None = None, *,
          lang: str | None = None, policy: Policy | None = None) -> str:
    _ = gettext_for(lang)
    out = [_("Rewards for {month} under policy {policy}").format(
        month=derivation.month_text(result.month, lang), policy=result.policy), "",
        _("Stations")]
    for st in result.stations:
        out.append(_("  {station} (branch {branch}, {area})  total {total}").format(
            station=st.station_id, branch=st.branch_id, area=_area(st.facts.area, lang),
            total=fmt_money(st.total)))
        _items_table(st.items, [derivation.station_basis(policy, st, i, lang)
                                for i in st.items], out)
    if result.branches:
        out += ["", _("Branches")]
    for b in result.branches:
        out.append(_("  {branch} ({area}) effective {effective}/{stations}, plan {plan}  "
                     "total {total}  head {head}  maintainer {maintainer}").format(
            branch=b.branch_id, area=_area(b.area, lang), effective=b.effective_stations,
            stations=b.stations, plan=b.plan, total=fmt_money(b.total),
            head=fmt_money(b.head), maintainer=fmt_money(b.maintainer)))
        _items_table(b.items, [derivation.branch_basis(policy, result, b, i, lang)
                               for i in b.items], out)
    out += ["", *info_lines(result.info, result.month, lang)]
    line = settlement_line(result.month, calendar or {}, lang)
    if line:
        out.append(line)
    return "\n".join(out) + "\n"


def quarter_table(result: QuarterResult, *, lang: str | None = None,
                  policy: Policy | None = None) -> str:
    _ = gettext_for(lang)
    out = [_("Quarter {quarter} under policy {policy}: monthly withholding and quarter-end "
             "refund").format(quarter=result.quarter, policy=result.policy), ""]
    for s in result.stations:
        out.append(_("  {station} (branch {branch})  withheld {withheld}  refund {refund}  "
                     "quarter total {total}").format(
            station=s.station_id, branch=s.branch_id, withheld=fmt_money(s.withheld),
            refund=fmt_money(s.refund), total=fmt_money(s.total)))
        _items_table(s.items, [derivation.quarter_basis(policy, result, s, i, lang)
                               for i in s.items], out)
    out += ["", *info_lines(result.info, result.quarter, lang)]
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
