"""Every people-facing text of ``stationlink diag``, in Chinese and English, in one place.

Contract:
- :data:`FINDINGS` maps a stable finding id (``check.what``, e.g. ``link.corrupt``) to its
  ``text`` (what was found) and ``advice`` (what to do; empty for a good result), each in
  ``zh`` and ``en``, with ``{name}`` placeholders filled from the finding's parameters.
  :data:`LABELS` holds the words of the report and the console (check titles, statuses,
  headings). Both are data files beside this module, ``findings.toml`` and ``labels.toml``
  (read by :mod:`stationlink.i18n.messages`). Ids never change meaning once released: they
  are the keys scripts read in the JSON output and the msgids a later gettext catalogue will
  carry.
- :func:`text` renders one entry; a placeholder missing from the parameters is a bug and
  raises ``KeyError``. :data:`LANGS` are the languages (``zh`` the default).
- Parameters are already formatted for people (amounts in 元 with two decimals, times in
  CST, durations in words) by :func:`duration` and the checks; nothing here computes.
"""

from __future__ import annotations

from pathlib import Path

from ..i18n import LANGS, Lang
from ..i18n.messages import Parts, Texts, load_parts, load_texts

_HERE = Path(__file__).parent
#: finding id -> {"text": {lang: ...}, "advice": {lang: ...}} (``findings.toml``)
FINDINGS: Parts = load_parts(_HERE / "findings.toml", ("text",), ("advice",))

#: words of the console and the HTML report (``labels.toml``)
LABELS: Texts = load_texts(_HERE / "labels.toml")

_UNITS = {
    "zh": ("秒", "分钟", "小时", "天"),
    "en": ("s", "min", "h", "days"),
}


def text(msg_id: str, lang: Lang, params: dict[str, object], part: str = "text") -> str:
    """The ``part`` (``text`` or ``advice``) of finding ``msg_id`` in ``lang``."""
    return FINDINGS[msg_id][part][lang].format(**params)


def label(key: str, lang: Lang) -> str:
    return LABELS[key][lang]


def duration(seconds: float, lang: Lang) -> str:
    """A duration for people: ``3小时`` / ``3 h``, ``5分钟`` / ``5 min``, ``40秒`` / ``40 s``."""
    s, m, h, d = _UNITS[lang]
    sep = "" if lang == "zh" else " "
    value = abs(seconds)
    if value >= 2 * 86400:
        return f"{value / 86400:.0f}{sep}{d}"
    if value >= 3600:
        hours = value / 3600
        return f"{hours:.0f}{sep}{h}" if abs(hours - round(hours)) < 0.05 else (
            f"{hours:.1f}{sep}{h}")
    if value >= 120:
        return f"{value / 60:.0f}{sep}{m}"
    return f"{value:.0f}{sep}{s}"


__all__ = ["FINDINGS", "LABELS", "LANGS", "Lang", "duration", "label", "text"]
