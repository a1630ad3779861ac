"""Helpers of the conformance-kit tests: an emulated terminal on a simulated clock with a
few journal records, a kit run against it, and the checks every run must satisfy."""

from __future__ import annotations

import itertools
import json
import random
import shlex
import sys
import xml.etree.ElementTree as ET
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import datetime
from typing import Any

import jsonschema

from stationlink.client import connect
from stationlink.conformance import (
    CASES,
    SCHEMA_PATH,
    KitOptions,
    KitReport,
    Verdict,
    command_hook,
    render_junit,
    run_conformance,
)
from stationlink.conformance.model import EVIDENCE_BYTES, EVIDENCE_LIMIT
from stationlink.money import CST
from stationlink.protocol import TxnKind
from stationlink_sim.clock import SimulatedClock
from stationlink_sim.serve import DEFAULT_CARD_KEY, RunningTerminal, serve_terminal

START = datetime(2026, 3, 16, 9, 0, 0, tzinfo=CST)
_SEEDS = itertools.count(21)
COMBOS = [(k, d, t) for k in ("bill", "card") for d in ("mispos-1", "sl-2")
          for t in ("serial", "tcp")]


@contextmanager
def terminal(kind: str, dialect: str, transport: str, *, payments: int = 2, **options: Any
             ) -> Iterator[tuple[RunningTerminal, SimulatedClock]]:
    """An emulated terminal with ``payments`` approved transactions in its journal."""
    clock = SimulatedClock(START)
    with serve_terminal(kind, dialect, pty=transport == "serial",
                        listen="tcp://127.0.0.1:0" if transport == "tcp" else None,
                        seed=next(_SEEDS), base_clock=clock, **options) as t:
        clock.skip(3600.0)
        if payments:
            with connect(t.url, card_key=DEFAULT_CARD_KEY, dialect=dialect,
                         rng=random.Random(5)) as term:
                approved, account = 0, 31000000
                while approved < payments:
                    account += 1
                    if kind == "bill":
                        result = term.pay_bill("gas", str(account), amount_fen=1250 + approved)
                    else:
                        result = term.withdraw(amount_fen=10000 + approved)
                    approved += result.approved
        yield t, clock


def power_cycle_hook(control: str) -> Callable[[], None]:
    """--power-cycle-cmd through the simulator's control socket at ``control`` (a real
    subprocess, as a vendor's command would be)."""
    return command_hook(shlex.join([sys.executable, "-m", "stationlink_sim.control", control,
                                    "power_cycle"]))


def run_kit(t: RunningTerminal, clock: SimulatedClock, kind: str, **options: Any
            ) -> KitReport:
    options.setdefault("lang", "en")
    return run_conformance(t.url, KitOptions(kind=kind, **options), host_time=clock.now,
                           rng=random.Random(next(_SEEDS)))


def expected_not_applicable(kind: str, dialect: str, transport: str, *, money: bool,
                            power: bool) -> set[str]:
    """The cases the catalogue says do not apply to this terminal and run."""
    out = set()
    for c in CASES:
        if kind not in c.kinds or transport not in c.transports:
            out.add(c.id)
        elif (c.money and not money) or (c.needs_power_cycle and not power):
            out.add(c.id)
    if kind == "card" and dialect == "mispos-1":
        out.add("CF-CARD-MASK")  # mispos-1 sends the full number by design: no masking claim
    return out


def validate(doc: object) -> None:
    schema = json.loads(SCHEMA_PATH.read_text(encoding="utf-8"))
    jsonschema.Draft202012Validator.check_schema(schema)
    jsonschema.Draft202012Validator(schema).validate(doc)


def check_junit(report: KitReport) -> ET.Element:
    """The JUnit XML parses and counts what the report says."""
    root = ET.fromstring(render_junit(report))  # noqa: S314 - our own output
    assert root.tag == "testsuite"
    cases = root.findall("testcase")
    assert [c.get("name") for c in cases] == [c.id for c in CASES]
    counts = report.counts()
    assert int(root.get("tests", "-1")) == len(CASES)
    assert int(root.get("failures", "-1")) == counts["fail"] == sum(
        c.find("failure") is not None for c in cases)
    assert int(root.get("skipped", "-1")) == counts["not_applicable"] == sum(
        c.find("skipped") is not None for c in cases)
    for case, result in zip(cases, report.results, strict=True):
        if result.verdict is Verdict.FAIL:
            failure = case.find("failure")
            assert failure is not None
            assert failure.get("message") == result.reason
            assert failure.text
            assert " >> " in failure.text
            continue
        # a pass (and a case not applicable that exchanged bytes) shows what was exchanged:
        # the reason, one line per exchange up to the limit, and a line for the rest
        out = case.findtext("system-out")
        if result.verdict is Verdict.NOT_APPLICABLE and not result.exchanges:
            assert out is None
            continue
        assert out is not None
        lines = out.splitlines()
        assert lines[0] == result.reason
        shown, omitted = result.evidence()
        assert shown == result.exchanges[:len(shown)]
        assert omitted == len(result.exchanges) - len(shown)
        assert len(shown) == len(result.exchanges) or len(shown) == EVIDENCE_LIMIT or sum(
            len(x.data) for x in shown) >= EVIDENCE_BYTES
        assert all(" >> " in ln or " << " in ln for ln in lines[1:1 + len(shown)])
        assert len(lines) == 1 + len(shown) + (omitted > 0)
    return root


def kit_refs(report: KitReport) -> set[str]:
    return {m.client_ref for m in report.money}


def payments_in(t: RunningTerminal) -> list[Any]:
    return [r for r in t.device.journal.records_now()
            if r.kind in (TxnKind.BILL_PAYMENT, TxnKind.WITHDRAWAL, TxnKind.REVERSAL)]
