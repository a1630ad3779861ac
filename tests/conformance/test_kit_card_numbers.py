"""No full card number in the kit's evidence, reports or exports: a ``mispos-1`` card
terminal sends full numbers (DF40) by design, a failing case's evidence holds its journal
pages and so does a passing one's (every case carries its evidence); every spelling of each
number (hex with and without spaces, digits) must be absent from the JSON, the console
text, the HTML and the JUnit XML, the number shown with its middle digits as ``**``, in
the evidence of the failure and in that of the passes alike."""

from __future__ import annotations

import json

import pytest
from kit_rig import run_kit, terminal, validate

from stationlink.conformance import Verdict, render_html, render_junit, render_text
from stationlink.protocol import ClearPan


def _spellings(pan: str) -> list[str]:
    padded = pan + "f" * (len(pan) % 2)
    spaced = " ".join(padded[i:i + 2] for i in range(0, len(padded), 2))
    return [pan, padded, spaced, spaced.upper(), padded.upper()]


@pytest.mark.slow
def test_card_numbers_in_the_evidence_are_masked_everywhere() -> None:
    with terminal("card", "mispos-1", "tcp", payments=3,
                  deviation="settlement_counts_reversed") as (t, clock):
        report = run_kit(t, clock, "card", allow_money=True,
                         only=("CF-DUPLICATE", "CF-JOURNAL-PAGE", "CF-SETTLEMENT"))
        pans = {r.card.reveal() for r in t.device.journal.records_now()
                if isinstance(r.card, ClearPan)}
    assert pans, "the terminal's records carry no card number: nothing was tested"
    failed = [r for r in report.results if r.verdict is Verdict.FAIL]
    assert [r.spec.id for r in failed] == ["CF-SETTLEMENT"]
    passed = [r for r in report.results if r.verdict is Verdict.PASS]
    assert [r.spec.id for r in passed] == ["CF-DUPLICATE", "CF-JOURNAL-PAGE"]
    doc = report.to_json()
    validate(doc)
    evidence = " ".join(x["hex"] for c in doc["cases"] for x in c["evidence"])
    assert "df 40" in evidence  # the journal page with the full numbers is in the evidence
    assert "**" in evidence
    outputs = [json.dumps(doc), render_text(report), render_html(report), render_junit(report),
               *(repr(r.exchanges) for r in failed + passed)]
    for pan in pans:
        for spelling in _spellings(pan):
            for out in outputs:
                assert spelling not in out
    for pan in pans:  # the masked form keeps the first 6 digits, as a masked number does
        assert " ".join([pan[0:2], pan[2:4], pan[4:6], "**"]) in evidence
    # a passing case's evidence holds card numbers too, masked the same way, in every output
    pages = next(c for c in doc["cases"] if c["id"] == "CF-JOURNAL-PAGE")
    assert pages["verdict"] == "pass"
    shown = [x["hex"] for x in pages["evidence"]]
    masked = [h for h in shown if "df 40" in h]
    assert masked, "the passing journal pages carry no card number: nothing was tested"
    assert all("**" in h for h in masked)
    assert any(" ".join([pan[0:2], pan[2:4], pan[4:6], "**"]) in " ".join(shown)
               for pan in pans)
    junit_pass = render_junit(report).split('name="CF-JOURNAL-PAGE"', 1)[1].split(
        "</testcase>", 1)[0]
    html_pass = render_html(report).split('id="case-CF-JOURNAL-PAGE"', 1)[1].split("</tr>", 1)[0]
    for out in (junit_pass, html_pass):
        assert "<system-out>" in out or "<details" in out
        assert all(h in out for h in masked)
