"""The console's pages so far: sign-in and out, the landing page, own password, operators,
audit, and ``whoami`` — each registered into :data:`~stationlink.hub.console.routes.ROUTES`.

Contract (docs/console.md):
- ``GET /console/login`` sets a fresh sign-in CSRF cookie and shows the form; ``POST``
  checks the attempt limits first (429 with a Chinese message and ``Retry-After``), then the
  password (argon2; an unknown or disabled name costs the same time and gets the same
  answer: 401 "wrong name or password"), then ends any session the browser still had, makes a new
  one (new id: no session fixation) and redirects (303) to ``next`` when it is a console
  path, else to ``/console/``; to ``/console/password`` while a one-time password is in
  force.
- ``POST /console/logout`` ends the session (audited) and clears the cookie.
- ``/console/password``: any operator changes their own password (the current one
  required); the other sessions of the operator end, this one stays.
- ``/console/operators`` (admin): list; add (role, one-time password shown once), disable,
  enable, change role, reset password (one-time, shown once; the operator's sessions end).
  An admin cannot disable or demote themself (another admin or the CLI can).
- ``/console/audit`` (admin): the newest 200 audit rows. ``GET /v1/console/whoami``: the
  signed-in operator as JSON (``lang``: their language setting, ``null`` for the server's
  default; :mod:`.pages_settings`).
"""

from __future__ import annotations

import logging

from starlette.responses import JSONResponse, RedirectResponse, Response

from ...errors import OperatorError
from .context import Context
from .limiter import minutes
from .passwords import MIN_LENGTH, check_new_password, generate_password
from .roles import ROLE_NAMES, Role, parse_role
from .routes import ROUTES
from .security import (
    LOGIN_CSRF_COOKIE,
    LOGIN_PATH,
    SESSION_COOKIE,
    clear_cookie,
    hash_secret,
    new_secret,
    set_cookie,
)
from .store import Actor, check_name

log = logging.getLogger("stationlink.hub")
HOME = "/console/"
ACTIONS = ("add", "disable", "enable", "set_role", "reset_password")


def safe_next(target: str | None) -> str:
    """``target`` when it is a path of the console itself, else the landing page."""
    if target and target.startswith("/console/") and "//" not in target \
            and "\\" not in target and not target.startswith(LOGIN_PATH):
        return target
    return HOME


def login_form(ctx: Context, status: int = 200, error: str | None = None,
               headers: dict[str, str] | None = None) -> Response:
    token = new_secret()
    nxt = ctx.form.get("next") or ctx.request.query_params.get("next") or ""
    response = ctx.render("login.html", status, login_csrf=token, next=safe_next(nxt),
                          error=error, name=ctx.form.get("name", ""))
    set_cookie(response, ctx.request, LOGIN_CSRF_COOKIE, token, max_age=3600,
               path=LOGIN_PATH)
    response.headers.update(headers or {})
    return response


@ROUTES.route(LOGIN_PATH, ("GET",), None)
async def login_page(ctx: Context) -> Response:
    if ctx.session is not None:
        return RedirectResponse(HOME, 303)
    return login_form(ctx)


@ROUTES.route(LOGIN_PATH, ("POST",), None)
async def login(ctx: Context) -> Response:
    runtime = ctx.runtime
    name, password = ctx.form.get("name", "").strip(), ctx.form.get("password", "")
    if not name or not password:
        return login_form(ctx, 400, ctx._("Enter your name and password."))
    address = ctx.address()
    wait = runtime.limiter.wait(name, address)
    if wait > 0:
        log.warning("console sign-in refused for %r from %s: attempt limit", name, address)
        return login_form(ctx, 429, ctx._("Too many failed sign-ins: try again in %(minutes)d "
                                        "minutes.") % {"minutes": minutes(wait)},
                          {"Retry-After": str(int(wait) + 1)})
    stored = await ctx.call(runtime.store.password_hash, name)
    if stored is None:
        await ctx.call(runtime.passwords.dummy_verify, password)
        ok = False
    else:
        ok = await ctx.call(runtime.passwords.verify, stored, password)
    if not ok or stored is None:
        runtime.limiter.failed(name, address)
        log.warning("console sign-in failed for %r from %s", name, address)
        return login_form(ctx, 401, ctx._("Wrong name or password."))
    runtime.limiter.succeeded(name)
    if runtime.passwords.needs_rehash(stored):
        fresh = await ctx.call(runtime.passwords.hash, password)
        await ctx.call(runtime.store.rehash_password, name, stored, fresh)
    now = ctx.now()
    if ctx.session_hash is not None:  # the browser's previous session ends: no fixation
        await ctx.call(runtime.store.end_session, ctx.session_hash, now=now,
                       actor=ctx.actor())
    session_id, csrf = new_secret(), new_secret()
    await ctx.call(runtime.store.create_session, hash_secret(session_id), name, csrf,
                   now=now, expires_at=now + runtime.lifetime,
                   actor=Actor(name, address))
    operator = await ctx.call(runtime.store.operator, name)
    target = "/console/password" if operator is not None and operator.must_change_password \
        else safe_next(ctx.form.get("next"))
    response = RedirectResponse(target, 303)
    set_cookie(response, ctx.request, SESSION_COOKIE, session_id,
               max_age=int(runtime.lifetime.total_seconds()))
    clear_cookie(response, ctx.request, LOGIN_CSRF_COOKIE, path=LOGIN_PATH)
    return response


@ROUTES.route("/console/logout", ("POST",), Role.VIEWER)
async def logout(ctx: Context) -> Response:
    assert ctx.session_hash is not None  # noqa: S101 - the guard let a session through
    await ctx.call(ctx.store.end_session, ctx.session_hash, now=ctx.now(), actor=ctx.actor())
    response = RedirectResponse(LOGIN_PATH, 303)
    clear_cookie(response, ctx.request, SESSION_COOKIE)
    return response


@ROUTES.route("/console/", ("GET",), Role.VIEWER)
async def home(ctx: Context) -> Response:
    return ctx.render("home.html", roles=Role)


@ROUTES.route("/console/password", ("GET",), Role.VIEWER)
async def password_page(ctx: Context) -> Response:
    return ctx.render("password.html", error=None)


@ROUTES.route("/console/password", ("POST",), Role.VIEWER)
async def change_password(ctx: Context) -> Response:
    assert ctx.session is not None  # noqa: S101 - the guard let a session through
    runtime, name = ctx.runtime, ctx.session.operator
    current, new, again = (ctx.form.get(k, "") for k in ("current", "new", "again"))
    stored = await ctx.call(runtime.store.password_hash, name)
    if stored is None or not await ctx.call(runtime.passwords.verify, stored, current):
        return ctx.render("password.html", 400, error=ctx._("The current password is wrong."))
    if new != again:
        return ctx.render("password.html", 400, error=ctx._("The two new passwords differ."))
    if new == current:
        return ctx.render("password.html", 400,
                          error=ctx._("The new password must differ from the current one."))
    try:
        check_new_password(new)
    except OperatorError:
        return ctx.render("password.html", 400, error=ctx._(
            "A password needs at least %(n)d characters.") % {"n": MIN_LENGTH})
    fresh = await ctx.call(runtime.passwords.hash, new)
    await ctx.call(runtime.store.set_password, name, fresh, must_change_password=False,
                   now=ctx.now(), actor=ctx.actor(), keep_session=ctx.session_hash)
    return RedirectResponse(HOME, 303)


async def operators_view(ctx: Context, status: int = 200, *, notice: str | None = None,
                         error: str | None = None, one_time: tuple[str, str] | None = None
                         ) -> Response:
    operators = await ctx.call(ctx.store.operators)
    return ctx.render("operators.html", status, operators=operators, role_names=ROLE_NAMES,
                      roles=Role, notice=notice, error=error, one_time=one_time)


@ROUTES.route("/console/operators", ("GET",), Role.ADMIN)
async def operators_page(ctx: Context) -> Response:
    return await operators_view(ctx)


class _Shown(Exception):  # noqa: N818 - internal control flow, carries a message
    """A refusal to show on the operators page (already translated)."""


@ROUTES.route("/console/operators", ("POST",), Role.ADMIN)
async def operators_action(ctx: Context) -> Response:
    assert ctx.session is not None  # noqa: S101 - the guard let a session through
    _ = ctx._
    form, store, now, actor = ctx.form, ctx.store, ctx.now(), ctx.actor()
    action, name = form.get("action", ""), form.get("name", "").strip()

    def role() -> Role:
        try:
            return parse_role(form.get("role", ""))
        except OperatorError:
            raise _Shown(_("Unknown role.")) from None

    try:
        if action not in ACTIONS:
            raise _Shown(_("Unknown action."))
        existing = await ctx.call(store.operator, name) if name else None
        if action == "add":
            new_role = role()
            try:
                check_name(name)
            except OperatorError:
                raise _Shown(_("A name has 1 to 64 characters, without control characters "
                               "or blanks at either end.")) from None
            if existing is not None:
                raise _Shown(_("Operator %(name)s exists already.") % {"name": name})
            password = generate_password()
            hashed = await ctx.call(ctx.runtime.passwords.hash, password)
            await ctx.call(store.add_operator, name, new_role, hashed,
                           must_change_password=True, now=now, actor=actor)
            return await operators_view(ctx, notice=_("Operator %(name)s added.")
                                        % {"name": name}, one_time=(name, password))
        if existing is None:
            raise _Shown(_("No operator %(name)s.") % {"name": name})
        if name == ctx.session.operator and action in ("disable", "set_role"):
            raise _Shown(_("You cannot disable yourself or change your own role; ask "
                           "another administrator."))
        if action in ("disable", "enable"):
            await ctx.call(store.set_enabled, name, action == "enable", now=now, actor=actor)
            done = (_("Operator %(name)s enabled.") if action == "enable"
                    else _("Operator %(name)s disabled."))
            return await operators_view(ctx, notice=done % {"name": name})
        if action == "set_role":
            new_role = role()
            await ctx.call(store.set_role, name, new_role, now=now, actor=actor)
            return await operators_view(ctx, notice=_("Operator %(name)s is now %(role)s.")
                                        % {"name": name, "role": _(new_role.title)})
        password = generate_password()  # reset_password
        hashed = await ctx.call(ctx.runtime.passwords.hash, password)
        await ctx.call(store.set_password, name, hashed, must_change_password=True,
                       now=now, actor=actor)
        return await operators_view(ctx, notice=_("Password of %(name)s reset.")
                                    % {"name": name}, one_time=(name, password))
    except _Shown as exc:
        return await operators_view(ctx, 400, error=str(exc))


@ROUTES.route("/console/audit", ("GET",), Role.ADMIN)
async def audit_page(ctx: Context) -> Response:
    entries = await ctx.call(ctx.store.audit, 200)
    return ctx.render("audit.html", entries=entries)


@ROUTES.route("/v1/console/whoami", ("GET",), Role.VIEWER, kind="json")
async def whoami(ctx: Context) -> Response:
    assert ctx.session is not None  # noqa: S101 - the guard let a session through
    s = ctx.session
    return JSONResponse({"name": s.operator, "role": s.role.label,
                         "must_change_password": s.must_change_password,
                         "lang": s.lang, "expires_at": s.expires_at.isoformat()})
