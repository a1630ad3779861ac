"""Text for people on a terminal screen: how many columns a text takes, and cutting it.

Contract: :func:`display_width` counts terminal columns (East Asian wide and fullwidth
characters take two, ANSI styles none); :func:`cut` shortens a text to at most ``width``
columns, ending with ``…`` when it had to cut (a cut text loses its styles: an escape
sequence is never cut in two). Shared by the agent's health screen and the monitor.
"""

from __future__ import annotations

import unicodedata

import click


def display_width(s: str) -> int:
    """Terminal columns of ``s``: CJK wide characters count two, ANSI styles nothing."""
    return sum(2 if unicodedata.east_asian_width(ch) in "WF" else 1
               for ch in click.unstyle(s))


def cut(s: str, width: int) -> str:
    """``s`` cut to at most ``width`` columns, ending with ``…`` when cut."""
    if display_width(s) <= width:
        return s
    s = click.unstyle(s)
    out, used = [], 0
    for ch in s:
        w = display_width(ch)
        if used + w > width - 1:
            break
        out.append(ch)
        used += w
    return "".join(out) + "…"


__all__ = ["cut", "display_width"]
