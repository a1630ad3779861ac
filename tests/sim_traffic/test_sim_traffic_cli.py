"""``stationlink sim traffic`` and ``stationlink sim calibrate`` through click's CliRunner."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from stationlink.cli.main import cli
from stationlink.interchange import read_branches, read_stations, read_transactions
from stationlink_sim.traffic import load_scenario


def _run(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(cli, list(args))
    if result.exception and not isinstance(result.exception, SystemExit):
        raise result.exception
    return result.exit_code, result.stdout, result.stderr


def test_traffic_month_writes_three_matching_files(tmp_path: Path) -> None:
    out = tmp_path / "T.csv"
    code, stdout, stderr = _run(
        "sim", "traffic", "--scenario", "county", "--month", "2026-10", "--seed", "7",
        "--out", str(out),
    )
    assert code == 0, stderr
    assert stderr == ""  # no progress when stderr is not a terminal
    branches = read_branches(tmp_path / "T.branches.csv").rows
    stations = read_stations(
        tmp_path / "T.stations.csv", known_branches=[b.branch_id for b in branches]
    ).rows
    txns = read_transactions(out, known_stations=[s.station_id for s in stations]).rows
    assert len(stations) == 53
    assert {s.branch_id for s in stations} == {b.branch_id for b in branches}
    assert {t.ts.strftime("%Y-%m") for t in txns} == {"2026-10"}
    assert {t.ts.utcoffset().total_seconds() for t in txns if t.ts.utcoffset()} == {28800.0}
    assert stdout.splitlines() == [
        f"wrote {len(txns)} transactions (53 stations, 31 days from 2026-10-01, seed 7, "
        f"station order) to {out}",
        f"stations: {tmp_path / 'T.stations.csv'}; branches: {tmp_path / 'T.branches.csv'}",
    ]
    assert not list(tmp_path.glob("*.part"))
    # station by station, each station in time order
    seen: list[str] = []
    for t in txns:
        if not seen or seen[-1] != t.station_id:
            assert t.station_id not in seen
            seen.append(t.station_id)
    same_again = tmp_path / "again.csv"
    _run("sim", "traffic", "--month", "2026-10", "--seed", "7", "--out", str(same_again))
    assert same_again.read_bytes() == out.read_bytes()


def test_time_order_has_same_rows(tmp_path: Path) -> None:
    by_station, by_time = tmp_path / "s.csv", tmp_path / "t.csv"
    common = ("sim", "traffic", "--start", "2026-10-05", "--days", "3", "--stations", "20")
    _run(*common, "--out", str(by_station))
    code, stdout, _ = _run(*common, "--order", "time", "--out", str(by_time), "--json")
    assert code == 0
    summary = json.loads(stdout)
    assert summary["order"] == "time"
    assert summary["days"] == 3
    assert summary["stations"] == 20
    rows_s = read_transactions(by_station).rows
    rows_t = read_transactions(by_time).rows
    assert sorted(rows_s, key=lambda t: t.txn_id) == sorted(rows_t, key=lambda t: t.txn_id)
    assert [t.ts for t in rows_t] == sorted(t.ts for t in rows_t)
    assert summary["transactions"] == len(rows_t)


def test_forced_progress_prints_plain_lines(tmp_path: Path) -> None:
    code, _, stderr = _run("sim", "traffic", "--month", "2026-10", "--stations", "20",
                           "--out", str(tmp_path / "p.csv"), "--progress")
    assert code == 0
    lines = [ln for ln in stderr.splitlines() if ln.startswith("simulating")]
    assert lines[0] == "simulating: 10% (2/20 stations)"
    assert lines[-1] == "simulating: 100% (20/20 stations)"
    assert len(lines) == 10


def test_realtime_paces_and_keeps_time_order(tmp_path: Path) -> None:
    out = tmp_path / "rt.csv"
    code, stdout, _ = _run("sim", "traffic", "--start", "2026-10-05", "--days", "1",
                           "--stations", "3", "--realtime", "--speed", "1e9", "--out", str(out))
    assert code == 0
    assert "time order" in stdout
    rows = read_transactions(out).rows
    assert rows
    assert [t.ts for t in rows] == sorted(t.ts for t in rows)


def test_card_key_changes_tokens_only(tmp_path: Path) -> None:
    a, b = tmp_path / "a.csv", tmp_path / "b.csv"
    base = ("sim", "traffic", "--start", "2026-10-05", "--days", "2", "--stations", "5")
    _run(*base, "--out", str(a))
    _run(*base, "--out", str(b), "--card-key", "another key")
    ra, rb = read_transactions(a).rows, read_transactions(b).rows
    assert [t.txn_id for t in ra] == [t.txn_id for t in rb]
    assert [t.card for t in ra if t.card] != [t.card for t in rb if t.card]
    assert [t.amount for t in ra] == [t.amount for t in rb]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("--month", "2026-10", "--start", "2026-10-01"), "give --month or --start, not both"),
        ((), "give --month YYYY-MM"),
        (("--start", "2026-10-01"), "--start needs --days"),
        (("--month", "2026-13"), "no such month"),
        (("--month", "2026-10", "--days", "3"), "has 31 days"),
    ],
)
def test_traffic_usage_errors(tmp_path: Path, args: tuple[str, ...], message: str) -> None:
    code, _, stderr = _run("sim", "traffic", "--out", str(tmp_path / "x.csv"), *args)
    assert code == 2
    assert message in stderr
    assert not (tmp_path / "x.csv").exists()


def test_bad_scenario_file_exit_code(tmp_path: Path) -> None:
    bad = tmp_path / "bad.toml"
    bad.write_text("[scenario]\nname = 'x'\n", encoding="utf-8")
    code, _, stderr = _run("sim", "traffic", "--scenario", str(bad), "--month", "2026-10",
                           "--out", str(tmp_path / "x.csv"))
    assert code == 2
    assert f"{bad}: network: required key is missing" in stderr


def test_unwritable_output_is_a_simulator_error(tmp_path: Path) -> None:
    code, _, stderr = _run("sim", "traffic", "--month", "2026-10", "--stations", "2",
                           "--out", str(tmp_path / "missing-dir" / "T.csv"))
    assert code == 10
    assert "cannot write" in stderr


def test_calibrate_table(tmp_path: Path) -> None:
    code, stdout, _ = _run("sim", "calibrate")
    assert code == 0
    lines = stdout.splitlines()
    assert lines[0].startswith("scenario county, seed 7, 122 days from 2014-06-01: ")
    assert lines[1].split() == ["target", "goal", "measured", "deviation", "within", "5%"]
    assert len(lines) == 2 + len(load_scenario("county").targets) + 1
    assert lines[-1] == "all targets met"
    assert "share of the amount taken by the 10 busiest stations   47.80%" in stdout


def test_calibrate_json_and_missed_target_exit_code(tmp_path: Path, county_text: str) -> None:
    code, stdout, _ = _run("sim", "calibrate", "--json", "--seed", "3")
    report = json.loads(stdout)
    assert code == 0
    assert report["ok"] is True
    assert report["seed"] == 3
    assert {t["name"] for t in report["targets"]} >= {"top10_amount_share", "stations"}
    flat = tmp_path / "flat.toml"
    flat.write_text(county_text.replace("weight_sigma = 0.875", "weight_sigma = 0.3"), "utf-8")
    code, stdout, _ = _run("sim", "calibrate", "--scenario", str(flat))
    assert code == 1
    assert stdout.splitlines()[-1] == "some targets missed"
    top = next(ln for ln in stdout.splitlines() if "10 busiest" in ln)
    assert top.endswith("NO")


def test_calibrate_short_run(tmp_path: Path) -> None:
    code, stdout, _ = _run("sim", "calibrate", "--days", "7", "--start", "2026-10-01", "--json")
    report = json.loads(stdout)
    assert report["days"] == 7
    assert report["start"] == "2026-10-01"
    assert code == (0 if report["ok"] else 1)
