"""The station-buffer check against a real SQLite buffer and an emulated terminal."""

from __future__ import annotations

import random
from datetime import timedelta
from pathlib import Path

import pytest
from diag_rig import assert_unchanged, diagnose, journal_state, received, terminal

from stationlink.buffer import Buffer
from stationlink.buffer.health import DeviceReading
from stationlink.client import Outcome, connect
from stationlink.diag import Status
from stationlink_sim.serve import DEFAULT_CARD_KEY

pytestmark = pytest.mark.slow


def test_backlog_settlement_and_a_clock_gone_back_are_named(tmp_path: Path) -> None:
    path = tmp_path / "buffer.sqlite"
    with terminal("tcp", payments=3) as (t, clock):
        records, _ = journal_state(t)
        assert len(records) >= 3
        tid = t.config.terminal_id
        with Buffer.open(path, "S-DIAG-1") as buf:
            buf.record_journal_page(tid, records[:1], clock.now())  # the agent got one
            buf.record_device_status(tid, DeviceReading(
                paper_ok=True, error_counters={}, signal_dbm=0, uptime_ms=1000,
                boot_id=t.device.boot_id, terminal_time=clock.now() + timedelta(days=1),
                journal_unacked=3), clock.now() - timedelta(hours=1))
        before, baseline = journal_state(t), received(t)
        report = diagnose(t, clock, buffer=path)
        assert_unchanged(t, before, baseline)
    check = report.checks["buffer"]
    backlog = [f for f in check.findings if f.id == "buffer.backlog"]
    assert [f.params["count"] for f in backlog] == [str(len(records) - 1)]
    assert "buffer.settlement_mismatch" in check.ids
    assert check.measurements["journal_backlog"] == len(records) - 1
    clk = report.checks["clock"]
    assert [(f.id, f.status) for f in clk.findings] == [("clock.backwards", Status.FAIL)]
    assert report.exit_code() == 2


def test_a_lost_response_shows_as_an_old_unknown_and_a_journal_backlog(tmp_path: Path) -> None:
    """drop_response: the station program never learnt the outcome (no status query), the
    agent did not pull the journal: the record is on the terminal, not in the buffer."""
    path = tmp_path / "buffer.sqlite"
    with terminal("tcp", "drop_response=1", payments=0) as (t, clock):
        with connect(t.url, card_key=DEFAULT_CARD_KEY, dialect="sl-2", status_attempts=0,
                     rng=random.Random(3), t2_money=0.5) as term:
            lost = term.pay_bill("gas", "31009999", amount_fen=4200)
        assert lost.outcome is Outcome.UNKNOWN
        tid = t.config.terminal_id
        clock.skip(2 * 86400.0)
        with Buffer.open(path, "S-DIAG-2") as buf:
            buf.record_unknown(tid, lost.client_ref, "bill_payment", "gas", "31009999", 4200,
                               clock.now() - timedelta(days=2))
        report = diagnose(t, clock, buffer=path)
    check = report.checks["buffer"]
    reasons = [f.params["reason"] for f in check.findings if f.id == "buffer.station"]
    assert "unknown_old" in reasons
    assert "upload_stale" in reasons  # waiting two days, never uploaded
    assert "buffer.backlog" in check.ids


def test_a_clean_buffer_is_ok(tmp_path: Path) -> None:
    path = tmp_path / "buffer.sqlite"
    with terminal("tcp", payments=2) as (t, clock):
        records, _ = journal_state(t)
        with Buffer.open(path, "S-DIAG-3") as buf:
            buf.record_journal_page(t.config.terminal_id, records, clock.now())
        report = diagnose(t, clock, buffer=path)
    assert report.checks["buffer"].ids == ["buffer.ok"], report.checks["buffer"].findings
    assert report.exit_code() == 0


def test_a_file_that_is_no_buffer_fails_the_check_and_is_left_alone(tmp_path: Path) -> None:
    path = tmp_path / "not-a-buffer.sqlite"
    path.write_bytes(b"hello, not sqlite")
    with terminal("tcp", payments=0) as (t, clock):
        report = diagnose(t, clock, buffer=path)
    assert report.checks["buffer"].ids == ["buffer.failed"]
    assert path.read_bytes() == b"hello, not sqlite"
