"""The console's month pages: the month, its close and re-open, statements, notices.

Contract (docs/console.md, "Month", "Statements", "Notices"):
- ``GET /console/months`` (viewer): the last 12 CST months up to the hub's "now" and every
  closed month, each with its state (open, or closed: version, by, at).
- ``GET /console/months/{YYYY-MM}`` / ``/v1/console/months/{m}`` (viewer): the month's
  data (:func:`~.monthview.month_view`). A malformed month is 400.
- ``POST /console/months/{m}/close`` (finance): freezes the month's provisional statements
  (each with its derivation and SMS notice, and the adjustments it carries: :mod:`.carry`)
  as the next version (:mod:`.monthstore`, audited); closing a closed month, or a month that
  has not ended yet in CST by the hub's clock, is 400 with the reason in the page's
  language. ``POST /console/months/{m}/reopen`` (admin): the close in force ends (audited;
  its statements stay stored); the next close is a new version.
- ``GET /console/months/{m}/stations/{id}`` and ``.../branches/{id}`` (viewer), and their
  ``/v1/console/...`` JSON: one statement, with every item's derivation, printable on A4
  with signature lines. Unknown id: 404.
- ``GET /console/months/{m}/stations/{id}.pdf`` and ``.../branches/{id}.pdf`` (viewer): the
  same statement as a PDF on A4 (:mod:`.pdf`), from the same view (a closed month's: the
  frozen statement), in the operator's language; registered before the pages above, whose
  ``{id}`` would match ``S1.pdf`` too. Without a usable CJK font on the machine
  (:attr:`~.context.Runtime.pdf_font`) the statement page shows no PDF link and these
  answer 501 (``no_pdf_font``) saying which font to install or pass.
- ``GET /console/months/{m}/notices`` (finance) and ``/v1/console/months/{m}/notices``:
  the month's SMS notices (each split into explicit segments of one SMS);
  ``/console/months/{m}/notices.csv`` (finance): ``station,phone,text`` with one line per
  SMS segment, UTF-8 with BOM (what an SMS platform's upload takes, and Excel opens).
- Language: pages, statements, the notices' preview and JSON text fields are in the
  operator's language (:attr:`~.context.Context.lang`); what leaves for the stations —
  the statements frozen by a close and the notices CSV — is in the server's language
  (``hub serve --lang``), whoever closes or downloads.
"""

from __future__ import annotations

import csv
import functools
import io
import re
from collections.abc import Awaitable, Callable
from typing import Any

from starlette.responses import JSONResponse, RedirectResponse, Response

from ...money import CST, month_bounds
from .carry import closes_in_force
from .context import Context
from .monthstore import month_store_for
from .monthview import POLICY, month_view, provisional_views
from .pages_guard import PageHandler, error_answer, guarded_page
from .pdf import PdfFont, statement_pdf
from .refused import Refused
from .roles import Role
from .text import N_

_MONTH = re.compile(r"\A(19|20)\d\d-(0[1-9]|1[0-2])\Z")

MonthHandler = Callable[[Context, str, bool], Awaitable[Response]]


def _in_month(handler: MonthHandler) -> PageHandler:
    """``handler(ctx, month, json)`` for the page's well-formed ``{month}``; else 400."""
    @functools.wraps(handler)
    async def parsed(ctx: Context, json: bool) -> Response:
        month = str(ctx.request.path_params["month"])
        if not _MONTH.match(month):
            return error_answer(ctx, json, 400, "bad_month",
                                ctx._("A month is written YYYY-MM, e.g. 2026-10."))
        return await handler(ctx, month, json)

    return parsed


async def _view(ctx: Context, month: str, lang: str | None = None) -> dict[str, Any]:
    """The month's data in ``lang`` (default: the page's, :attr:`Context.lang`)."""
    rt = ctx.runtime
    result: dict[str, Any] = await ctx.call(month_view, rt.hub_store,
                                            month_store_for(rt.hub_store), month,
                                            lang=lang or ctx.lang, now=ctx.now())
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


@guarded_page("/months", Role.VIEWER)
async def months_page(ctx: Context, json: bool) -> Response:
    months = await ctx.call(months_list, ctx)
    if json:
        return JSONResponse({"months": months})
    return ctx.render("months.html", months=months)


@guarded_page("/months/{month}", Role.VIEWER, "/months/2026-10")
@_in_month
async def month_page(ctx: Context, month: str, json: bool) -> Response:
    m = await _view(ctx, month)
    if json:
        return JSONResponse(m)
    return ctx.render("month.html", m=m, roles=Role, notice=None)


def _close(ctx: Context, month: str) -> None:
    rt = ctx.runtime
    end = month_bounds(month)[1]
    if ctx.now() < end:
        raise Refused(N_("Month %(month)s has not ended yet: it can be closed from %(end)s "
                         "(China time) on."), month=month,
                      end=end.strftime("%Y-%m-%d %H:%M"))
    months = month_store_for(rt.hub_store)
    basis = {c.month: c.version for c in closes_in_force(months).values()}
    views, _w = provisional_views(rt.hub_store, months, months.reference(), month, rt.lang)
    months.close_month(month, POLICY.name, views, now=ctx.now(), actor=ctx.actor(),
                       basis=basis)


@guarded_page("/months/{month}/close", Role.FINANCE, "/months/2026-10/close",
            methods=("POST",), twin=False)
@_in_month
async def close_month(ctx: Context, month: str, json: bool) -> Response:
    await ctx.call(_close, ctx, month)
    return RedirectResponse(f"/console/months/{month}", 303)


@guarded_page("/months/{month}/reopen", Role.ADMIN, "/months/2026-10/reopen",
            methods=("POST",), twin=False)
@_in_month
async def reopen_month(ctx: Context, month: str, json: bool) -> Response:
    await ctx.call(month_store_for(ctx.runtime.hub_store).reopen_month, month, now=ctx.now(),
                   actor=ctx.actor())
    return RedirectResponse(f"/console/months/{month}", 303)


_LISTS = {"station": "stations", "branch": "branches"}  # the month view's list of each


async def _statement(ctx: Context, month: str, json: bool, subject: str, *,
                     pdf: bool = False) -> Response:
    sid = str(ctx.request.path_params["subject_id"])
    font = ctx.runtime.pdf_font
    if pdf and not isinstance(font, PdfFont):
        return error_answer(ctx, json, 501, "no_pdf_font", font.text(ctx.lang))
    m = await _view(ctx, month)
    key = subject + "_id"
    found = next((s for s in m[_LISTS[subject]] if s[key] == sid), None)
    if found is None:
        return error_answer(ctx, json, 404, "not_found", ctx._(
            "No statement for %(id)s in %(month)s.") % {"id": sid, "month": month})
    adjustments = [a for a in m["adjustments"] if a["subject"] == subject and a["id"] == sid]
    if json:
        return JSONResponse({"month": month, "policy": m["policy"], "closed": m["closed"],
                             subject: found, "adjustments": adjustments})
    if pdf and isinstance(font, PdfFont):
        body = await ctx.call(statement_pdf, subject, m, found, adjustments, lang=ctx.lang,
                              font=font, now=ctx.now())
        name = re.sub(r"[^A-Za-z0-9_.-]", "_", f"{subject}-{sid}-{month}.pdf")
        return Response(body, 200, media_type="application/pdf", headers={
            "Content-Disposition": f'inline; filename="{name}"'})
    return ctx.render(f"statement_{subject}.html", m=m, s=found, adjustments=adjustments,
                      pdf=isinstance(font, PdfFont))


# The PDFs first: the pages' ``{subject_id}`` below would match ``S1.pdf`` as well.
@guarded_page("/months/{month}/stations/{subject_id}.pdf", Role.VIEWER,
            "/months/2026-10/stations/S1.pdf", twin=False)
@_in_month
async def station_statement_pdf(ctx: Context, month: str, json: bool) -> Response:
    return await _statement(ctx, month, json, "station", pdf=True)


@guarded_page("/months/{month}/branches/{subject_id}.pdf", Role.VIEWER,
            "/months/2026-10/branches/B1.pdf", twin=False)
@_in_month
async def branch_statement_pdf(ctx: Context, month: str, json: bool) -> Response:
    return await _statement(ctx, month, json, "branch", pdf=True)


@guarded_page("/months/{month}/stations/{subject_id}", Role.VIEWER,
            "/months/2026-10/stations/S1")
@_in_month
async def station_statement(ctx: Context, month: str, json: bool) -> Response:
    return await _statement(ctx, month, json, "station")


@guarded_page("/months/{month}/branches/{subject_id}", Role.VIEWER,
            "/months/2026-10/branches/B1")
@_in_month
async def branch_statement(ctx: Context, month: str, json: bool) -> Response:
    return await _statement(ctx, month, json, "branch")


async def _notices(ctx: Context, month: str, lang: str | None = None
                   ) -> list[dict[str, Any]]:
    m = await _view(ctx, month, lang)
    phones = (await ctx.call(month_store_for(ctx.runtime.hub_store).reference)).phones
    return [{"station_id": s["station_id"], "phone": phones.get(s["station_id"], ""),
             "text": s["notice"]["text"], "segments": s["notice"]["segments"]}
            for s in m["stations"]]


@guarded_page("/months/{month}/notices", Role.FINANCE, "/months/2026-10/notices")
@_in_month
async def notices_page(ctx: Context, month: str, json: bool) -> Response:
    notices = await _notices(ctx, month)
    if json:
        return JSONResponse({"month": month, "notices": notices})
    return ctx.render("notices.html", month=month, notices=notices)


def notices_csv_text(notices: list[dict[str, Any]]) -> str:
    out = io.StringIO()
    w = csv.writer(out, lineterminator="\r\n")
    w.writerow(["station", "phone", "text"])
    for n in notices:
        for segment in n["segments"]:
            w.writerow([n["station_id"], n["phone"], segment])
    return "\ufeff" + out.getvalue()


@guarded_page("/months/{month}/notices.csv", Role.FINANCE, "/months/2026-10/notices.csv",
            twin=False)
@_in_month
async def notices_csv(ctx: Context, month: str, json: bool) -> Response:
    # what the stations receive: the server's language, whatever the operator reads
    text = notices_csv_text(await _notices(ctx, month, ctx.runtime.lang))
    return Response(text, 200, media_type="text/csv; charset=utf-8", headers={
        "Content-Disposition": f'attachment; filename="notices-{month}.csv"'})
