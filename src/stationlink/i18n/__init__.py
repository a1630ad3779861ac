"""Languages for people: gettext catalogues, money as 元 and dates in CST.

Contract:
- Languages are ``zh`` (the default: a Chinese deployment) and ``en``; :func:`check_lang`
  refuses anything else with a :class:`~stationlink.errors.ConfigError` naming the choices.
- Message ids are source strings in one of the two languages: English by convention in code
  (``_("valid withdrawals")``), Chinese where a page was written in Chinese first (the
  console's templates). Each language has a gettext catalogue
  ``locale/<lang>/LC_MESSAGES/stationlink.po`` with its compiled ``.mo`` shipped beside it; it
  translates the ids written in the other language (:func:`written_in`): zh translates the
  English ids, en the Chinese ones, and an id already in the language is shown as written
  (its entry stays empty).
  ``tools/i18n.py`` extracts, updates and compiles with Babel; tests keep each ``.mo`` equal
  to its ``.po`` and every id translated.
- :func:`translator` returns the ``gettext`` translations for a language (cached);
  :func:`gettext_for` / :func:`ngettext_for` are the ``_`` / ``ngettext`` of a language;
  :func:`install_jinja` installs them into a Jinja2 environment (``jinja2.ext.i18n``) and
  adds the filters ``yuan``, ``cst_date``, ``cst_datetime`` and ``month``.
- :func:`format_yuan` renders money exactly with two decimals (``12.30 元`` in zh,
  ``CNY 12.30`` in en, never a float, no thousands separators so figures read the same as in
  JSON and CSV); :func:`format_date` / :func:`format_datetime` render in China Standard Time
  through Babel's locale data (``zh_CN`` / ``en``); a naive datetime is refused;
  :func:`format_month` renders a CST calendar month ``YYYY-MM`` (``2026年10月``).
- Texts kept under stable ids rather than gettext source strings (the health screen's,
  ``monitor``'s and ``diag``'s, whose ids scripts read) are TOML tables beside the modules
  that use them, read, checked and filled by :mod:`stationlink.i18n.messages`.
"""

from __future__ import annotations

import functools
import gettext
import re
from collections.abc import Callable
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any, Literal

from babel.dates import format_date as _babel_date
from babel.dates import format_datetime as _babel_datetime
from babel.dates import format_skeleton as _babel_skeleton

from ..errors import ConfigError
from ..money import CST

Lang = Literal["zh", "en"]
LANGS: tuple[Lang, ...] = ("zh", "en")
DEFAULT_LANG: Lang = "zh"
DOMAIN = "stationlink"
LOCALE_DIR = Path(__file__).resolve().parent / "locale"
#: Babel locale for each language.
BABEL_LOCALE: dict[Lang, str] = {"zh": "zh_CN", "en": "en"}
_CENT = Decimal("0.01")


def check_lang(lang: str | None) -> Lang:
    """``lang`` as a known language (``None`` gives the default); ConfigError otherwise."""
    if lang is None:
        return DEFAULT_LANG
    norm = lang.strip().lower().replace("-", "_").split("_")[0]
    for known in LANGS:
        if norm == known:
            return known
    raise ConfigError(f"unknown language {lang!r}: choose one of {', '.join(LANGS)}")


_PLACEHOLDER = re.compile(r"%\([^)]*\)[a-z]|\{[^}]*\}")
_CJK = re.compile(r"[\u3000-\u303f\u3400-\u9fff\uff00-\uffef]")


def written_in(msgid: str) -> Lang | None:
    """The language a message id is written in: ``zh`` with Chinese and no Latin letters
    (placeholders aside), ``en`` with Latin letters (an English text naming a Chinese term,
    such as the policy label ``惠农通 accounts opened``, is English and shown as written in
    ``en``), ``None`` for neither (punctuation and placeholders, such as a notice's separator
    ``,``: any catalogue may translate it, none has to)."""
    latin = re.search("[A-Za-z]", _PLACEHOLDER.sub("", msgid)) is not None
    if latin:
        return "en"
    return "zh" if _CJK.search(msgid) is not None else None


def translator(lang: str | None = None) -> gettext.NullTranslations:
    """The gettext translations of ``lang``: its shipped catalogue (module contract)."""
    return _translator(check_lang(lang))


@functools.cache
def _translator(code: Lang) -> gettext.NullTranslations:
    try:
        return gettext.translation(DOMAIN, localedir=LOCALE_DIR, languages=[code])
    except OSError as exc:  # pragma: no cover - the package ships the catalogue
        raise ConfigError(f"the {code} message catalogue is missing under {LOCALE_DIR}: "
                          f"{exc}") from exc


def gettext_for(lang: str | None = None) -> Callable[[str], str]:
    """The ``_`` of a language."""
    return translator(lang).gettext


def ngettext_for(lang: str | None = None) -> Callable[[str, str, int], str]:
    """The ``ngettext`` of a language."""
    return translator(lang).ngettext


def format_yuan(amount: Decimal | int, lang: str | None = None) -> str:
    """Money with exactly two decimals: ``12.30 元`` (zh) or ``CNY 12.30`` (en).

    An ``int`` is a count of fen. Amounts are never floats.
    """
    if isinstance(amount, bool) or not isinstance(amount, Decimal | int):
        raise TypeError(f"money must be Decimal yuan or int fen, not {type(amount).__name__}")
    value = (Decimal(amount) / 100 if isinstance(amount, int) else amount).quantize(_CENT)
    text = format(value, "f")
    return f"{text} 元" if check_lang(lang) == "zh" else f"CNY {text}"


def _aware(ts: datetime) -> datetime:
    if ts.tzinfo is None or ts.utcoffset() is None:
        raise ValueError(f"a time for people must be timezone-aware, got {ts.isoformat()}")
    return ts.astimezone(CST)


def format_date(value: date | datetime, lang: str | None = None,
                fmt: Literal["short", "medium", "long", "full"] = "long") -> str:
    """A calendar date for people (a datetime is taken in CST first): ``2026年10月5日``."""
    day = _aware(value).date() if isinstance(value, datetime) else value
    return _babel_date(day, fmt, locale=BABEL_LOCALE[check_lang(lang)])


def format_datetime(value: datetime, lang: str | None = None,
                    fmt: Literal["short", "medium", "long", "full"] = "medium") -> str:
    """An aware time for people in CST: ``2026年10月5日 11:04:00`` (zh)."""
    ts = _aware(value)
    return _babel_datetime(ts, fmt, tzinfo=CST, locale=BABEL_LOCALE[check_lang(lang)])


def format_month(month: str, lang: str | None = None) -> str:
    """A calendar month ``YYYY-MM`` for people: ``2026年10月`` (zh), ``October 2026`` (en)."""
    try:
        first = date(int(month[:4]), int(month[5:7]), 1)
    except (ValueError, IndexError) as exc:
        raise ValueError(f"a month must look like 2026-10, not {month!r}") from exc
    if len(month) != 7 or month[4] != "-":
        raise ValueError(f"a month must look like 2026-10, not {month!r}")
    return _babel_skeleton("yMMMM", first, locale=BABEL_LOCALE[check_lang(lang)])


def install_jinja(env: Any, lang: str | None = None) -> None:
    """Install ``lang``'s translations into a Jinja2 environment (``jinja2.ext.i18n``).

    Templates then use ``{% trans %}``, ``_()`` and the filters ``yuan``, ``cst_date`` and
    ``cst_datetime`` in that language. Adds the extension when the environment lacks it.
    """
    code = check_lang(lang)
    if "jinja2.ext.InternationalizationExtension" not in env.extensions:
        env.add_extension("jinja2.ext.i18n")
    env.install_gettext_translations(translator(code), newstyle=True)
    env.filters["yuan"] = functools.partial(format_yuan, lang=code)
    env.filters["cst_date"] = functools.partial(format_date, lang=code)
    env.filters["cst_datetime"] = functools.partial(format_datetime, lang=code)
    env.filters["month"] = functools.partial(format_month, lang=code)


__all__ = [
    "BABEL_LOCALE", "DEFAULT_LANG", "DOMAIN", "LANGS", "LOCALE_DIR", "Lang", "check_lang",
    "format_date", "format_datetime", "format_month", "format_yuan", "gettext_for", "install_jinja",
    "ngettext_for", "translator", "written_in",
]
