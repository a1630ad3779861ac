"""``stationlink agent status``: nothing unknown shows as ``None``, times show in CST, and the
agent's files are created readable by the owner only. Real buffer and state files."""

from __future__ import annotations

import json
import stat
from datetime import UTC, datetime, timedelta
from pathlib import Path

from click.testing import CliRunner

from stationlink.agent.state import AgentState
from stationlink.agent.status import render_status
from stationlink.buffer import Buffer
from stationlink.cli.main import cli
from stationlink.money import CST
from stationlink.protocol import JournalRecord, ResultCode, TxnKind, TxnStatus

T0 = datetime(2026, 10, 5, 1, 0, tzinfo=UTC)  # 09:00 CST


def config(tmp: Path, urls: tuple[str, ...]) -> Path:
    path = tmp / "agent.toml"
    path.write_text(
        f'station_id = "S1"\ncard_key = "{"00" * 16}"\ndata_dir = "data"\n'
        '[hub]\nurl = "http://127.0.0.1:9"\ntoken = "x"\n'
        + "".join(f'[[terminals]]\nurl = "{u}"\n' for u in urls), encoding="utf-8")
    return path


def status(cfg: Path, *extra: str) -> str:
    res = CliRunner().invoke(cli, ["agent", "status", "--config", str(cfg), "--lang", "en",
                                   *extra])
    assert res.exit_code == 0, res.output
    return res.stdout


def test_a_station_whose_terminals_were_never_read_shows_no_none(tmp_path: Path) -> None:
    cfg = config(tmp_path, ("tcp://127.0.0.1:9", "tcp://127.0.0.1:10"))
    Buffer.open(tmp_path / "data" / "buffer.sqlite", "S1").close()
    with AgentState(tmp_path / "data" / "agent-state.sqlite") as st:
        st.note_started(4242, T0)
        st.note_terminal("tcp://127.0.0.1:9", connected=False, now=T0, error="refused")
    text = status(cfg)
    assert "None" not in text
    assert "cursor none yet" in text
    assert "started 2026-10-05 09:00:00 CST" in text
    assert "last error 2026-10-05 09:00:00 CST: refused" in text
    assert "last upload: never" in text
    assert "device status: none yet" in text
    doc = json.loads(status(cfg, "--json"))
    assert [t["journal_cursor"] for t in doc["terminals"]] == [None, None]  # null in JSON


def test_status_after_some_work_shows_cursor_and_times_in_cst(tmp_path: Path) -> None:
    cfg = config(tmp_path, ("tcp://127.0.0.1:9",))
    rec = JournalRecord(
        cursor=7, ref="R1", client_ref="", kind=TxnKind.BILL_PAYMENT, product="mobile",
        account="13800000000", amount_fen=100, status=TxnStatus.APPROVED,
        result=ResultCode.APPROVED, terminal_time=T0, uptime_ms=1, boot_id=1, card=None)
    with Buffer.open(tmp_path / "data" / "buffer.sqlite", "S1") as buf:
        buf.record_journal_page("T1", [rec], T0)
    with AgentState(tmp_path / "data" / "agent-state.sqlite") as st:
        st.note_terminal("tcp://127.0.0.1:9", connected=True, now=T0, terminal_id="T1",
                         dialect="sl-2", polled=True)
        st.note_upload(now=T0 + timedelta(minutes=1), high_water_mark=1, records=1)
    text = status(cfg)
    assert "None" not in text
    assert "cursor 7, last poll 2026-10-05 09:00:00 CST" in text
    assert "oldest unsynced seq 1 at 2026-10-05 09:00:00 CST" in text
    assert "last upload: 2026-10-05 09:01:00 CST (hub high-water mark 1" in text


def test_render_status_never_prints_none_for_missing_fields() -> None:
    doc = {
        "station_id": "S1", "buffer": "b.sqlite",
        "agent": {"pid": None, "started_at": None, "heartbeat_at": None, "stopped_at": None},
        "terminals": [{"url": "tcp://x:1", "terminal_id": None, "dialect": None,
                       "connected": False, "last_poll_at": None, "last_error": "boom",
                       "last_error_at": None, "journal_cursor": None}],
        "records": 0, "synced_upto": 0, "backlog": 0, "oldest_unsynced": None,
        "upload": {"last_upload_at": None, "high_water_mark": None, "records_uploaded": None,
                   "last_error": "x", "last_error_at": None, "next_attempt_at": None},
        "quarantine": [{"id": 1, "first_seq": 1, "last_seq": 2, "http_status": None,
                        "reason": "r"}],
        "quarantined_records": 2, "unresolved_unknown": 0, "settlement_mismatches": 0,
        "settlement_checks": [],
        "devices": [{"terminal_id": "T1", "wall_time": datetime(2026, 10, 5, tzinfo=CST)
                     .isoformat(), "paper_ok": True, "signal_dbm": None,
                     "journal_unacked": None, "boot_id": None}],
    }
    text = render_status(doc)
    assert "None" not in text
    assert "2026-10-05 00:00:00 CST" in text


def test_agent_files_are_created_owner_only(tmp_path: Path) -> None:
    with AgentState(tmp_path / "state" / "agent-state.sqlite") as st:
        st.note_started(1, T0)
        names = sorted(p.name for p in (tmp_path / "state").iterdir())
        assert names == ["agent-state.sqlite", "agent-state.sqlite-shm",
                         "agent-state.sqlite-wal"]
        for p in (tmp_path / "state").iterdir():
            assert stat.S_IMODE(p.stat().st_mode) == 0o600, p.name
