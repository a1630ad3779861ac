"""Scenario files: the packaged ones load; every kind of bad file is refused naming the key."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from stationlink.errors import ConfigError
from stationlink_sim.traffic import load_scenario, packaged_scenarios

MakeScenario = Callable[[str, str], Path]


def test_packaged_scenarios_load() -> None:
    assert {"county", "city"} <= set(packaged_scenarios())
    county = load_scenario("county")
    assert county.stations == 53
    assert county.amounts["cable_tv"].denominations_fen == (2200, 6600, 26400)
    assert county.calibration_days == 122
    assert load_scenario("city").stations == 180


def test_scenario_by_path_equals_packaged(scenario_file: MakeScenario) -> None:
    path = scenario_file("seed = 7 ", "seed = 7 ")
    by_path = load_scenario(path)
    packaged = load_scenario("county")
    assert by_path.weight_sigma == packaged.weight_sigma
    assert by_path.amounts == packaged.amounts
    assert by_path.source == str(path)


def test_unknown_scenario_name() -> None:
    with pytest.raises(ConfigError, match="no scenario named 'nowhere'"):
        load_scenario("nowhere")


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="cannot read scenario file"):
        load_scenario(tmp_path / "absent.toml")


@pytest.mark.parametrize(
    ("old", "new", "message"),
    [
        ("weight_sigma = 0.875", "weight_sigmaa = 0.875",
         r"\[activity\] weight_sigma: required key is missing \(is 'weight_sigmaa' a typo\?\)"),
        ("weight_sigma = 0.875", "weight_sigma = -1", r"\[activity\] weight_sigma: must be >= 0"),
        ("stations = 53\n", "stations = 0\n", r"\[network\] stations: must be >= 1"),
        ("stations = 53\n", "stations = 5.5\n", r"\[network\] stations: must be a whole number"),
        ('median = "35.00"', "median = 35.5",
         r"\[amounts.electricity\] median: money must be a whole number of yuan"),
        ('median = "35.00"', 'median = "35.001"',
         r"\[amounts.electricity\] median: more than two decimals"),
        ("mobile = 0.33", "bitcoin = 0.33",
         r"\[activity.rural.product_mix\] bitcoin: not a bill-payment product"),
        ("decline_rate = 0.02", "decline_rate = 1.5",
         r"\[bill_payment\] decline_rate: must be <= 1"),
        ("day_of_week = [1.0, 0.96, 0.96, 0.98, 1.02, 1.06, 1.02]", "day_of_week = [1.0, 2.0]",
         r"\[calendar\] day_of_week: must have exactly 7 entries, not 2"),
        ("repeat_same_day = [0.12, 0.35, 0.3]", "repeat_same_day = [0.12, 1.35]",
         r"\[withdrawal\] repeat_same_day\[1\]: a probability is at most 1"),
        ("start = 2014-06-01", 'start = "June"', r"\[calibration\] start: must be a TOML date"),
        ("top10_amount_share = 0.478", "top11_amount_share = 0.478",
         r"\[calibration.targets\] top11_amount_share: unknown key"),
        ("repeat_gap_s = [1200, 14400]", "repeat_gap_s = [14400, 1200]",
         r"\[timing\] repeat_gap_s: must be \[min, max\]"),
        ('bins = ["621700", "622188", "623668"]', 'bins = ["62x700"]',
         r"\[cards\] bins\[0\]: a BIN is 6\+ digits"),
        ("[timing]", "[timings]", r"edited.toml: timing: required key is missing \(is 'timings'"),
        ("[timing]", "[timing]\nextra = 1", r"\[timing\] extra: unknown key \(known keys: "),
        ("[cards]", "[cards]\npan_lenght = 16",
         r"\[cards\] pan_lenght: unknown key \(did you mean 'pan_length'\?\)"),
        ("market_day_factor = 1.5", "market_day_factor = 6",
         r"\[calendar\] market_day_factor: must be at most market_cycle_days"),
    ],
)
def test_bad_value_names_key(scenario_file: MakeScenario, old: str, new: str, message: str) -> None:
    path = scenario_file(old, new)
    with pytest.raises(ConfigError, match=message) as info:
        load_scenario(path)
    assert str(path) in str(info.value)


def test_missing_key_is_named(scenario_file: MakeScenario) -> None:
    path = scenario_file("urban_customers = 1500", "")
    with pytest.raises(ConfigError, match=r"\[network\] urban_customers: required key is missing"):
        load_scenario(path)


def test_product_without_amounts(scenario_file: MakeScenario) -> None:
    path = scenario_file("[amounts.water]", "[amounts_unused.water]")
    with pytest.raises(ConfigError, match="amounts_unused: unknown key"):
        load_scenario(path)


def test_toml_syntax_error_has_position(scenario_file: MakeScenario) -> None:
    path = scenario_file("stations = 53\n", "stations = = 53\n")
    with pytest.raises(ConfigError, match=r"not valid TOML: .*line \d+, column \d+"):
        load_scenario(path)


def test_not_utf8(tmp_path: Path) -> None:
    path = tmp_path / "latin.toml"
    head = b"[scenario]\nname = \"caf"
    path.write_bytes(head + b"\xe9\"\n")
    with pytest.raises(ConfigError, match=rf"not UTF-8 text \(byte offset {len(head)}\)"):
        load_scenario(path)


def test_with_stations_scales() -> None:
    scenario = load_scenario("county").with_stations(1000)
    assert scenario.stations == 1000
    with pytest.raises(ConfigError):
        scenario.with_stations(0)
