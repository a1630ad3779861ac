"""Referrals in the station buffer: own identity, gap-free seq, committed, idempotent,
cancelled only by a new record, exported as ``kind=referral`` rows (real SQLite files)."""

from __future__ import annotations

import sqlite3
from contextlib import closing
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import pytest
from buffer_fixtures import T0, MakeRecord
from click.testing import CliRunner

from stationlink.buffer import Buffer, Entry, RefusedRecordError
from stationlink.cli.main import cli
from stationlink.interchange import read_transactions


def _rows(db: Path) -> list[tuple[object, ...]]:
    with closing(sqlite3.connect(db)) as conn:
        return conn.execute(
            "SELECT seq, terminal_id, entry, ident, client_ref, product, account, status, "
            "refers_to_seq FROM records ORDER BY seq").fetchall()


def test_referral_gets_its_own_identity_and_the_next_seq_committed(
    buf: Buffer, make_record: MakeRecord
) -> None:
    buf.record_result("T1", make_record(1), T0)
    rec = buf.record_referral("car_insurance_sale", wall_time=T0 + timedelta(minutes=5),
                              referral_id="CI-7", note="Li, 13800000000")
    buf.record_result("T1", make_record(2), T0)
    assert (rec.seq, rec.terminal_id, rec.entry, rec.ident) == (2, "PC", Entry.REFERRAL, "r:CI-7")
    assert rec.txn_id == "S1-PC-CI-7"
    # committed: another connection sees it with every field
    assert _rows(buf.path) == [
        (1, "T1", "txn", "t:R00000000001", "", "mobile", "13800000000", "approved", None),
        (2, "PC", "referral", "r:CI-7", "CI-7", "car_insurance_sale", "Li, 13800000000",
         "approved", None),
        (3, "T1", "txn", "t:R00000000002", "", "mobile", "13800000000", "approved", None),
    ]
    batch = buf.next_batch(10)
    assert batch is not None
    assert [r.seq for r in batch.records] == [1, 2, 3]
    assert batch.records[1] == rec


def test_same_id_again_is_the_stored_record_and_a_different_one_is_refused(buf: Buffer) -> None:
    first = buf.record_referral("finance_lead", wall_time=T0, referral_id="L1", note="a")
    again = buf.record_referral("finance_lead", wall_time=T0 + timedelta(hours=1),
                                referral_id="L1", note="b")
    assert again == first
    with pytest.raises(RefusedRecordError, match=r"'L1' is already stored \(seq 1, "
                                                 r"finance_lead"):
        buf.record_referral("huinongtong", wall_time=T0, referral_id="L1")
    with pytest.raises(RefusedRecordError, match="already stored"):
        buf.record_referral("finance_lead", wall_time=T0, referral_id="L1", amount_fen=100)
    assert buf.last_seq() == 1
    assert buf.referral("L1") == (first, None)


def test_generated_ids_count_the_day_and_skip_taken_ones(buf: Buffer) -> None:
    day2 = T0 + timedelta(days=1)
    a = buf.record_referral("huinongtong", wall_time=T0)
    buf.record_referral("huinongtong", wall_time=T0, referral_id="20261005-002")  # operator's
    b = buf.record_referral("huinongtong", wall_time=T0)
    c = buf.record_referral("huinongtong", wall_time=day2)
    # 23:30 UTC on the 4th is the 5th in China Standard Time
    d = buf.record_referral("finance_lead",
                            wall_time=datetime(2026, 10, 4, 23, 30, tzinfo=UTC))
    assert [a.client_ref, b.client_ref, c.client_ref, d.client_ref] == [
        "20261005-001", "20261005-003", "20261006-001", "20261005-004"]
    assert len({r.ident for r in buf.records()}) == 5


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"product": "mobile"}, "not a referral product: 'mobile'"),
        ({"referral_id": ""}, "referral id ''"),
        ({"referral_id": "has space"}, "referral id 'has space'"),
        ({"referral_id": "x" * 65}, "1-64 characters"),
        ({"referral_id": "6228480012345678"}, "13 or more digits"),
        ({"note": "card 6228480012345678 x"}, "13 or more digits"),
        ({"note": "two\nlines"}, "control characters"),
        ({"note": "n" * 201}, "longer than 200"),
        ({"amount_fen": -1}, "amount_fen must be a whole number >= 0"),
        ({"amount_fen": 1.5}, "amount_fen must be a whole number >= 0"),
        ({"wall_time": datetime(2026, 10, 5, 9, 0)}, "no UTC offset"),  # noqa: DTZ001
    ],
)
def test_bad_referrals_are_refused_and_nothing_is_stored(
    buf: Buffer, kwargs: dict[str, object], message: str
) -> None:
    args: dict[str, object] = {"product": "huinongtong", "wall_time": T0, **kwargs}
    with pytest.raises(RefusedRecordError, match=message):
        buf.record_referral(**args)  # type: ignore[arg-type]
    assert buf.last_seq() == 0


def test_cancel_is_a_new_record_referring_to_the_referral(buf: Buffer) -> None:
    rec = buf.record_referral("car_insurance_lead", wall_time=T0, referral_id="C1",
                              amount_fen=0)
    buf.record_referral("huinongtong", wall_time=T0, referral_id="H1")
    cancel = buf.cancel_referral("C1", wall_time=T0 + timedelta(hours=2))
    assert (cancel.seq, cancel.entry, cancel.ident, cancel.refers_to_seq) == (
        3, Entry.CANCEL, "c:C1", rec.seq)
    assert (cancel.kind, cancel.product, cancel.status) == ("referral", "car_insurance_lead", "")
    assert buf.cancel_referral("C1", wall_time=T0 + timedelta(hours=3)) == cancel  # idempotent
    with pytest.raises(RefusedRecordError, match="no referral 'nope' in this buffer"):
        buf.cancel_referral("nope", wall_time=T0)
    assert buf.last_seq() == 3
    assert buf.get(rec.seq) == rec  # never edited
    rows = {t.txn_id: t for t in buf.transactions()}
    assert set(rows) == {"S1-PC-C1", "S1-PC-H1"}
    assert (rows["S1-PC-C1"].status, rows["S1-PC-H1"].status) == ("reversed", "approved")
    stats = buf.stats()
    assert (stats["referrals"], stats["referrals_cancelled"], stats["transactions"]) == (2, 1, 0)


def test_export_writes_referral_rows_of_the_interchange_format(
    tmp_path: Path, make_record: MakeRecord
) -> None:
    db = tmp_path / "b.sqlite"
    with Buffer.open(db, "S1") as buf:
        buf.record_result("T1", make_record(1), T0)
        buf.record_referral("huinongtong", wall_time=T0 + timedelta(seconds=30.25),
                            referral_id="H-1")
        buf.record_referral("car_insurance_sale", wall_time=T0, referral_id="S-1",
                            amount_fen=120000)
        buf.record_referral("finance_lead", wall_time=T0, referral_id="F-1")
        buf.cancel_referral("F-1", wall_time=T0)
    result = CliRunner().invoke(cli, ["buffer", "export", "--db", str(db)])
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert lines[2:] == [
        "S1-PC-H-1,S1,,2026-10-05T09:00:30+08:00,referral,huinongtong,0.00,,approved",
        "S1-PC-S-1,S1,,2026-10-05T09:00:00+08:00,referral,car_insurance_sale,1200.00,,approved",
        "S1-PC-F-1,S1,,2026-10-05T09:00:00+08:00,referral,finance_lead,0.00,,reversed",
    ]
    out = tmp_path / "t.csv"
    out.write_text(result.output, encoding="utf-8")
    read = read_transactions(out)  # the reward engine's reader accepts every row
    assert [(t.kind, t.amount) for t in read.rows[1:]] == [
        ("referral", Decimal("0.00")), ("referral", Decimal("1200.00")),
        ("referral", Decimal("0.00"))]
    stats = CliRunner().invoke(cli, ["buffer", "stats", "--db", str(db), "--lang", "en"])
    assert "referrals:            3 (1 cancelled)" in stats.output
