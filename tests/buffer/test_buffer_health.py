"""Device status snapshots and settlement checks in the buffer."""

from __future__ import annotations

from datetime import timedelta

from buffer_fixtures import T0, MakeRecord

from stationlink.buffer import Buffer, DeviceReading, TerminalTotals, TotalsLine
from stationlink.protocol import TxnKind, TxnStatus


def status(boot: int, paper: bool) -> DeviceReading:
    return DeviceReading(paper, {"nak_sent": 3}, -71, 12_000, boot, T0, 4)


def test_device_snapshots_append_and_sync(buf: Buffer) -> None:
    first = buf.record_device_status("T1", status(1, True), T0)
    second = buf.record_device_status("T1", status(2, False), T0 + timedelta(minutes=5))
    buf.record_device_status("T2", status(9, True), T0)
    latest = buf.latest_device_status()
    assert [(s.terminal_id, s.boot_id, s.paper_ok) for s in latest] == [
        ("T1", 2, False), ("T2", 9, True)]
    assert latest[0].error_counters == {"nak_sent": 3}
    assert [s.id for s in buf.unsynced_device_status()][:2] == [first, second]
    buf.mark_device_status_synced([first, second])
    assert [s.terminal_id for s in buf.unsynced_device_status()] == ["T2"]
    assert buf.stats()["device_snapshots"] == 3


def test_settlement_mismatch_is_recorded(buf: Buffer, make_record: MakeRecord) -> None:
    buf.record_journal_page("T1", [
        make_record(1, amount_fen=1000),
        make_record(2, amount_fen=2500),
        make_record(3, amount_fen=700, status=TxnStatus.DECLINED),
        make_record(4, kind=TxnKind.REVERSAL, original_ref="R00000000002", amount_fen=2500),
        make_record(5, kind=TxnKind.WITHDRAWAL, amount_fen=30000),
    ], T0)
    agree = TerminalTotals(T0, (
        TotalsLine(TxnKind.BILL_PAYMENT, "mobile", 1, 1000),
        TotalsLine(TxnKind.WITHDRAWAL, "", 1, 30000),
    ))
    assert buf.check_settlement("T1", agree, T0) == []
    differ = TerminalTotals(T0, (
        TotalsLine(TxnKind.BILL_PAYMENT, "mobile", 2, 3500),
        TotalsLine(TxnKind.WITHDRAWAL, "", 1, 30000),
    ))
    [m] = buf.check_settlement("T1", differ, T0)
    assert (m.kind, m.product, m.terminal_count, m.terminal_amount_fen) == (
        "bill_payment", "mobile", 2, 3500)
    assert (m.buffer_count, m.buffer_amount_fen) == (1, 1000)
    assert buf.stats()["settlement_mismatches"] == 1
    later = TerminalTotals(T0 + timedelta(minutes=2), ())
    mismatches = buf.check_settlement("T1", later, T0)
    assert {(m.kind, m.buffer_count) for m in mismatches} == {("withdrawal", 1)}
