"""Every rule and boundary of the dezhou-2014 page, on small inputs built in the test.

Each expected amount is computed by hand in the test from the policy page.
"""

from __future__ import annotations

import tomllib
from decimal import Decimal
from importlib import resources

import pytest
from rewards_fixtures import Book

from stationlink.rewards import parse_policy


def _amount(book: Book, code: str, sid: str = "S1") -> str | None:
    st = book.run().station(sid)
    assert st is not None
    item = st.item(code)
    return None if item is None else str(item.amount)


@pytest.mark.parametrize(("n", "households", "stations", "expected"), [
    (49, 100, 1, "9.80"),    # 49% < 50% -> 0.20 x 49
    (50, 100, 1, "12.50"),   # exactly 50% -> 0.25 x 50
    (79, 100, 1, "19.75"),   # 79% -> 0.25
    (80, 100, 1, "24.00"),   # exactly 80% -> 0.30 x 80
    (40, 100, 2, "12.00"),   # 2 stations halve 100 -> 50; 40/50 = 80% -> 0.30 x 40
    (25, 101, 2, "5.00"),    # 101/2 = 50.5 households; 25/50.5 = 49.5% -> 0.20 x 25
    (150, 100, 1, "45.00"),  # coverage above 100% stays in the top tier
])
def test_rural_electricity_coverage_edges(book: Book, n: int, households: int, stations: int,
                                          expected: str) -> None:
    for i in range(stations):
        book.station(f"S{i + 1}", households=households)
    book.add("S1", "bill_payment", "electricity", n=n)
    assert _amount(book, "bill.electricity") == expected


@pytest.mark.parametrize(("n", "expected"), [(19, "4.75"), (20, "6.00"), (1, "0.25")])
def test_urban_electricity_count_edges(book: Book, n: int, expected: str) -> None:
    book.station("S1", area="urban")
    book.add("S1", "bill_payment", "electricity", n=n)  # 19 x 0.25; 20 x 0.30; 1 x 0.25
    assert _amount(book, "bill.electricity") == expected


@pytest.mark.parametrize(("n", "rate_total", "package"), [
    (9, "2.70", None), (10, "5.00", "5.00"), (30, "15.00", "5.00"), (31, "18.60", "5.00"),
])
def test_withdrawal_tier_edges(book: Book, n: int, rate_total: str, package: str | None) -> None:
    book.station("S1")
    book.add("S1", "withdrawal", amount="100.00", n=n)  # distinct cards
    assert _amount(book, "withdrawal") == rate_total   # 9x0.30, 10x0.50, 30x0.50, 31x0.60
    got = _amount(book, "withdrawal.comm_package")
    assert got == (package or "0.00")


def test_cap_per_card_per_local_day_across_midnight(book: Book) -> None:
    book.station("S1")
    # same card: 3 swipes before CST midnight (3rd not counted), 2 after (both count)
    for ts in ("2026-10-10T23:00:00+08:00", "2026-10-10T23:30:00+08:00",
               "2026-10-10T23:59:59+08:00", "2026-10-11T00:00:00+08:00",
               "2026-10-11T00:30:00+08:00"):
        book.add("S1", "withdrawal", ts=ts, card="tokA")
    st = book.run().station("S1")
    assert st is not None
    assert st.facts.counts["withdrawals"].n == 4
    assert st.facts.counts["withdrawals"].over_cap == (("tokA", "2026-10-10", 3),)


def test_cap_uses_cst_day_not_utc_day(book: Book) -> None:
    book.station("S1")
    # UTC day 2026-10-10 for all three; in CST 16:00Z is 10-11 00:00 -> 1 + 2 on two days
    for ts in ("2026-10-10T15:59:00Z", "2026-10-10T16:00:00Z", "2026-10-10T17:00:00-00:00"):
        book.add("S1", "withdrawal", ts=ts, card="tokB")
    # same instant as 10-11 09:00 CST written in +05:30: third swipe on 10-11 -> not counted
    book.add("S1", "withdrawal", ts="2026-10-11T06:30:00+05:30", card="tokB")
    st = book.run().station("S1")
    assert st is not None
    assert st.facts.counts["withdrawals"].n == 3
    assert st.facts.counts["withdrawals"].approved == 4


def test_month_boundaries_in_other_offsets(book: Book) -> None:
    book.station("S1", area="urban")
    book.add("S1", "referral", "huinongtong", ts="2026-09-30T16:30:00Z")       # 10-01 00:30
    book.add("S1", "referral", "huinongtong", ts="2026-09-30T23:59:00+08:00")  # September
    book.add("S1", "referral", "huinongtong", ts="2026-10-31T23:59:59+08:00")  # October
    book.add("S1", "referral", "huinongtong", ts="2026-10-31T11:00:00-05:00")  # 11-01 00:00
    book.add("S1", "referral", "huinongtong", ts="2026-11-01T01:00:00+09:00")  # 11-01 00:00
    r = book.run()
    assert r.station("S1").item("referral.huinongtong").amount == Decimal("2.00")  # type: ignore[union-attr]
    assert r.info.outside_period == 3


def test_declined_and_reversed_never_count(book: Book) -> None:
    book.station("S1", area="urban")
    book.branch("B1", "urban")
    for status in ("declined", "reversed"):
        book.add("S1", "bill_payment", "mobile", "100.00", status=status, n=40)
        book.add("S1", "withdrawal", status=status, n=40)
        book.add("S1", "referral", "car_insurance_sale", status=status)
    r = book.run()
    st = r.station("S1")
    assert st is not None
    assert st.total == 0
    assert st.items == ()
    assert (r.info.declined, r.info.reversed) == (81, 81)
    assert r.branches[0].effective_stations == 0


@pytest.mark.parametrize(("amounts", "expected"), [
    (["0.50"], "0.01"),            # 0.005 -> half-up 0.01
    (["0.49"], "0.00"),            # 0.0049 -> 0.00
    (["45.50"], "0.46"),           # 0.455 -> 0.46
    (["0.25", "0.25"], "0.01"),    # summed first: 0.50 x 1% = 0.005 -> 0.01 (not 0.00 + 0.00)
    (["123.45", "0.05"], "1.24"),  # 123.50 x 1% = 1.235 -> 1.24
])
def test_percent_items_round_half_up_on_the_month_sum(book: Book, amounts: list[str],
                                                      expected: str) -> None:
    book.station("S1", area="urban")
    for a in amounts:
        book.add("S1", "bill_payment", "telecom", a)
    assert _amount(book, "bill.telecom") == expected


def test_unpriced_products_are_shown_not_dropped(book: Book) -> None:
    book.station("S1", area="urban")
    book.add("S1", "bill_payment", "water", "30.00", n=2)
    book.add("S1", "bill_payment", "lottery", "5.00")
    st = book.run().station("S1")
    assert st is not None
    item = st.item("bill.unpriced")
    assert item is not None
    assert item.amount == 0
    assert item.quantity == 3
    assert "1 lottery, 2 water" in item.basis


def _effective(book: Book, sid: str, bid: str, area: str = "rural") -> None:
    book.station(sid, bid, area, village=sid)
    book.add(sid, "bill_payment", "water", n=30)
    book.add(sid, "withdrawal", n=5)


def test_effective_station_edges(book: Book) -> None:
    book.branch("B1", "rural", plan=0)
    _effective(book, "S1", "B1")                 # 30 bills and 5 withdrawals: effective
    book.station("S2", "B1", village="S2")
    book.add("S2", "bill_payment", "water", n=29)
    book.add("S2", "withdrawal", n=5)            # 29 < 30: not effective
    book.station("S3", "B1", village="S3")
    book.add("S3", "bill_payment", "water", n=30)
    for _ in range(3):                           # 6 swipes of one card on one day: 2 valid
        book.add("S3", "withdrawal", card="tokX", n=2)
    b = book.run().branches[0]
    assert b.effective_stations == 1
    # base 5.00 + commission 0.05 x (0 phone/electricity + 5 withdrawals) = 5.25
    assert b.total == Decimal("5.25")


def test_rural_bonus_needs_every_station_effective(book: Book) -> None:
    book.branch("B1", "rural", plan=2)
    _effective(book, "S1", "B1")
    _effective(book, "S2", "B1")
    b = book.run().branches[0]
    # 2 x 5.00 + 0.05 x 10 + 100.00 = 110.50; head 22.10, maintainer 88.40
    assert (b.total, b.head, b.maintainer) == (Decimal("110.50"), Decimal("22.10"),
                                               Decimal("88.40"))


def test_branch_without_stations_gets_no_bonus_and_full_penalty(book: Book) -> None:
    book.branch("B9", "rural", plan=4)
    b = book.run().branches[0]
    # no all-effective bonus for an empty branch; 4 short x 2.00 = -8.00; head -1.60
    assert (b.total, b.head, b.maintainer) == (Decimal("-8.00"), Decimal("-1.60"),
                                               Decimal("-6.40"))


def test_urban_bonus_per_full_20(book: Book) -> None:
    book.branch("U", "urban", plan=45)
    for i in range(41):
        _effective(book, f"S{i:02d}", "U", area="urban")
    b = book.run().branches[0]
    items = {i.code: i.amount for i in b.items}
    # 41 // 20 = 2 blocks -> 200.00; base 41 x 5.00 = 205.00; commission 0.05 x 205 = 10.25;
    # plan 45 - 41 = 4 short x 2.00 = -8.00; total 407.25; head 81.45; maintainer 325.80
    assert items == {"maintenance.base": Decimal("205.00"),
                     "maintenance.commission": Decimal("10.25"),
                     "bonus.per_20_effective": Decimal("200.00"),
                     "penalty.plan": Decimal("-8.00")}
    assert (b.total, b.head, b.maintainer) == (Decimal("407.25"), Decimal("81.45"),
                                               Decimal("325.80"))


def test_split_rounds_half_up_and_adds_up(book: Book) -> None:
    text = (resources.files("stationlink") / "policies" / "dezhou-2014.toml").read_text(
        encoding="utf-8")
    assert "head = 0.2 " in text
    data = tomllib.loads(text.replace("head = 0.2 ", "head = 0.25 "), parse_float=Decimal)
    policy = parse_policy(data)
    book.branch("B1", "urban", plan=0)
    _effective(book, "S1", "B1", area="urban")
    book.add("S1", "bill_payment", "unicom", n=1)
    b = book.run(policy=policy).branches[0]
    # base 5.00 + 0.05 x (1 unicom + 5 withdrawals) = 5.30; head 5.30 x 0.25 = 1.325 -> 1.33
    assert (b.total, b.head, b.maintainer) == (Decimal("5.30"), Decimal("1.33"),
                                               Decimal("3.97"))


def test_statement_totals_equal_item_sums(book: Book) -> None:
    book.station("S1", households=30)
    book.add("S1", "bill_payment", "mobile", "33.33", n=7)
    book.add("S1", "bill_payment", "electricity", n=20)
    book.add("S1", "withdrawal", n=12)
    r = book.run()
    for st in r.stations:
        assert st.total == sum(i.amount for i in st.items)
    for b in r.branches:
        assert b.total == sum(i.amount for i in b.items) == b.head + b.maintainer


def test_long_notice_is_split_into_numbered_segments_within_70() -> None:
    from stationlink.rewards.notice import segments

    text = "站点" * 20 + ",缴费16.41,取款8.00,通讯费5.00,转介31.00。" + "很长的说明文字" * 8
    segs = segments(text, 70)  # 128 characters: two segments of at most 70 - len("(1/2)")
    assert len(segs) == 2
    assert all(len(s) <= 70 for s in segs)
    assert [s[:5] for s in segs] == ["(1/2)", "(2/2)"]
    assert segs[0].endswith("通讯费5.00,")  # cut after a separator
    assert "".join(s[5:] for s in segs) == text
    assert segments("短信", 70) == ("短信",)
