"""The console on the hub's Starlette app: :func:`console_routes` serves :data:`ROUTES`.

Contract (docs/console.md):
- Every entry of :data:`~stationlink.hub.console.routes.ROUTES` is served behind one guard,
  in this order: a request with an ``Authorization`` header (a station's token) gets 403 and
  no session is read or made; the session cookie is looked up (expired, idle, or of a
  disabled operator: none); a non-public route without a session redirects (HTML, 303 to
  ``/console/login?next=<path>``) or answers 401 (JSON); an operator who must change a
  one-time password reaches only :data:`WHILE_MUST_CHANGE` (others redirect to
  ``/console/password`` or answer 403); a role below the route's ``min_role`` gets 403; a
  POST's form is read (:func:`~stationlink.hub.console.security.parse_form`: 400/413) and
  must come from this origin and carry the CSRF token — the session's, or on the public
  sign-in form the sign-in cookie's — in ``csrf_token`` (403 otherwise; the handler does not
  run, nothing changes).
- A store failure is 503, an :class:`~stationlink.errors.OperatorError` from a handler 400
  (its message shown; a :class:`~.refused.Refused` one translated into the page's language,
  its values put in afterwards), anything unexpected a generic 500 with the details in the
  ``stationlink.hub`` log; never a traceback or a stored secret in an answer.
- The routes are mounted under ``/console`` and ``/v1/console`` (two Starlette ``Mount``s),
  apart from the station API that ``/openapi.json`` describes.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from urllib.parse import quote

from starlette.requests import ClientDisconnect, Request
from starlette.responses import JSONResponse, RedirectResponse, Response
from starlette.routing import BaseRoute, Mount, Route

from ...clock import WallClock
from ...errors import OperatorError, StorageError
from ...i18n import DEFAULT_LANG, check_lang
from . import (  # noqa: F401 - register the pages into ROUTES
    pages,
    pages_months,
    pages_settings,
    pages_stations,
)
from .context import SESSION_IDLE, SESSION_LIFETIME, TOUCH_EVERY, Context, Runtime
from .limiter import LoginLimiter
from .passwords import Passwords
from .pdf import find_font
from .refused import Refused
from .routes import ROUTES, ConsoleRoute, RouteTable
from .security import (
    LOGIN_CSRF_COOKIE,
    LOGIN_PATH,
    MAX_FORM,
    PAGE_HEADERS,
    SESSION_COOKIE,
    FormError,
    clear_cookie,
    hash_secret,
    parse_form,
    same_origin,
    tokens_equal,
)
from .store import ConsoleStore
from .text import N_

log = logging.getLogger("stationlink.hub")
OWN_PASSWORD_PAGE = "/console/password"  # noqa: S105 - a path, not a secret
WHILE_MUST_CHANGE = frozenset({OWN_PASSWORD_PAGE, "/console/logout", "/v1/console/whoami"})
PREFIXES = ("/v1/console", "/console")


@dataclass
class ConsoleOptions:
    """Tuning for tests and deployments; every field has the documented default."""

    store: ConsoleStore | None = None  # default: the hub store's (backend.console_store_for)
    passwords: Passwords | None = None
    limiter: LoginLimiter | None = None  # default: LoginLimiter on the hub's clock
    lifetime: timedelta = SESSION_LIFETIME
    idle: timedelta = SESSION_IDLE
    #: the server's default language (zh or en, checked by check_lang; ``hub serve --lang``);
    #: an operator's own setting (``/console/settings``) wins over it
    lang: str = DEFAULT_LANG
    #: the statements' PDF font (``hub serve --pdf-font``): a TrueType/OpenType font or
    #: collection with Chinese characters; ``None``: the first usable of
    #: :func:`.pdf.known_fonts`; none usable: no PDF (the link hidden, the route 501)
    pdf_font: Path | None = None


class _Refused(Exception):  # noqa: N818 - internal control flow, carries a response
    def __init__(self, response: Response) -> None:
        self.response = response


def refusal(ctx: Context, entry: ConsoleRoute, status: int, code: str, message: str
            ) -> Response:
    if entry.kind == "json":
        return JSONResponse({"error": code, "detail": message}, status, headers=PAGE_HEADERS)
    return ctx.render("error.html", status, message=message, code=status)


async def read_form(request: Request) -> dict[str, str]:
    chunks: list[bytes] = []
    size = 0
    try:
        async for chunk in request.stream():
            size += len(chunk)
            if size > MAX_FORM:
                raise FormError(N_("The form is larger than %(n)d bytes."), 413, n=MAX_FORM)
            chunks.append(chunk)
    except ClientDisconnect as exc:
        raise FormError(N_("The form did not arrive whole.")) from exc
    return parse_form(b"".join(chunks), request.headers.get("content-type"))


def guard(entry: ConsoleRoute, runtime: Runtime) -> Callable[[Request], Awaitable[Response]]:
    async def endpoint(request: Request) -> Response:
        ctx = Context(request, runtime)
        try:
            response = await checked(ctx, entry)
        except _Refused as exc:
            response = exc.response
        except FormError as exc:
            response = refusal(ctx, entry, exc.status, "bad_form",
                               ctx._(exc.message) % exc.values)
        except Refused as exc:
            response = refusal(ctx, entry, 400, "refused", ctx._(exc.msgid) % exc.values)
        except OperatorError as exc:
            response = refusal(ctx, entry, 400, "refused", str(exc))
        except StorageError as exc:
            log.error("store failure on %s %s: %s", request.method, request.url.path, exc)
            response = refusal(ctx, entry, 503, "storage_unavailable",
                               ctx._("The database is unavailable for now; try again later."))
        except Exception:
            log.exception("unexpected error on %s %s", request.method, request.url.path)
            response = refusal(ctx, entry, 500, "internal_error",
                               ctx._("Internal error; the server's log has the details."))
        for key, value in PAGE_HEADERS.items():
            response.headers.setdefault(key, value)
        return response

    return endpoint


async def checked(ctx: Context, entry: ConsoleRoute) -> Response:
    """The guard's checks (module contract), then the handler."""
    request, runtime, _ = ctx.request, ctx.runtime, ctx._

    def refuse(status: int, code: str, message: str) -> _Refused:
        return _Refused(refusal(ctx, entry, status, code, message))

    if "authorization" in request.headers:
        raise refuse(403, "station_token_refused", _(
            "A station token cannot be used on the console; sign in as an operator."))
    cookie = request.cookies.get(SESSION_COOKIE)
    if cookie:
        session_hash = hash_secret(cookie)
        ctx.session = await ctx.call(runtime.store.session, session_hash, now=ctx.now(),
                                     idle=runtime.idle)
        ctx.session_hash = session_hash if ctx.session is not None else None
    if entry.min_role is not None:
        if ctx.session is None:
            if entry.kind == "json":
                raise refuse(401, "unauthorized", _("Sign in first."))
            target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
            response = RedirectResponse(f"{LOGIN_PATH}?next={quote(target, safe='')}", 303)
            if cookie:
                clear_cookie(response, request, SESSION_COOKIE)
            raise _Refused(response)
        if ctx.session.must_change_password and entry.path not in WHILE_MUST_CHANGE:
            if entry.kind == "json":
                raise refuse(403, "password_change_required",
                             _("Change your one-time password first."))
            raise _Refused(RedirectResponse(OWN_PASSWORD_PAGE, 303))
        if ctx.session.role < entry.min_role:
            raise refuse(403, "forbidden", _("This needs the role %(role)s or a higher one.")
                         % {"role": _(entry.min_role.title)})
    if request.method == "POST":
        form = await read_form(request)
        if not same_origin(request):
            raise refuse(403, "csrf", _("Refused: the request does not come from this site's "
                                        "pages (Origin/Referer)."))
        expected = (ctx.session.csrf_token if entry.min_role is not None and ctx.session
                    else request.cookies.get(LOGIN_CSRF_COOKIE))
        if not tokens_equal(form.get("csrf_token"), expected):
            raise refuse(403, "csrf", _("Refused: the form is stale or not from this session "
                                        "(CSRF check); reload the page and try again."))
        ctx.form = form
    if ctx.session is not None and ctx.session_hash is not None \
            and ctx.now() - ctx.session.last_seen >= TOUCH_EVERY:
        await ctx.call(runtime.store.touch_session, ctx.session_hash, ctx.now())
    return await entry.handler(ctx)


def console_routes(hub_store: object, clock: WallClock, options: ConsoleOptions | None = None,
                   table: RouteTable = ROUTES) -> list[BaseRoute]:
    """The console's mounts over ``hub_store`` (module contract)."""
    from .backend import console_store_for

    options = options or ConsoleOptions()
    runtime = Runtime(
        store=options.store or console_store_for(hub_store), hub_store=hub_store, clock=clock,
        passwords=options.passwords or Passwords(),
        limiter=options.limiter or LoginLimiter(clock),
        lifetime=options.lifetime, idle=options.idle, lang=check_lang(options.lang),
        pdf_font=find_font(options.pdf_font))
    inner: dict[str, list[BaseRoute]] = {prefix: [] for prefix in PREFIXES}
    for e in table.entries:
        prefix = next((p for p in PREFIXES if e.path.startswith(p + "/")), None)
        if prefix is None:
            raise ValueError(f"{e.path}: console routes live under {' or '.join(PREFIXES)}")
        inner[prefix].append(Route(e.path[len(prefix):], guard(e, runtime),
                                   methods=[e.method]))
    return [Mount(prefix, routes=routes) for prefix, routes in inner.items()]
