"""``stationlink conformance`` on the command line: --list (text and JSON), the doc's
catalogue table against the code, usage errors (exit 2), could-not-connect (exit 3) with a
valid JSON document and JUnit, ``--only`` comma-separated and repeated (the run has exactly
those cases), the evidence of every verdict in the JSON, HTML and JUnit (bounded for a case
that did not fail, in full for a failure), and a full run with a failing case: exit 1, JSON,
JUnit with the evidence, and the HTML report rendered in Chromium (skipped when it is not
installed)."""

from __future__ import annotations

import json
import re
import shlex
import shutil
import socket
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

import jsonschema
import pytest
from click.testing import CliRunner
from kit_rig import START, terminal, validate

from stationlink.cli import conformance as kit_cli
from stationlink.cli.main import cli
from stationlink.clock import ManualClock
from stationlink.conformance import (
    CASES,
    SCHEMA_PATH,
    CaseResult,
    Exchange,
    KitReport,
    Verdict,
    markdown_table,
    render_html,
    render_junit,
    render_text,
)
from stationlink.conformance.catalogue import LABELS, label
from stationlink.conformance.model import EVIDENCE_BYTES, EVIDENCE_LIMIT
from stationlink.diag.catalogue import Lang
from stationlink_sim.serve import RunningTerminal

DOC = Path(__file__).resolve().parents[2] / "docs" / "conformance.md"
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
                 "--no-first-run", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync"]


def run(args: list[str], clock: object = None) -> tuple[int, str]:
    mp = pytest.MonkeyPatch()
    mp.setattr(kit_cli, "CLOCK", clock or ManualClock(START))
    try:
        result = CliRunner().invoke(cli, ["conformance", *args], catch_exceptions=False)
    finally:
        mp.undo()
    return result.exit_code, result.output


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_list_prints_every_case_with_section_purpose_and_money() -> None:
    code, out = run(["--list", "--lang", "en"])
    assert code == 0
    for c in CASES:
        line = next(ln for ln in out.splitlines() if ln.startswith(c.id + " "))
        assert f"§{c.section}" in line
        assert c.purpose_en in line
        assert ("[money]" in line) == c.money
    code, out = run(["--list", "--json"])
    assert code == 0
    doc = json.loads(out)
    assert [r["id"] for r in doc["cases"]] == [c.id for c in CASES]
    assert [r["purpose"] for r in doc["cases"]] == [c.purpose_zh for c in CASES]
    assert [r["money"] for r in doc["cases"]] == [c.money for c in CASES]
    assert {r["id"] for r in doc["cases"] if r["money"]} == {"CF-DUPLICATE", "CF-STATUS-LOST"}


def test_the_docs_catalogue_table_is_the_codes() -> None:
    text = DOC.read_text(encoding="utf-8")
    assert markdown_table() in text
    for c in CASES:
        assert f"**{c.id}**" in text, f"docs/conformance.md does not explain {c.id}"


def test_every_label_has_both_languages() -> None:
    assert all(set(v) == {"zh", "en"} and all(v.values()) for v in LABELS.values())
    assert all(c.purpose_zh and c.purpose_en for c in CASES)


@pytest.mark.parametrize(("args", "message"), [
    (["tcp://127.0.0.1:1"], "--kind"),
    (["--kind", "bill"], "URL"),
    (["tcp://127.0.0.1:1", "--kind", "bill", "--only", "CF-NOPE"], "CF-NOPE"),
    (["tcp://127.0.0.1:1", "--kind", "bill", "--power-cycle-cmd", ""], "--power-cycle-cmd"),
])
def test_usage_errors_are_exit_2_before_anything_is_sent(args: list[str], message: str) -> None:
    code, out = run(args)
    assert code == 2
    assert message in out


def test_could_not_connect_is_exit_3_with_valid_json_and_junit(tmp_path: Path) -> None:
    junit = tmp_path / "kit.xml"
    code, out = run([f"tcp://127.0.0.1:{_free_port()}", "--kind", "card", "--json",
                     "--junit", str(junit)])
    assert code == 3
    doc = json.loads(out)
    validate(doc)
    assert doc["exit_code"] == 3
    assert doc["device"] is None
    assert doc["connect_error"]
    assert doc["counts"] == {"pass": 0, "fail": 0, "not_applicable": len(CASES)}
    root = ET.fromstring(junit.read_text(encoding="utf-8"))  # noqa: S314 - our own output
    assert root.get("skipped") == str(len(CASES))
    assert root.get("failures") == "0"


def test_the_schema_refuses_what_it_should() -> None:
    schema = json.loads(SCHEMA_PATH.read_text(encoding="utf-8"))
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate({"schema": "stationlink-conformance", "version": 1}, schema)


def _exchanges(n: int, tag: int) -> list[Exchange]:
    """``n`` exchanges, each with bytes found nowhere else (``tag``, its index, ``ee``)."""
    return [Exchange(i * 0.01, "out" if i % 2 == 0 else "in",
                     bytes((tag,)) + i.to_bytes(2, "big") + b"\xee",
                     f"note {tag}-{i}" if i % 3 == 0 else "") for i in range(n)]


def _hex(x: Exchange) -> str:
    return " ".join(f"{b:02x}" for b in x.data)


def _synthetic_report(lang: Lang = "en") -> KitReport:
    """A report of four cases without a device: a pass and a failure with more exchanges
    than the limit, a case not applicable before it ran and one that found it out."""
    more = EVIDENCE_LIMIT + 15
    results = [
        CaseResult(CASES[0], Verdict.PASS, "all frames well formed", _exchanges(more, 0xa1)),
        CaseResult(CASES[1], Verdict.FAIL, "no ACK within 1.00 s", _exchanges(more, 0xb2)),
        CaseResult(CASES[2], Verdict.NOT_APPLICABLE, label("na.kind", "en")),
        CaseResult(CASES[3], Verdict.NOT_APPLICABLE, "the device sends no heartbeat",
                   _exchanges(3, 0xc3)),
    ]
    return KitReport("tcp://192.0.2.1:9000", "bill", START, lang, connected=True,
                     dialect="sl-2", transport="tcp", results=results, seconds=1.5)


def test_every_verdict_carries_its_evidence_bounded_unless_it_failed() -> None:
    report = _synthetic_report()
    passed, failed, na_before, na_found = report.results
    doc = report.to_json()
    validate(doc)
    cases = doc["cases"]
    assert [x["hex"] for x in cases[0]["evidence"]] == [
        _hex(x) for x in passed.exchanges[:EVIDENCE_LIMIT]]
    assert cases[0]["evidence_omitted"] == 15
    assert [x["hex"] for x in cases[1]["evidence"]] == [_hex(x) for x in failed.exchanges]
    assert cases[1]["evidence_omitted"] == 0
    assert (cases[2]["evidence"], cases[2]["evidence_omitted"]) == ([], 0)
    assert cases[2]["reason"] == "not for this kind of terminal"
    assert [x["hex"] for x in cases[3]["evidence"]] == [_hex(x) for x in na_found.exchanges]
    assert cases[3]["evidence_omitted"] == 0
    first = cases[0]["evidence"][0]
    assert first == {"t": 0.0, "dir": "out", "hex": "a1 00 00 ee", "note": "note 161-0"}
    # the schema holds the bound: 61 exchanges listed for a pass, or a failure cut short
    schema = json.loads(SCHEMA_PATH.read_text(encoding="utf-8"))
    too_many = json.loads(json.dumps(doc))
    too_many["cases"][0]["evidence"].append(first)
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(too_many, schema)
    cut = json.loads(json.dumps(doc))
    cut["cases"][1]["evidence_omitted"] = 1
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(cut, schema)
    description = schema["properties"]["cases"]["items"]["properties"]["evidence"][
        "description"]
    assert f"first {EVIDENCE_LIMIT}," in description
    assert f"bytes listed to {EVIDENCE_BYTES} " in description
    assert schema["properties"]["cases"]["items"]["else"]["properties"]["evidence"][
        "maxItems"] == EVIDENCE_LIMIT


def test_the_docs_state_the_evidence_bounds_of_the_code() -> None:
    section = " ".join(DOC.read_text(encoding="utf-8").split("## Reading the report", 1)[1]
                       .split("\n## ", 1)[0].split())
    assert f"lists its first {EVIDENCE_LIMIT}, and none after" in section
    assert f"bytes listed to {EVIDENCE_BYTES // 1024} KiB" in section
    assert "`evidence_omitted`" in section


def test_big_exchanges_end_the_listing_of_a_pass_once_it_holds_the_byte_bound() -> None:
    size = EVIDENCE_BYTES // 4 + 1  # four of them pass the bound
    big = [Exchange(i * 0.1, "in", bytes((i,)) * size) for i in range(10)]
    doc = CaseResult(CASES[0], Verdict.PASS, "ok", big).to_json("en")
    assert [x["hex"][:2] for x in doc["evidence"]] == ["00", "01", "02", "03"]
    assert doc["evidence_omitted"] == 6
    doc = CaseResult(CASES[0], Verdict.FAIL, "no", big).to_json("en")
    assert (len(doc["evidence"]), doc["evidence_omitted"]) == (10, 0)
    small = CaseResult(CASES[0], Verdict.PASS, "ok", big[:3]).to_json("en")
    assert (len(small["evidence"]), small["evidence_omitted"]) == (3, 0)


def _row(html: str, case_id: str) -> str:
    match = re.search(rf'<tr class="case[^"]*" id="case-{case_id}".*?</tr>', html, re.S)
    assert match, case_id
    return match.group(0)


@pytest.mark.parametrize(("lang", "more"), [("en", "… 15 more exchanges not listed"),
                                             ("zh", "…… 另有 15 条未列出")])
def test_html_shows_a_failures_evidence_open_and_the_others_collapsed(lang: Lang, more: str
                                                                      ) -> None:
    report = _synthetic_report(lang)
    passed, failed, na_before, na_found = report.results
    html = render_html(report)
    row = _row(html, passed.spec.id)
    assert '<details class="evidence">' in row  # collapsed
    assert f"({EVIDENCE_LIMIT + 15})" in row
    assert all(_hex(x) in row for x in passed.exchanges[:EVIDENCE_LIMIT])
    assert not any(_hex(x) in html for x in passed.exchanges[EVIDENCE_LIMIT:])
    assert more in row
    assert "[note 161-3]" in row
    row = _row(html, failed.spec.id)
    assert '<details class="evidence" open>' in row
    assert all(_hex(x) in row for x in failed.exchanges)
    assert "more exchanges not listed" not in row
    assert "未列出" not in row
    assert "<details" not in _row(html, na_before.spec.id)
    row = _row(html, na_found.spec.id)
    assert '<details class="evidence">' in row
    assert all(_hex(x) in row for x in na_found.exchanges)
    # the console lists the bytes of the failure only
    text = render_text(report)
    assert all(_hex(x) in text for x in failed.exchanges)
    assert not any(_hex(x) in text for x in passed.exchanges + na_found.exchanges)


def test_junit_carries_the_evidence_of_passes_in_system_out() -> None:
    report = _synthetic_report()
    passed, failed, na_before, na_found = report.results
    root = ET.fromstring(render_junit(report))  # noqa: S314 - our own output
    cases = {c.get("name"): c for c in root.findall("testcase")}
    out = cases[passed.spec.id].findtext("system-out") or ""
    lines = out.splitlines()
    assert lines[0] == "all frames well formed"
    assert lines[1] == "   0.000 >> a1 00 00 ee  [note 161-0]"
    assert lines[2] == "   0.010 << a1 00 01 ee"
    assert len(lines) == 1 + EVIDENCE_LIMIT + 1
    assert lines[-1].startswith("… 15 more exchanges not listed")
    failure = cases[failed.spec.id].find("failure")
    assert failure is not None
    assert failure.get("message") == failed.reason
    assert len((failure.text or "").splitlines()) == 1 + len(failed.exchanges)
    assert cases[failed.spec.id].find("system-out") is None
    skipped = cases[na_before.spec.id]
    assert skipped.find("skipped") is not None
    assert skipped.find("system-out") is None
    found = cases[na_found.spec.id]
    skip = found.find("skipped")
    assert skip is not None
    assert skip.get("message") == "the device sends no heartbeat"
    assert (found.findtext("system-out") or "").splitlines()[1:] == [
        "   0.000 >> c3 00 00 ee  [note 195-0]", "   0.010 << c3 00 01 ee",
        "   0.020 >> c3 00 02 ee"]


def _only_run(t: RunningTerminal, only: list[str], tmp_path: Path, clock: object) -> tuple[
        dict[str, dict[str, Any]], ET.Element, str]:
    junit, html = tmp_path / "only.xml", tmp_path / "only.html"
    code, out = run([t.url, "--kind", "bill", "--json", "--lang", "en",
                     "--junit", str(junit), "--report", str(html), *only], clock)
    assert code == 0, out
    doc = json.loads(out)
    validate(doc)
    root = ET.fromstring(junit.read_text(encoding="utf-8"))  # noqa: S314 - our own output
    return {c["id"]: c for c in doc["cases"]}, root, html.read_text(encoding="utf-8")


@pytest.mark.slow
@pytest.mark.parametrize("only", [
    ["--only", "CF-FRAME-TCP,CF-DEVICE-STATUS"],
    ["--only", "CF-FRAME-TCP", "--only", "CF-DEVICE-STATUS"],
    ["--only", " CF-DEVICE-STATUS , ", "--only", "CF-FRAME-TCP,CF-FRAME-TCP"],
], ids=["comma", "repeated", "both"])
def test_only_on_the_command_line_runs_exactly_those_cases(
    only: list[str], tmp_path: Path,
) -> None:
    selected = {"CF-FRAME-TCP", "CF-DEVICE-STATUS"}
    with terminal("bill", "sl-2", "tcp", payments=0) as (t, clock):
        cases, root, html = _only_run(t, only, tmp_path, clock)
    assert list(cases) == [c.id for c in CASES]
    ran = {i for i, c in cases.items() if c["reason"] != "not selected (--only)"}
    assert ran == selected
    for i, c in cases.items():
        if i in selected:
            assert c["verdict"] == "pass", c
            assert c["seconds"] > 0
            # a passing case carries the frames it exchanged, decoded where they decode
            assert {x["dir"] for x in c["evidence"]} == {"in", "out"}
            assert any(x["note"].startswith("frame: sl-2, ") for x in c["evidence"])
        else:
            assert (c["verdict"], c["evidence"], c["seconds"]) == ("not_applicable", [], 0)
    status = cases["CF-DEVICE-STATUS"]
    assert any(x["note"].startswith("DEVICE_STATUS seq ") and x["dir"] == "out"
               for x in status["evidence"])
    junit = {c.get("name"): c for c in root.findall("testcase")}
    assert sum(c.find("skipped") is None for c in junit.values()) == len(selected)
    out = junit["CF-DEVICE-STATUS"].findtext("system-out") or ""
    assert out.splitlines()[0] == status["reason"]
    assert status["evidence"][0]["hex"] in out
    assert " >> " in out
    assert " << " in out
    row = _row(html, "CF-DEVICE-STATUS")
    assert '<details class="evidence">' in row
    assert status["evidence"][-1]["hex"] in row


@pytest.mark.slow
def test_a_failing_case_gives_exit_1_evidence_junit_and_an_html_report_chromium_shows(
    tmp_path: Path,
) -> None:
    """A terminal whose clock is two days behind fails CF-CLOCK and nothing else; the
    power cycle goes through the simulator's control socket (``stationlink sim
    power-cycle``) as a vendor's --power-cycle-cmd would."""
    report, junit = tmp_path / "kit.html", tmp_path / "kit.xml"
    control = str(tmp_path / "control.sock")
    hook = shlex.join([sys.executable, "-m", "stationlink", "sim", "power-cycle", control])
    with terminal("card", "sl-2", "tcp", faults="clock_offset=-48h", control=control) as (
            t, clock):
        boot = t.device.boot_id
        code, out = run([t.url, "--kind", "card", "--json", "--lang", "en", "--allow-money",
                         "--power-cycle-cmd", hook, "--junit", str(junit),
                         "--report", str(report)], clock)
        assert t.device.boot_id > boot
    assert code == 1
    doc = json.loads(out)
    validate(doc)
    failed = [c for c in doc["cases"] if c["verdict"] == "fail"]
    assert [c["id"] for c in failed] == ["CF-CLOCK"], failed
    power = next(c for c in doc["cases"] if c["id"] == "CF-JOURNAL-POWER")
    assert power["verdict"] == "pass", power
    evidence = failed[0]["evidence"]
    assert {x["dir"] for x in evidence} == {"in", "out"}
    assert any(x["hex"].startswith("00 ") for x in evidence if x["dir"] == "out")  # sl-2 TCP
    assert "not plausible" in failed[0]["reason"]
    assert doc["device"]["dialect"] == "sl-2"
    assert doc["device"]["firmware"]
    root = ET.fromstring(junit.read_text(encoding="utf-8"))  # noqa: S314 - our own output
    assert root.get("failures") == "1"
    assert root.get("skipped") == str(doc["counts"]["not_applicable"])
    html = report.read_text(encoding="utf-8")
    assert '<meta name="viewport"' in html
    assert "<script" not in html.lower()
    assert not re.search(r"""(src|href)\s*=|url\(|https?://|@import""", html, re.I)
    if not Path(CHROMIUM).exists() or shutil.which(CHROMIUM) is None:
        pytest.skip(f"{CHROMIUM} is not installed: the report is not rendered")
    dom = subprocess.run(
        [CHROMIUM, *CHROMIUM_ARGS, "--dump-dom", report.as_uri()],
        capture_output=True, text=True, timeout=120, check=True,
    ).stdout
    for c in doc["cases"]:
        assert f'id="case-{c["id"]}"' in dom
        assert f'data-verdict="{c["verdict"]}"' in dom
    assert evidence[0]["hex"] in dom
    assert doc["device"]["serial_number"] in dom


