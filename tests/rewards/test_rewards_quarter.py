"""Quarter mode under county-withhold-2012: monthly withholding and quarter-end refund.

County policy: 0.20 yuan per approved bill payment, 0.30 per valid withdrawal; 20.00 (or the
whole fee if smaller) withheld each month; returned at quarter end for each month with at least
10,000.00 yuan or at least 100 bill payments.
"""

from __future__ import annotations

import json
from pathlib import Path

from click.testing import CliRunner
from rewards_fixtures import Book

from stationlink.cli.main import cli


def _book() -> Book:
    book = Book()
    book.branch("BQ", "urban")
    book.station("Q1", "BQ", "urban")
    book.station("Q2", "BQ", "urban")
    # Q1 October: 100 payments of 10.00 -> count 100 qualifies; fee 20.00, withheld 20.00
    book.add("Q1", "bill_payment", "water", "10.00", ts="2026-10-05T10:00:00+08:00", n=100)
    # Q1 November: 50 x 200.00 = 10,000.00 qualifies by amount; fee 10.00 -> withheld 10.00
    book.add("Q1", "bill_payment", "gas", "200.00", ts="2026-11-05T10:00:00+08:00", n=50)
    # Q1 December: 99 x 100.00 = 9,900.00 and 99 < 100: not qualified; fee 19.80 + 10 x 0.30
    # = 22.80, withheld 20.00, paid 2.80, forfeited 20.00
    book.add("Q1", "bill_payment", "mobile", "100.00", ts="2026-12-05T10:00:00+08:00", n=99)
    book.add("Q1", "withdrawal", "", "50.00", ts="2026-12-06T10:00:00+08:00", n=10)
    # Q2 October: one payment of exactly 10,000.00 -> qualifies; fee 0.20, withheld 0.20
    book.add("Q2", "bill_payment", "electricity", "10000.00", ts="2026-10-31T15:59:59Z")
    return book


def test_quarter_withholding_and_refund(tmp_path: Path) -> None:
    t, s, b = _book().write(tmp_path)
    res = CliRunner().invoke(cli, ["rewards", "compute", "--quarter", "2026Q4", "--policy",
                                   "county-withhold-2012", "--transactions", str(t),
                                   "--stations", str(s), "--branches", str(b), "--format",
                                   "json"])
    assert res.exit_code == 0, res.output
    out = json.loads(res.output)
    assert out["quarter"] == "2026Q4"
    assert [m["month"] for m in out["months"]] == ["2026-10", "2026-11", "2026-12"]
    q1, q2 = out["stations"]
    assert {i["code"]: i["amount"] for i in q1["items"]} == {
        "month.2026-10": "0.00", "refund.2026-10": "20.00",
        "month.2026-11": "0.00", "refund.2026-11": "10.00",
        "month.2026-12": "2.80", "refund.2026-12": "0.00",
    }
    # withheld 20.00 + 10.00 + 20.00 = 50.00; refunded 30.00; total 2.80 + 30.00 = 32.80
    assert (q1["withheld"], q1["refund"], q1["total"]) == ("50.00", "30.00", "32.80")
    basis = {i["code"]: i["basis"] for i in q1["items"]}
    assert "100 bill payments (all products) >= 100" in basis["refund.2026-10"]
    assert "10000.00 yuan of bill payments (all products) >= 10000.00" in \
        basis["refund.2026-11"]
    assert "not returned (forfeited)" in basis["refund.2026-12"]
    # Q2: only October, 15:59:59Z on 10-31 is 23:59:59 CST, still October
    assert (q2["withheld"], q2["refund"], q2["total"]) == ("0.20", "0.20", "0.20")
    # the monthly statement shows the withholding as a negative item
    dec_q1 = out["months"][2]["stations"][0]
    assert {i["code"]: i["amount"] for i in dec_q1["items"]} == {
        "agency.bill": "19.80", "agency.withdrawal": "3.00", "withhold.quarterly": "-20.00"}


def test_quarter_table_and_bad_options(tmp_path: Path) -> None:
    t, s, b = _book().write(tmp_path)
    args = ["--transactions", str(t), "--stations", str(s), "--branches", str(b)]
    runner = CliRunner()
    res = runner.invoke(cli, ["rewards", "compute", "--quarter", "2026Q4", "--policy",
                              "county-withhold-2012", "--lang", "en", *args])
    assert res.exit_code == 0, res.output
    assert "Q1 (branch BQ)  withheld 50.00  refund 30.00  quarter total 32.80" in res.output
    # dezhou-2014 has no quarter rule; a malformed quarter; both --month and --quarter
    for bad in (["--quarter", "2026Q4"], ["--quarter", "2026Q5", "--policy",
                                          "county-withhold-2012"],
                ["--quarter", "2026Q4", "--month", "2026-10"]):
        res = runner.invoke(cli, ["rewards", "compute", *bad, *args])
        assert res.exit_code == 2, res.output


def test_monthly_notice_under_county_policy(tmp_path: Path) -> None:
    t, s, b = _book().write(tmp_path)
    res = CliRunner().invoke(cli, ["rewards", "notice", "--month", "2026-12", "--policy",
                                   "county-withhold-2012", "--transactions", str(t),
                                   "--stations", str(s), "--branches", str(b)])
    assert res.exit_code == 0, res.output
    # Q1: 代收 19.80, 取款 3.00, 暂扣 20.00 -> total 2.80; Q2 had nothing in December
    assert res.output == ("Q1\tQ1站2026年12月代办费2.80元:代收19.80,取款3.00,暂扣20.00。\n"
                          "Q2\tQ2站2026年12月代办费0.00元:无。\n")
