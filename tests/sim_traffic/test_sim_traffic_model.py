"""The traffic model: reproducible, time-ordered, shaped as the scenario says."""

from __future__ import annotations

import datetime as dt
import random
import statistics
from collections import Counter

import pytest

from stationlink.money import CST
from stationlink_sim.traffic import SimEvent, TrafficModel, build_network, load_scenario
from stationlink_sim.traffic.calendar import HourShape, day_factors, poisson
from stationlink_sim.traffic.network import station_weights

START = dt.date(2026, 10, 1)


@pytest.fixture(scope="module")
def model() -> TrafficModel:
    return TrafficModel(load_scenario("county"), seed=7)


@pytest.fixture(scope="module")
def month(model: TrafficModel) -> list[SimEvent]:
    return list(model.generate(START, 31))


def _key(ev: SimEvent) -> tuple[object, ...]:
    return (ev.txn_id, ev.ts, ev.kind, ev.product, ev.amount_fen, ev.customer, ev.card,
            ev.outcome, ev.reason, ev.reversal_of, ev.reversed)


def test_same_seed_same_events(month: list[SimEvent]) -> None:
    again = list(TrafficModel(load_scenario("county"), seed=7).generate(START, 31))
    assert [_key(e) for e in again] == [_key(e) for e in month]


def test_other_seed_other_events(month: list[SimEvent]) -> None:
    other = list(TrafficModel(load_scenario("county"), seed=8).generate(START, 31))
    assert [_key(e) for e in other[:50]] != [_key(e) for e in month[:50]]


def test_a_day_alone_equals_the_day_inside_a_run(model: TrafficModel,
                                                 month: list[SimEvent]) -> None:
    day = dt.date(2026, 10, 17)
    alone = list(model.generate(day, 1))
    inside = [e for e in month if e.day.date == day]
    assert alone
    assert [_key(e) for e in alone] == [_key(e) for e in inside]


def test_merged_stream_is_in_time_order(month: list[SimEvent]) -> None:
    keys = [(e.ts, e.station.index, e.seq) for e in month]
    assert keys == sorted(keys)
    assert len({e.txn_id for e in month}) == len(month)


def test_station_events_in_time_order_with_dense_sequence(model: TrafficModel) -> None:
    days = model.days(START, 10)
    for station in model.network.stations[:5]:
        events = list(model.station_events(station, days))
        for day in days:
            todays = [e for e in events if e.day is day]
            assert [e.seq for e in todays] == list(range(1, len(todays) + 1))
            assert [e.ts for e in todays] == sorted(e.ts for e in todays)
            for e in todays:
                assert e.time.astimezone(CST).date() == day.date


def test_events_only_in_open_hours(model: TrafficModel, month: list[SimEvent]) -> None:
    sc = model.scenario
    late = sc.retry_delay_s[1] + sc.reversal_delay_s[1]
    for ev in month:
        shape = sc.rural.hour_of_day if ev.station.area == "rural" else sc.urban.hour_of_day
        second = ev.ts - ev.day.epoch
        if ev.kind in ("balance_inquiry",):
            continue  # an inquiry may come just before opening, ahead of a withdrawal
        # closed hour: only a follow-up running a few minutes past closing
        assert shape[second // 3600] > 0 or shape[(second - late) // 3600] > 0, ev


def test_reversals_follow_their_original(month: list[SimEvent]) -> None:
    by_id = {e.txn_id: e for e in month}
    reversals = [e for e in month if e.kind == "reversal"]
    assert reversals
    for rev in reversals:
        original = by_id[f"{rev.station.station_id}-{rev.day.ymd}-{rev.reversal_of:04d}"]
        assert original.reversed
        assert original.outcome == "approved"
        assert original.ts <= rev.ts
        assert (original.amount_fen, original.card, original.product) == (
            rev.amount_fen, rev.card, rev.product)
    assert sum(e.reversed for e in month) == len(reversals)


def test_amounts_are_realistic(model: TrafficModel, month: list[SimEvent]) -> None:
    sc = model.scenario
    amounts: dict[str, list[int]] = {}
    for ev in month:
        if ev.kind == "bill_payment":
            amounts.setdefault(ev.product, []).append(ev.amount_fen)
    assert set(sc.amounts["mobile"].denominations_fen) >= set(amounts["mobile"])
    electricity = amounts["electricity"]
    assert any(a % 100 for a in electricity), "bills come in arbitrary fen"
    assert min(electricity) >= sc.amounts["electricity"].min_fen
    withdrawals = [e.amount_fen for e in month if e.kind == "withdrawal"]
    assert all(a % 10000 == 0 and 10000 <= a <= 200000 for a in withdrawals)
    assert all(e.amount_fen == 0 for e in month if e.kind in ("balance_inquiry", "referral"))
    mix = Counter(e.product for e in month if e.kind == "bill_payment")
    assert mix["electricity"] > mix["water"]
    assert mix["mobile"] > mix["telecom"]


def test_cards_come_back_more_than_twice_a_day(month: list[SimEvent]) -> None:
    per_card_day = Counter(
        (e.station.index, e.card, e.day.ymd)
        for e in month
        if e.kind == "withdrawal" and e.outcome == "approved"
    )
    assert max(per_card_day.values()) >= 3
    assert sum(1 for n in per_card_day.values() if n >= 3) < len(per_card_day) / 5


def test_declines_and_referrals_occur(month: list[SimEvent]) -> None:
    reasons = Counter(e.reason for e in month if e.outcome == "declined")
    assert {"insufficient_funds", "wrong_pin", "account_not_found"} <= set(reasons)
    assert any(e.kind == "referral" for e in month)
    assert all(e.card < 0 for e in month if e.kind in ("bill_payment", "referral"))
    assert all(e.card >= 0 for e in month if e.kind in ("withdrawal", "balance_inquiry"))


def test_network_shape() -> None:
    sc = load_scenario("county")
    net = build_network(sc, 7)
    assert len(net.stations) == 53
    assert len(net.branches) == 9
    urban = [s for s in net.stations if s.area == "urban"]
    assert len(urban) == 6
    assert all(s.village_id == "" for s in urban)
    rural = [s for s in net.stations if s.area == "rural"]
    assert all(sc.households_min <= (s.village_households or 0) <= sc.households_max
               for s in rural)
    by_village = Counter(s.village_id for s in rural)
    assert max(by_village.values()) <= 2
    for s in rural:
        assert s.customers == (s.village_households or 0) // by_village[s.village_id]
    assert sorted(s.weight for s in net.stations) == pytest.approx(station_weights(53, 0.875))
    assert build_network(sc, 8).stations != net.stations


def test_station_weights_are_lognormal_quantiles() -> None:
    weights = station_weights(1001, 0.5)
    assert statistics.fmean(weights) == pytest.approx(1.0)
    assert weights == sorted(weights)
    median = weights[500]
    # median of lognormal(mu, s) over its mean is exp(-s^2 / 2)
    assert median == pytest.approx(2.718281828459045 ** (-0.125), rel=1e-3)


def test_poisson_mean_and_variance() -> None:
    rng = random.Random(1)
    for lam in (0.3, 4.0, 75.0):
        draws = [poisson(rng.random, lam) for _ in range(20000)]
        assert statistics.fmean(draws) == pytest.approx(lam, rel=0.05)
        assert statistics.pvariance(draws) == pytest.approx(lam, rel=0.08)
    assert poisson(rng.random, 0.0) == 0


def test_hour_shape_respects_weights() -> None:
    weights = [0.0] * 24
    weights[8], weights[17] = 1.0, 3.0
    shape = HourShape(weights)
    rng = random.Random(2)
    hours = Counter(shape.second(rng.random()) // 3600 for _ in range(8000))
    assert set(hours) == {8, 17}
    assert hours[17] / hours[8] == pytest.approx(3.0, rel=0.1)
    assert shape.second(0.999999999999) // 3600 == 17


def test_day_factors_average_one_over_a_month() -> None:
    sc = load_scenario("county")
    days = [dt.date(2026, 2, 1) + dt.timedelta(days=i) for i in range(28)]
    factors = day_factors(days, sc.day_of_week, sc.bill_day_of_month)
    assert statistics.fmean(factors) == pytest.approx(1.0, abs=0.01)
    assert factors[0] > factors[25]  # top-ups early in the month
