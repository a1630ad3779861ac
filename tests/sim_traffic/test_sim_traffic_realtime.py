"""``paced``: events released on an injected wall clock."""

from __future__ import annotations

import datetime as dt

import pytest

from stationlink.errors import SimulatorError
from stationlink_sim.traffic import SimEvent, TrafficModel, load_scenario, paced


class FakeClock:
    def __init__(self) -> None:
        self.now = 100.0
        self.sleeps: list[float] = []

    def monotonic(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds


@pytest.fixture(scope="module")
def events() -> list[SimEvent]:
    model = TrafficModel(load_scenario("county").with_stations(4), 11)
    return list(model.generate(dt.date(2026, 10, 1), 1))


@pytest.mark.parametrize("speed", [1.0, 60.0])
def test_each_event_released_at_its_simulated_time(events: list[SimEvent], speed: float) -> None:
    clock = FakeClock()
    released = []
    for ev in paced(events, speed=speed, monotonic=clock.monotonic, sleep=clock.sleep):
        released.append((ev, clock.now))
    assert [ev for ev, _ in released] == events
    first = events[0].ts
    for ev, at in released:
        assert at == pytest.approx(100.0 + (ev.ts - first) / speed)
    assert sum(clock.sleeps) == pytest.approx((events[-1].ts - first) / speed)


def test_no_sleep_when_behind(events: list[SimEvent]) -> None:
    clock = FakeClock()
    out = []
    for ev in paced(events, monotonic=clock.monotonic, sleep=clock.sleep):
        out.append(ev)
        clock.now += 10**6  # the consumer is slow: we are always late
    assert out == events
    assert clock.sleeps == []


def test_out_of_order_stream_is_refused(events: list[SimEvent]) -> None:
    clock = FakeClock()
    backwards = [events[-1], events[0]]
    with pytest.raises(SimulatorError, match="out of time order"):
        list(paced(backwards, monotonic=clock.monotonic, sleep=clock.sleep))
    with pytest.raises(SimulatorError, match="speed must be > 0"):
        list(paced(events, speed=0))
