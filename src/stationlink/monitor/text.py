"""The people-facing strings of ``stationlink monitor`` and ``stationlink ports``: one catalogue.

Contract: :data:`CATALOGUE` maps a stable message id to its Chinese (``zh``, the default) and
English (``en``) text, read from ``text.toml`` beside this module
(:mod:`stationlink.i18n.messages`); :func:`text` looks one up (``str.format`` fields filled from
``**values``). The ids are stable so that the catalogue can be exported to gettext ``.po``
files later (issue 12): never rename an id, add a new one. :func:`reason` gives a deframer's
skip reason (English in the protocol core) in a language.
"""

from __future__ import annotations

from pathlib import Path

from ..i18n import LANGS
from ..i18n.messages import Texts, load_texts, render

#: message id -> language -> text (the table ``text.toml`` beside this module)
CATALOGUE: Texts = load_texts(Path(__file__).with_name("text.toml"))


def reason(why: str, lang: str = "zh") -> str:
    """A deframer's skip reason in ``lang`` (the English text itself when not catalogued)."""
    entry = CATALOGUE.get(f"monitor.reason.{why}")
    return why if entry is None else entry[lang]


def text(msg_id: str, lang: str = "zh", **values: object) -> str:
    """The text of ``msg_id`` in ``lang`` (``zh`` or ``en``), with ``values`` filled in."""
    return render(CATALOGUE, msg_id, lang, values)


__all__ = ["CATALOGUE", "LANGS", "reason", "text"]
