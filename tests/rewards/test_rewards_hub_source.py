"""``stationlink rewards ... --hub``: the same results as from the hub's exported CSV.

A real hub SQLite file is built through the station buffer and the hub store's ingest (the
path the sync agent's batches take), with late records; the CLI's ``hub export`` writes the
CSV the ``--transactions`` runs read.
"""

from __future__ import annotations

import hashlib
import json
import random
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from stationlink.buffer import Buffer
from stationlink.cli.main import cli
from stationlink.hub.closing import close_instant
from stationlink.hub.sqlite_store import SqliteHubStore
from stationlink.money import CST
from stationlink.protocol import CardRef, JournalRecord, ResultCode, TxnKind, TxnStatus

BILLS = ("mobile", "unicom", "electricity", "water")
MONTH_START = {"2026-10": datetime(2026, 10, 1, 8, 0, tzinfo=CST),
               "2026-11": datetime(2026, 11, 1, 8, 0, tzinfo=CST)}


def _records(rng: random.Random, month: str, first_cursor: int, n: int) -> list[JournalRecord]:
    """``n`` journal records of one terminal in ``month``: bills, withdrawals, a reversal."""
    out: list[JournalRecord] = []
    start = MONTH_START[month]
    for i in range(n):
        cursor = first_cursor + i
        when = start + timedelta(hours=cursor * 7 % (24 * 27), minutes=rng.randrange(60))
        withdrawal = rng.random() < 0.35
        kind = TxnKind.WITHDRAWAL if withdrawal else TxnKind.BILL_PAYMENT
        declined = rng.random() < 0.08
        token = "c" + f"{rng.randrange(6):x}" * 31  # hex, never all digits
        card = CardRef("622848******1234", token) if withdrawal else None
        out.append(JournalRecord(
            cursor=cursor, ref=f"R{cursor:011d}", client_ref="", kind=kind,
            product="" if withdrawal else rng.choice(BILLS),
            account="" if withdrawal else "13800000000",
            amount_fen=rng.randrange(500, 30000),
            status=TxnStatus.DECLINED if declined else TxnStatus.APPROVED,
            result=ResultCode.DECLINED if declined else ResultCode.APPROVED,
            terminal_time=when, uptime_ms=60_000 * cursor, boot_id=1, card=card))
    # reverse the first approved bill payment
    target = next(r for r in out if r.kind is TxnKind.BILL_PAYMENT
                  and r.status is TxnStatus.APPROVED)
    cursor = first_cursor + n
    out.append(JournalRecord(
        cursor=cursor, ref=f"R{cursor:011d}", client_ref="", kind=TxnKind.REVERSAL, product="",
        account="", amount_fen=target.amount_fen, status=TxnStatus.APPROVED,
        result=ResultCode.APPROVED, terminal_time=target.terminal_time + timedelta(minutes=5),
        uptime_ms=60_000 * cursor, boot_id=1, card=None, original_ref=target.ref))
    return out


def _sync(tmp: Path, store: SqliteHubStore, station: str, pages: list[list[JournalRecord]],
          now: datetime) -> None:
    """Record journal pages in the station's buffer file and ingest its batches into the hub."""
    buf = Buffer.open(tmp / f"buffer-{station}.sqlite", station)
    try:
        for page in pages:
            buf.record_journal_page("T1", page, now)
        while (batch := buf.next_batch(7)) is not None:
            buf.mark_synced(store.ingest(batch, now).high_water_mark)
    finally:
        buf.close()


def _hub(tmp: Path, stations: tuple[str, ...] = ("S1", "S2")) -> Path:
    """A hub with October and November traffic and late October records for each station."""
    path = tmp / "hub.sqlite"
    store = SqliteHubStore(path)
    try:
        for k, station in enumerate(stations):
            rng = random.Random(2014 + k)
            on_time = datetime(2026, 11, 2, 9, 0, tzinfo=CST)
            october = _records(rng, "2026-10", 1, 40)
            november = _records(rng, "2026-11", 100, 25)
            _sync(tmp, store, station, [october, november], on_time)
            late = _records(rng, "2026-10", 200, 6)
            _sync(tmp, store, station, [late], close_instant("2026-10") + timedelta(hours=2))
    finally:
        store.close()
    return path


def _reference_files(tmp: Path, stations: tuple[str, ...] = ("S1", "S2")) -> list[str]:
    (tmp / "s.csv").write_text(
        "station_id,branch_id,area,village_id,village_households\n"
        + "".join(f"{s},B1,rural,V1,40\n" for s in stations), encoding="utf-8")
    (tmp / "b.csv").write_text("branch_id,area,plan_effective_stations\nB1,rural,1\n",
                               encoding="utf-8")
    return ["--stations", str(tmp / "s.csv"), "--branches", str(tmp / "b.csv")]


def _export(hub: Path, out: Path, *args: str) -> Path:
    res = CliRunner().invoke(cli, ["hub", "export", "--db", str(hub), "--format", "csv",
                                   "-o", str(out), *args])
    assert res.exit_code == 0, res.output
    return out


def _run(*args: str) -> Result:
    return CliRunner().invoke(cli, ["rewards", *args])


def test_compute_from_hub_equals_compute_from_its_export(tmp_path: Path) -> None:
    hub = _hub(tmp_path)
    ref = _reference_files(tmp_path)
    csv_oct = _export(hub, tmp_path / "oct.csv", "--month", "2026-10")
    from_hub = _run("compute", "--month", "2026-10", "--format", "json", "--hub", str(hub),
                    *ref)
    from_csv = _run("compute", "--month", "2026-10", "--format", "json", "--transactions",
                    str(csv_oct), *ref)
    assert from_hub.exit_code == 0, from_hub.output
    assert from_csv.exit_code == 0, from_csv.output
    assert from_hub.stdout == from_csv.stdout
    result = json.loads(from_hub.stdout)
    # not an empty month: every row of the export was read, and money was earned
    exported_rows = len(csv_oct.read_text(encoding="utf-8").splitlines()) - 1
    assert result["info"]["rows"] == exported_rows > 70
    assert result["info"]["reversed"] >= 2
    assert any(s["total"] != "0.00" for s in result["stations"])


def test_include_late_is_the_adjusted_export(tmp_path: Path) -> None:
    hub = _hub(tmp_path)
    ref = _reference_files(tmp_path)
    csv_adj = _export(hub, tmp_path / "adj.csv", "--month", "2026-10", "--include-late")
    late = _run("compute", "--month", "2026-10", "--format", "json", "--hub", str(hub),
                "--include-late", *ref)
    from_csv = _run("compute", "--month", "2026-10", "--format", "json", "--transactions",
                    str(csv_adj), *ref)
    on_time = _run("compute", "--month", "2026-10", "--format", "json", "--hub", str(hub), *ref)
    assert late.exit_code == 0, late.output
    assert late.stdout == from_csv.stdout
    # the late records (6 + a reversal per station) are in the adjusted view only
    assert json.loads(late.stdout)["info"]["rows"] == json.loads(on_time.stdout)["info"][
        "rows"] + 12


def test_explain_notice_and_quarter_from_hub(tmp_path: Path) -> None:
    hub = _hub(tmp_path)
    ref = _reference_files(tmp_path)
    csv_oct = _export(hub, tmp_path / "oct.csv", "--month", "2026-10")
    for args in (["explain", "--station", "S1"], ["explain", "--branch", "B1"],
                 ["notice", "--format", "json"]):
        a = _run(*args, "--month", "2026-10", "--hub", str(hub), *ref)
        b = _run(*args, "--month", "2026-10", "--transactions", str(csv_oct), *ref)
        assert a.exit_code == 0, a.output
        assert a.stdout == b.stdout
        assert "S1" in a.stdout
    # a quarter: the hub's three months against the export of everything it holds on time
    csv_all = _export(hub, tmp_path / "all.csv")
    quarter = ["compute", "--quarter", "2026Q4", "--policy", "county-withhold-2012", "--format",
               "json"]
    a = _run(*quarter, "--hub", str(hub), *ref)
    b = _run(*quarter, "--transactions", str(csv_all), *ref)
    assert a.exit_code == 0, a.output
    assert a.stdout == b.stdout
    assert [m["info"]["rows"] > 0 for m in json.loads(a.stdout)["months"]][:2] == [True, True]


def test_hub_rows_are_validated_like_the_export(tmp_path: Path) -> None:
    hub = _hub(tmp_path, ("S1", "S2", "S3"))
    ref = _reference_files(tmp_path)  # S3 is not in the stations file
    csv_oct = _export(hub, tmp_path / "oct.csv", "--month", "2026-10")
    a = _run("compute", "--month", "2026-10", "--hub", str(hub), *ref)
    b = _run("compute", "--month", "2026-10", "--transactions", str(csv_oct), *ref)
    assert a.exit_code == b.exit_code == 3
    name = f"{hub} (hub export --month 2026-10)"
    a_lines = [x for x in a.output.splitlines() if "unknown station 'S3'" in x]
    b_lines = [x for x in b.output.splitlines() if "unknown station 'S3'" in x]
    assert len(a_lines) == len(b_lines) > 30
    # the same lines of the export, named after the hub export they come from
    assert a_lines == [x.replace(str(csv_oct), name) for x in b_lines]
    skip_a = _run("compute", "--month", "2026-10", "--format", "json", "--skip-bad-rows",
                  "--hub", str(hub), *ref)
    skip_b = _run("compute", "--month", "2026-10", "--format", "json", "--skip-bad-rows",
                  "--transactions", str(csv_oct), *ref)
    assert skip_a.exit_code == 0, skip_a.output
    assert skip_a.stdout == skip_b.stdout
    assert json.loads(skip_a.stdout)["info"]["skipped_bad_rows"] == len(a_lines)


@pytest.mark.parametrize(("args", "message"), [
    (["--hub", "{hub}", "--transactions", "{csv}"], "give exactly one of --transactions"),
    ([], "give exactly one of --transactions"),
    (["--transactions", "{csv}", "--include-late"], "--include-late applies only with --hub"),
    (["--hub", "{missing}"], "does not exist"),
])
def test_source_option_errors(tmp_path: Path, args: list[str], message: str) -> None:
    ref = _reference_files(tmp_path)
    csv = tmp_path / "t.csv"
    csv.write_text("txn_id,station_id,terminal_id,ts,kind,product,amount,card,status\n",
                   encoding="utf-8")
    paths = {"hub": str(tmp_path / "s.csv"), "csv": str(csv),
             "missing": str(tmp_path / "nothing.sqlite")}
    for command in (["compute"], ["explain", "--station", "S1"], ["notice"]):
        res = _run(*command, "--month", "2026-10", *[a.format(**paths) for a in args], *ref)
        assert res.exit_code == 2, res.output
        assert message in res.output


def test_a_file_that_is_not_a_hub_is_refused_untouched(tmp_path: Path) -> None:
    ref = _reference_files(tmp_path)
    text = tmp_path / "notes.txt"
    text.write_text("not a database at all\n" * 100, encoding="utf-8")
    buffer_file = tmp_path / "buffer.sqlite"
    Buffer.open(buffer_file, "S1").close()  # a station buffer: SQLite, but not a hub
    empty = tmp_path / "empty.sqlite"
    empty.write_bytes(b"")
    for path in (text, buffer_file, empty):
        before = hashlib.sha256(path.read_bytes()).hexdigest()
        res = _run("compute", "--month", "2026-10", "--hub", str(path), *ref)
        assert res.exit_code == 8, res.output
        assert f"{path}: not a stationlink hub database" in res.output
        assert hashlib.sha256(path.read_bytes()).hexdigest() == before


def _upload_over_http(buf: Buffer, hub_path: Path, *, token_at: datetime, received: datetime,
                      sent: datetime, size: int) -> None:
    """Upload every batch of ``buf`` (station S1) into the SQLite hub at ``hub_path`` through
    a real HTTP hub: a token made at ``token_at``, the hub's clock at ``received``, the
    client's at ``sent``, ``size`` records a batch."""
    from stationlink.hub.app import create_app
    from stationlink.hub.client import HubClient
    from stationlink.hub.server import BackgroundServer
    from stationlink.hub.tokens import hash_token, new_token

    store = SqliteHubStore(hub_path)
    token_id, token = new_token()
    store.add_token(token_id, "S1", hash_token(token), token_at)
    server = BackgroundServer(create_app(store, clock=lambda: received))
    try:
        with HubClient(server.url, token, station_id="S1", clock=lambda: sent) as client:
            while (batch := buf.next_batch(size)) is not None:
                buf.mark_synced(client.upload(batch))
    finally:
        server.stop()
        store.close()


def test_referrals_entered_at_the_pc_are_paid_from_the_hub(tmp_path: Path) -> None:
    """Buffer -> real HTTP hub -> ``rewards compute --hub``: the referral line items."""
    when = datetime(2026, 10, 9, 10, 0, tzinfo=CST)
    hub_path = tmp_path / "hub.sqlite"
    uploaded = datetime(2026, 11, 3, 9, 0, tzinfo=CST)  # after the last record, before close
    with Buffer.open(tmp_path / "buffer.sqlite", "S1") as buf:
        buf.record_journal_page("T1", _records(random.Random(5), "2026-10", 1, 12), when)
        for i, product in enumerate(["huinongtong"] * 3 + ["car_insurance_sale", "finance_lead"]):
            buf.record_referral(product, wall_time=when + timedelta(minutes=i),
                                referral_id=f"R{i}")
        buf.cancel_referral("R1", wall_time=when + timedelta(hours=1))  # one account closed
        buf.record_referral("finance_lead", wall_time=datetime(2026, 11, 2, 9, 0, tzinfo=CST),
                            referral_id="NOV")  # another month
        _upload_over_http(buf, hub_path, token_at=when, received=uploaded, sent=when, size=4)
        assert buf.synced_upto() == buf.last_seq()
    ref = _reference_files(tmp_path, ("S1",))
    res = _run("compute", "--month", "2026-10", "--format", "json", "--hub", str(hub_path), *ref)
    assert res.exit_code == 0, res.output
    [station] = json.loads(res.stdout)["stations"]
    items = {i["code"]: (i["quantity"], i["amount"]) for i in station["items"]}
    # dezhou-2014 pays 1.00 per 惠农通 account, 2.00 per financial lead, 30.00 per car sale
    assert items["referral.huinongtong"] == (2, "2.00")  # the cancelled one is not paid
    assert items["referral.finance_lead"] == (1, "2.00")  # November's is not October's
    assert items["referral.car_insurance_sale"] == (1, "30.00")
    # the same as computing from the hub's export
    csv_oct = _export(hub_path, tmp_path / "oct.csv", "--month", "2026-10")
    assert "S1-PC-R1,S1,,2026-10-09T10:01:00+08:00,referral,huinongtong,0.00,,reversed" in \
        csv_oct.read_text(encoding="utf-8").splitlines()
    from_csv = _run("compute", "--month", "2026-10", "--format", "json", "--transactions",
                    str(csv_oct), *ref)
    assert from_csv.stdout == res.stdout
