"""The station buffer on real SQLite files: identity, seq, immutability, cursors, sync marks."""

from __future__ import annotations

import sqlite3
from dataclasses import replace
from datetime import timedelta
from pathlib import Path

import pytest
from buffer_fixtures import T0, MakeRecord

from stationlink.buffer import Buffer, Entry, RefusedRecordError, Source
from stationlink.errors import ConfigError, StorageError
from stationlink.protocol import CardRef, ClearPan, TxnKind, TxnStatus


def test_pragmas_and_commit_visible_to_another_connection(
    buf: Buffer, make_record: MakeRecord
) -> None:
    mode = buf._conn.execute("PRAGMA journal_mode").fetchone()[0]
    sync = buf._conn.execute("PRAGMA synchronous").fetchone()[0]
    assert (mode, sync) == ("wal", 2)  # 2 = FULL
    rec = make_record(1)
    stored = buf.record_result("T1", rec, rec.terminal_time)
    other = sqlite3.connect(buf.path)
    try:
        row = other.execute("SELECT seq, terminal_ref FROM records").fetchall()
    finally:
        other.close()
    assert row == [(stored.seq, rec.ref)]


def test_same_transaction_live_then_journal_is_stored_once(
    buf: Buffer, make_record: MakeRecord
) -> None:
    rec = make_record(1, client_ref="c-1")
    live = buf.record_result("T1", rec, rec.terminal_time)
    page = buf.record_journal_page("T1", [rec, make_record(2)], T0 + timedelta(hours=1))
    assert live.seq == 1
    assert page.duplicates == 1
    assert [r.seq for r in page.stored] == [2]
    again = buf.record_result("T1", rec, T0 + timedelta(hours=2))
    assert again == live  # the stored one, with its original wall time
    assert buf.last_seq() == 2
    assert buf.stats()["conflicts"] == 0


def test_same_ref_on_another_terminal_is_another_transaction(
    buf: Buffer, make_record: MakeRecord
) -> None:
    rec = make_record(1)
    a = buf.record_result("T1", rec, T0)
    b = buf.record_result("T2", rec, T0)
    assert (a.seq, b.seq) == (1, 2)
    assert [t.txn_id for t in buf.transactions()] == [f"S1-T1-{rec.ref}", f"S1-T2-{rec.ref}"]


def test_differing_copy_is_kept_as_conflict_not_edit(buf: Buffer, make_record: MakeRecord) -> None:
    rec = make_record(1)
    first = buf.record_result("T1", rec, T0)
    changed = replace(rec, amount_fen=9999)
    assert buf.record_result("T1", changed, T0) == first
    assert buf.get(1) == first
    assert buf.stats()["conflicts"] == 1
    detail = buf._conn.execute("SELECT detail FROM conflicts").fetchone()[0]
    assert "amount_fen: stored 5000, received 9999" in detail


def test_full_card_number_is_refused(buf: Buffer, make_record: MakeRecord) -> None:
    rec = make_record(1, kind=TxnKind.WITHDRAWAL, card=ClearPan("6228480012345678"))
    with pytest.raises(RefusedRecordError, match="full card number"):
        buf.record_result("T1", rec, T0)
    sneaky = make_record(2, kind=TxnKind.WITHDRAWAL, card=CardRef("6228480012345678", "ab"))
    with pytest.raises(RefusedRecordError, match="masked card looks like a full card number"):
        buf.record_result("T1", sneaky, T0)
    assert buf.last_seq() == 0
    raw = Path(buf.path).read_bytes() + Path(str(buf.path) + "-wal").read_bytes()
    assert b"6228480012345678" not in raw


def test_failed_page_stores_nothing_and_keeps_cursor(buf: Buffer, make_record: MakeRecord) -> None:
    buf.record_journal_page("T1", [make_record(1), make_record(2)], T0)
    bad = make_record(4, kind=TxnKind.WITHDRAWAL, card=ClearPan("6228480012345678"))
    with pytest.raises(RefusedRecordError):
        buf.record_journal_page("T1", [make_record(3), bad], T0)
    assert buf.get_cursor("T1") == 2
    assert buf.last_seq() == 2
    page = buf.record_journal_page("T1", [make_record(3)], T0)
    assert [r.seq for r in page.stored] == [3]  # no seq was consumed by the failure
    assert buf.get_cursor("T1") == 3


def test_empty_page_with_explicit_cursor(buf: Buffer) -> None:
    assert buf.get_cursor("T9") is None
    result = buf.record_journal_page("T9", [], T0, cursor=41)
    assert (result.stored, result.duplicates, result.cursor) == ((), 0, 41)
    assert buf.get_cursor("T9") == 41
    buf.set_cursor("T9", 7, T0)
    assert buf.get_cursor("T9") == 7


def test_unknown_resolved_by_journal_refers_to_it(buf: Buffer, make_record: MakeRecord) -> None:
    unknown = buf.record_unknown("T1", "c-7", "bill_payment", "mobile", "138", 5000, T0)
    assert buf.record_unknown("T1", "c-7", "bill_payment", "mobile", "138", 5000, T0) == unknown
    assert buf.stats()["unresolved_unknown"] == 1
    assert buf.transactions() == []
    page = buf.record_journal_page("T1", [make_record(1, client_ref="c-7")], T0)
    resolved = page.stored[0]
    assert (resolved.entry, resolved.refers_to_seq) == (Entry.TXN, unknown.seq)
    assert buf.get(unknown.seq) == unknown  # never edited
    stats = buf.stats()
    assert (stats["unknown"], stats["unresolved_unknown"]) == (1, 0)
    assert [t.status for t in buf.transactions()] == ["approved"]


def test_unknown_resolved_as_never_happened(buf: Buffer, make_record: MakeRecord) -> None:
    unknown = buf.record_unknown("T1", "c-8", "withdrawal", "", "", 20000, T0)
    void = buf.record_void("T1", "c-8", T0 + timedelta(minutes=1))
    assert (void.entry, void.refers_to_seq, void.amount_fen) == (Entry.VOID, unknown.seq, 20000)
    assert buf.stats()["unresolved_unknown"] == 0
    with pytest.raises(RefusedRecordError, match="no unknown"):
        buf.record_void("T1", "c-9", T0)
    buf.record_unknown("T1", "c-10", "withdrawal", "", "", 100, T0)
    buf.record_result("T1", make_record(1, client_ref="c-10"), T0)
    with pytest.raises(RefusedRecordError, match="has a result"):
        buf.record_void("T1", "c-10", T0)


def test_reversal_is_new_record_and_folds_into_export(buf: Buffer, make_record: MakeRecord) -> None:
    original = buf.record_result("T1", make_record(1), T0)
    declined = buf.record_result("T1", make_record(2, status=TxnStatus.DECLINED), T0)
    rev = make_record(3, kind=TxnKind.REVERSAL, original_ref=original.terminal_ref,
                      amount_fen=5000, product="")
    stored = buf.record_result("T1", rev, T0)
    assert stored.refers_to_seq == original.seq
    assert buf.get(original.seq) == original
    rows = buf.transactions()
    assert [(r.txn_id, r.status) for r in rows] == [
        (original.txn_id, "reversed"), (declined.txn_id, "declined")]
    orphan = make_record(4, kind=TxnKind.REVERSAL, original_ref="R-NOT-HERE")
    assert buf.record_result("T1", orphan, T0).refers_to_seq is None
    assert len(buf.transactions()) == 2


def test_naive_time_is_refused(buf: Buffer, make_record: MakeRecord) -> None:
    with pytest.raises(RefusedRecordError, match="no UTC offset"):
        buf.record_result("T1", make_record(1), T0.replace(tzinfo=None))


def test_sync_marks_and_batches(buf: Buffer, make_record: MakeRecord) -> None:
    buf.record_journal_page("T1", [make_record(i) for i in range(1, 8)], T0)
    batch = buf.next_batch(3)
    assert batch is not None
    assert (batch.station_id, batch.first_seq, batch.last_seq) == ("S1", 1, 3)
    assert [r.seq for r in batch.records] == [1, 2, 3]
    assert buf.mark_synced(3) == 3
    assert buf.mark_synced(2) == 3  # never backwards
    assert [r.seq for r in buf.unsynced(100)] == [4, 5, 6, 7]
    with pytest.raises(StorageError, match="beyond the buffer's last seq 7"):
        buf.mark_synced(8)
    buf.mark_synced(7)
    assert buf.next_batch() is None
    assert buf.stats()["backlog"] == 0


def test_quarantine_holds_back_upload_and_shows_in_stats(
    buf: Buffer, make_record: MakeRecord
) -> None:
    buf.record_journal_page("T1", [make_record(i) for i in range(1, 6)], T0)
    buf.mark_synced(1)
    batch = buf.next_batch(2)
    assert batch is not None
    entry = buf.quarantine(batch, "records[0].kind: unknown kind", 422, T0)
    assert buf.unsynced() == []
    stats = buf.stats()
    assert (stats["quarantined_batches"], stats["quarantined_records"]) == (1, 2)
    assert stats["quarantine"][0]["reason"] == "records[0].kind: unknown kind"
    assert buf.last_seq() == 5  # nothing dropped
    assert buf.release_quarantine(entry, T0)
    assert not buf.release_quarantine(entry, T0)
    assert [r.seq for r in buf.unsynced()] == [2, 3, 4, 5]


def test_reopen_checks_station(tmp_path: Path, make_record: MakeRecord) -> None:
    path = tmp_path / "b.sqlite"
    with Buffer.open(path, "S1") as b:
        b.record_result("T1", make_record(1), T0)
    with pytest.raises(ConfigError, match="belongs to station 'S1', not 'S2'"):
        Buffer.open(path, "S2")
    with Buffer.open(path) as b:
        assert (b.station_id, b.last_seq()) == ("S1", 1)
    with pytest.raises(StorageError, match="no such database file"):
        Buffer.open(tmp_path / "missing.sqlite", create=False)
    with pytest.raises(ConfigError, match="needs a station id"):
        Buffer.open(tmp_path / "new.sqlite")


def test_drift_corrected_from_live_anchor(buf: Buffer, make_record: MakeRecord) -> None:
    live = make_record(1, uptime_ms=1_000_000, boot_id=5)
    buf.record_result("T1", live, live.terminal_time, source=Source.LIVE)
    # the terminal's clock jumped back to 2000 within the same boot; uptime says 10 min later
    jumped = make_record(2, uptime_ms=1_600_000, boot_id=5,
                         terminal_time=T0.replace(year=2000))
    other_boot = make_record(3, uptime_ms=5, boot_id=6, terminal_time=T0.replace(year=2001))
    buf.record_journal_page("T1", [jumped, other_boot], T0 + timedelta(hours=3))
    ts = [t.ts for t in buf.transactions()]
    assert ts[1] == live.terminal_time + timedelta(minutes=10)
    assert ts[2] == T0.replace(year=2001)  # no anchor for boot 6: own clock kept
