"""`stationlink demo` end to end: its figures must agree with the files it leaves (the hub's
database and export, the truth, the reward engine run on the exported CSV), printed in Chinese
by default and in English with ``--lang en``."""

from __future__ import annotations

import json
from collections import Counter
from decimal import Decimal
from pathlib import Path

import pytest
from click.testing import CliRunner

from stationlink.cli.main import cli
from stationlink.hub.export import hub_transactions
from stationlink.i18n import format_yuan as yuan_for
from stationlink.interchange import read_branches, read_stations, read_transactions
from stationlink.money import format_yuan
from stationlink.rewards import compute, derivation, load_policy

#: What each language's summary says, written out here (not taken from the catalogue).
TEXTS = {
    "zh": {
        "first": "stationlink demo：文件在 {work}",
        "last": "文件在 {work}",
        "check": "中心 == 真实记录：",
        "referrals": "  在工控机录入的推荐（经缓冲库和中心）：{n} 笔",
        "bills": "  代收缴费：批准 {n} 笔，{amount}",
        "rows": "  拒绝 {declined} 笔，冲正 {reversed} 笔（共 {rows} 行）",
        "reward": "截至目前 {month} 的奖励（政策 dezhou-2014）：{total}",
        "power": "断电重启 1 次",
        "sep": "：",
    },
    "en": {
        "first": "stationlink demo: files in {work}",
        "last": "files in {work}",
        "check": "hub == truth:",
        "referrals": "  referrals entered at the PC (through the buffer and the hub): {n}",
        "bills": "  bill payments: {n} approved, {amount}",
        "rows": "  declined {declined}, reversed {reversed} ({rows} rows in all)",
        "reward": "reward so far for {month} under dezhou-2014: {total}",
        "power": "power cycles 1",
        "sep": ": ",
    },
}


def _yuan(amount: Decimal, lang: str) -> str:
    """``25.35 元`` in zh, ``25.35 yuan`` in en."""
    return yuan_for(amount, "zh") if lang == "zh" else f"{format_yuan(amount)} yuan"


@pytest.mark.slow
@pytest.mark.parametrize("lang", ["zh", "en"])
def test_demo_figures_match_the_files_it_leaves(tmp_path: Path, lang: str) -> None:
    work = tmp_path / "demo"
    text = TEXTS[lang]
    # 2014-06-22: the demo station's day in the traffic model has referrals (the default
    # day has none), so the referral path (PC -> buffer -> agent -> hub -> reward) is run;
    # Chinese is the default, English on request
    args = ["demo", "--dir", str(work), "--date", "2014-06-22"]
    result = CliRunner().invoke(cli, args + (["--lang", "en"] if lang == "en" else []),
                                env={"STATIONLINK_LANG": None})
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert lines[0] == text["first"].format(work=work)
    assert lines[-1].endswith(text["last"].format(work=work))
    assert any(line.startswith(text["check"]) for line in lines)
    if lang == "zh":  # nothing people read left in English (codes, ids and paths aside)
        for english in ("yuan", "approved", "faults survived", "reward so far", "files:",
                        "finished in", "hub == truth"):
            assert english not in result.output

    hub = list(hub_transactions(work / "hub.sqlite"))
    hub_csv = read_transactions(work / "hub.csv").rows
    truth = read_transactions(work / "truth.csv").rows
    assert {t.as_row()["txn_id"]: t.as_row() for t in hub} == \
        {t.as_row()["txn_id"]: t.as_row() for t in hub_csv} == \
        {t.as_row()["txn_id"]: t.as_row() for t in truth}
    assert 20 <= len(hub) <= 120  # a day with a meaningful count
    referrals = [t for t in hub if t.kind == "referral"]
    assert {t.terminal_id[-2:] for t in hub if t.kind != "referral"} == {"BP", "CT"}  # both
    # referrals entered at the PC went through the buffer and the hub (no side file)
    assert referrals  # the demo's day has some
    assert {t.terminal_id for t in referrals} == {""}
    assert all(t.txn_id.startswith(f"{t.station_id}-PC-") for t in referrals)
    assert not (work / "referrals.csv").exists()
    assert text["referrals"].format(n=len(referrals)) in lines

    # the printed figures are the hub's
    approved = Counter(t.kind for t in hub if t.status == "approved")
    bills = sum((t.amount for t in hub if t.kind == "bill_payment" and t.status == "approved"),
                Decimal("0.00"))
    assert text["bills"].format(n=approved["bill_payment"], amount=_yuan(bills, lang)) \
        in result.output
    statuses = Counter(t.status for t in hub)
    assert text["rows"].format(declined=statuses["declined"], reversed=statuses["reversed"],
                               rows=len(hub)) in lines

    # the reward is the engine's output on the exported CSV files
    reward = json.loads((work / "reward.json").read_text(encoding="utf-8"))
    rows = read_transactions(work / "hub.csv").rows
    month = compute(load_policy("dezhou-2014"), read_stations(work / "stations.csv").rows,
                    read_branches(work / "branches.csv").rows, rows, reward["month"])
    statement = month.station(reward["station_id"])
    assert statement is not None
    assert reward["total"] == format_yuan(statement.total)
    assert [(i["code"], i["amount"]) for i in reward["items"]] == \
        [(i.code, format_yuan(i.amount)) for i in statement.items]
    assert text["reward"].format(month=reward["month"],
                                 total=_yuan(Decimal(reward["total"]), lang)) in lines
    # each item with the label and derivation `rewards explain` gives in that language
    policy = load_policy("dezhou-2014")
    for item in statement.items:
        amount = yuan_for(item.amount, "zh") if lang == "zh" else format_yuan(item.amount)
        assert f"  {amount:>8}  {derivation.label(item.label, lang)}{text['sep']}" \
            f"{derivation.station_basis(policy, statement, item, lang)}" in lines
    # the referrals are paid from what the hub holds
    paid = Counter(t.product for t in referrals if t.status == "approved")
    assert {i["code"]: i["quantity"] for i in reward["items"]
            if i["code"].startswith("referral.")} == {f"referral.{p}": n for p, n in paid.items()}
    # faults happened and were survived
    assert text["power"] in result.output
    assert (work / "stations" / reward["station_id"] / "agent.toml").is_file()
