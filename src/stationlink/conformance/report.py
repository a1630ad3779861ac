"""The conformance report for people and for CI: console text, HTML, JUnit XML.

Contract:
- Evidence (the bytes exchanged and the kit's reading of them) is what
  :meth:`~.model.CaseResult.evidence` lists: all of a failed case's exchanges, the first
  :data:`~.model.EVIDENCE_LIMIT` of any other case's, then one line "… N more" when some
  were left out (:func:`evidence_lines`, the one formatting of every output).
- :func:`render_text`: one line per case (verdict, id, purpose, reason), the bytes
  exchanged under each failure only (the console stays short: the files carry the rest),
  the test transactions not reversed, the overall verdict.
- :func:`render_html`: ONE self-contained HTML document (``templates/report.html.j2`` through
  the diagnosis's Jinja2 environment, :func:`stationlink.diag.render.jinja_env`: autoescaping,
  inline CSS, no script, no external asset): device identity, dialect, transport, date in
  CST, kit version, every case with its verdict, reason and evidence (open under a
  failure, collapsed in a ``<details>`` under any other case).
- :func:`render_junit`: JUnit XML (one ``testsuite``; one ``testcase`` per case, named by
  its id; ``failure`` with the reason and the evidence for a failed case, ``skipped`` with
  the reason for one not applicable, ``system-out`` with what was checked and the evidence
  for a pass, and with the evidence for a case not applicable that exchanged bytes; device
  identity as ``properties``), what a vendor's CI reads per firmware build.
- :data:`SCHEMA_PATH` is the JSON Schema (draft 2020-12) of ``KitReport.to_json()``.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET  # noqa: S405 - we write XML, never parse it here
from importlib import resources
from pathlib import Path
from typing import Any

from ..diag.catalogue import Lang
from ..diag.render import jinja_env
from ..money import to_cst
from .catalogue import label
from .model import KitReport

SCHEMA_PATH = Path(str(resources.files(__package__) / "schema.json"))
_MARK = {"pass": "PASS", "fail": "FAIL", "not_applicable": "N/A "}
_MORE: dict[Lang, str] = {"zh": "…… 另有 {n} 条未列出（未失败的用例只列前 {limit} 条）",
                          "en": "… {n} more exchanges not listed (first {limit} listed "
                                "for a case that did not fail)"}


def evidence_lines(case: dict[str, Any], lang: Lang) -> list[str]:
    """One line per exchange of a case of ``KitReport.to_json()``: seconds since the case
    started, ``>>`` kit to device or ``<<`` device to kit, hex, the kit's note; then the
    "… N more" line when the report left some out."""
    out = []
    for x in case["evidence"]:
        arrow = ">>" if x["dir"] == "out" else "<<"
        note = f"  [{x['note']}]" if x["note"] else ""
        out.append(f"{x['t']:8.3f} {arrow} {x['hex']}{note}")
    if case["evidence_omitted"]:
        out.append(_MORE[lang].format(n=case["evidence_omitted"], limit=len(case["evidence"])))
    return out


def render_text(report: KitReport) -> str:
    doc = report.to_json()
    lang = report.lang
    head = (f"{label('title', lang)}  {doc['url']}  {doc['kind']} {doc['dialect'] or '-'} "
            f"{doc['transport'] or '-'}  {to_cst(report.started):%Y-%m-%d %H:%M:%S} CST")
    lines = [head]
    if doc["device"]:
        d = doc["device"]
        lines.append(f"{label('device', lang)}: {d['vendor']} {d['model']} "
                     f"{d['serial_number']} firmware {d['firmware']}")
    if doc["connect_error"]:
        lines.append(doc["connect_error"])
    for c in doc["cases"]:
        lines.append(f"[{_MARK[c['verdict']]}] {c['id']:<17} {c['purpose']}")
        if c["reason"]:
            lines.append(f"       {c['reason']}")
        if c["verdict"] == "fail":
            lines += [f"       {ln}" for ln in evidence_lines(c, lang)]
    for m in doc["money"]:
        if not m["reversed"]:
            lines.append(f"{label('unreversed', lang)}: {m['case']} {m['client_ref']} "
                         f"{m['ref']} {m['amount_fen']} fen {m['detail']}")
    n = doc["counts"]
    lines.append(f"{doc['verdict']} (exit {doc['exit_code']}): {n['pass']} pass, "
                 f"{n['fail']} fail, {n['not_applicable']} not applicable")
    return "\n".join(lines)


def render_html(report: KitReport) -> str:
    lang = report.lang
    return jinja_env("stationlink.conformance").get_template("report.html.j2").render(
        doc=report.to_json(), lang=lang, L=lambda key: label(key, lang),
        date=to_cst(report.started).strftime("%Y-%m-%d %H:%M:%S"),
        evidence=lambda case: "\n".join(evidence_lines(case, lang)),
    )


def render_junit(report: KitReport) -> str:
    doc = report.to_json()
    lang = report.lang
    n = doc["counts"]
    suite = ET.Element("testsuite", {
        "name": f"stationlink-conformance.{doc['kind']}.{doc['dialect'] or 'unknown'}."
                f"{doc['transport'] or 'unknown'}",
        "tests": str(len(doc["cases"])), "failures": str(n["fail"]), "errors": "0",
        "skipped": str(n["not_applicable"]), "time": f"{doc['seconds']:.3f}",
        "timestamp": doc["started"],
    })
    props = ET.SubElement(suite, "properties")
    facts: dict[str, Any] = {"url": doc["url"], "kind": doc["kind"], "dialect": doc["dialect"],
                             "transport": doc["transport"], "kit_version": doc["kit_version"]}
    for k, v in (doc["device"] or {}).items():
        facts[f"device.{k}"] = ",".join(v) if isinstance(v, list) else v
    for k, v in facts.items():
        ET.SubElement(props, "property", {"name": k, "value": "" if v is None else str(v)})
    classname = suite.get("name", "")
    for c in doc["cases"]:
        case = ET.SubElement(suite, "testcase", {"classname": classname, "name": c["id"],
                                                 "time": f"{c['seconds']:.3f}"})
        if c["verdict"] == "fail":
            failure = ET.SubElement(case, "failure", {"message": c["reason"],
                                                      "type": "conformance"})
            failure.text = "\n".join([f"§{c['section']} {c['purpose']}",
                                      *evidence_lines(c, lang)])
        elif c["verdict"] == "not_applicable":
            ET.SubElement(case, "skipped", {"message": c["reason"]})
            if c["evidence"]:
                out = ET.SubElement(case, "system-out")
                out.text = "\n".join([c["reason"], *evidence_lines(c, lang)])
        else:
            out = ET.SubElement(case, "system-out")
            out.text = "\n".join([c["reason"], *evidence_lines(c, lang)])
    ET.indent(suite)
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(suite, encoding="unicode")
