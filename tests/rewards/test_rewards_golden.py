"""Golden case: tests/rewards/golden/*.csv through the real CLI, figures worked out by hand.

The inputs (231 rows) were written for the policy page's rules; every expected figure below
is derived in the comments from the rows, not from the engine.

Stations: R1, R2 in village V1 (120 households, 2 stations -> 60 effective households),
R3 alone in V2 (50 households), all in rural branch B1 (plan 3); U1 urban in branch B2 (plan 1).
"""

from __future__ import annotations

import csv
import io
import json
from decimal import Decimal

from click.testing import CliRunner

from stationlink.cli.main import cli


def _json(golden_args: list[str], *extra: str) -> dict:  # type: ignore[type-arg]
    res = CliRunner().invoke(cli, ["rewards", "compute", "--month", "2026-10", "--format",
                                   "json", *golden_args, *extra])
    assert res.exit_code == 0, res.output
    return json.loads(res.output)  # type: ignore[no-any-return]


def _items(obj: dict) -> dict[str, str]:  # type: ignore[type-arg]
    return {i["code"]: i["amount"] for i in obj["items"]}


def test_golden_station_r1(golden_args: list[str]) -> None:
    r1 = next(s for s in _json(golden_args)["stations"] if s["station_id"] == "R1")
    assert _items(r1) == {
        # mobile 45.50 + 50.00 = 95.50; 1% = 0.955 -> half-up 0.96
        "bill.mobile": "0.96",
        # 3 unicom x 0.25
        "bill.unicom": "0.75",
        # telecom 30.05 x 1% = 0.3005 -> 0.30
        "bill.telecom": "0.30",
        # electricity: 47 in October + 1 at 2026-09-30T16:30Z (= 10-01 00:30 CST) = 48;
        # the one at 2026-10-31T16:00Z (= 11-01 00:00 CST) is November, one is reversed.
        # coverage 48 / 60 = 80% exactly -> top tier 0.30; 48 x 0.30 = 14.40
        "bill.electricity": "14.40",
        # 2 water payments: shown, not priced
        "bill.unpriced": "0.00",
        # withdrawals approved 17: C1 3 on one day (2 count), C2 8, C3 2 at 23:50/23:55 on
        # 10-10 + 1 at 00:10 on 10-11 (3 count), C4 15:30Z = 10-11 23:30 CST, 16:30Z and
        # 02:00+09:00 = 10-12 (3 count); declined C5 not counted -> 2+8+3+3 = 16 valid;
        # 10 <= 16 <= 30 -> 0.50 x 16 = 8.00
        "withdrawal": "8.00",
        # 16 >= 10 -> communication package 5.00
        "withdrawal.comm_package": "5.00",
        "referral.huinongtong": "1.00",
        "referral.car_insurance_sale": "30.00",
    }
    # 0.96 + 0.75 + 0.30 + 14.40 + 8.00 + 5.00 + 1.00 + 30.00 = 60.41
    assert r1["total"] == "60.41"
    basis = {i["code"]: i["basis"] for i in r1["items"]}
    assert "coverage 48/(120 households / 2 stations = 60) = 80.0%" in basis["bill.electricity"]
    assert "17 approved, 1 over the 2-per-card-per-day cap" in basis["withdrawal"]
    assert "2 water" in basis["bill.unpriced"]


def test_golden_other_stations(golden_args: list[str]) -> None:
    by_id = {s["station_id"]: s for s in _json(golden_args)["stations"]}
    # R2: 47 electricity, coverage 47/60 = 78.3% -> 0.25 x 47 = 11.75;
    # 5 withdrawals < 10 -> 0.30 x 5 = 1.50; no package (shown at 0.00). Total 13.25.
    assert _items(by_id["R2"]) == {"bill.electricity": "11.75", "withdrawal": "1.50",
                                   "withdrawal.comm_package": "0.00"}
    assert by_id["R2"]["total"] == "13.25"
    assert "coverage 47/(120 households / 2 stations = 60) = 78.3%" in \
        by_id["R2"]["items"][0]["basis"]
    # R3: 25 electricity (one reversed not counted), 25/50 = 50% exactly -> 0.25 -> 6.25;
    # 10 withdrawals -> exactly 10 -> 0.50 x 10 = 5.00 and package 5.00; leads 2.00 + 2.00.
    assert _items(by_id["R3"]) == {"bill.electricity": "6.25", "withdrawal": "5.00",
                                   "withdrawal.comm_package": "5.00",
                                   "referral.finance_lead": "2.00",
                                   "referral.car_insurance_lead": "2.00"}
    assert by_id["R3"]["total"] == "20.25"
    # U1 urban: 20 electricity -> 20 or more -> 0.30 x 20 = 6.00; mobile 100.00 x 1% = 1.00;
    # 10 gas unpriced; 31 withdrawals > 30 -> 0.60 x 31 = 18.60; package 5.00. Total 30.60.
    assert _items(by_id["U1"]) == {"bill.mobile": "1.00", "bill.electricity": "6.00",
                                   "bill.unpriced": "0.00", "withdrawal": "18.60",
                                   "withdrawal.comm_package": "5.00"}
    assert by_id["U1"]["total"] == "30.60"


def test_golden_branches(golden_args: list[str]) -> None:
    out = _json(golden_args)
    b1, b2 = out["branches"]
    # B1: R1 (56 bills, 16 valid wd) and R2 (47, 5) effective; R3 has 25 bills < 30.
    assert b1["effective_stations"] == 2
    assert _items(b1) == {
        "maintenance.base": "10.00",        # 2 x 5.00
        # R1 48 elec + 2 mobile + 3 unicom + 1 telecom + 16 wd = 70; R2 47 + 5 = 52;
        # 0.05 x 122 = 6.10
        "maintenance.commission": "6.10",
        "bonus.all_effective": "0.00",       # 2 of 3
        "penalty.plan": "-2.00",             # plan 3 - 2 = 1 short x 2.00
    }
    # 10.00 + 6.10 - 2.00 = 14.10; head 14.10 x 0.2 = 2.82; maintainer 11.28
    assert (b1["total"], b1["head"], b1["maintainer"]) == ("14.10", "2.82", "11.28")
    # B2: U1 effective (31 bills incl. 10 gas, 31 wd): base 5.00; 0.05 x (20 + 1 + 31) = 2.60;
    # 1 // 20 = 0 blocks; plan 1 met. Total 7.60, head 1.52, maintainer 6.08.
    assert _items(b2) == {"maintenance.base": "5.00", "maintenance.commission": "2.60",
                          "bonus.per_20_effective": "0.00", "penalty.plan": "0.00"}
    assert (b2["total"], b2["head"], b2["maintainer"]) == ("7.60", "1.52", "6.08")
    assert out["month"] == "2026-10"
    assert out["policy"] == "dezhou-2014"
    # 231 rows: 1 in November; declined: 1 (C5); reversed: 2
    assert out["info"] | {"warnings": []} == {"rows": 231, "outside_period": 1, "declined": 1,
                                              "reversed": 2, "skipped_bad_rows": 0,
                                              "duplicate_rows": 0, "warnings": []}


def test_golden_csv_one_row_per_item(golden_args: list[str]) -> None:
    res = CliRunner().invoke(cli, ["rewards", "compute", "--month", "2026-10", "--format", "csv",
                                   *golden_args])
    assert res.exit_code == 0, res.output
    rows = list(csv.DictReader(io.StringIO(res.output)))
    # items: R1 9, R2 3, R3 5, U1 5, B1 4, B2 4
    assert len(rows) == 30
    r1 = sum(Decimal(r["amount"]) for r in rows if r["party_id"] == "R1")
    assert r1 == Decimal("60.41")
    assert {r["party"] for r in rows} == {"station", "branch"}


def test_golden_table_and_explain(golden_args: list[str]) -> None:
    runner = CliRunner()
    res = runner.invoke(cli, ["rewards", "compute", "--month", "2026-10", "--lang", "en",
                              *golden_args])
    assert res.exit_code == 0, res.output
    assert "R1 (branch B1, rural)  total 60.41" in res.output
    assert "paid by 2026-11-24" in res.output
    res = runner.invoke(cli, ["rewards", "explain", "--month", "2026-10", "--station", "R1",
                              "--lang", "en", *golden_args])
    assert res.exit_code == 0, res.output
    assert "card tokC1 on 2026-10-05: 3 swipes, 1 not counted" in res.output
    assert "Total: 0.96 + 0.75 + 0.30 + 14.40 + 0.00 + 8.00 + 5.00 + 1.00 + 30.00 = 60.41" \
        in res.output
    assert "this station is effective" in res.output
    res = runner.invoke(cli, ["rewards", "explain", "--month", "2026-10", "--branch", "B1",
                              "--lang", "en", *golden_args])
    assert res.exit_code == 0, res.output
    assert "R3: not effective: 25 bill payments (all products) < 30" in res.output
    assert "Total: 10.00 + 6.10 + 0.00 - 2.00 = 14.10" in res.output
    assert "maintainer = 14.10 - 2.82 = 11.28" in res.output
    res = runner.invoke(cli, ["rewards", "explain", "--month", "2026-10", "--station", "NOPE",
                              *golden_args])
    assert res.exit_code == 2


def test_golden_notice(golden_args: list[str]) -> None:
    res = CliRunner().invoke(cli, ["rewards", "notice", "--month", "2026-10", "--format", "json",
                                   *golden_args])
    assert res.exit_code == 0, res.output
    by_id = {n["station_id"]: n for n in json.loads(res.output)}
    assert set(by_id) == {"R1", "R2", "R3", "U1"}
    # R1 parts by SMS label: 缴费 0.96+0.75+0.30+14.40 = 16.41; 取款 8.00; 通讯费 5.00;
    # 转介 1.00+30.00 = 31.00
    assert by_id["R1"]["text"] == ("R1站2026年10月奖励60.41元:缴费16.41,取款8.00,通讯费5.00,"
                                   "转介31.00。11月24日前兑现")
    for n in by_id.values():
        assert all(len(seg) <= 70 for seg in n["segments"])
