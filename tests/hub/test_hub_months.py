"""Month close and export: late records never change a closed month's default export."""

from __future__ import annotations

from datetime import datetime, timedelta

import httpx
from click.testing import CliRunner
from hub_fixtures import T0, Hub, MakeRecord

from stationlink.buffer import Buffer
from stationlink.cli.main import cli
from stationlink.hub.client import HubClient
from stationlink.hub.closing import close_instant
from stationlink.hub.export import hub_transactions, late_items
from stationlink.interchange import transactions_to_text
from stationlink.money import CST
from stationlink.protocol import TxnKind


def sync(buf: Buffer, hub: Hub, http: httpx.Client) -> int:
    client = HubClient(hub.url, hub.tokens["S1"], station_id="S1", http_client=http,
                       clock=hub.clock)
    hwm = 0
    while (batch := buf.next_batch(2)) is not None:
        hwm = client.upload(batch)
        buf.mark_synced(hwm)
    return hwm


def test_close_instant() -> None:
    assert close_instant("2026-10", 12) == datetime(2026, 11, 13, tzinfo=CST)
    assert close_instant("2026-12", 1) == datetime(2027, 1, 2, tzinfo=CST)


def test_hub_export_equals_buffer_export(
    hub: Hub, http: httpx.Client, buf: Buffer, make_record: MakeRecord
) -> None:
    buf.record_journal_page("T1", [
        make_record(1), make_record(2, kind=TxnKind.WITHDRAWAL, amount_fen=20000),
        make_record(3, kind=TxnKind.REVERSAL, original_ref="R00000000001"),
    ], T0)
    # read by the PC right after its terminal time (a terminal clock a month ahead of the
    # PC is refused at capture)
    buf.record_journal_page("T1", [
        make_record(4, terminal_time=datetime(2026, 11, 1, 0, 30, tzinfo=CST)),
    ], datetime(2026, 11, 1, 0, 31, tzinfo=CST))
    buf.record_unknown("T2", "c-1", "withdrawal", "", "", 100, T0)
    hub.clock.now = datetime(2026, 11, 1, 0, 32, tzinfo=CST)  # October still open
    assert sync(buf, hub, http) == 5
    assert transactions_to_text(hub_transactions(hub.path)) == transactions_to_text(
        buf.transactions())
    october = list(hub_transactions(hub.path, "2026-10"))
    assert [(t.txn_id, t.status) for t in october] == [
        ("S1-T1-R00000000001", "reversed"), ("S1-T1-R00000000002", "approved")]
    assert [t.txn_id for t in hub_transactions(hub.path, "2026-11")] == ["S1-T1-R00000000004"]


def test_late_records_are_listed_and_leave_paid_month_alone(
    hub: Hub, http: httpx.Client, buf: Buffer, make_record: MakeRecord
) -> None:
    buf.record_journal_page("T1", [make_record(1), make_record(2)], T0)
    sync(buf, hub, http)
    paid = transactions_to_text(hub_transactions(hub.path, "2026-10"))
    hub.clock.now = close_instant("2026-10") - timedelta(seconds=1)
    buf.record_journal_page("T1", [make_record(3)], T0)  # arrives just before the close
    sync(buf, hub, http)
    hub.clock.now = close_instant("2026-10")  # from here on October is closed
    buf.record_journal_page("T1", [
        make_record(4),
        make_record(5, kind=TxnKind.REVERSAL, original_ref="R00000000001"),
    ], T0)
    sync(buf, hub, http)
    on_time = list(hub_transactions(hub.path, "2026-10"))
    assert [(t.txn_id, t.status) for t in on_time] == [
        ("S1-T1-R00000000001", "approved"), ("S1-T1-R00000000002", "approved"),
        ("S1-T1-R00000000003", "approved")]
    assert transactions_to_text(on_time[:2]) == paid
    late = late_items(hub.path, "2026-10")
    assert [(i.seq, i.effect) for i in late] == [
        (4, "adds a approved transaction"), (5, "reverses S1-T1-R00000000001")]
    adjusted = list(hub_transactions(hub.path, "2026-10", include_late=True))
    assert [(t.txn_id, t.status) for t in adjusted] == [
        ("S1-T1-R00000000001", "reversed"), ("S1-T1-R00000000002", "approved"),
        ("S1-T1-R00000000003", "approved"), ("S1-T1-R00000000004", "approved")]

    runner = CliRunner()
    result = runner.invoke(cli, ["hub", "late", "--db", str(hub.path), "--month", "2026-10"])
    assert result.exit_code == 0, result.output
    assert result.output.splitlines()[0] == (
        "station_id,seq,txn_id,entry,kind,product,amount,status,ts,received_at,effect")
    assert result.output.splitlines()[2].startswith("S1,5,S1-T1-R00000000005,txn,reversal,")
    exported = runner.invoke(cli, ["hub", "export", "--db", str(hub.path), "--month", "2026-10",
                                   "--format", "csv"])
    assert exported.output == transactions_to_text(on_time)
    bad = runner.invoke(cli, ["hub", "export", "--db", str(hub.path), "--month", "2026-13"])
    assert bad.exit_code == 2
    assert "no such month" in bad.output
