"""The premise of the walkthrough that runs on "today" (test_station_cli_walkthrough.py):
whatever the date, its traffic includes a card-read failure, a declined withdrawal without a
card, among the customers it serves. Checked for every day of ten years from the model (no
terminals), so that test never depends on the calendar's luck."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
from station_scenarios import CUSTOMERS_TODAY, SEED_TODAY, card_failure_scenario

from stationlink_sim.counter_traffic import busiest_stations, opening_time
from stationlink_sim.traffic import TrafficModel, load_scenario


def first_card_failure(model: TrafficModel, day: dt.date) -> int | None:
    """Position among the served customers (referrals are not served) of the first declined
    wrong-PIN withdrawal of the busiest station on ``day``, or None."""
    station = busiest_stations(model)[0]
    start = opening_time(model.scenario, station.area, day).timestamp()
    served = 0
    for ev in model.station_events(station, model.days(day, 1)):
        if ev.kind == "referral" or ev.ts < start:
            continue
        served += 1
        if ev.kind == "withdrawal" and ev.reason == "wrong_pin":
            return served
        if served >= CUSTOMERS_TODAY:
            return None
    return None


@pytest.mark.slow
def test_every_day_of_ten_years_has_a_card_read_failure_among_the_customers(
    tmp_path: Path,
) -> None:
    model = TrafficModel(load_scenario(str(card_failure_scenario(tmp_path))), SEED_TODAY)
    first = dt.date(2026, 7, 1)
    missing = [first + dt.timedelta(days=k) for k in range(3652)
               if first_card_failure(model, first + dt.timedelta(days=k)) is None]
    assert missing == []


def test_the_packaged_scenario_alone_would_not_do() -> None:
    """Why the walkthrough uses its own scenario: on many days the packaged one has no such
    customer (the walkthrough on those days tested no card-read failure)."""
    model = TrafficModel(load_scenario("county"), SEED_TODAY)
    first = dt.date(2026, 7, 1)
    days = [first + dt.timedelta(days=k) for k in range(60)]
    assert sum(first_card_failure(model, d) is None for d in days) > 30


def test_the_default_start_is_today_read_from_the_injected_clock() -> None:
    from stationlink_sim.counter_run import CounterRun
    from stationlink_sim.station import load_station

    example = Path(__file__).resolve().parents[2] / "simulator" / "stationlink_sim" / \
        "examples" / "station.toml"
    late_utc = dt.datetime(2031, 2, 3, 23, 30, tzinfo=dt.UTC)  # already 2031-02-04 in CST
    run = CounterRun([load_station(example)], "county", speed=600, now=lambda: late_utc)
    area = run.served[0][1].area
    assert run.start_time == opening_time(run.scenario, area, dt.date(2031, 2, 4))
