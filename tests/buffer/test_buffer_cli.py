"""``stationlink buffer export`` / ``stats`` through click's CliRunner on a real buffer file."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest
from buffer_fixtures import T0, MakeRecord
from click.testing import CliRunner

from stationlink.buffer import Buffer
from stationlink.cli.main import cli
from stationlink.interchange import read_transactions
from stationlink.protocol import TxnKind, TxnStatus


def fill(path: Path, make_record: MakeRecord) -> None:
    with Buffer.open(path, "S7") as buf:
        buf.record_journal_page("T1", [
            make_record(1, amount_fen=4530),
            make_record(2, kind=TxnKind.WITHDRAWAL, amount_fen=100000),
            make_record(3, status=TxnStatus.DECLINED, amount_fen=1),
            make_record(4, kind=TxnKind.REVERSAL, original_ref="R00000000001", amount_fen=4530),
        ], T0)
        buf.record_unknown("T1", "c-x", "bill_payment", "unicom", "139", 3000, T0)
        buf.mark_synced(2)


def test_export_writes_interchange_format(tmp_path: Path, make_record: MakeRecord) -> None:
    db = tmp_path / "b.sqlite"
    fill(db, make_record)
    result = CliRunner().invoke(cli, ["buffer", "export", "--db", str(db), "--format", "csv"])
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert lines[0] == "txn_id,station_id,terminal_id,ts,kind,product,amount,card,status"
    assert lines[1] == (
        "S7-T1-R00000000001,S7,T1,2026-10-05T09:01:00+08:00,bill_payment,mobile,45.30,,reversed")
    assert lines[2] == (
        "S7-T1-R00000000002,S7,T1,2026-10-05T09:02:00+08:00,withdrawal,,1000.00,"
        + "0f" * 16 + ",approved")
    assert len(lines) == 4  # reversal and unknown are not rows
    parsed = read_transactions(io.StringIO(result.output)).rows
    assert [t.status for t in parsed] == ["reversed", "approved", "declined"]


def test_stats_json_and_text(tmp_path: Path, make_record: MakeRecord) -> None:
    db = tmp_path / "b.sqlite"
    fill(db, make_record)
    result = CliRunner().invoke(cli, ["buffer", "stats", "--db", str(db), "--json"])
    assert result.exit_code == 0, result.output
    stats = json.loads(result.output)
    assert (stats["records"], stats["transactions"], stats["reversals"]) == (5, 3, 1)
    assert (stats["backlog"], stats["unresolved_unknown"]) == (3, 1)
    assert stats["oldest_unsynced"] == {"seq": 3, "wall_time": T0.isoformat()}
    text = CliRunner().invoke(cli, ["buffer", "stats", "--db", str(db), "--lang", "en"])
    assert "backlog:              3" in text.output
    assert "unknown outcomes:     1 (1 unresolved)" in text.output


def test_missing_buffer_is_storage_error(tmp_path: Path) -> None:
    result = CliRunner().invoke(cli, ["buffer", "stats", "--db", str(tmp_path / "no.sqlite")])
    assert result.exit_code == 8
    assert "no such database file" in result.output


def test_stats_text_shows_cst_and_release_records_the_injected_time(
    tmp_path: Path, make_record: MakeRecord, monkeypatch: pytest.MonkeyPatch
) -> None:
    from datetime import UTC, datetime

    from stationlink.cli import buffer as buffer_cli
    from stationlink.clock import ManualClock

    db = tmp_path / "b.sqlite"
    utc_wall = datetime(2026, 10, 5, 1, 0, tzinfo=UTC)
    with Buffer.open(db, "S7") as buf:
        buf.record_journal_page("T1", [make_record(1)], utc_wall)
        batch = buf.next_batch(10)
        assert batch is not None
        buf.quarantine(batch, "bad", 422, utc_wall)
    text = CliRunner().invoke(cli, ["buffer", "stats", "--db", str(db), "--lang", "en"]).output
    assert "oldest unsynced:      seq 1 at 2026-10-05 09:00:00 CST" in text
    released_at = datetime(2026, 10, 5, 2, 30, tzinfo=UTC)
    monkeypatch.setattr(buffer_cli, "CLOCK", ManualClock(released_at))
    res = CliRunner().invoke(cli, ["buffer", "release", "--db", str(db), "1"])
    assert res.exit_code == 0, res.output
    with Buffer.open(db) as buf:
        assert buf.open_quarantine() == []
        row = buf._conn.execute("SELECT released_at FROM quarantine").fetchone()
    assert row == ("2026-10-05T10:30:00+08:00",)
