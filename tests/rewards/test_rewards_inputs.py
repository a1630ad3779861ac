"""Bad input rows through the CLI: every one listed with file, line and column; skipping."""

from __future__ import annotations

import json
from pathlib import Path

from click.testing import CliRunner

from stationlink.cli.main import cli

HEAD = "txn_id,station_id,terminal_id,ts,kind,product,amount,card,status\n"
GOOD = [
    "a1,S1,T,2026-10-02T10:00:00+08:00,bill_payment,unicom,10.00,,approved\n",
    "a2,S1,T,2026-10-02T11:00:00+08:00,bill_payment,unicom,10.00,,approved\n",
]
BAD = [
    "b1,S1,T,2026-10-02T10:00:00+08:00,payment,unicom,10.00,,approved\n",      # kind
    "b2,S1,T,2026-10-02T10:00:00+08:00,bill_payment,unicom,1O.00,,approved\n",  # amount
    "b3,S1,T,2026-10-32T10:00:00+08:00,bill_payment,unicom,10.00,,approved\n",  # ts
    "b4,S1,T,2026-10-02T10:00:00,bill_payment,unicom,10.00,,approved\n",        # naive ts
    "b5,S9,T,2026-10-02T10:00:00+08:00,bill_payment,unicom,10.00,,approved\n",  # station
    "a1,S1,T,2026-10-02T10:00:00+08:00,bill_payment,unicom,11.00,,approved\n",  # dup txn_id
    "b6,S1,T,2026-10-02T10:00:00+08:00,withdrawal,,100.00,,approved\n",         # no card
]


def _files(tmp_path: Path, rows: list[str]) -> list[str]:
    (tmp_path / "t.csv").write_text(HEAD + "".join(rows), encoding="utf-8")
    (tmp_path / "s.csv").write_text(
        "station_id,branch_id,area,village_id,village_households\n"
        "S1,B1,rural,V1,100\n", encoding="utf-8")
    (tmp_path / "b.csv").write_text("branch_id,area,plan_effective_stations\nB1,rural,1\n",
                                    encoding="utf-8")
    return ["--transactions", str(tmp_path / "t.csv"), "--stations", str(tmp_path / "s.csv"),
            "--branches", str(tmp_path / "b.csv")]


def test_bad_rows_fail_listing_every_one(tmp_path: Path) -> None:
    args = _files(tmp_path, GOOD + BAD + [GOOD[0]])  # the last line: identical duplicate
    res = CliRunner().invoke(cli, ["rewards", "compute", "--month", "2026-10", *args])
    assert res.exit_code == 3
    t = str(tmp_path / "t.csv")
    for line, column in [(4, "kind"), (5, "amount"), (6, "ts"), (7, "ts"), (8, "station_id"),
                         (9, "txn_id"), (10, "card")]:
        assert f"{t}: line {line}, column {column}:" in res.output
    assert "7 bad row(s)" in res.output


def test_skip_bad_rows_computes_without_them(tmp_path: Path) -> None:
    args = _files(tmp_path, GOOD + BAD + [GOOD[0]])
    res = CliRunner().invoke(cli, ["rewards", "compute", "--month", "2026-10", "--format",
                                   "json", "--skip-bad-rows", *args])
    assert res.exit_code == 0, res.output
    assert "7 bad row(s) skipped:" in res.stderr
    out = json.loads(res.stdout)
    # only a1 and a2 count: 2 unicom x 0.25 = 0.50; the identical duplicate counted once
    assert out["stations"][0]["total"] == "0.50"
    assert out["info"]["skipped_bad_rows"] == 7
    assert out["info"]["duplicate_rows"] == 1


def test_station_and_branch_file_problems(tmp_path: Path) -> None:
    args = _files(tmp_path, GOOD)
    (tmp_path / "s.csv").write_text(
        "station_id,branch_id,area,village_id,village_households\n"
        "S1,B1,rural,V1,100\nS2,B1,rural,V1,90\nS3,B7,urban,,\n", encoding="utf-8")
    res = CliRunner().invoke(cli, ["rewards", "compute", "--month", "2026-10", *args])
    assert res.exit_code == 3
    s = str(tmp_path / "s.csv")
    assert (f"{s}: line 3, column village_households: village 'V1' has 100 households on "
            "line 2, 90 here") in res.output
    assert f"{s}: line 4, column branch_id: unknown branch 'B7'" in res.output


def test_out_file_and_bad_month(tmp_path: Path) -> None:
    args = _files(tmp_path, GOOD)
    runner = CliRunner()
    out = tmp_path / "out.csv"
    res = runner.invoke(cli, ["rewards", "compute", "--month", "2026-10", "--format", "csv",
                              "--out", str(out), *args])
    assert res.exit_code == 0, res.output
    assert res.output == ""
    assert "bill.unicom" in out.read_text(encoding="utf-8")
    res = runner.invoke(cli, ["rewards", "compute", "--month", "2026-13", *args])
    assert res.exit_code == 2
    assert "no such month" in res.output
