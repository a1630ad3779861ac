"""`stationlink demo` end to end: its figures must agree with the files it leaves (the hub's
database and export, the truth, the reward engine run on the exported CSV)."""

from __future__ import annotations

import json
from collections import Counter
from decimal import Decimal
from pathlib import Path

import pytest
from click.testing import CliRunner

from stationlink.cli.main import cli
from stationlink.hub.export import hub_transactions
from stationlink.interchange import read_branches, read_stations, read_transactions
from stationlink.money import format_yuan
from stationlink.rewards import compute, load_policy


@pytest.mark.slow
def test_demo_figures_match_the_files_it_leaves(tmp_path: Path) -> None:
    work = tmp_path / "demo"
    # 2014-06-22: the demo station's day in the traffic model has referrals (the default
    # day has none), so the referral path (PC -> buffer -> agent -> hub -> reward) is run
    result = CliRunner().invoke(cli, ["demo", "--dir", str(work), "--date", "2014-06-22"])
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert lines[0] == f"stationlink demo: files in {work}"
    assert lines[-1].endswith(f"files in {work}")
    assert any(line.startswith("hub == truth:") for line in lines)

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
    assert f"  referrals entered at the PC (through the buffer and the hub): {len(referrals)}" \
        in lines

    # the printed figures are the hub's
    approved = Counter(t.kind for t in hub if t.status == "approved")
    bills = sum((t.amount for t in hub if t.kind == "bill_payment" and t.status == "approved"),
                Decimal("0.00"))
    assert f"  bill payments: {approved['bill_payment']} approved, {format_yuan(bills)} yuan" \
        in result.output
    statuses = Counter(t.status for t in hub)
    assert f"  declined {statuses['declined']}, reversed {statuses['reversed']} " \
        f"({len(hub)} rows in all)" in result.output

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
    assert f"reward so far for {reward['month']} under dezhou-2014: {reward['total']} yuan" \
        in result.output
    # the referrals are paid from what the hub holds
    paid = Counter(t.product for t in referrals if t.status == "approved")
    assert {i["code"]: i["quantity"] for i in reward["items"]
            if i["code"].startswith("referral.")} == {f"referral.{p}": n for p, n in paid.items()}
    # faults happened and were survived
    assert "power cycles 1" in result.output
    assert (work / "stations" / reward["station_id"] / "agent.toml").is_file()
