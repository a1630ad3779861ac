"""``stationlink hub serve`` as a real process: clean stop on signals, exactly-once across a
hub killed mid-upload and restarted, and the token/status commands."""

from __future__ import annotations

import json
import signal
import threading
from pathlib import Path

import httpx
import pytest
from click.testing import CliRunner
from hub_fixtures import T0, HubProcess, MakeRecord, create_token

from stationlink.buffer import Buffer
from stationlink.cli.main import cli
from stationlink.errors import HubUnavailableError
from stationlink.hub.client import HubClient
from stationlink.hub.export import hub_transactions
from stationlink.interchange import transactions_to_text

pytestmark = pytest.mark.slow


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
def test_serve_stops_cleanly_on_signal(tmp_path: Path, sig: signal.Signals) -> None:
    hub = HubProcess(tmp_path / "hub.sqlite")
    assert httpx.get(f"{hub.url}/v1/health", timeout=10).json() == {"status": "ok"}
    hub.proc.send_signal(sig)
    code, rest = hub.finish()
    assert code == 0
    assert "hub stopped" in rest


def test_hub_killed_mid_upload_keeps_exactly_once(
    hub_db: str, tmp_path: Path, make_record: MakeRecord
) -> None:
    db = hub_db  # once per store
    token = create_token(db, "S1")
    buf = Buffer.open(tmp_path / "buffer.sqlite", "S1")
    records = [make_record(i) for i in range(1, 3001)]
    for start in range(0, len(records), 500):
        buf.record_journal_page("T1", records[start:start + 500], T0)

    def upload_until_failure(url: str, done: threading.Event) -> None:
        with Buffer.open(buf.path) as own, HubClient(url, token, station_id="S1") as client:
            try:
                while (batch := own.next_batch(50)) is not None:
                    own.mark_synced(client.upload(batch))
            except HubUnavailableError:
                pass
        done.set()

    hub = HubProcess(db)
    done = threading.Event()
    worker = threading.Thread(target=upload_until_failure, args=(hub.url, done))
    worker.start()
    while buf.synced_upto() < 500 and not done.is_set():
        done.wait(0.005)
    hub.proc.kill()  # no goodbye: any in-flight batch may or may not have committed
    worker.join(timeout=30)
    hub.finish()
    assert buf.synced_upto() < 3000  # it really was interrupted mid-way

    hub = HubProcess(db)  # restarted on the same database
    with HubClient(hub.url, token, station_id="S1") as client:
        # the agent's acknowledged mark may lag the hub's: the overlap is replayed harmlessly
        while (batch := buf.next_batch(400)) is not None:
            buf.mark_synced(client.upload(batch))
        assert client.high_water_mark() == 3000
    hub.proc.send_signal(signal.SIGTERM)
    assert hub.finish()[0] == 0
    held = list(hub_transactions(db, include_late=True))  # the real clock decides lateness
    assert len(held) == 3000
    assert transactions_to_text(held) == transactions_to_text(buf.transactions())
    buf.close()


def test_token_and_status_commands(hub_db: str) -> None:
    db = hub_db  # once per store
    token = create_token(db, "S9")
    runner = CliRunner()
    listed = json.loads(runner.invoke(cli, ["hub", "token", "list", "--db", str(db),
                                            "--json"]).output)
    assert [(t["station_id"], t["revoked_at"]) for t in listed] == [("S9", None)]
    assert token.startswith(f"slh_{listed[0]['token_id']}_")
    hub = HubProcess(db)
    snap = {"terminal_id": "T1", "wall_time": T0.isoformat(), "paper_ok": True,
            "error_counters": {}, "signal_dbm": -70, "uptime_ms": 1, "boot_id": 1,
            "terminal_time": T0.isoformat(), "journal_unacked": 0}
    with HubClient(hub.url, token, station_id="S9") as client:
        client.report_agent_status(backlog=4, oldest_unsynced=T0, quarantined_records=0,
                                   unresolved_unknown=0, version="0.1.0")
        assert httpx.post(f"{hub.url}/v1/stations/S9/device-status", json={"snapshots": [snap]},
                          headers={"Authorization": f"Bearer {token}"}).status_code == 200
    hub.proc.send_signal(signal.SIGTERM)
    hub.finish()
    status = runner.invoke(cli, ["hub", "status", "--db", str(db)])
    assert status.exit_code == 0, status.output
    lines = status.output.splitlines()
    assert lines[0].startswith("S9: last contact 20")
    assert lines[0].endswith("hwm 0, 0 records (0 late), backlog 4")
    assert lines[1] == (f"  T1: at {T0.isoformat()} paper ok, signal -70 dBm, unacked 0, boot 1")
    revoked = runner.invoke(cli, ["hub", "token", "revoke", "--db", str(db),
                                  listed[0]["token_id"]])
    assert revoked.output == f"revoked {listed[0]['token_id']}\n"
    again = runner.invoke(cli, ["hub", "token", "revoke", "--db", str(db),
                                listed[0]["token_id"]])
    assert again.exit_code == 1
