"""The console's settings page: the signed-in operator's own language.

Contract (docs/console.md, "Language"):
- ``GET /console/settings`` (any operator, viewer included: the language is the operator's
  own preference, not a change of the hub's data) shows the choice: Chinese, English, or
  the server's default (``hub serve --lang``).
- ``POST /console/settings`` (CSRF-checked by the guard like every form) stores the choice
  with the operator (:meth:`~.store.ConsoleStore.set_lang`, audited as
  ``operator.set_lang``; an unchanged choice writes nothing) and redirects (303) to
  ``/console/settings?saved=1``, which — like every later page, statement and notice
  preview — renders in the new language. An unknown language is 400 and changes nothing.
"""

from __future__ import annotations

from starlette.responses import RedirectResponse, Response

from ...i18n import LANGS
from .context import Context
from .roles import Role
from .routes import ROUTES
from .store import check_operator_lang

SETTINGS = "/console/settings"
#: Each language's name as its readers write it (never translated).
LANG_NAMES = {"zh": "中文", "en": "English"}


def settings_view(ctx: Context, status: int = 200, *, error: str | None = None
                  ) -> Response:
    assert ctx.session is not None  # noqa: S101 - the guard let a session through
    saved = ctx.request.query_params.get("saved") == "1" and error is None
    return ctx.render("settings.html", status, langs=LANGS, lang_names=LANG_NAMES,
                      chosen=ctx.session.lang or "", server_lang=ctx.runtime.lang,
                      saved=saved, error=error)


@ROUTES.route(SETTINGS, ("GET",), Role.VIEWER)
async def settings_page(ctx: Context) -> Response:
    return settings_view(ctx)


@ROUTES.route(SETTINGS, ("POST",), Role.VIEWER)
async def save_settings(ctx: Context) -> Response:
    assert ctx.session is not None  # noqa: S101 - the guard let a session through
    chosen = ctx.form.get("lang", "")
    if chosen not in ("", *LANGS):
        return settings_view(ctx, 400, error=ctx._("Unknown language."))
    lang = check_operator_lang(chosen or None)
    if lang != ctx.session.lang:
        await ctx.call(ctx.store.set_lang, ctx.session.operator, lang, now=ctx.now(),
                       actor=ctx.actor())
    return RedirectResponse(SETTINGS + "?saved=1", 303)
