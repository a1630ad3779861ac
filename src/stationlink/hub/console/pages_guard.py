"""The month pages on a store without the month tables: a clear 501, not an internal error.

Contract: :func:`needs_month_tables` wraps a console handler; when the hub store has no month
tables (:func:`~.monthstore.month_store_for` raises :class:`~stationlink.errors.ConfigError`),
the handler answers 501 with a Chinese message (JSON: ``{"error": "not_available"}``) instead
of the guard's generic 500. Both built-in stores carry the month tables (SQLite hub schema
version 4, PostgreSQL schema version 3), so this answers only for another
:class:`~stationlink.hub.store.HubStore` implementation that offers no ``month_store()``.
"""

from __future__ import annotations

import functools
from collections.abc import Callable

from starlette.responses import JSONResponse, Response

from ...errors import ConfigError
from .context import Context
from .monthstore import month_store_for
from .routes import Handler


def needs_month_tables(json: bool) -> Callable[[Handler], Handler]:
    def wrap(handler: Handler) -> Handler:
        @functools.wraps(handler)
        async def checked(ctx: Context) -> Response:
            try:
                month_store_for(ctx.runtime.hub_store)
            except ConfigError:
                message = ctx._("This page needs the month tables, which this hub's store "
                                "does not have yet (use a SQLite hub).")
                if json:
                    return JSONResponse({"error": "not_available", "detail": message}, 501)
                return ctx.render("error.html", 501, code=501, message=message)
            return await handler(ctx)

        return checked

    return wrap
