"""The people-facing strings of the station health screen (``agent status``, ``buffer stats``).

Contract: :data:`CATALOGUE` maps a stable message id to its Chinese (``zh``, the default) and
English (``en``) text, read from ``health_text.toml`` beside this module
(:mod:`stationlink.i18n.messages`); :func:`text` looks one up (``str.format`` fields filled from
``**values``). The ids are stable so that the catalogue can be exported to gettext ``.po``
files later (issue 12): never rename an id, add a new one. Every reason id of
:mod:`stationlink.agent.health` has a ``health.reason.<id>`` text and a
``health.advice.<id>`` advice. :func:`duration` writes an age for people in ``lang``,
:func:`reason_values` a reason's parameters.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

from ..clock import when
from ..i18n import LANGS
from ..i18n.messages import Texts, load_texts, render

#: message id -> language -> text (the table ``health_text.toml`` beside this module)
CATALOGUE: Texts = load_texts(Path(__file__).with_name("health_text.toml"))


def text(msg_id: str, lang: str = "zh", **values: object) -> str:
    """The text of ``msg_id`` in ``lang`` (``zh`` or ``en``), with ``values`` filled in."""
    return render(CATALOGUE, msg_id, lang, values)


def duration(seconds: float, lang: str = "zh") -> str:
    """An age for people: seconds under a minute, minutes under an hour, hours and minutes
    under two days, else whole days (always rounded down)."""
    s = max(0, int(seconds))
    if s < 60:
        return text("health.age.s", lang, n=s)
    if s < 3600:
        return text("health.age.min", lang, n=s // 60)
    if s < 2 * 86400:
        return text("health.age.h", lang, h=s // 3600, m=s % 3600 // 60)
    return text("health.age.d", lang, n=s // 86400)


def reason_values(params: Mapping[str, str | int | None], lang: str = "zh") -> dict[str, str]:
    """A reason's JSON parameters as people read them: ``*_at`` times in CST (or "never"),
    ``*_s`` ages as :func:`duration`, a missing value as "unknown"."""
    out: dict[str, str] = {}
    for key, value in params.items():
        if key.endswith("_at"):
            out[key] = when(None if value is None else str(value), text("health.never", lang))
        elif value is None:
            out[key] = text("health.unknown", lang)
        elif key.endswith("_s"):
            out[key] = duration(int(value), lang)
        else:
            out[key] = str(value)
    return out


__all__ = ["CATALOGUE", "LANGS", "duration", "reason_values", "text"]
