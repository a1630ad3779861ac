"""The hub's ingest rules with no database: :func:`stationlink.hub.ingest.new_rows` (the one
computation both stores run between their own look-ups and inserts)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from stationlink.buffer.fold import Anchors
from stationlink.buffer.records import Batch, Entry, Source, StoredRecord
from stationlink.buffer.schema import row_value
from stationlink.hub.hub_schema import EXTRA_COLUMNS
from stationlink.hub.ingest import base_rows, identity_keys, new_rows

T0 = datetime(2026, 10, 31, 15, 30, tzinfo=UTC)  # 2026-10-31 23:30 CST
NOW = datetime(2026, 11, 5, 2, 0, tzinfo=UTC)  # 2026-11-05 10:00 CST


def txn(seq: int, ref: str, at: datetime, **changes: object) -> StoredRecord:
    fields: dict[str, object] = dict(
        seq=seq, station_id="S1", terminal_id="T1", entry=Entry.TXN, terminal_ref=ref,
        client_ref="", kind="bill_payment", product="mobile", account="13800000000",
        amount_fen=5000, status="approved", result=0, card_token="", card_masked="",
        original_ref="", refers_to_seq=None, source=Source.JOURNAL, wall_time=at,
        terminal_time=at, uptime_ms=None, boot_id=None, journal_cursor=seq,
    )
    return StoredRecord(**{**fields, **changes})  # type: ignore[arg-type]


def extra(row: tuple[object, ...], name: str) -> object:
    return row[len(row) - len(EXTRA_COLUMNS) + EXTRA_COLUMNS.index(name)]


def test_months_duplicates_late_and_anchors_without_a_database() -> None:
    live = T0 + timedelta(hours=1)  # November in CST
    records = (
        txn(1, "R1", T0),  # October: late once the 3rd of November has passed
        txn(2, "R2", live, source=Source.LIVE, uptime_ms=5000, boot_id=7),
        txn(3, "R1", T0 + timedelta(seconds=5)),  # same identity as seq 1: a duplicate
        txn(4, "R9", live, kind="reversal", original_ref="R0"),  # reverses a held record
    )
    base = base_rows(Batch("S1", 1, 4, records))
    keys = identity_keys(records, base)
    assert keys == {"T1": ["t:R0", "t:R1", "t:R2", "t:R9"]}
    held = {("T1", "t:R0"): (99, "2026-09")}
    anchors: Anchors = {}
    out = new_rows(records, base, held, anchors, NOW, close_day=3)
    months = [extra(r, "affects_month") for r in out.rows]
    assert months == ["2026-10", "2026-11", "2026-10", "2026-09"]
    assert [extra(r, "duplicate_of") for r in out.rows] == [None, None, 1, None]
    assert [bool(extra(r, "late")) for r in out.rows] == [True, False, True, True]
    assert (out.duplicates, out.late) == (1, 2)  # a duplicate is never counted late
    assert [row_value(r, "seq") for r in out.rows] == [1, 2, 3, 4]
    assert out.anchors == [("S1", "T1", 7, "2026-11-01T00:30:00+08:00", 5000)]
    assert held[("T1", "t:R2")] == (2, "2026-11")  # the new records join what is held
    again = new_rows(records[1:2], base[1:2], {}, anchors, NOW, close_day=3)
    assert again.anchors == []  # an anchor already known is not written twice
