"""stationlink.conformance: the kit a vendor runs to prove a terminal speaks docs/protocol.md.

Public face: :data:`CASES` (the catalogue: id, protocol.md section, purpose, applicability,
money), :func:`run_conformance` (one run, :class:`KitOptions`) returning a
:class:`KitReport` (one :class:`CaseResult` per case: pass / fail / not applicable with
the reason and the bytes exchanged; ``exit_code()`` 0/1/3; ``to_json()``),
:func:`render_junit`, :func:`render_html` and :func:`render_text`, :data:`SCHEMA_PATH`
(JSON Schema of ``to_json()``) and :func:`command_hook` (``--power-cycle-cmd``). Modules:
``catalogue``, ``wire`` (the byte-level host end), ``context``, ``cases_link``,
``cases_app``, ``engine``, ``model``, ``report``. See docs/conformance.md.
"""

from __future__ import annotations

from .catalogue import CASES, CaseSpec, markdown_table
from .engine import KitOptions, command_hook, run_conformance
from .model import CaseResult, Exchange, KitReport, Verdict
from .report import SCHEMA_PATH, render_html, render_junit, render_text

__all__ = [
    "CASES",
    "SCHEMA_PATH",
    "CaseResult",
    "CaseSpec",
    "Exchange",
    "KitOptions",
    "KitReport",
    "Verdict",
    "command_hook",
    "markdown_table",
    "render_html",
    "render_junit",
    "render_text",
    "run_conformance",
]
