"""stationlink.diag: what a field technician runs to find out what is wrong with a terminal.

Public face: :func:`run_diag` (one run, :class:`DiagOptions`) returns a :class:`Report`
(checks with ok / warning / fail / skipped, findings with stable message ids, measurements;
``exit_code()`` 0/1/2/3, ``to_json()``); :func:`render_html` writes the self-contained HTML
report; :func:`render_text` the console form; :data:`SCHEMA_PATH` is the JSON Schema of
``to_json()``. Modules: ``probe`` (baud rate and dialect), ``session`` (the counting,
reconnecting client), ``link``, ``checks``, ``station`` (the checks), ``catalogue`` (every
people-facing text, zh and en), ``model``, ``engine``, ``render``. See docs/diag.md.
"""

from __future__ import annotations

from .engine import DiagOptions, run_diag
from .model import Check, Finding, Report, Status
from .render import SCHEMA_PATH, render_html, render_text

__all__ = [
    "SCHEMA_PATH",
    "Check",
    "DiagOptions",
    "Finding",
    "Report",
    "Status",
    "render_html",
    "render_text",
    "run_diag",
]
