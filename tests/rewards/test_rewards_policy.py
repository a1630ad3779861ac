"""Policy files: both built-ins load; every kind of error is rejected naming key and reason."""

from __future__ import annotations

from importlib import resources
from pathlib import Path

import pytest
from click.testing import CliRunner

from stationlink.cli.main import cli
from stationlink.errors import PolicyError
from stationlink.rewards import BUILTIN, load_policy


def _builtin_text(name: str = "dezhou-2014") -> str:
    return (resources.files("stationlink") / "policies" / f"{name}.toml").read_text(
        encoding="utf-8")


@pytest.mark.parametrize("name", BUILTIN)
def test_builtin_policies_load(name: str) -> None:
    policy = load_policy(name)
    assert policy.name == name
    assert policy.station_items


def test_builtin_policy_from_path_equals_by_name(tmp_path: Path) -> None:
    path = tmp_path / "copy.toml"
    path.write_text(_builtin_text(), encoding="utf-8")
    assert load_policy(path) == load_policy("dezhou-2014")


@pytest.mark.parametrize(("old", "new", "message"), [
    ('percent = 1\nlabel = "China Mobile', 'percnt = 1\nlabel = "China Mobile',
     "station.items[0].percent: required key missing (is 'percnt' a misspelling?)"),
    ('rate = 0.25\nlabel', 'rate = 0.25\nrat = 0.1\nlabel',
     "station.items[1].rat: unknown key (allowed here: areas, code, count, label, rate"),
    ("rate = 0.25\nlabel", "rate = -0.25\nlabel", "station.items[1].rate: must not be negative"),
    ("{ from = 0.5, below = 0.8, rate = 0.25 }", "{ from = 0.4, below = 0.8, rate = 0.25 }",
     "station.items[3].tiers[1].from: tiers overlap or are unordered"),
    ("{ from = 0.5, below = 0.8, rate = 0.25 }", "{ from = 0.6, below = 0.8, rate = 0.25 }",
     "station.items[3].tiers[1].from: gap between 0.5 and 0.6"),
    ("{ from = 0.8, rate = 0.30 }", "{ from = 0.8, below = 0.9, rate = 0.30 }",
     "station.items[3].tiers[2].below: the last tier must be open"),
    ("{ from = 10, below = 31, rate = 0.50 }", "{ from = 10, below = 5, rate = 0.50 }",
     "station.items[6].tiers[1].below: must be above from"),
    ('count = "unicom"', 'count = "unicorn"', "station.items[1].count: no count named 'unicorn'"),
    ('type = "per_txn"\ncount = "unicom"', 'type = "per_txn_x"\ncount = "unicom"',
     "station.items[1].type: 'per_txn_x' is not one of"),
    ("head = 0.2 ", "head = 1.2 ", "branch.split.head: a share must be between 0 and 1"),
    ("cap_per_card_per_day = 2", "cap_per_card_per_day = 0",
     "counts.withdrawals.cap_per_card_per_day: must be at least 1"),
    ('code = "bill.unicom"', 'code = "bill.mobile"',
     "station.items[1].code: duplicate code 'bill.mobile'"),
    ("[calendar]\ndetails_by = 3", "[calendar]\ndetails_by = 3\nholiday = 1",
     "calendar.holiday: unknown key"),
    ('part = "{label}{amount}"', 'part = "{label}{yuan}"', "notice.part: unknown placeholder"),
    ('rounding = "half_up"', 'rounding = "up"', "policy.rounding: 'up' is not one of"),
    ('[policy]\nname = "dezhou-2014"', '[policy]\nnom = "dezhou-2014"',
     "policy.name: required key missing"),
])
def test_bad_policy_names_key_and_reason(tmp_path: Path, old: str, new: str,
                                         message: str) -> None:
    text = _builtin_text()
    assert old in text
    path = tmp_path / "bad.toml"
    path.write_text(text.replace(old, new, 1), encoding="utf-8")
    with pytest.raises(PolicyError) as err:
        load_policy(path)
    assert message in str(err.value)
    assert str(path) in str(err.value)


def test_reordered_tiers_are_rejected(tmp_path: Path) -> None:
    text = _builtin_text().replace(
        "  { below = 20, rate = 0.25 },              # fewer than 20\n"
        "  { from = 20, rate = 0.30 },               # 20 or more\n",
        "  { from = 20, rate = 0.30 },\n  { below = 20, rate = 0.25 },\n")
    path = tmp_path / "unordered.toml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(PolicyError, match=r"station.items\[4\].tiers\[0\].from: the first tier"):
        load_policy(path)


def test_unknown_builtin_and_bad_toml(tmp_path: Path) -> None:
    with pytest.raises(PolicyError, match="no built-in policy 'dezhou-2015'"):
        load_policy("dezhou-2015")
    path = tmp_path / "broken.toml"
    path.write_text("[policy\nname=", encoding="utf-8")
    with pytest.raises(PolicyError, match="not valid TOML"):
        load_policy(path)


def test_cli_bad_policy_exits_4(tmp_path: Path, golden_args: list[str]) -> None:
    path = tmp_path / "neg.toml"
    path.write_text(_builtin_text().replace("rate = 30.00", "rate = -30.00"), encoding="utf-8")
    runner = CliRunner()
    res = runner.invoke(cli, ["rewards", "compute", "--month", "2026-10", "--policy", str(path),
                              *golden_args])
    assert res.exit_code == 4
    assert "station.items[11].rate: must not be negative" in res.output
    res = runner.invoke(cli, ["rewards", "check-policy", str(path)])
    assert res.exit_code == 4
    res = runner.invoke(cli, ["rewards", "check-policy", "county-withhold-2012"])
    assert res.exit_code == 0
    assert "quarter rule" in res.output
