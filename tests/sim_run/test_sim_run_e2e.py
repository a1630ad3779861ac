"""`stationlink sim run` end to end: real ptys / TCP sockets, real agents, a real HTTP hub on
an SQLite file; the hub's holdings must equal what the terminals' journals say they did."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from stationlink.cli.main import cli
from stationlink.hub.export import hub_transactions
from stationlink.interchange import read_transactions
from stationlink_sim.e2e import terminal_truth
from stationlink_sim.journal import Journal
from stationlink_sim.traffic import load_scenario

KEY = load_scenario("county").card_token_key.encode()


def rows(path: Path) -> set[tuple[str, ...]]:
    return {tuple(r.as_row().values()) for r in read_transactions(path).rows}


@pytest.mark.slow
def test_three_stations_a_day_with_faults_hub_equals_truth(tmp_path: Path) -> None:
    work, truth = tmp_path / "run", tmp_path / "truth.csv"
    result = CliRunner().invoke(cli, [
        "sim", "run", "--stations", "3", "--days", "1", "--seed", "11", "--dir", str(work),
        "--truth", str(truth), "--faults", "noise=0.02,drop_response=0.1", "--json",
        "--standalone-share", "0.3"])
    assert result.exit_code == 0, result.output
    out = json.loads(result.output)
    assert out["ok"]
    assert out["check"]["ok"]
    assert out["stations"] == ["LLS001", "LLS002", "LLS003"]
    hub = {tuple(r.as_row().values()) for r in hub_transactions(work / "hub.sqlite")}
    assert hub == rows(truth) == rows(work / "hub.csv")  # identity, amounts, statuses, times
    assert len(hub) == out["check"]["truth_rows"] > 0
    # the truth file is what the terminals' own journal files hold
    from_journals = set()
    for sid in out["stations"]:
        for journal_file in sorted((work / "stations" / sid).glob("*.jsonl")):
            journal = Journal(path=journal_file, card_key=KEY)
            from_journals |= {tuple(t.as_row().values())
                              for t in terminal_truth(sid, journal_file.stem, journal, KEY)}
    referrals = {row for row in hub if row[4] == "referral"}
    assert from_journals == hub - referrals
    # referrals travel through the agents' buffers: the truth has what the cashiers entered
    assert len(referrals) == out["referrals"]
    assert {row[2] for row in referrals} <= {""}  # no terminal
    assert all(row[0].startswith(f"{row[1]}-PC-") for row in referrals)
    # the figures are the hub's
    approved = sum(a["count"] for a in out["figures"]["approved"])
    assert approved == out["check"]["hub_by_status"].get("approved", 0)
    assert out["faults"]["responses_lost"] <= out["faults"]["resolved_by_status_query"] + (
        out["faults"]["resolved_by_late_response"])
    assert {t["url"].split(":")[0] for t in out["terminals"]} == {"serial"}
    assert (work / "run.log").is_file()


@pytest.mark.slow
def test_tcp_transport_and_standalone_traffic(tmp_path: Path) -> None:
    result = CliRunner().invoke(cli, [
        "sim", "run", "--stations", "2", "--transport", "tcp", "--dir", str(tmp_path / "w"),
        "--standalone-share", "1", "--faults", "drop_response=0.2", "--json"])
    assert result.exit_code == 0, result.output
    out = json.loads(result.output)
    assert {t["url"].split(":")[0] for t in out["terminals"]} == {"tcp"}
    assert out["check"]["ok"]
    assert out["check"]["missing"] == []
    assert rows(tmp_path / "w" / "hub.csv") == rows(tmp_path / "w" / "truth.csv")


def test_byte_faults_on_tcp_are_refused_before_anything_starts(tmp_path: Path) -> None:
    result = CliRunner().invoke(cli, [
        "sim", "run", "--stations", "1", "--transport", "tcp", "--faults", "noise=0.01",
        "--dir", str(tmp_path / "w")])
    assert result.exit_code == 2
    assert "--faults: noise act on serial lines only" in result.output
    assert not (tmp_path / "w" / "hub.sqlite").exists()


def test_a_non_empty_work_directory_is_refused(tmp_path: Path) -> None:
    (tmp_path / "old.txt").write_text("x", encoding="utf-8")
    result = CliRunner().invoke(cli, ["sim", "run", "--stations", "1", "--dir", str(tmp_path)])
    assert result.exit_code == 2
    assert "must be a new or empty directory" in result.output
