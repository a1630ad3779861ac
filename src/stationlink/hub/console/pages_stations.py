"""The console's station pages: the stations list and one station (HTML and JSON).

Contract (docs/console.md, "Stations"):
- ``GET /console/stations`` and ``/v1/console/stations`` (viewer): every station the hub
  knows (reference data or contact) with its branch, last contact, backlog and quarantined
  records (from the agent's status upload), conflicts (duplicates whose content differs),
  settlement mismatches (the agent status upload's optional ``settlement_mismatches``: how
  many of its terminals' latest daily settlement check differs; ``null`` when the agent does
  not report it), the newest device status per terminal, and its problems: ``silent`` (no
  contact for :data:`~.monthview.SILENT_DAYS` days, or never), ``backlog``, ``quarantine``,
  ``conflicts``, ``settlement`` (at least one terminal's settlement mismatched), ``device``
  (a terminal out of paper or reporting no paper). Query ``branch=`` and ``problem=`` filter
  the list.
- ``GET /console/stations/{id}`` and ``/v1/console/stations/{id}`` (viewer): the station,
  its last :data:`DAYS` days before the hub's "now" (approved transactions and their amount
  per CST day; the HTML page draws them as an inline SVG chart), and its device history
  (newest first). An unknown station is 404.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import date, timedelta
from decimal import Decimal
from typing import Any

from starlette.responses import JSONResponse, Response

from ...money import CST
from ...rewards.station_rules import fmt_money
from .context import Context
from .monthstore import month_store_for
from .monthview import SILENT_DAYS
from .pages_guard import error_answer, guarded_page
from .roles import Role
from .text import N_

DAYS = 14
PROBLEMS = ("silent", "backlog", "quarantine", "conflicts", "settlement", "device")


PROBLEM_LABELS = {"silent": N_("data stopped"), "backlog": N_("backlog"),
                  "quarantine": N_("quarantine"), "conflicts": N_("conflicts"),
                  "settlement": N_("settlement mismatch"), "device": N_("paper out")}


def _device_problem(snapshot: dict[str, Any]) -> bool:
    return snapshot.get("paper_ok") is False


def stations_data(hub_store: Any, ctx: Context) -> list[dict[str, Any]]:
    ref = month_store_for(hub_store).reference()
    branch_of = {s.station_id: s.branch_id for s in ref.stations}
    seen = {o.station_id: o for o in hub_store.overview()}
    now = ctx.now()
    out = []
    for sid in sorted(set(branch_of) | set(seen)):
        o = seen.get(sid)
        status = (o.agent_status if o else None) or {}
        last = o.last_contact if o else None
        devices = o.devices if o else []
        row = {
            "station_id": sid, "branch_id": branch_of.get(sid),
            "last_contact": last.astimezone(CST).isoformat() if last else None,
            "silent_days": (now - last).days if last else None,
            "records": o.records if o else 0, "late": o.late if o else 0,
            "backlog": status.get("backlog"),
            "quarantined_records": status.get("quarantined_records"),
            "settlement_mismatches": status.get("settlement_mismatches"),
            "conflicts": o.conflicts if o else 0, "devices": devices,
        }
        problems = []
        if last is None or now - last >= timedelta(days=SILENT_DAYS):
            problems.append("silent")
        if row["backlog"]:
            problems.append("backlog")
        if row["quarantined_records"]:
            problems.append("quarantine")
        if row["conflicts"]:
            problems.append("conflicts")
        if row["settlement_mismatches"]:
            problems.append("settlement")
        if any(_device_problem(d) for d in devices):
            problems.append("device")
        row["problems"] = problems
        out.append(row)
    return out


def _filtered(ctx: Context, rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    branch = ctx.request.query_params.get("branch") or None
    problem = ctx.request.query_params.get("problem") or None
    return [r for r in rows if (branch is None or r["branch_id"] == branch)
            and (problem is None or problem in r["problems"])]


@guarded_page("/stations", Role.VIEWER)
async def stations_page(ctx: Context, json: bool) -> Response:
    rows = await ctx.call(stations_data, ctx.runtime.hub_store, ctx)
    if json:
        return JSONResponse({"stations": _filtered(ctx, rows)})
    branches = sorted({r["branch_id"] for r in rows if r["branch_id"]})
    query = ctx.request.query_params
    return ctx.render("stations.html", stations=_filtered(ctx, rows), branches=branches,
                      problems=PROBLEMS, labels=PROBLEM_LABELS,
                      branch=query.get("branch", ""), problem=query.get("problem", ""))


def _month_of(day: date) -> str:
    return f"{day.year:04d}-{day.month:02d}"


def station_data(hub_store: Any, ctx: Context, station_id: str) -> dict[str, Any] | None:
    row = next((r for r in stations_data(hub_store, ctx) if r["station_id"] == station_id),
               None)
    if row is None:
        return None
    today = ctx.now().astimezone(CST).date()
    first = today - timedelta(days=DAYS - 1)
    per_day: dict[date, list[int]] = defaultdict(lambda: [0, 0])
    for month in sorted({_month_of(first), _month_of(today)}):
        for r in hub_store.records(month):
            rec = r.record
            if rec.station_id != station_id or rec.entry.value != "txn" \
                    or rec.status != "approved":
                continue
            day = r.ts.astimezone(CST).date()
            if first <= day <= today:
                per_day[day][0] += 1
                per_day[day][1] += rec.amount_fen
    days = [{"date": (first + timedelta(days=i)).isoformat(),
             "transactions": per_day[first + timedelta(days=i)][0],
             "amount": fmt_money(Decimal(per_day[first + timedelta(days=i)][1]) / 100)}
            for i in range(DAYS)]
    history = [{"received_at": at.astimezone(CST).isoformat(), "terminal_id": term,
                "snapshot": snap}
               for at, term, snap in month_store_for(hub_store).device_history(station_id)]
    return {**row, "days": days, "device_history": history}


def chart(days: list[dict[str, Any]]) -> dict[str, Any]:
    """Bar heights for the inline SVG (transactions bars, amount line), 0..100."""
    top_n = max((d["transactions"] for d in days), default=0) or 1
    top_a = max((Decimal(d["amount"]) for d in days), default=Decimal(0)) or Decimal(1)
    return {"bars": [round(100 * d["transactions"] / top_n) for d in days],
            "line": [int(100 * Decimal(d["amount"]) / top_a) for d in days],
            "top_n": top_n, "top_a": fmt_money(top_a)}


@guarded_page("/stations/{station_id}", Role.VIEWER, "/stations/S1")
async def station_page(ctx: Context, json: bool) -> Response:
    sid = ctx.request.path_params["station_id"]
    data = await ctx.call(station_data, ctx.runtime.hub_store, ctx, sid)
    if data is None:  # the JSON detail is not translated (a program reads "error")
        return error_answer(ctx, json, 404, "not_found", f"no station {sid}" if json
                            else ctx._("No station %(id)s.") % {"id": sid})
    if json:
        return JSONResponse(data)
    return ctx.render("station.html", station=data, chart=chart(data["days"]),
                      labels=PROBLEM_LABELS)

