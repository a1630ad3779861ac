"""How the month and station pages register and answer errors: once, for HTML and JSON.

Contract:
- :func:`needs_month_tables` wraps a console handler; when the hub store has no month tables
  (:func:`~.monthstore.month_store_for` raises :class:`~stationlink.errors.ConfigError`), the
  handler answers 501 with the reason in the operator's language (JSON:
  ``{"error": "not_available"}``) instead of the guard's generic 500. Both built-in stores
  carry the month tables (SQLite hub schema version 4, PostgreSQL schema version 3), so this
  answers only for another :class:`~stationlink.hub.store.HubStore` implementation that
  offers no ``month_store()``.
- :func:`guarded_page` registers one handler ``handler(ctx, json)`` in
  :data:`~.routes.ROUTES` as the HTML page ``/console{path}`` (``json`` false) and, unless
  ``twin`` is false, as its JSON twin ``/v1/console{path}`` (``json`` true), each behind
  :func:`needs_month_tables`.
- :func:`error_answer` is an error in the page's kind: JSON ``{"error", "detail"}`` or the
  error page, with the same status.
"""

from __future__ import annotations

import functools
from collections.abc import Awaitable, Callable

from starlette.responses import JSONResponse, Response

from ...errors import ConfigError
from .context import Context
from .monthstore import month_store_for
from .roles import Role
from .routes import ROUTES, Handler

PageHandler = Callable[[Context, bool], Awaitable[Response]]


def error_answer(ctx: Context, json: bool, status: int, error: str, message: str) -> Response:
    """``{"error": error, "detail": message}`` (JSON) or the error page showing ``message``."""
    if json:
        return JSONResponse({"error": error, "detail": message}, status)
    return ctx.render("error.html", status, code=status, message=message)


def needs_month_tables(json: bool) -> Callable[[Handler], Handler]:
    def wrap(handler: Handler) -> Handler:
        @functools.wraps(handler)
        async def checked(ctx: Context) -> Response:
            try:
                month_store_for(ctx.runtime.hub_store)
            except ConfigError:
                return error_answer(ctx, json, 501, "not_available", ctx._(
                    "This page needs the month tables, which this hub's store does not have "
                    "yet (use a SQLite hub)."))
            return await handler(ctx)

        return checked

    return wrap


def _of_kind(handler: PageHandler, json: bool) -> Handler:
    @functools.wraps(handler)
    async def page(ctx: Context) -> Response:
        return await handler(ctx, json)

    return page


def guarded_page(path: str, min_role: Role, example: str | None = None, *,
               methods: tuple[str, ...] = ("GET",), twin: bool = True
               ) -> Callable[[PageHandler], PageHandler]:
    """Registers ``handler(ctx, json)`` at ``/console{path}`` and ``/v1/console{path}``
    (module contract); ``example`` is the path's example after the prefix."""
    def register(handler: PageHandler) -> PageHandler:
        for json in (False, True) if twin else (False,):
            prefix = "/v1/console" if json else "/console"
            ROUTES.route(prefix + path, methods, min_role, kind="json" if json else "html",
                         example=None if example is None else prefix + example)(
                needs_month_tables(json)(_of_kind(handler, json)))
        return handler

    return register
