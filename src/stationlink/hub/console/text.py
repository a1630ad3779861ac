"""Marking message ids for extraction where they are not translated yet: :func:`N_`.

Contract: ``N_(msgid)`` returns ``msgid`` unchanged; Babel's extraction
(:mod:`stationlink.i18n.catalog`) collects it, and the console translates it when it shows it
(``Context._``, or ``_()`` in a template).
"""

from __future__ import annotations


def N_(message: str) -> str:  # noqa: N802 - the gettext marker's customary name
    return message
