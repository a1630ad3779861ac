"""``rewards explain`` in Chinese (the default) and English (``--lang en``).

- In English every item's derivation rendered through the catalogue is exactly the engine's
  own basis (golden month and random months, both built-in policies): the Chinese text is a
  translation of the same derivation, not a second computation.
- The golden month's Chinese explanation shows the hand-worked figures of
  test_rewards_golden (identical to the fen) with the policy's wording, and its money figures
  are the English ones.
"""

from __future__ import annotations

import re
from collections import Counter

import pytest
from click.testing import CliRunner
from hypothesis import given, settings
from rewards_fixtures import GOLDEN, run_rewards
from test_rewards_properties import BRANCHES, STATIONS, transactions

from stationlink.cli.main import cli
from stationlink.i18n import written_in
from stationlink.interchange import Transaction
from stationlink.records.vocab import KINDS, Product
from stationlink.rewards import (
    MonthResult,
    compute,
    compute_quarter,
    derivation,
    from_csv,
    load_policy,
)
from stationlink.rewards.explain import explain_branch, explain_station
from stationlink.rewards.model import Policy
from stationlink.rewards.statements import QuarterResult

POLICIES = [load_policy("dezhou-2014"), load_policy("county-withhold-2012")]
MONEY = re.compile(r"-?\d+\.\d\d(?!\d)")


def _golden(policy: Policy) -> MonthResult:
    inputs = from_csv(GOLDEN / "transactions.csv", GOLDEN / "stations.csv",
                      GOLDEN / "branches.csv")
    return compute(policy, inputs.stations, inputs.branches, inputs.transactions, "2026-10")


def _assert_english_is_the_engines_basis(policy: Policy, result: MonthResult) -> int:
    checked = 0
    for st in result.stations:
        for item in st.items:
            assert derivation.station_basis(policy, st, item, "en") == item.basis
            checked += 1
        if st.facts.effective is not None and policy.branch is not None:
            assert tuple(derivation.condition(c, st.facts.counts, "en")
                         for c in policy.branch.effective_when_all) == st.facts.effective_reasons
    for b in result.branches:
        for item in b.items:
            assert derivation.branch_basis(policy, result, b, item, "en") == item.basis
            checked += 1
    return checked


@pytest.mark.parametrize("policy", POLICIES, ids=lambda p: p.name)
def test_english_derivation_is_the_engines_basis_golden(policy: Policy) -> None:
    assert _assert_english_is_the_engines_basis(policy, _golden(policy)) > 10


def _assert_english_quarter_is_the_engines_basis(policy: Policy, q: QuarterResult) -> int:
    checked = 0
    for qs in q.stations:
        for item in qs.items:
            assert derivation.quarter_basis(policy, q, qs, item, "en") == item.basis
            checked += 1
    return checked


@settings(max_examples=40, deadline=None)
@given(rows=transactions())
def test_english_derivation_is_the_engines_basis_random(rows: list[Transaction]) -> None:
    for policy in POLICIES:
        result = compute(policy, STATIONS, BRANCHES, rows, "2026-10")
        _assert_english_is_the_engines_basis(policy, result)
    quarter = compute_quarter(POLICIES[1], STATIONS, BRANCHES, rows, "2026Q4")
    _assert_english_quarter_is_the_engines_basis(POLICIES[1], quarter)


def test_english_quarter_derivation_is_the_engines_basis_golden() -> None:
    inputs = from_csv(GOLDEN / "transactions.csv", GOLDEN / "stations.csv",
                      GOLDEN / "branches.csv")
    q = compute_quarter(POLICIES[1], inputs.stations, inputs.branches, inputs.transactions,
                        "2026Q4")
    assert _assert_english_quarter_is_the_engines_basis(POLICIES[1], q) >= 2 * len(q.stations)
    zh = derivation.quarter_basis(POLICIES[1], q, q.stations[0], q.stations[0].items[1], "zh")
    assert "返还" in zh or "暂扣" in zh


def _explain(*args: str, env: dict[str, str] | None = None) -> str:
    return run_rewards("explain", "--month", "2026-10", *args, env=env)


def test_station_explained_in_chinese_by_default() -> None:
    text = _explain("--station", "R1")
    assert text == _explain("--station", "R1", "--lang", "zh")
    assert text.startswith("站点 R1,2026年10月,方案 dezhou-2014\n")
    # the household arithmetic as a fraction, with the policy's wording (two stations in V1)
    assert ("代收电费占比 = 当月代收电费笔数 / 该村实际户数 = 48 / "
            "(该村户数 120 / 该村站点数 2 = 60) = 80.0%(占比 >= 80%)-> 每笔 0.30 元,"
            "合计 14.40 元") in text
    # the card-day over the 2-per-card-per-day cap
    assert "卡 tokC1 于 2026年10月5日:刷卡 3 笔,1 笔不计" in text
    assert "有效取款 16 笔(成功 17 笔,其中 1 笔超过每卡每天 2 笔的上限)" in text
    assert "合计:0.96 + 0.75 + 0.30 + 14.40 + 0.00 + 8.00 + 5.00 + 1.00 + 30.00 = 60.41 元" \
        in text
    assert "对支局 B1,本站点为有效站点:便民缴费(全部品种) 56 笔 >= 30 笔;有效取款 16 笔 >= 5 笔" \
        in text
    assert "移动话费缴费 2 笔,金额 95.50 元 × 1% = 0.955 -> 0.96 元" in text
    for english in ("card", "yuan", "Total", "effective"):
        assert english not in text


def test_branch_explained_in_chinese() -> None:
    text = _explain("--branch", "B1")
    assert "R3: 不是有效站点: 便民缴费(全部品种) 25 笔 < 30 笔;有效取款 10 笔 >= 5 笔" in text
    assert "合计:10.00 + 6.10 + 0.00 - 2.00 = 14.10 元" in text
    assert "维护人员 = 14.10 - 2.82 = 11.28" in text
    assert "计划 3 个,有效 2 个:少 1 个 × 2.00 元 = -2.00 元" in text


@pytest.mark.parametrize("party", [("--station", "R1"), ("--station", "R2"),
                                   ("--station", "R3"), ("--station", "U1"),
                                   ("--branch", "B1"), ("--branch", "B2")])
def test_chinese_and_english_show_the_same_money(party: tuple[str, str]) -> None:
    zh, en = _explain(*party), _explain(*party, "--lang", "en")
    assert zh != en
    assert Counter(MONEY.findall(zh)) == Counter(MONEY.findall(en))


def test_the_operators_setting_chooses_english() -> None:
    en = _explain("--station", "R1", env={"STATIONLINK_LANG": "en"})
    assert en == _explain("--station", "R1", "--lang", "en")
    assert en.startswith("Station R1, 2026-10, policy dezhou-2014\n")
    assert _explain("--station", "R1", "--lang", "zh", env={"STATIONLINK_LANG": "en"}) \
        == _explain("--station", "R1")


def test_unknown_language_is_a_usage_error() -> None:
    res = CliRunner().invoke(cli, ["rewards", "explain", "--lang", "fr", "--station", "R1"])
    assert res.exit_code == 2
    assert "fr" in res.output


def test_library_explain_without_the_policy_shows_the_engines_basis() -> None:
    policy = POLICIES[0]
    result = _golden(policy)
    text = explain_station(result, "R1", lang="zh")
    assert result.station("R1").item("withdrawal").basis in text  # type: ignore[union-attr]
    assert explain_branch(result, "B1", lang="en", policy=policy) == explain_branch(
        result, "B1", lang="en")


def test_every_kind_and_product_has_a_chinese_name() -> None:
    codes = [*KINDS, *(p.value for p in Product)]
    assert set(codes) <= set(derivation.VOCAB_NAMES)
    for code in codes:
        assert derivation.vocab_name(code, "en") == code
        assert written_in(derivation.vocab_name(code, "zh")) == "zh", code


def test_transactions_listed_by_chinese_kind_and_product() -> None:
    text = _explain("--station", "R1")
    assert "  便民缴费         电费                      48 笔      2438.00 元\n" in text
    assert "本方案未定价的缴费 2 笔 (水费 2 笔),收款 45.00 元" in text
