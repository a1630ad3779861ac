"""Render a diagnosis for people: console text and one self-contained HTML file.

Contract:
- :func:`render_text` gives the console form: one line per check (status word and title),
  then each finding's text and, for a warning or failure, its advice; the overall verdict
  last. Words come from :mod:`.catalogue` in the report's language.
- :func:`render_html` gives ONE HTML document (``templates/report.html.j2``, Jinja2 with
  autoescaping on): inline CSS, an inline SVG latency chart (:func:`latency_chart`), no
  script, no external asset (no ``src=``/``href=`` to another file or host), a viewport meta
  tag and a layout that reflows on a phone. It shows the overall verdict, every check's
  verdict with its findings and advice, the device identity, the measurements and the date
  in CST.
- :data:`SCHEMA_PATH` is the JSON Schema (draft 2020-12) of ``Report.to_json()``, shipped
  in the package.
"""

from __future__ import annotations

from importlib import resources
from pathlib import Path
from typing import Any

import jinja2

from ..money import to_cst
from .catalogue import label
from .model import Report

SCHEMA_PATH = Path(str(resources.files(__package__) / "schema.json"))
_STATUS_MARK = {"ok": "+", "warning": "!", "fail": "x", "skipped": "-"}  # GBK-safe
_PALETTE = ("#1f77b4", "#2ca02c", "#d62728", "#9467bd", "#8c564b")


def render_text(report: Report) -> str:
    lang = report.lang
    doc = report.to_json()
    lines = [f"{label('title', lang)}  {doc['url']}  "
             f"{to_cst(report.started).strftime('%Y-%m-%d %H:%M:%S')} CST"]
    for c in doc["checks"]:
        status = c["status"]
        lines.append(f"[{_STATUS_MARK[status]} {label('status.' + status, lang)}] {c['title']}")
        for f in c["findings"]:
            lines.append(f"    {f['text']}")
            if f["advice"] and f["status"] in ("warning", "fail"):
                lines.append(f"    → {f['advice']}")
    lines.append(f"{doc['verdict']} (exit {doc['exit_code']})")
    return "\n".join(lines)


def latency_chart(samples: list[list[float]], width: int = 600, height: int = 220
                  ) -> dict[str, Any] | None:
    """Points and axis of the round-trip chart (SVG user units), or None without data."""
    if not samples:
        return None
    pad_l, pad_b, pad_t, pad_r = 48, 28, 10, 10
    top = max(s[1] for s in samples) * 1.1 or 1.0
    plot_w, plot_h = width - pad_l - pad_r, height - pad_t - pad_b
    sizes = sorted({int(s[0]) for s in samples})
    colour = {size: _PALETTE[i % len(_PALETTE)] for i, size in enumerate(sizes)}
    n = len(samples)
    points = [{
        "x": round(pad_l + (i + 0.5) * plot_w / n, 1),
        "y": round(pad_t + plot_h - s[1] / top * plot_h, 1),
        "colour": colour[int(s[0])], "title": f"{int(s[0])} B: {s[1]} ms",
    } for i, s in enumerate(samples)]
    ticks = [{"y": round(pad_t + plot_h - f * plot_h, 1), "label": f"{top * f:.0f}"}
             for f in (0.0, 0.25, 0.5, 0.75, 1.0)]
    legend = [{"size": size, "colour": colour[size]} for size in sizes]
    return {"width": width, "height": height, "points": points, "ticks": ticks,
            "legend": legend, "x0": pad_l, "x1": width - pad_r, "y0": pad_t + plot_h}


def jinja_env(package: str = "stationlink.diag") -> jinja2.Environment:
    """The report environment (autoescaping, strict undefined) over ``package``'s
    ``templates`` folder; the conformance kit renders its report with it too."""
    return jinja2.Environment(
        loader=jinja2.PackageLoader(package, "templates"),
        autoescape=jinja2.select_autoescape(default=True, default_for_string=True),
        undefined=jinja2.StrictUndefined, trim_blocks=True, lstrip_blocks=True,
    )


def _flat(value: Any) -> str:
    if isinstance(value, dict):
        return ", ".join(f"{k}={_flat(v)}" for k, v in value.items())
    if isinstance(value, list):
        return ", ".join(_flat(v) for v in value)
    if value is None:
        return "-"
    return str(value)


def render_html(report: Report) -> str:
    lang = report.lang
    doc = report.to_json()
    link = report.checks.get("link")
    samples = []
    if link is not None and link.measurements.get("rtt_ms"):
        samples = link.measurements["rtt_ms"]["samples"]
    measurements = []
    for c in doc["checks"]:
        rows = [(k, _flat(v)) for k, v in c["measurements"].items()
                if k not in ("samples", "probes")]
        if c["name"] == "link" and c["measurements"].get("rtt_ms"):
            rtt = c["measurements"]["rtt_ms"]
            rows = [(k, v) for k, v in rows if k != "rtt_ms"]
            rows.insert(0, ("rtt_ms", f"p50={rtt['p50']}, p95={rtt['p95']}, max={rtt['max']}"))
        if c["name"] == "connection":
            probes = c["measurements"].get("probes", [])
            rows.append(("probes", "; ".join(
                f"{p['baud'] or 'tcp'}/{p['dialect']}: {p['result']}" for p in probes)))
        if rows:
            measurements.append({"title": c["title"], "rows": rows})
    return jinja_env().get_template("report.html.j2").render(
        doc=doc, lang=lang, L=lambda key: label(key, lang),
        date=to_cst(report.started).strftime("%Y-%m-%d %H:%M:%S"),
        chart=latency_chart(samples), measurements=measurements,
    )
