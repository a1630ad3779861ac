"""SMS notices: Chinese by default, English on request; every text within one SMS (70
characters) or split explicitly into numbered parts ``(i/n)`` that put back together give the
text, over random amounts and station names and over a month of many stations."""

from __future__ import annotations

import json
import random
import re
from collections import Counter
from decimal import Decimal
from pathlib import Path

import pytest
from click.testing import CliRunner
from hypothesis import given, settings
from hypothesis import strategies as st
from rewards_fixtures import GOLDEN_ARGS, Book

from stationlink.cli.main import cli
from stationlink.rewards import load_policy
from stationlink.rewards.model import Policy
from stationlink.rewards.notice import Notice, notice_for
from stationlink.rewards.statements import LineItem, StationFacts, StationStatement

POLICIES = [load_policy("dezhou-2014"), load_policy("county-withhold-2012")]
PREFIX = re.compile(r"^\((\d+)/(\d+)\)")
MONEY = re.compile(r"-?\d+\.\d\d(?!\d)")


def assert_well_cut(notice: Notice, limit: int = 70) -> None:
    assert all(0 < len(seg) <= limit for seg in notice.segments), notice
    if len(notice.text) <= limit:
        assert notice.segments == (notice.text,)
        return
    n = len(notice.segments)
    assert n >= 2
    bodies = []
    for i, seg in enumerate(notice.segments, 1):
        m = PREFIX.match(seg)
        assert m is not None, seg
        assert (int(m.group(1)), int(m.group(2))) == (i, n)
        bodies.append(seg[m.end():])
    assert "".join(bodies) == notice.text


def _statement(policy: Policy, station: str, fen: list[int]) -> StationStatement:
    facts = StationFacts("rural", "V1", 100, 1, None, {}, 0, 0, {})
    specs = policy.station_items
    items = tuple(LineItem(spec.code, spec.label, Decimal(f) / 100, "", 0, spec.sms)
                  for spec, f in zip(specs, fen, strict=False))
    total = sum((i.amount for i in items), Decimal("0.00"))
    return StationStatement(station, "B1", total, items, facts)


NAMES = st.text(alphabet=st.sampled_from("德州陵城区临邑镇便民服务站东西南北村0123456789AB-"),
                min_size=1, max_size=30)


@settings(max_examples=200, deadline=None)
@given(policy=st.sampled_from(POLICIES), station=NAMES, lang=st.sampled_from(["zh", "en"]),
       month=st.sampled_from(["2026-01", "2026-10", "2026-12"]),
       fen=st.lists(st.integers(-999_999, 99_999_999), min_size=1, max_size=12))
def test_every_notice_fits_or_is_split_into_numbered_parts(
        policy: Policy, station: str, lang: str, month: str, fen: list[int]) -> None:
    st_ = _statement(policy, station, fen)
    notice = notice_for(policy, month, st_, lang)
    assert_well_cut(notice, policy.notice.segment_chars)
    assert str(st_.total) in notice.text  # the total, to the fen, in every language
    assert station in notice.text


def test_short_limit_still_splits_cleanly() -> None:
    policy = POLICIES[0]
    st_ = _statement(policy, "德州陵城区临邑镇便民服务站", [12345, 678, 99999, 100, 3000])
    for lang in ("zh", "en"):
        notice = notice_for(policy, "2026-10", st_, lang)
        assert_well_cut(notice)


def _many_stations(tmp_path: Path, seed: int) -> list[str]:
    rng = random.Random(seed)
    book = Book()
    for b in range(6):
        book.branch(f"B{b}", "rural" if b % 2 else "urban", plan=rng.randint(0, 5))
    households = {f"V{v}": rng.randint(20, 400) for v in range(17)}
    for s in range(120):
        area = "rural" if s % 2 else "urban"
        bid = f"B{rng.randrange(3) * 2 + s % 2}"  # rural stations in rural branches
        sid = f"S{s:03d}" + "站点" * rng.randint(0, 8)
        book.station(sid, bid, area, f"V{s % 17}", households[f"V{s % 17}"])
        for _ in range(rng.randint(0, 40)):
            kind = rng.choice(["bill_payment", "withdrawal", "referral"])
            product = {"bill_payment": rng.choice(["mobile", "unicom", "electricity", "gas"]),
                       "withdrawal": "", "referral": rng.choice(
                           ["huinongtong", "finance_lead", "car_insurance_sale"])}[kind]
            book.add(sid, kind, product, f"{rng.randint(1, 500000) / 100:.2f}")
    t, s, b = book.write(tmp_path)
    return ["--month", "2026-10", "--transactions", str(t), "--stations", str(s),
            "--branches", str(b)]


@pytest.mark.parametrize("seed", [1, 2])
def test_a_month_of_many_stations(tmp_path: Path, seed: int) -> None:
    args = _many_stations(tmp_path, seed)
    runner = CliRunner()
    month = json.loads(runner.invoke(cli, ["rewards", "compute", "--format", "json",
                                           *args]).stdout)
    totals = {s["station_id"]: s["total"] for s in month["stations"]}
    for lang in ("zh", "en"):
        res = runner.invoke(cli, ["rewards", "notice", "--format", "json", "--lang", lang,
                                  *args])
        assert res.exit_code == 0, res.output
        docs = json.loads(res.stdout)
        assert {d["station_id"] for d in docs} == set(totals)
        split = 0
        for d in docs:
            notice = Notice(d["station_id"], d["text"], tuple(d["segments"]))
            assert_well_cut(notice)
            assert totals[d["station_id"]] in d["text"]
            split += len(notice.segments) > 1
        assert split > 0  # long station names made some notices need two SMS


def test_golden_notices_in_both_languages() -> None:
    golden = ["--month", "2026-10", *GOLDEN_ARGS]
    runner = CliRunner()
    zh = runner.invoke(cli, ["rewards", "notice", *golden]).stdout
    assert zh == runner.invoke(cli, ["rewards", "notice", "--lang", "zh", *golden]).stdout
    assert "R1\tR1站2026年10月奖励60.41元:缴费16.41,取款8.00,通讯费5.00,转介31.00。" in zh
    en_docs = json.loads(runner.invoke(cli, ["rewards", "notice", "--format", "json",
                                             "--lang", "en", *golden]).stdout)
    r1 = next(d for d in en_docs if d["station_id"] == "R1")
    assert r1["text"] == ("Station R1 reward 2026/10: CNY 60.41 (bill payments 16.41, "
                          "withdrawals 8.00, phone package 5.00, referrals 31.00), "
                          "paid by 11/24.")
    zh_docs = json.loads(runner.invoke(cli, ["rewards", "notice", "--format", "json",
                                             *golden]).stdout)
    for z, e in zip(zh_docs, en_docs, strict=True):
        assert Counter(MONEY.findall(z["text"])) == Counter(MONEY.findall(e["text"]))


def utf16_units(text: str) -> int:
    return len(text.encode("utf-16-le")) // 2


@settings(max_examples=200, deadline=None)
@given(station=st.text(alphabet=st.sampled_from("德州站𠀀𪚥𡈽0123456789"), min_size=1,
                       max_size=40),
       fen=st.lists(st.integers(0, 99_999_999), min_size=1, max_size=12))
def test_a_segment_counts_utf16_units_as_an_sms_does(station: str, fen: list[int]) -> None:
    # characters beyond the BMP (rare characters in village and station names: 𠀀 𪚥 𡈽) take
    # two UCS-2 units of the 70 an SMS holds
    policy = POLICIES[0]
    notice = notice_for(policy, "2026-10", _statement(policy, station, fen))
    assert all(utf16_units(seg) <= 70 for seg in notice.segments), notice.segments
    if utf16_units(notice.text) <= 70:
        assert notice.segments == (notice.text,)
    else:
        bodies = [PREFIX.sub("", seg, count=1) for seg in notice.segments]
        assert "".join(bodies) == notice.text
