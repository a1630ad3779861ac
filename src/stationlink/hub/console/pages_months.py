"""The console's month pages: the month, its close and re-open, statements, notices.

Contract (docs/console.md, "Month", "Statements", "Notices"):
- ``GET /console/months`` (viewer): the last 12 CST months up to the hub's "now" and every
  closed month, each with its state (open, or closed: version, by, at).
- ``GET /console/months/{YYYY-MM}`` / ``/v1/console/months/{m}`` (viewer): the month's
  data (:func:`~.monthview.month_view`). A malformed month is 400.
- ``POST /console/months/{m}/close`` (finance): freezes the month's provisional statements
  (each with its derivation and SMS notice) as the next version (:mod:`.monthstore`,
  audited); closing a closed month is 400. ``POST /console/months/{m}/reopen`` (admin):
  the close in force ends (audited; its statements stay stored); the next close is a new
  version.
- ``GET /console/months/{m}/stations/{id}`` and ``.../branches/{id}`` (viewer), and their
  ``/v1/console/...`` JSON: one statement, with every item's derivation, printable on A4
  with signature lines. Unknown id: 404. (No PDF: no CJK font can be bundled small; the
  print stylesheet is the printable form — docs/console.md.)
- ``GET /console/months/{m}/notices`` (finance) and ``/v1/console/months/{m}/notices``:
  the month's SMS notices (each split into explicit segments of one SMS);
  ``/console/months/{m}/notices.csv`` (finance): ``station,phone,text`` with one line per
  SMS segment, UTF-8 with BOM (what an SMS platform's upload takes, and Excel opens).
"""

from __future__ import annotations

import csv
import io
import re
from typing import Any

from starlette.responses import JSONResponse, RedirectResponse, Response

from ...money import CST
from .context import Context
from .monthstore import month_store_for
from .monthview import POLICY, month_view, provisional_views
from .pages_guard import needs_month_tables
from .roles import Role
from .routes import ROUTES

_MONTH = re.compile(r"\A(19|20)\d\d-(0[1-9]|1[0-2])\Z")


class _BadMonth(Exception):  # noqa: N818 - internal control flow
    pass


def _month(ctx: Context) -> str:
    month = str(ctx.request.path_params["month"])
    if not _MONTH.match(month):
        raise _BadMonth(month)
    return month


def _bad_month(ctx: Context, json: bool) -> Response:
    message = ctx._("A month is written YYYY-MM, e.g. 2026-10.")
    if json:
        return JSONResponse({"error": "bad_month", "detail": message}, 400)
    return ctx.render("error.html", 400, code=400, message=message)


async def _view(ctx: Context, month: str) -> dict[str, Any]:
    rt = ctx.runtime
    result: dict[str, Any] = await ctx.call(month_view, rt.hub_store,
                                            month_store_for(rt.hub_store), month,
                                            lang=rt.lang, now=ctx.now())
    return result


def months_list(ctx: Context) -> list[dict[str, Any]]:
    today = ctx.now().astimezone(CST).date()
    recent = []
    year, mon = today.year, today.month
    for _i in range(12):
        recent.append(f"{year:04d}-{mon:02d}")
        year, mon = (year - 1, 12) if mon == 1 else (year, mon - 1)
    in_force = {c.month: c for c in month_store_for(ctx.runtime.hub_store).all_closes()
                if c.in_force}
    return [{"month": m, "closed": None if m not in in_force else {
                "version": in_force[m].version, "closed_by": in_force[m].closed_by,
                "closed_at": in_force[m].closed_at.astimezone(CST).isoformat()}}
            for m in sorted(set(recent) | set(in_force), reverse=True)]


@ROUTES.route("/console/months", ("GET",), Role.VIEWER)
@needs_month_tables(json=False)
async def months_page(ctx: Context) -> Response:
    return ctx.render("months.html", months=await ctx.call(months_list, ctx))


@ROUTES.route("/v1/console/months", ("GET",), Role.VIEWER, kind="json")
@needs_month_tables(json=True)
async def months_json(ctx: Context) -> Response:
    return JSONResponse({"months": await ctx.call(months_list, ctx)})


@ROUTES.route("/console/months/{month}", ("GET",), Role.VIEWER,
              example="/console/months/2026-10")
@needs_month_tables(json=False)
async def month_page(ctx: Context) -> Response:
    try:
        month = _month(ctx)
    except _BadMonth:
        return _bad_month(ctx, False)
    return ctx.render("month.html", m=await _view(ctx, month), roles=Role, notice=None)


@ROUTES.route("/v1/console/months/{month}", ("GET",), Role.VIEWER, kind="json",
              example="/v1/console/months/2026-10")
@needs_month_tables(json=True)
async def month_json(ctx: Context) -> Response:
    try:
        month = _month(ctx)
    except _BadMonth:
        return _bad_month(ctx, True)
    return JSONResponse(await _view(ctx, month))


def _close(ctx: Context, month: str) -> None:
    rt = ctx.runtime
    months = month_store_for(rt.hub_store)
    views, _w = provisional_views(rt.hub_store, months, months.reference(), month, rt.lang)
    months.close_month(month, POLICY.name, views, now=ctx.now(), actor=ctx.actor())


@ROUTES.route("/console/months/{month}/close", ("POST",), Role.FINANCE,
              example="/console/months/2026-10/close")
@needs_month_tables(json=False)
async def close_month(ctx: Context) -> Response:
    try:
        month = _month(ctx)
    except _BadMonth:
        return _bad_month(ctx, False)
    await ctx.call(_close, ctx, month)
    return RedirectResponse(f"/console/months/{month}", 303)


@ROUTES.route("/console/months/{month}/reopen", ("POST",), Role.ADMIN,
              example="/console/months/2026-10/reopen")
@needs_month_tables(json=False)
async def reopen_month(ctx: Context) -> Response:
    try:
        month = _month(ctx)
    except _BadMonth:
        return _bad_month(ctx, False)
    await ctx.call(month_store_for(ctx.runtime.hub_store).reopen_month, month, now=ctx.now(),
                   actor=ctx.actor())
    return RedirectResponse(f"/console/months/{month}", 303)


def _find(m: dict[str, Any], subject: str, sid: str) -> dict[str, Any] | None:
    key = "station_id" if subject == "station" else "branch_id"
    return next((s for s in m[subject + "es" if subject == "branch" else subject + "s"]
                 if s[key] == sid), None)


async def _statement(ctx: Context, subject: str, json: bool) -> Response:
    try:
        month = _month(ctx)
    except _BadMonth:
        return _bad_month(ctx, json)
    sid = str(ctx.request.path_params["subject_id"])
    m = await _view(ctx, month)
    found = _find(m, subject, sid)
    if found is None:
        message = ctx._("No statement for %(id)s in %(month)s.") % {"id": sid, "month": month}
        if json:
            return JSONResponse({"error": "not_found", "detail": message}, 404)
        return ctx.render("error.html", 404, code=404, message=message)
    adjustments = [a for a in m["adjustments"] if a["subject"] == subject and a["id"] == sid]
    if json:
        return JSONResponse({"month": month, "policy": m["policy"], "closed": m["closed"],
                             subject: found, "adjustments": adjustments})
    template = "statement_station.html" if subject == "station" else "statement_branch.html"
    return ctx.render(template, m=m, s=found, adjustments=adjustments)


@ROUTES.route("/console/months/{month}/stations/{subject_id}", ("GET",), Role.VIEWER,
              example="/console/months/2026-10/stations/S1")
@needs_month_tables(json=False)
async def station_statement(ctx: Context) -> Response:
    return await _statement(ctx, "station", False)


@ROUTES.route("/v1/console/months/{month}/stations/{subject_id}", ("GET",), Role.VIEWER,
              kind="json", example="/v1/console/months/2026-10/stations/S1")
@needs_month_tables(json=True)
async def station_statement_json(ctx: Context) -> Response:
    return await _statement(ctx, "station", True)


@ROUTES.route("/console/months/{month}/branches/{subject_id}", ("GET",), Role.VIEWER,
              example="/console/months/2026-10/branches/B1")
@needs_month_tables(json=False)
async def branch_statement(ctx: Context) -> Response:
    return await _statement(ctx, "branch", False)


@ROUTES.route("/v1/console/months/{month}/branches/{subject_id}", ("GET",), Role.VIEWER,
              kind="json", example="/v1/console/months/2026-10/branches/B1")
@needs_month_tables(json=True)
async def branch_statement_json(ctx: Context) -> Response:
    return await _statement(ctx, "branch", True)


async def _notices(ctx: Context, month: str) -> list[dict[str, Any]]:
    m = await _view(ctx, month)
    phones = (await ctx.call(month_store_for(ctx.runtime.hub_store).reference)).phones
    return [{"station_id": s["station_id"], "phone": phones.get(s["station_id"], ""),
             "text": s["notice"]["text"], "segments": s["notice"]["segments"]}
            for s in m["stations"]]


@ROUTES.route("/console/months/{month}/notices", ("GET",), Role.FINANCE,
              example="/console/months/2026-10/notices")
@needs_month_tables(json=False)
async def notices_page(ctx: Context) -> Response:
    try:
        month = _month(ctx)
    except _BadMonth:
        return _bad_month(ctx, False)
    return ctx.render("notices.html", month=month, notices=await _notices(ctx, month))


@ROUTES.route("/v1/console/months/{month}/notices", ("GET",), Role.FINANCE, kind="json",
              example="/v1/console/months/2026-10/notices")
@needs_month_tables(json=True)
async def notices_json(ctx: Context) -> Response:
    try:
        month = _month(ctx)
    except _BadMonth:
        return _bad_month(ctx, True)
    return JSONResponse({"month": month, "notices": await _notices(ctx, month)})


def notices_csv_text(notices: list[dict[str, Any]]) -> str:
    out = io.StringIO()
    w = csv.writer(out, lineterminator="\r\n")
    w.writerow(["station", "phone", "text"])
    for n in notices:
        for segment in n["segments"]:
            w.writerow([n["station_id"], n["phone"], segment])
    return "\ufeff" + out.getvalue()


@ROUTES.route("/console/months/{month}/notices.csv", ("GET",), Role.FINANCE,
              example="/console/months/2026-10/notices.csv")
@needs_month_tables(json=False)
async def notices_csv(ctx: Context) -> Response:
    try:
        month = _month(ctx)
    except _BadMonth:
        return _bad_month(ctx, False)
    text = notices_csv_text(await _notices(ctx, month))
    return Response(text, 200, media_type="text/csv; charset=utf-8", headers={
        "Content-Disposition": f'attachment; filename="notices-{month}.csv"'})
