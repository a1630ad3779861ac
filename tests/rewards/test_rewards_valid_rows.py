"""One rule for a valid transaction, end to end (issue 8, section 1).

A declined withdrawal whose card could not be read is journalled without a card. The buffer,
the hub (over real HTTP), ``hub export`` and ``rewards compute --hub`` all accept it, and the
reward engine counts it as declined; an approved withdrawal without a card is refused by the
first of them that sees it, the station buffer.
"""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from click.testing import CliRunner
from test_rewards_hub_source import _reference_files, _run, _upload_over_http

from stationlink.buffer import Buffer
from stationlink.cli.main import cli
from stationlink.errors import StorageError
from stationlink.interchange import read_transactions
from stationlink.money import CST
from stationlink.protocol import CardRef, JournalRecord, ResultCode, TxnKind, TxnStatus

WHEN = datetime(2026, 10, 9, 10, 0, tzinfo=CST)
CARD = CardRef("622848******1234", "c" + "5" * 31)


def _withdrawal(cursor: int, status: TxnStatus, result: ResultCode,
                card: CardRef | None) -> JournalRecord:
    return JournalRecord(
        cursor=cursor, ref=f"R{cursor:011d}", client_ref="", kind=TxnKind.WITHDRAWAL,
        product="", account="", amount_fen=20_000, status=status, result=result,
        terminal_time=WHEN + timedelta(minutes=cursor), uptime_ms=60_000 * cursor, boot_id=1,
        card=card)


def _page() -> list[JournalRecord]:
    return [
        _withdrawal(1, TxnStatus.APPROVED, ResultCode.APPROVED, CARD),
        _withdrawal(2, TxnStatus.DECLINED, ResultCode.CARD_ERROR, None),  # card-read failure
        _withdrawal(3, TxnStatus.DECLINED, ResultCode.INSUFFICIENT_FUNDS, CARD),
    ]


def test_declined_cardless_withdrawal_flows_to_the_reward_run(tmp_path: Path) -> None:
    hub_path = tmp_path / "hub.sqlite"
    uploaded = WHEN + timedelta(hours=2)
    with Buffer.open(tmp_path / "buffer.sqlite", "S1") as buf:
        buf.record_journal_page("T1", _page(), WHEN + timedelta(hours=1))
        _upload_over_http(buf, hub_path, token_at=WHEN, received=uploaded, sent=uploaded,
                          size=10)
        assert buf.synced_upto() == buf.last_seq() == 3
    export = CliRunner().invoke(cli, ["hub", "export", "--db", str(hub_path), "--month",
                                      "2026-10", "--format", "csv"])
    assert export.exit_code == 0, export.output
    rows = export.stdout.splitlines()[1:]
    assert len(rows) == 3
    assert any(",withdrawal,,200.00,,declined" in row for row in rows)
    ref = _reference_files(tmp_path, ("S1",))
    res = _run("compute", "--month", "2026-10", "--format", "json", "--hub", str(hub_path), *ref)
    assert res.exit_code == 0, res.output
    info = json.loads(res.stdout)["info"]
    assert info["rows"] == 3
    assert info["declined"] == 2  # the card-less one counts as declined, not as a bad row
    assert info["skipped_bad_rows"] == 0
    # the export read as a file gives the same
    csv_path = tmp_path / "oct.csv"
    csv_path.write_text(export.stdout, encoding="utf-8")
    from_csv = _run("compute", "--month", "2026-10", "--format", "json", "--transactions",
                    str(csv_path), *ref)
    assert from_csv.exit_code == 0, from_csv.output
    assert from_csv.stdout == res.stdout


def test_approved_withdrawal_without_card_is_refused_by_the_buffer(tmp_path: Path) -> None:
    with Buffer.open(tmp_path / "buffer.sqlite", "S1") as buf:
        bad = _withdrawal(4, TxnStatus.APPROVED, ResultCode.APPROVED, None)
        with pytest.raises(StorageError, match="approved withdrawal without a card"):
            buf.record_journal_page("T1", [*_page(), bad], WHEN + timedelta(hours=1))
        with pytest.raises(StorageError, match="approved withdrawal without a card"):
            buf.record_result("T1", bad, WHEN + timedelta(hours=1))
        assert buf.last_seq() == 0  # the refused page stored nothing
        buf.record_journal_page("T1", _page(), WHEN + timedelta(hours=1))
        assert buf.last_seq() == 3


def test_csv_reader_counts_declined_cardless_and_refuses_approved_cardless(
    tmp_path: Path,
) -> None:
    path = tmp_path / "t.csv"
    path.write_text(
        "txn_id,station_id,terminal_id,ts,kind,product,amount,card,status\n"
        "a,S1,T,2026-10-02T10:00:00+08:00,withdrawal,,100.00,,declined\n"
        "b,S1,T,2026-10-02T10:01:00+08:00,withdrawal,,100.00,,reversed\n"
        "c,S1,T,2026-10-02T10:02:00+08:00,withdrawal,,100.00,,approved\n",
        encoding="utf-8")
    ref = _reference_files(tmp_path, ("S1",))
    res = _run("compute", "--month", "2026-10", "--format", "json", "--transactions",
               str(path), *ref, "--skip-bad-rows")
    assert res.exit_code == 0, res.output
    info = json.loads(res.stdout)["info"]
    assert (info["rows"], info["declined"], info["reversed"], info["skipped_bad_rows"]) == \
        (2, 1, 1, 1)
    assert "line 4, column card: approved withdrawal without a card token" in res.stderr


def test_csv_hostile_values_are_bad_rows_not_crashes(tmp_path: Path) -> None:
    path = tmp_path / "t.csv"
    head = "txn_id,station_id,terminal_id,ts,kind,product,amount,card,status\n"
    good = "a,S1,T,2026-10-02T10:00:00+08:00,bill_payment,mobile,10.00,,approved\n"
    path.write_text(
        head + good
        + "b,S1,T,2026-10-02T10:00:00+08:00,bill_payment,mobile,1e30,,approved\n"
        + "c,S1,T,0001-01-01T00:00:00+14:00,bill_payment,mobile,1.00,,approved\n"
        + "d,S1,T,2026-10-02T10:00:00+08:00,withdrawal,,1.00,4111 1111 1111 1111,approved\n"
        + "=e,S1,T,2026-10-02T10:00:00+08:00,bill_payment,mobile,1.00,,approved\n"
        + "f,S1,T,2026-10-02T10:00:00+08:00,bill_payment,lottery,1.00,,approved\n"
        + "g,S1,T,2026-10-02T10:00:00+08:00,withdrawal,,10000.01,tok,approved\n",
        encoding="utf-8")
    result = read_transactions(path, skip_bad_rows=True)
    assert [t.txn_id for t in result.rows] == ["a"]
    assert [(p.line, p.column) for p in result.problems] == [
        (3, "amount"), (4, "ts"), (5, "card"), (6, "txn_id"), (7, "product"), (8, "amount")]
    assert "4111" not in str(result.problems)
