"""``stationlink buffer stats``: the verdict "data flowing" first, then the counts, on one
screen; the agent state file beside the buffer is used when there is one. Real buffer and
state files, an injected clock (never the wall clock)."""

from __future__ import annotations

import hashlib
import json
import sqlite3
from contextlib import closing
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from buffer_fixtures import T0, MakeRecord
from click.testing import CliRunner

from stationlink.agent.health_screen import HEIGHT, WIDTH, width
from stationlink.agent.state import AgentState
from stationlink.buffer import Buffer, DeviceReading, TerminalTotals, TotalsLine
from stationlink.cli import buffer as buffer_cli
from stationlink.cli.main import cli
from stationlink.clock import ManualClock
from stationlink.protocol import TxnKind

NOW = T0 + timedelta(hours=3)  # 12:00 CST


def stats(db: Path, monkeypatch: pytest.MonkeyPatch, *args: str) -> Any:
    monkeypatch.setattr(buffer_cli, "CLOCK", ManualClock(NOW))
    res = CliRunner().invoke(cli, ["buffer", "stats", "--db", str(db), *args])
    assert res.exit_code == 0, res.output
    return res


def health(db: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, Any]:
    doc: dict[str, Any] = json.loads(stats(db, monkeypatch, "--json").stdout)["health"]
    return doc


def device(paper_ok: bool = True) -> DeviceReading:
    return DeviceReading(paper_ok=paper_ok, error_counters={}, signal_dbm=-70, uptime_ms=5,
                         boot_id=1, terminal_time=NOW, journal_unacked=0)


@pytest.fixture
def db(tmp_path: Path, make_record: MakeRecord) -> Path:
    """A buffer whose two terminals' records were all uploaded a moment ago."""
    path = tmp_path / "buffer.sqlite"
    with Buffer.open(path, "S7") as buf:
        buf.record_journal_page("T1", [make_record(1), make_record(2)], NOW - timedelta(minutes=9))
        buf.record_journal_page("T2", [make_record(1, kind=TxnKind.WITHDRAWAL)],
                                NOW - timedelta(minutes=8))
        for tid in ("T1", "T2"):
            buf.record_device_status(tid, device(), NOW - timedelta(minutes=1))
        buf.mark_synced(buf.last_seq())
    return path


def test_a_flowing_buffer_is_ok_and_json_keeps_the_counts(
    db: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    zh = stats(db, monkeypatch).stdout.splitlines()
    en = stats(db, monkeypatch, "--lang", "en").stdout.splitlines()
    assert zh[0] == "数据流动：正常"
    assert en[0] == "data flowing: ok"
    assert "last upload:          unknown" in en  # no agent state beside the buffer
    assert "terminal T2:          cursor 1, last record 2026-10-05 11:52:00 CST" in en
    assert "终端 T1:              流水位置 2，最后记录 2026-10-05 11:51:00 CST" in zh
    doc = json.loads(stats(db, monkeypatch, "--json").stdout)
    assert list(doc)[:3] == ["station_id", "records", "transactions"]
    assert (doc["records"], doc["backlog"], doc["journal_cursors"]) == (3, 0, {"T1": 2, "T2": 1})
    assert list(doc)[-1] == "health"
    assert doc["health"]["verdict"] == "ok"
    assert doc["health"]["last_record"] == {"terminal_id": "T2", "seq": 3,
                                            "wall_time": "2026-10-05T11:52:00+08:00"}
    assert doc["health"]["agent"] is None


def test_stats_reads_without_writing(db: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    before = hashlib.sha256(db.read_bytes()).hexdigest()
    stats(db, monkeypatch)
    stats(db, monkeypatch, "--json")
    assert hashlib.sha256(db.read_bytes()).hexdigest() == before
    assert not db.with_name("agent-state.sqlite").exists()


@pytest.mark.parametrize("case", ["quarantine", "stale_upload", "old_unknown", "mismatch",
                                  "paper_out"])
def test_each_buffer_reason_is_named_first(
    db: Path, monkeypatch: pytest.MonkeyPatch, make_record: MakeRecord, case: str
) -> None:
    expected = {"quarantine": ("quarantine", "fail", "HTTP 422 amount too large"),
                "stale_upload": ("upload_stale", "fail", "the oldest for 1 h 30 min"),
                "old_unknown": ("unknown_old", "warning", "(12.34 元)"),
                "mismatch": ("settlement_mismatch", "fail", "T2: settlement totals differ"),
                "paper_out": ("paper_out", "warning", "T1 is out of paper")}[case]
    with Buffer.open(db) as buf:
        if case == "quarantine":
            buf.record_journal_page("T1", [make_record(3)], NOW - timedelta(minutes=1))
            batch = buf.next_batch()
            assert batch is not None
            buf.quarantine(batch, "amount too large", 422, NOW)
        elif case == "stale_upload":
            buf.record_journal_page("T1", [make_record(3)], NOW - timedelta(minutes=90))
        elif case == "old_unknown":
            buf.record_unknown("T2", "c-9", "withdrawal", "", "", 1234, NOW - timedelta(days=2))
            buf.mark_synced(buf.last_seq())
        elif case == "mismatch":
            totals = TerminalTotals(T0, (TotalsLine("withdrawal", "", 2, 10000),))
            assert buf.check_settlement("T2", totals, NOW - timedelta(hours=1))
        else:
            buf.record_device_status("T1", device(paper_ok=False), NOW)
    doc = health(db, monkeypatch)
    assert [(r["id"], r["level"]) for r in doc["reasons"]] == [expected[:2]]
    en = stats(db, monkeypatch, "--lang", "en").stdout.splitlines()
    assert en[0].startswith(f"data flowing: {expected[1].upper()}")
    assert expected[2] in en[1], en[1]
    zh = stats(db, monkeypatch).stdout.splitlines()
    assert zh[1].startswith("  [故障]" if expected[1] == "fail" else "  [警告]")


def test_the_agent_state_beside_the_buffer_is_used(
    db: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with AgentState(db.with_name("agent-state.sqlite")) as st:
        st.note_started(99, NOW - timedelta(hours=2))
        st.heartbeat(NOW - timedelta(seconds=3))
        st.note_upload(now=NOW - timedelta(minutes=2), high_water_mark=3, records=3)
        st.note_terminal("tcp://t1", connected=True, terminal_id="T1", polled=True,
                         now=NOW - timedelta(seconds=10))
        st.note_terminal("tcp://t2", connected=False, terminal_id="T2", polled=True,
                         now=NOW - timedelta(minutes=40))
    en = stats(db, monkeypatch, "--lang", "en").stdout.splitlines()
    assert "last upload:          2026-10-05 11:58:00 CST" in en
    doc = health(db, monkeypatch)
    assert [(r["id"], r["params"]["terminal_id"]) for r in doc["reasons"]] == [
        ("poll_stale", "T2")]
    assert doc["reasons"][0]["params"]["age_s"] == 2400
    assert [t["url"] for t in doc["terminals"]] == ["tcp://t1", "tcp://t2"]


def test_an_unreadable_agent_state_is_named_and_left_out(
    db: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    state = db.with_name("agent-state.sqlite")
    state.write_bytes(b"not a database at all, just some bytes" * 200)
    before = state.read_bytes()
    res = stats(db, monkeypatch, "--lang", "en")
    assert res.stdout.splitlines()[0] == "data flowing: ok"
    assert str(state) in res.stderr
    assert "last upload:          unknown" in res.stdout
    assert state.read_bytes() == before


def test_an_agent_state_of_another_kind_is_named_and_left_out(
    db: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    state = db.with_name("agent-state.sqlite")
    with closing(sqlite3.connect(state)) as conn:
        conn.execute("CREATE TABLE notes (x TEXT)")
        conn.commit()
    res = stats(db, monkeypatch, "--lang", "en")
    assert res.stdout.splitlines()[0] == "data flowing: ok"
    assert str(state) in res.stderr
    assert "last upload:          unknown" in res.stdout


def test_everything_wrong_fits_one_screen(
    db: Path, monkeypatch: pytest.MonkeyPatch, make_record: MakeRecord
) -> None:
    with Buffer.open(db) as buf:
        buf.record_unknown("T2", "c-9", "withdrawal", "", "", 1234, NOW - timedelta(days=2))
        buf.record_journal_page("T1", [make_record(3)], NOW - timedelta(minutes=90))
        for tid in ("T1", "T2"):
            buf.record_device_status(tid, DeviceReading(
                paper_ok=False, error_counters={"journal_record_too_large": 3}, signal_dbm=-90,
                uptime_ms=1, boot_id=2, terminal_time=NOW, journal_unacked=40), NOW)
            totals = TerminalTotals(T0, (TotalsLine("bill_payment", "mobile", 9, 90000),))
            assert buf.check_settlement(tid, totals, NOW)
        batch = buf.next_batch()
        assert batch is not None
        buf.quarantine(batch, "why " * 60, 409, NOW)
    for lang in ("zh", "en"):
        lines = stats(db, monkeypatch, "--lang", lang).stdout.splitlines()
        assert len(lines) <= HEIGHT, "\n".join(lines)
        assert all(width(line) <= WIDTH for line in lines), "\n".join(lines)
        assert lines[0].startswith(("数据流动：故障", "data flowing: FAIL"))
    ids = {r["id"] for r in health(db, monkeypatch)["reasons"]}
    assert ids == {"quarantine", "upload_stale", "unknown_old", "settlement_mismatch",
                   "paper_out", "device_errors"}


def test_now_comes_from_the_injected_clock(db: Path, monkeypatch: pytest.MonkeyPatch,
                                           make_record: MakeRecord) -> None:
    with Buffer.open(db) as buf:
        buf.record_journal_page("T1", [make_record(3)], NOW - timedelta(minutes=30))
    assert health(db, monkeypatch)["reasons"] == []
    later: datetime = NOW + timedelta(minutes=31)
    monkeypatch.setattr(buffer_cli, "CLOCK", ManualClock(later))
    res = CliRunner().invoke(cli, ["buffer", "stats", "--db", str(db), "--json"])
    doc = json.loads(res.stdout)["health"]
    assert doc["now"] == "2026-10-05T12:31:00+08:00"
    assert [r["id"] for r in doc["reasons"]] == ["upload_stale"]


def test_consistent_read_sees_one_snapshot_while_another_connection_writes(
    db: Path, make_record: MakeRecord
) -> None:
    with Buffer.open(db) as reader, Buffer.open(db) as writer:
        with reader.consistent_read():
            before = reader.stats()["records"]
            writer.record_journal_page("T1", [make_record(3)], NOW)
            assert reader.stats()["records"] == before  # the snapshot of the first read
            assert reader.last_captured()["T1"].seq == 2
            with reader.consistent_read():  # nested: the same snapshot
                assert reader.last_seq() == before
        assert reader.stats()["records"] == before + 1
        assert not reader._conn.in_transaction
