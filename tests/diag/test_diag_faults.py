"""Fault to verdict: every fault the simulator injects is named by the right check.

Real emulated terminals on real ptys and TCP sockets; the terminal's clock is simulated and
the diagnosis compares it with the same simulated time. After every run the terminal's
journal and ack cursor are unchanged and it saw no money-moving request and no JOURNAL_ACK.
"""

from __future__ import annotations

import pytest
from diag_rig import assert_unchanged, diagnose, journal_state, received, terminal

from stationlink.diag import DiagOptions, Status, run_diag
from stationlink.protocol import Dialect
from stationlink_sim.identity import PROFILES, TerminalKind

pytestmark = pytest.mark.slow


@pytest.mark.parametrize("transport", ["serial", "tcp"])
def test_a_clean_terminal_is_all_ok_and_left_unchanged(transport: str) -> None:
    with terminal(transport) as (t, clock):
        before, baseline = journal_state(t), received(t)
        report = diagnose(t, clock)
        assert_unchanged(t, before, baseline)
    assert report.exit_code() == 0, report.to_json()
    assert [c.status for c in report.ordered()] == [Status.OK] * 5 + [Status.SKIPPED]
    assert report.terminal is not None
    vendor, model, firmware = PROFILES[(TerminalKind.BILL, Dialect.SL_2)]
    assert (report.terminal["vendor"], report.terminal["model"], report.terminal["firmware"]) == (
        vendor, model, firmware)


# (transport, faults, check, finding id, status); "#4": the 4th request the terminal
# executes: the probe's IDENTIFY, IDENTIFY, DEVICE_STATUS, then the DEVICE_STATUS after the
# link check (ECHO is answered by the link layer and not counted).
FAULTS = [
    ("serial", "noise=0.1", "link", "link.noise", Status.WARNING),
    ("serial", "drop_byte=0.01", "link", "link.corrupt", None),
    ("serial", "in_noise=0.2", "link", "link.unacked", Status.WARNING),
    ("serial", "no_ack=0.3", "link", "link.unacked", Status.WARNING),
    ("serial", "slow_ack=0.6", "link", "link.slow", Status.WARNING),
    ("serial", "power_cycle#4", "device", "device.rebooted", Status.FAIL),
    ("tcp", "power_cycle#4", "device", "device.rebooted", Status.FAIL),
    ("serial", "disconnect#4", "link", "link.outage", Status.FAIL),
    ("tcp", "disconnect#4", "link", "link.dropped", Status.FAIL),
    ("serial", "clock_reset#1", "clock", "clock.reset", Status.FAIL),
    ("tcp", "clock_reset#1", "clock", "clock.reset", Status.FAIL),
    ("tcp", "clock_offset=-3h", "clock", "clock.behind", Status.WARNING),
    ("serial", "clock_offset=25m", "clock", "clock.ahead", Status.WARNING),
    ("tcp", "paper_out#1", "device", "device.paper_out", Status.FAIL),
    ("serial", "paper_out#2", "device", "device.paper_out", Status.FAIL),
]


@pytest.mark.parametrize(("transport", "faults", "check", "finding", "status"), FAULTS,
                         ids=[f"{f[0]}-{f[1]}" for f in FAULTS])
def test_each_fault_gets_the_verdict_that_names_it(
    transport: str, faults: str, check: str, finding: str, status: Status | None
) -> None:
    with terminal(transport, faults, payments=0) as (t, clock):
        before, baseline = journal_state(t), received(t)
        report = diagnose(t, clock, dialect="sl-2")
        assert_unchanged(t, before, baseline)
    found = report.checks[check]
    assert finding in found.ids, (found.ids, found.measurements)
    statuses = {f.status for f in found.findings if f.id == finding}
    assert statuses <= {Status.WARNING, Status.FAIL}
    if status is not None:
        assert status in statuses
    assert report.exit_code() in (1, 2)
    if found.status is Status.FAIL:
        assert report.exit_code() == 2


def test_clock_drift_over_a_month_is_a_warning() -> None:
    """5000 ppm for 30 days: the terminal clock runs 3.6 hours ahead."""
    with terminal("tcp", "drift=5000ppm", payments=0) as (t, clock):
        clock.skip(30 * 86400.0)
        report = diagnose(t, clock)
    clk = report.checks["clock"]
    assert clk.ids == ["clock.ahead"]
    assert 3.5 * 3600 < clk.measurements["offset_s"] < 3.7 * 3600


@pytest.mark.parametrize("transport", ["serial", "tcp"])
def test_the_other_dialect_is_found_and_a_wrong_given_one_named(transport: str) -> None:
    with terminal(transport, dialect="mispos-1", payments=0) as (t, clock):
        found = diagnose(t, clock)
        wrong = diagnose(t, clock, dialect="sl-2")
    conn = found.checks["connection"]
    assert conn.ids == ["connection.found"]
    assert conn.measurements["dialect"] == "mispos-1"
    assert conn.measurements["confidence"] == "sure"
    assert found.exit_code() == 0
    assert "connection.dialect_mismatch" in wrong.checks["connection"].ids
    assert wrong.exit_code() == 2
    assert wrong.checks["identify"].status is Status.OK  # the run went on in mispos-1


def test_detection_acknowledges_the_answer_it_took() -> None:
    """Regression: the probe that found the terminal left the terminal's IDENTIFY answer
    unacknowledged, so the terminal retransmitted it after T1 and held the answer to the
    first request of the run behind it (a second lost on every run)."""
    with terminal("serial", dialect="mispos-1", payments=0, baud=9600) as (t, clock):
        assert t.path is not None
        report = diagnose(t, clock, url=f"serial://{t.path}")
        assert t.session.conn.link.stats["retransmissions"] == 0
    assert report.checks["connection"].measurements["dialect"] == "mispos-1"
    link = report.checks["link"].measurements
    assert (link["retransmissions"], link["unacked"]) == (0, 0)
    assert report.exit_code() == 0, report.to_json()


def test_the_baud_rate_is_found_and_a_wrong_given_one_named() -> None:
    """The terminal runs at 19200: without a rate the search finds it (after 9600 in both
    dialects); the station software's 9600 in the URL is a baud_mismatch failure."""
    with terminal("serial", dialect="mispos-1", payments=0, baud=19200) as (t, clock):
        assert t.path is not None
        before, baseline = journal_state(t), received(t)
        found = diagnose(t, clock, url=f"serial://{t.path}")
        wrong = diagnose(t, clock, url=f"serial://{t.path}?baud=9600")
        assert_unchanged(t, before, baseline)
        assert t.runner.uart is not None
        assert t.runner.uart.garbled_in > 0  # the probes at 9600 really were noise
    conn = found.checks["connection"]
    assert conn.ids == ["connection.found"]
    assert (conn.measurements["baud"], conn.measurements["dialect"],
            conn.measurements["confidence"]) == (19200, "mispos-1", "sure")
    assert [(p["baud"], p["dialect"], p["result"]) for p in conn.measurements["probes"]] == [
        (9600, "sl-2", "none"), (9600, "mispos-1", "none"),
        (19200, "sl-2", "none"), (19200, "mispos-1", "sure")]
    assert found.exit_code() == 0
    mismatch = [f for f in wrong.checks["connection"].findings
                if f.id == "connection.baud_mismatch"]
    assert [(f.status, f.params) for f in mismatch] == [
        (Status.FAIL, {"given": 9600, "found": 19200})]
    assert wrong.exit_code() == 2
    assert wrong.checks["link"].status is Status.OK  # the run went on at 19200


def test_nothing_answering_on_a_pty_is_exit_3_after_every_probe() -> None:
    import os
    import tty

    master, slave = os.openpty()  # a cable with nothing at the other end
    try:
        tty.setraw(slave)
        report = run_diag(f"serial://{os.ttyname(slave)}", DiagOptions(echo=1))
    finally:
        os.close(master)
        os.close(slave)
    conn = report.checks["connection"]
    assert conn.ids == ["connection.none"]
    assert len(conn.measurements["probes"]) == 14  # 7 rates x 2 dialects, once each
    assert report.exit_code() == 3
