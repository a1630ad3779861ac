"""The console's Jinja2 environments: templates from this package, autoescaped, translated.

Contract: :func:`environment` loads ``templates/*.html`` (package data), escapes every
value (``autoescape`` on for all templates), fails on an undefined name, and has gettext
installed through :func:`stationlink.i18n.install_jinja` for ``lang`` (``zh`` by default:
the msgids are English, the Chinese is in the project's catalogue; ``en`` shows the msgids),
with its ``yuan`` / ``cst_date`` / ``cst_datetime`` filters. No template loads anything from
outside the page (styles inline, no scripts, no fonts, no images from elsewhere).
"""

from __future__ import annotations

import functools

import jinja2

from ...i18n import check_lang, install_jinja


@functools.cache
def environment(lang: str | None = None) -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.PackageLoader("stationlink.hub.console", "templates"),
        autoescape=True, extensions=["jinja2.ext.i18n"], undefined=jinja2.StrictUndefined,
    )
    install_jinja(env, check_lang(lang))
    return env
