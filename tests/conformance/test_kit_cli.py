"""``stationlink conformance`` on the command line: --list (text and JSON), the doc's
catalogue table against the code, usage errors (exit 2), could-not-connect (exit 3) with a
valid JSON document and JUnit, and a full run with a failing case: exit 1, JSON, JUnit with
the evidence, and the HTML report rendered in Chromium (skipped when it is not installed)."""

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

import jsonschema
import pytest
from click.testing import CliRunner
from kit_rig import START, terminal, validate

from stationlink.cli import conformance as kit_cli
from stationlink.cli.main import cli
from stationlink.clock import ManualClock
from stationlink.conformance import CASES, SCHEMA_PATH, markdown_table
from stationlink.conformance.catalogue import LABELS

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


