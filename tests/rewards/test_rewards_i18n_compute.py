"""``rewards compute`` table in Chinese (the default) and English; JSON and CSV never change."""

from __future__ import annotations

import re
from collections import Counter

import pytest
from rewards_fixtures import run_rewards

MONEY = re.compile(r"-?\d+\.\d\d(?!\d)")


def _compute(*args: str) -> str:
    return run_rewards("compute", *args)


def test_table_in_chinese_by_default() -> None:
    text = _compute("--month", "2026-10")
    assert text == _compute("--month", "2026-10", "--lang", "zh")
    assert text.startswith("2026年10月酬金,方案 dezhou-2014\n")
    assert "  R1(支局 B1,农村)  合计 60.41\n" in text
    assert "  B1(农村)有效 2/3,计划 3  合计 14.10  支局长 2.82  维护人员 11.28\n" in text
    assert "代收电费占比 = 当月代收电费笔数 / 该村实际户数 = 25 / 50 = 50.0%" in text
    assert "2026年11月24日前付款" in text  # the settlement calendar as CST calendar dates
    assert "rows read" not in text


def test_table_in_english_and_the_same_money() -> None:
    zh = _compute("--month", "2026-10")
    en = _compute("--month", "2026-10", "--lang", "en")
    assert "R1 (branch B1, rural)  total 60.41" in en
    assert "paid by 2026-11-24" in en
    assert Counter(MONEY.findall(zh)) == Counter(MONEY.findall(en))


@pytest.mark.parametrize("fmt", ["json", "csv"])
def test_data_formats_do_not_change_with_the_language(fmt: str) -> None:
    zh = _compute("--month", "2026-10", "--format", fmt)
    assert zh == _compute("--month", "2026-10", "--format", fmt, "--lang", "en")


def test_quarter_table_in_both_languages() -> None:
    args = ("--quarter", "2026Q4", "--policy", "county-withhold-2012")
    zh, en = _compute(*args), _compute(*args, "--lang", "en")
    assert zh.startswith("2026Q4 季度,方案 county-withhold-2012:按月暂扣,季末返还\n")
    assert en.startswith("Quarter 2026Q4 under policy county-withhold-2012")
    assert Counter(MONEY.findall(zh)) == Counter(MONEY.findall(en))
