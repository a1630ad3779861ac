"""Unit tests of the end-to-end pieces: the simulated clock and the hub-vs-truth check."""

from __future__ import annotations

import dataclasses
from datetime import datetime, timedelta
from decimal import Decimal

import pytest

from stationlink.interchange import Transaction
from stationlink.money import CST
from stationlink_sim.clock import SimulatedClock
from stationlink_sim.e2e import WorldClock, compare

START = datetime(2014, 6, 1, 0, 0, tzinfo=CST)


class FakeReal:
    def __init__(self) -> None:
        self.t = 100.0

    def __call__(self) -> float:
        return self.t


def test_sim_clock_runs_at_the_real_rate_and_jumps_forward_only() -> None:
    real = FakeReal()
    clock = SimulatedClock(START, real=real)
    real.t += 2.5
    assert clock.now() == START + timedelta(seconds=2.5)
    assert clock.jump_to(START + timedelta(hours=8)) == pytest.approx(8 * 3600 - 2.5)
    assert clock.now() == START + timedelta(hours=8)
    assert clock.jump_to(START + timedelta(hours=1)) == 0.0  # never back
    real.t += 1
    assert clock.now() == START + timedelta(hours=8, seconds=1)
    # wall time and monotonic time agree, so a terminal's uptime matches the agent's clock
    assert clock.monotonic() == (clock.now() - START).total_seconds()


def test_world_clock_is_the_latest_station_clock() -> None:
    real = FakeReal()
    a, b = SimulatedClock(START, real=real), SimulatedClock(START, real=real)
    world = WorldClock(START)
    world.follow(a)
    world.follow(b)
    a.jump_to(START + timedelta(hours=3))
    b.jump_to(START + timedelta(hours=5))
    assert world.now() == START + timedelta(hours=5)
    world.forget(b)
    assert world.now() == START + timedelta(hours=5)  # monotone
    assert world.utc_now().utcoffset() == timedelta(0)


def txn(txn_id: str, amount: str = "10.00", status: str = "approved") -> Transaction:
    return Transaction(txn_id, "S1", "T1", START, "bill_payment", "mobile", Decimal(amount), "",
                       status)


def test_compare_names_every_kind_of_difference() -> None:
    truth = [txn("a"), txn("b"), txn("c", status="declined"), txn("d")]
    hub = [txn("a"), txn("b", amount="10.01"), txn("c", status="declined"), txn("x"), txn("x"),
           dataclasses.replace(txn("d"), ts=START + timedelta(minutes=3))]
    result = compare(hub, truth, hub_duplicates=1)
    assert not result.ok
    assert result.missing == []
    assert result.unexpected == ["x"]
    assert result.duplicate_ids == ["x"]
    assert result.differing == ["b: amount 10.00 != 10.01"]
    assert result.ts_differ == 1
    assert result.hub_duplicates == 1
    assert result.truth_approved_amount == Decimal("30.00")
    text = "\n".join(result.lines())
    assert "hub DIFFERS from truth" in text
    assert "unexpected: x" in text


def test_compare_equal_rows_is_ok_and_a_missing_row_is_not() -> None:
    truth = [txn("a"), txn("b", status="reversed")]
    assert compare(list(truth), truth).ok
    result = compare(truth[:1], truth)
    assert not result.ok
    assert result.missing == ["b"]
    assert result.as_json()["missing"] == ["b"]
